"""In-process fake of the Discord REST API and gateway for tests (checked against discord.py 2.7.1).

``FakeDiscord`` runs an aiohttp server on 127.0.0.1 (random port) in the test's own event loop.
A real ``discord.Client`` pointed at it (``fake.patch_discord()``) logs in, syncs its command
tree, identifies on the gateway, becomes ready and answers interactions the test injects with
``fake.send_interaction(...)``; every REST call is recorded as a ``RecordedRequest``.

``run_interaction`` runs a payload through a ``CommandTree`` with no network at all: the same
fake answers the HTTP calls in-process.

discord.py facts this relies on:
- a plain ``Client`` never calls ``GET /gateway``; it connects straight to
  ``DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``), later resuming at ``resume_gateway_url``;
- it asks for ``compress=zlib-stream`` but only inflates *binary* frames, so plain text JSON works;
- ``json_or_text`` parses a body only when Content-Type is exactly ``application/json``;
- a 429 is retried only if it carries a ``Via`` header and a JSON ``retry_after``;
- ``on_ready`` fires ``guild_ready_timeout`` seconds (default 2.0) after the last GUILD_CREATE,
  even with no guilds; a client made for a test passes a short one to ``discord.Client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import discord
import yarl
from aiohttp import WSMsgType, web
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

Json = dict[str, Any]

DEFAULT_TOKEN = "fake-token"
DEFAULT_APP_ID = 1100000000000000001  # the bot user shares the application's id, as on Discord
DEFAULT_GUILD_ID = 1200000000000000001
DEFAULT_CHANNEL_ID = 1300000000000000001
DEFAULT_USER_ID = 1400000000000000001
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
EPHEMERAL = 64
LOADING = 128

MEMBER_PERMISSIONS = str(
    discord.Permissions(
        view_channel=True,
        send_messages=True,
        read_message_history=True,
        add_reactions=True,
        embed_links=True,
        attach_files=True,
        use_application_commands=True,
    ).value
)
BOT_PERMISSIONS = str(
    (discord.Permissions(int(MEMBER_PERMISSIONS)) | discord.Permissions(manage_messages=True)).value
)

_DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count(1)


def new_id() -> int:
    """A fresh, time-based snowflake."""
    return ((int(time.time() * 1000) - _DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


def _now() -> str:
    return datetime.now(UTC).isoformat()


# --------------------------------------------------------------------------- payload builders


def user_payload(
    user_id: int = DEFAULT_USER_ID, username: str = "tester", *, bot: bool = False
) -> Json:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": username,
        "global_name": None if bot else username.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "avatar_decoration_data": None,
        "primary_guild": None,
        "collectibles": None,
    }


def member_payload(
    user_id: int = DEFAULT_USER_ID,
    username: str = "tester",
    *,
    roles: Sequence[int] = (),
    permissions: str | None = None,
    nick: str | None = None,
    bot: bool = False,
) -> Json:
    """A guild member object (with ``user``; ``permissions`` only as sent in interactions)."""
    data: Json = {
        "user": user_payload(user_id, username, bot=bot),
        "roles": [str(r) for r in roles],
        "nick": nick,
        "avatar": None,
        "banner": None,
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }
    if permissions is not None:
        data["permissions"] = permissions
    return data


def role_payload(
    role_id: int, name: str, *, permissions: str = "0", position: int = 1, managed: bool = False
) -> Json:
    """A guild role object (``@everyone`` has the guild's id and position 0)."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": permissions,
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def text_channel_payload(
    channel_id: int = DEFAULT_CHANNEL_ID,
    guild_id: int | None = DEFAULT_GUILD_ID,
    name: str = "general",
    *,
    position: int = 0,
) -> Json:
    """A guild text channel object."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id) if guild_id else None,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def guild_payload(
    guild_id: int = DEFAULT_GUILD_ID,
    *,
    name: str = "Test Guild",
    owner_id: int = DEFAULT_USER_ID,
    channels: Sequence[Json] | None = None,
    roles: Sequence[Json] = (),
    members: Sequence[Json] = (),
    member_count: int | None = None,
) -> Json:
    """A GUILD_CREATE payload; ``@everyone`` and a #general channel are added by default."""
    everyone = role_payload(guild_id, "@everyone", permissions=MEMBER_PERMISSIONS, position=0)
    chans = list(channels) if channels is not None else [text_channel_payload(guild_id=guild_id)]
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": chans[0]["id"] if chans else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "features": [],
        "roles": [everyone, *roles],
        "emojis": [],
        "stickers": [],
        "channels": chans,
        "threads": [],
        "members": list(members),
        "member_count": member_count if member_count is not None else max(len(members), 1),
        "large": False,
        "unavailable": False,
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "max_members": 500000,
        "max_video_channel_users": 25,
    }


def _option(name: str, value: Any) -> Json:
    """Infer the option type from an already-typed value (member/user dicts become type 6)."""
    if isinstance(value, Mapping):
        return {"name": name, "type": 6, "value": value.get("user", value)["id"]}
    for py_type, kind in ((bool, 5), (int, 4), (float, 10), (str, 3)):
        if isinstance(value, py_type):
            return {"name": name, "type": kind, "value": value}
    raise TypeError(f"pass a raw option dict for {name!r} ({type(value).__name__})")


def _options(options: Mapping[str, Any] | Sequence[Json] | None) -> tuple[list[Json], Json]:
    """Build option dicts plus ``resolved`` data for any member/user values."""
    if options is None:
        return [], {}
    if not isinstance(options, Mapping):
        return [dict(o) for o in options], {}
    resolved: Json = {}
    for value in options.values():
        if isinstance(value, Mapping):
            user = value.get("user", value)
            resolved.setdefault("users", {})[user["id"]] = user
            if "user" in value:
                member = {k: v for k, v in value.items() if k != "user"}
                resolved.setdefault("members", {})[user["id"]] = member
    return [_option(n, v) for n, v in options.items()], resolved


def _interaction(
    itype: int,
    name: str,
    options: list[Json],
    resolved: Json,
    *,
    user_id: int,
    username: str,
    guild_id: int | None,
    channel_id: int,
    roles: Sequence[int],
    permissions: str,
    app_id: int,
    interaction_id: int | None,
    token: str | None,
    subcommand: str | None,
    guild_command: bool,
    command_id: int | None,
    locale: str,
) -> Json:
    for i, part in enumerate(reversed((subcommand or "").split())):  # "group sub" -> nesting
        options = [{"name": part, "type": 2 if i else 1, "options": options}]
    data: Json = {"id": str(command_id or new_id()), "name": name, "type": 1, "options": options}
    if resolved:
        data["resolved"] = resolved
    payload: Json = {
        "id": str(interaction_id or new_id()),
        "application_id": str(app_id),
        "type": itype,
        "token": token or f"itok-{secrets.token_hex(16)}",
        "version": 1,
        "data": data,
        "channel_id": str(channel_id),
        "channel": text_channel_payload(channel_id, guild_id),
        "app_permissions": BOT_PERMISSIONS,
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild_id is not None:
        if guild_command:
            data["guild_id"] = str(guild_id)
        payload |= {
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "member": member_payload(user_id, username, roles=roles, permissions=permissions),
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
        }
    else:
        payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": []}
        payload |= {
            "user": user_payload(user_id, username),
            "authorizing_integration_owners": {"1": str(user_id)},
            "context": 1,
        }
    return payload


def slash_interaction(
    name: str,
    options: Mapping[str, Any] | Sequence[Json] | None = None,
    *,
    user_id: int = DEFAULT_USER_ID,
    username: str = "tester",
    guild_id: int | None = DEFAULT_GUILD_ID,
    channel_id: int = DEFAULT_CHANNEL_ID,
    roles: Sequence[int] = (),
    permissions: str = MEMBER_PERMISSIONS,
    app_id: int = DEFAULT_APP_ID,
    interaction_id: int | None = None,
    token: str | None = None,
    subcommand: str | None = None,
    guild_command: bool = True,
    command_id: int | None = None,
    resolved: Json | None = None,
    locale: str = "en-US",
) -> Json:
    """An INTERACTION_CREATE ``d`` for a chat-input command (type 2).

    ``options`` maps names to already-typed values (str/int/float/bool, or a ``member_payload``/
    ``user_payload`` dict for user options, which also fills ``data.resolved``), or is a list of
    raw option dicts. ``subcommand`` is ``"sub"`` or ``"group sub"``. ``guild_command`` sets
    ``data.guild_id`` as Discord does for guild-registered commands (the tree falls back to
    global commands when it does not find a guild one). ``guild_id=None`` builds a DM interaction.
    """
    opts, auto_resolved = _options(options)
    return _interaction(
        2, name, opts, resolved or auto_resolved, user_id=user_id, username=username,
        guild_id=guild_id, channel_id=channel_id, roles=roles, permissions=permissions,
        app_id=app_id, interaction_id=interaction_id, token=token, subcommand=subcommand,
        guild_command=guild_command, command_id=command_id, locale=locale,
    )  # fmt: skip


def autocomplete_interaction(
    name: str,
    focused: str,
    value: str,
    options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Json:
    """An autocomplete (type 4) payload: option ``focused`` is being typed, currently ``value``.

    Other ``options`` and ``kwargs`` are as for ``slash_interaction``.
    """
    opts, auto_resolved = _options(options)
    opts.append({"name": focused, "type": 3, "value": value, "focused": True})
    payload = slash_interaction(name, opts, **kwargs)
    payload["type"] = 4
    if auto_resolved and "resolved" not in payload["data"]:
        payload["data"]["resolved"] = auto_resolved
    return payload


def component_interaction(custom_id: str, message: Json, **kwargs: Any) -> Json:
    """A click (type 3) on button ``custom_id`` of ``message`` (as ``fake.posted`` has it);
    ``kwargs`` as for ``slash_interaction`` (who clicks, where)."""
    payload = slash_interaction("-", **kwargs)
    return payload | {
        "type": 3,
        "data": {"custom_id": custom_id, "component_type": 2},
        "message": message,
    }


def modal_submit_interaction(
    custom_id: str, values: Mapping[str, str], message: Json | None = None, **kwargs: Any
) -> Json:
    """A form sent (type 5): the modal ``custom_id`` (as the bot's type 9 callback gave it)
    with each text input's value, opened from a button of ``message``."""
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": name, "value": value}]}
        for name, value in values.items()
    ]
    payload = slash_interaction("-", **kwargs)
    payload |= {"type": 5, "data": {"custom_id": custom_id, "components": rows}}
    if message is not None:
        payload["message"] = message
    return payload


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedFile:
    field: str
    filename: str | None
    data: bytes
    content_type: str | None = None


@dataclass
class RecordedRequest:
    """One REST request. ``kind``: callback, followup, channel_message, sync, rest or unhandled."""

    kind: str
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    reply: Any = None  # what the fake answered
    consumed: bool = field(default=False, repr=False)

    @property
    def message(self) -> Json:
        """The message body: ``data`` of a callback, else the request JSON."""
        body = self.json if isinstance(self.json, dict) else {}
        return (body.get("data") or {}) if self.kind == "callback" else body

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @property
    def embeds(self) -> list[Json]:
        return self.message.get("embeds") or []

    @property
    def ephemeral(self) -> bool:
        return bool((self.message.get("flags") or 0) & EPHEMERAL)

    @property
    def callback_type(self) -> int | None:
        return self.json.get("type") if self.kind == "callback" and self.json else None


@dataclass(frozen=True)
class Shown:
    """A message as people see it: its text, embeds, files, and whether only the caller does."""

    content: str
    embeds: list[Json]
    ephemeral: bool
    attachments: list[Json]


@dataclass
class SyncedCommands:
    guild_id: int | None
    commands: list[Json]


@dataclass
class _Reply:
    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _RateLimit:
    substring: str
    retry_after: float
    method: str | None
    is_global: bool
    remaining: int


_Handler = Callable[..., Awaitable[_Reply]]


def _route(method: str, pattern: str, kind: str = "rest", auth: bool = True):
    def deco(fn: _Handler) -> _Handler:
        fn.route = (method, re.compile(pattern + r"/?$"), kind, auth)  # type: ignore[attr-defined]
        return fn

    return deco


# --------------------------------------------------------------------------- the fake


class FakeDiscord:
    """Fake Discord REST + gateway server; use as ``async with FakeDiscord() as fake:``."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        app_id: int = DEFAULT_APP_ID,
        bot_name: str = "tallybot",
        guilds: Sequence[Json] | None = None,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.bot_user = user_payload(app_id, bot_name, bot=True)
        self.guilds: list[Json] = list(guilds) if guilds is not None else [guild_payload()]
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.requests: list[RecordedRequest] = []
        self.rate_limited: list[RecordedRequest] = []
        self.synced_commands: list[SyncedCommands] = []
        self.gateway_received: list[Json] = []  # every frame the client sent
        self.gateway_paths: list[str] = []  # one per websocket connection
        self.session_id: str | None = None
        self.base_url = ""
        self._commands: dict[int | None, list[Json]] = {}
        self._messages: dict[tuple[str, str], Json] = {}  # (token, id|"@original") -> message
        self.posted: dict[str, Json] = {}  # channel messages by id, as they are now
        self._interactions: dict[str, Json] = {}
        self._acked: set[str] = set()
        self._rate_limits: list[_RateLimit] = []
        self._refused: dict[str, _Reply] = {}  # channel id -> the error its messages get
        self._cond = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._ws_lock = asyncio.Lock()
        self._identified = asyncio.Event()
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._routes = [
            (getattr(self, n).route, getattr(self, n))
            for n in dir(type(self))
            if hasattr(getattr(type(self), n), "route")
        ]

    # ---- lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._http)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> yarl.URL:
        return yarl.URL(self.base_url.replace("http", "ws", 1) + "/gateway")

    @property
    def resume_gateway_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/resume"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[FakeDiscord]:
        """Point ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` here; restore on exit."""
        old = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self.api_base, self.gateway_url
        try:
            yield self
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old

    @contextlib.asynccontextmanager
    async def run_client(
        self,
        client: discord.Client,
        *,
        token: str | None = None,
        ready_timeout: float = 5.0,
    ) -> AsyncIterator[discord.Client]:
        """``client.start(token)`` in a task, wait for ``on_ready``, close the client on exit."""
        task = asyncio.create_task(client.start(token or self.token))
        try:
            async with asyncio.timeout(ready_timeout):
                while not client.is_ready():
                    if task.done():
                        task.result()  # re-raises LoginFailure etc.
                        raise RuntimeError("client stopped before becoming ready")
                    await asyncio.sleep(0.01)
            yield client
        finally:
            await client.close()
            await asyncio.wait({task}, timeout=5)
            task.cancel()
            failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure

    # ---- test controls

    def rate_limit_next(
        self,
        path_substring: str,
        retry_after: float = 0.05,
        *,
        method: str | None = None,
        is_global: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_substring`` with a 429."""
        self._rate_limits.append(_RateLimit(path_substring, retry_after, method, is_global, times))

    def refuse_channel(self, channel_id: int | str, status: int, code: int, message: str) -> None:
        """Answer messages posted to the channel with Discord's error, e.g. 404, 10003,
        "Unknown Channel" (deleted) or 403, 50001, "Missing Access"."""
        self._refused[str(channel_id)] = _Reply(status, {"message": message, "code": code})

    async def wait_for(self, *kinds: str, timeout: float = 5.0) -> RecordedRequest:  # noqa: ASYNC109
        """Return the oldest not-yet-returned request of one of ``kinds``, waiting if needed."""

        async def find() -> RecordedRequest:
            async with self._cond:
                while True:
                    for req in self.requests:
                        if req.kind in kinds and not req.consumed:
                            req.consumed = True
                            return req
                    await self._cond.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_for_callback(self, timeout: float = 5.0) -> RecordedRequest:  # noqa: ASYNC109
        return await self.wait_for("callback", timeout=timeout)

    async def wait_for_followup(self, timeout: float = 5.0) -> RecordedRequest:  # noqa: ASYNC109
        return await self.wait_for("followup", timeout=timeout)

    async def wait_for_channel_message(self, timeout: float = 5.0) -> RecordedRequest:  # noqa: ASYNC109
        return await self.wait_for("channel_message", timeout=timeout)

    def _of_kind(self, kind: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == kind]

    @property
    def callbacks(self) -> list[RecordedRequest]:
        return self._of_kind("callback")

    def shown(self, interaction: Json) -> list[Shown]:
        """The messages an interaction's answer left on screen, after edits and deletions, in
        the order they were posted."""
        kept = [m for (token, _), m in self._messages.items() if token == interaction["token"]]
        return [
            Shown(m["content"], m["embeds"], bool(m["flags"] & EPHEMERAL), m["attachments"])
            for m in sorted(kept, key=lambda m: int(m["id"]))
        ]

    @property
    def channel_messages(self) -> list[RecordedRequest]:
        return self._of_kind("channel_message")

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests the fake has no route for (answered 404)."""
        return self._of_kind("unhandled")

    def registered_commands(self, guild_id: int | None = None) -> list[Json]:
        """Commands currently registered globally (None) or for a guild."""
        return self._commands.get(guild_id, [])

    # ---- gateway

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH (op 0) to the client, waiting (up to 5 s) until it has identified."""
        await asyncio.wait_for(self._identified.wait(), 5)
        self._seq += 1
        await self._send({"op": 0, "t": event, "s": self._seq, "d": data})

    async def send_interaction(self, payload: Json) -> None:
        """Dispatch INTERACTION_CREATE (build ``payload`` with ``slash_interaction``)."""
        self._interactions[payload["id"]] = payload
        await self.dispatch("INTERACTION_CREATE", payload)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; the client closes and RESUMEs at ``resume_gateway_url``."""
        await asyncio.wait_for(self._identified.wait(), 5)
        self._identified.clear()
        await self._send({"op": 7, "d": None})

    async def _send(self, frame: Json) -> None:
        if self._ws is None:
            raise RuntimeError("no gateway connection")
        async with self._ws_lock:
            await self._ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_paths.append(request.path)
        self._ws = ws
        await self._send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            self.gateway_received.append(frame)
            op, d = frame.get("op"), frame.get("d")
            if op == 1:
                await self._send({"op": 11})
            elif op == 2:
                await self._on_identify(ws, d)
            elif op == 6:
                await self._on_resume(d)
            elif op == 8:
                await self._on_request_members(d)
        if self._ws is ws:
            self._ws = None
            self._identified.clear()
        return ws

    async def _on_identify(self, ws: web.WebSocketResponse, d: Json) -> None:
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.session_id, self._seq = secrets.token_hex(16), 0
        ready = {
            "v": 10,
            "user": self.bot_user | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds],
            "session_id": self.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-gateway"],
        }
        self._seq += 1
        await self._send({"op": 0, "t": "READY", "s": self._seq, "d": ready})
        for guild in self.guilds:
            self._seq += 1
            await self._send(
                {"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": self._guild(guild)}
            )
        self._identified.set()

    async def _on_resume(self, d: Json) -> None:
        if d.get("token") != self.token or d.get("session_id") != self.session_id:
            await self._send({"op": 9, "d": False})
            return
        self._seq += 1
        await self._send({"op": 0, "t": "RESUMED", "s": self._seq, "d": {"_trace": ["fake"]}})
        self._identified.set()

    async def _on_request_members(self, d: Json) -> None:
        guild = next((g for g in self.guilds if g["id"] == str(d["guild_id"])), None)
        if guild is None:
            return
        members = self._guild(guild)["members"]
        if ids := {str(i) for i in d.get("user_ids") or ()}:
            members = [m for m in members if m["user"]["id"] in ids]
        elif query := d.get("query"):
            members = [m for m in members if m["user"]["username"].startswith(query)]
        chunk = {"guild_id": guild["id"], "members": members, "chunk_index": 0, "chunk_count": 1}
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    def _guild(self, guild: Json) -> Json:
        """The guild with the bot's own member added (Discord always includes it)."""
        members = list(guild.get("members", []))
        if not any(m["user"]["id"] == self.bot_user["id"] for m in members):
            members.append(member_payload(self.app_id, self.bot_user["username"], bot=True))
        return guild | {
            "members": members,
            "member_count": max(guild["member_count"], len(members)),
        }

    # ---- REST

    async def _http(self, request: web.Request) -> web.Response:
        body: Any = None
        files: list[RecordedFile] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    ctype = part.headers.get("Content-Type")
                    files.append(RecordedFile(part.name or "", part.filename, bytes(data), ctype))
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        path = "/" + request.match_info["tail"]
        reply = await self.handle(
            request.method,
            path,
            dict(request.query),
            body,
            files,
            request.headers.get("Authorization"),
        )
        if reply.status == 204:
            return web.Response(status=204, headers=reply.headers)
        headers = {"Content-Type": "application/json", **reply.headers}  # exactly, no charset
        return web.Response(
            status=reply.status, body=json.dumps(reply.data).encode(), headers=headers
        )

    async def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        files: list[RecordedFile],
        authorization: str | None,
    ) -> _Reply:
        """Route one REST call (path without ``/api/v10``); also used by ``run_interaction``."""
        kind, match, fn, auth = self._match(method, path)
        req = RecordedRequest(kind, method, path, query, body, files)
        if match is not None:
            req.params = match.groupdict()
        if (limited := self._take_rate_limit(method, path)) is not None:
            req.status = 429
            self.rate_limited.append(req)
            body = {"message": "You are being rate limited.", "retry_after": limited.retry_after}
            headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(limited.retry_after)))}
            headers["X-RateLimit-Scope"] = "global" if limited.is_global else "user"
            return _Reply(429, body | {"global": limited.is_global}, headers)
        if auth and authorization != f"Bot {self.token}":
            reply = _Reply(401, {"message": "401: Unauthorized", "code": 0})
        elif fn is None:
            reply = _Reply(404, {"message": "404: Not Found", "code": 0})
        else:
            reply = await fn(req, **req.params)
        req.status, req.reply = reply.status, reply.data
        async with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
        return reply

    def _match(self, method: str, path: str) -> tuple[str, re.Match[str] | None, Any, bool]:
        for (m, pattern, kind, auth), fn in self._routes:
            if m == method and (match := pattern.match(path)):
                return kind, match, fn, auth
        return "unhandled", None, None, False

    def _take_rate_limit(self, method: str, path: str) -> _RateLimit | None:
        for rl in self._rate_limits:
            if rl.remaining > 0 and rl.substring in path and rl.method in (None, method):
                rl.remaining -= 1
                return rl
        return None

    def _message(
        self, req: RecordedRequest, channel_id: str, *, token: str | None = None, type_: int = 0
    ) -> Json:
        body = req.message
        attachments = [
            {
                "id": str(new_id()),
                "filename": f.filename or f.field,
                "size": len(f.data),
                "url": f"{self.base_url}/attachments/{f.filename}",
                "proxy_url": f"{self.base_url}/attachments/{f.filename}",
                "content_type": f.content_type,
            }
            for f in req.files
        ]
        msg: Json = {
            "id": str(new_id()),
            "channel_id": channel_id,
            "author": self.bot_user,
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": type_,
            "flags": body.get("flags") or 0,
        }
        if token is not None:
            msg |= {"webhook_id": str(self.app_id), "application_id": str(self.app_id)}
        return msg

    def _channel_of(self, token: str) -> str:
        found = (p for p in self._interactions.values() if p["token"] == token)
        return next((p["channel_id"] for p in found), str(DEFAULT_CHANNEL_ID))

    @_route("GET", r"/users/@me")
    async def _users_me(self, req: RecordedRequest) -> _Reply:
        return _Reply(200, self.bot_user | {"verified": True, "mfa_enabled": False, "flags": 0})

    @_route("GET", r"/(?:oauth2/)?applications/@me")
    async def _application(self, req: RecordedRequest) -> _Reply:
        app = {
            "id": str(self.app_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": user_payload(DEFAULT_USER_ID, "owner"),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "interactions_endpoint_url": None,
            "bot": self.bot_user,
        }
        return _Reply(200, app)

    @_route("GET", r"/gateway(?:/bot)?")
    async def _get_gateway(self, req: RecordedRequest) -> _Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _Reply(
            200, {"url": str(self.gateway_url), "shards": 1, "session_start_limit": limit}
        )

    @_route("PUT", r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands", "sync")
    async def _sync(self, req: RecordedRequest, app_id: str, guild_id: str | None) -> _Reply:
        gid = int(guild_id) if guild_id else None
        old = {c["name"]: c["id"] for c in self._commands.get(gid, [])}
        out = []
        for cmd in req.json or []:
            stored = {"description": "", "type": 1, "options": [], **cmd}
            stored |= {"id": old.get(cmd["name"]) or str(new_id()), "application_id": app_id}
            stored |= {
                "version": str(new_id()),
                "default_member_permissions": cmd.get("default_member_permissions"),
            }
            if gid is not None:
                stored["guild_id"] = guild_id
            out.append(stored)
        self._commands[gid] = out
        self.synced_commands.append(SyncedCommands(gid, out))
        return _Reply(200, out)

    @_route("GET", r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands")
    async def _list_commands(
        self, req: RecordedRequest, app_id: str, guild_id: str | None
    ) -> _Reply:
        return _Reply(200, self.registered_commands(int(guild_id) if guild_id else None))

    @_route(
        "POST",
        r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
        "callback",
        False,
    )
    async def _callback(self, req: RecordedRequest, interaction_id: str, token: str) -> _Reply:
        if interaction_id in self._acked:
            return _Reply(
                400, {"message": "Interaction has already been acknowledged.", "code": 40060}
            )
        self._acked.add(interaction_id)
        ctype = (req.json or {}).get("type")
        itype = self._interactions.get(interaction_id, {}).get("type", 2)
        info: Json = {"id": interaction_id, "type": itype}
        out: Json = {"interaction": info, "resource": {"type": ctype}}
        if ctype in (4, 5, 7):
            msg = self._message(req, self._channel_of(token), token=token, type_=20)
            if ctype == 5:
                msg["flags"] |= LOADING
            self._messages[(token, "@original")] = msg
            out["resource"]["message"] = msg
            info |= {
                "response_message_id": msg["id"],
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": bool(msg["flags"] & EPHEMERAL),
            }
        return _Reply(200, out)

    @_route("POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", "followup", False)
    async def _followup(self, req: RecordedRequest, app_id: str, token: str) -> _Reply:
        msg = self._message(req, self._channel_of(token), token=token)
        original = self._messages.get((token, "@original"))
        if original is not None and original["flags"] & LOADING:
            # As Discord does: the first follow-up after a deferral takes the "thinking…"
            # placeholder's place, private if the deferral was, whatever its own flags say.
            msg |= {"id": original["id"], "flags": original["flags"] & ~LOADING}
            self._messages[(token, "@original")] = msg
        else:
            self._messages[(token, msg["id"])] = msg
        return _Reply(200, msg) if req.query.get("wait") in ("1", "true", "True") else _Reply(204)

    @_route(
        "GET",
        r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>[^/]+)",
        "rest",
        False,
    )
    async def _get_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> _Reply:
        msg = self._messages.get((token, message_id))
        return (
            _Reply(200, msg) if msg else _Reply(404, {"message": "Unknown Message", "code": 10008})
        )

    @_route(
        "PATCH",
        r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>[^/]+)",
        "followup",
        False,
    )
    async def _edit_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> _Reply:
        old = self._messages.get((token, message_id))
        new = self._message(req, self._channel_of(token), token=token)
        if old is not None:
            body = req.message
            new = old | {k: new[k] for k in ("content", "embeds", "components") if k in body}
            new |= {"flags": old["flags"] & ~LOADING, "edited_timestamp": _now()}
            if req.files:
                new["attachments"] = self._message(req, old["channel_id"])["attachments"]
        self._messages[(token, message_id)] = new
        return _Reply(200, new)

    @_route(
        "DELETE",
        r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>[^/]+)",
        "followup",
        False,
    )
    async def _delete_webhook_message(
        self, req: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> _Reply:
        self._messages.pop((token, message_id), None)
        return _Reply(204)

    @_route("POST", r"/channels/(?P<channel_id>\d+)/messages", "channel_message")
    async def _channel_message(self, req: RecordedRequest, channel_id: str) -> _Reply:
        if channel_id in self._refused:
            return self._refused[channel_id]
        message = self._message(req, channel_id)
        self.posted[message["id"]] = message
        return _Reply(200, message)

    @_route(
        "PATCH", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "channel_message"
    )
    async def _edit_channel_message(
        self, req: RecordedRequest, channel_id: str, message_id: str
    ) -> _Reply:
        old = self.posted.get(message_id)
        if old is None or old["channel_id"] != channel_id:
            return _Reply(404, {"message": "Unknown Message", "code": 10008})
        body = req.message
        new = old | {k: body[k] for k in ("content", "embeds", "components") if k in body}
        self.posted[message_id] = new | {"edited_timestamp": _now()}
        return _Reply(200, self.posted[message_id])

    @_route(
        "DELETE", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "channel_message"
    )
    async def _delete_channel_message(
        self, req: RecordedRequest, channel_id: str, message_id: str
    ) -> _Reply:
        return _Reply(204)

    @_route("POST", r"/channels/(?P<channel_id>\d+)/typing")
    async def _typing(self, req: RecordedRequest, channel_id: str) -> _Reply:
        return _Reply(204)


# --------------------------------------------------------------------------- offline runs


def _split_multipart(
    multipart: Sequence[Json] | None, payload: Any
) -> tuple[Any, list[RecordedFile]]:
    files = []
    for part in multipart or ():
        if part["name"] == "payload_json":
            payload = json.loads(part["value"])
        else:
            value = part["value"]
            data = value.read() if hasattr(value, "read") else bytes(value)
            files.append(
                RecordedFile(part["name"], part.get("filename"), data, part.get("content_type"))
            )
    return payload, files


async def _offline_call(
    fake: FakeDiscord,
    url: str,
    method: str,
    body: Any,
    files: list[RecordedFile],
    query: Mapping[str, Any] | None,
    authorization: str | None,
) -> Any:
    path = re.sub(r"^/api/v\d+", "", urlsplit(url).path)
    q = {k: str(v) for k, v in (query or {}).items()}
    for _ in range(5):
        reply = await fake.handle(method, path, q, body, files, authorization)
        if reply.status == 429:
            await asyncio.sleep(reply.data["retry_after"])
            continue
        break
    if reply.status == 204 or 200 <= reply.status < 300:
        return reply.data
    response = SimpleNamespace(status=reply.status, reason="fake")
    exc = {403: discord.Forbidden, 404: discord.NotFound}.get(reply.status, discord.HTTPException)
    raise exc(response, reply.data)  # type: ignore[arg-type]


class _OfflineWebhookAdapter(AsyncWebhookAdapter):
    """Sends interaction responses / webhook calls to ``fake.handle`` instead of the network."""

    def __init__(self, fake: FakeDiscord) -> None:
        super().__init__()
        self.fake = fake

    async def request(self, route: Route, session: Any, *, payload: Any = None, **kw: Any) -> Any:
        body, files = _split_multipart(kw.get("multipart"), payload)
        auth = f"Bot {kw['auth_token']}" if kw.get("auth_token") else None
        return await _offline_call(
            self.fake, route.url, route.method, body, files, kw.get("params"), auth
        )


@dataclass
class TreeRun:
    interaction: discord.Interaction
    error: app_commands.AppCommandError | None
    requests: list[RecordedRequest]
    shown: list[Shown]  # what the answer left on screen

    @property
    def callbacks(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "callback"]

    @property
    def replies(self) -> list[RecordedRequest]:
        """Callbacks, follow-ups and channel messages in order."""
        kinds = ("callback", "followup", "channel_message")
        return [r for r in self.requests if r.kind in kinds]


async def prepare_offline_client(client: discord.Client, fake: FakeDiscord) -> None:
    """Make a never-started client usable offline: loop, bot user, app id, guild cache."""
    if client.loop is discord.client._loop:
        await client._async_setup_hook()
    state = client._connection
    if state.user is None:
        state.user = discord.ClientUser(state=state, data=fake.bot_user)
    state.application_id = state.application_id or fake.app_id
    for guild in fake.guilds:
        if state._get_guild(int(guild["id"])) is None:
            state._add_guild_from_data(fake._guild(guild))  # type: ignore[arg-type]


async def run_interaction(
    tree: app_commands.CommandTree, payload: Json, *, fake: FakeDiscord | None = None
) -> TreeRun:
    """Run an interaction payload through ``tree`` without network and return what it sent.

    HTTP calls are answered in-process by ``fake`` (a fresh, never-started ``FakeDiscord`` by
    default): interaction responses/follow-ups via a swapped webhook adapter, bot calls such as
    ``channel.send`` via a patched ``client.http.request``. ``error`` is what ``on_error`` got.
    """
    fake = fake or FakeDiscord()
    client = tree.client
    await prepare_offline_client(client, fake)
    start = len(fake.requests)
    errors: list[app_commands.AppCommandError] = []
    original_on_error = tree.on_error

    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        errors.append(error)
        await original_on_error(interaction, error)

    async def http_request(route: Route, *, files: Any = None, form: Any = None, **kw: Any) -> Any:
        body, recorded = _split_multipart(form, kw.get("json"))
        auth = f"Bot {fake.token}"
        return await _offline_call(
            fake, route.url, route.method, body, recorded, kw.get("params"), auth
        )

    fake._interactions[payload["id"]] = payload
    token = async_context.set(_OfflineWebhookAdapter(fake))
    tree.on_error = on_error  # type: ignore[method-assign]
    client.http.request = http_request  # type: ignore[method-assign]
    try:
        interaction = discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]
        try:
            await tree._call(interaction)
        except app_commands.AppCommandError as exc:  # what CommandTree._from_interaction does
            await tree._dispatch_error(interaction, exc)
    finally:
        del client.http.request
        del tree.on_error
        async_context.reset(token)
    error = errors[0] if errors else None
    return TreeRun(interaction, error, fake.requests[start:], fake.shown(payload))
