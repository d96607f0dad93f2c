"""A loopback fake of the Slack platform for driving a real slack-bolt ``AsyncApp`` in tests.

One aiohttp server on 127.0.0.1 (ephemeral port, running in the test's own event loop) serves:

* the Web API under ``fake.api_url`` (``.../api/``; pass it as ``AsyncWebClient(base_url=...)``),
* the file upload URLs handed out by ``files.getUploadURLExternal``,
* ``response_url`` endpoints (``fake.response_url(name)``),
* a Socket Mode websocket, whose ``ws://`` URL ``apps.connections.open`` returns.

Everything the bot sends is recorded: ``fake.calls``, ``fake.uploads``, ``fake.responses``,
``fake.acks``. Use the ``wait_for_*`` helpers for things the bot does after its ack.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

# slack_sdk routes every request (even to 127.0.0.1) through these and ignores NO_PROXY.
PROXY_ENV_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")

Handler = Callable[["Call"], dict[str, Any]]


@dataclass
class Call:
    """One Web API call as the fake received it."""

    method: str
    params: dict[str, Any]  # query string + form fields + JSON body, merged
    headers: dict[str, str]  # lower-cased names
    status: int = 200  # 429 when the call was rate limited
    response: dict[str, Any] = field(default_factory=dict)  # what the fake answered

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class Upload:
    """A file sent through ``files_upload_v2`` (getUploadURLExternal + upload + complete)."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    complete_params: dict[str, Any] = field(default_factory=dict)  # channel_id, initial_comment…


@dataclass
class ResponsePost:
    """A POST to a ``response_url``."""

    name: str
    body: dict[str, Any]
    headers: dict[str, str]


def slash_command_fields(
    command: str = "/tally",
    text: str = "",
    *,
    user_id: str = "U1",
    channel_id: str = "C1",
    team_id: str = "T1",
    response_url: str = "http://127.0.0.1:9/no-response-url",
    user_name: str | None = None,
    channel_name: str = "general",
    team_domain: str = "tally",
    trigger_id: str = "1.1.trigger",
    api_app_id: str = "A1",
    token: str = "verification-token",
    enterprise_id: str | None = None,
) -> dict[str, str]:
    """Slash command fields in the order Slack sends them (the payload for both transports);
    ``enterprise_id`` is sent only by Enterprise Grid workspaces."""
    grid = {"enterprise_id": enterprise_id} if enterprise_id is not None else {}
    return {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        **grid,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "response_url": response_url,
        "trigger_id": trigger_id,
        "api_app_id": api_app_id,
    }


def signed_slash_request(
    signing_secret: str,
    command: str = "/tally",
    text: str = "",
    *,
    timestamp: int | None = None,
    tamper: bool = False,
    **fields: str,
) -> tuple[str, dict[str, str]]:
    """Form-encode and sign a slash command as Slack's HTTP delivery does.

    ``timestamp`` defaults to now (pass ``time.time() - 600`` for a stale request);
    ``tamper=True`` corrupts the signature. Other keywords go to ``slash_command_fields``.
    """
    body = urlencode(slash_command_fields(command, text, **fields))
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    if tamper:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    return body, headers


def _json(value: Any) -> Any:
    """A form field slack_sdk sent as JSON text, or the JSON body's own value."""
    return json.loads(value) if isinstance(value, str) else value


def _ok(**data: Any) -> dict[str, Any]:
    return {"ok": True, **data}


def _err(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


class FakeSlack:
    """Fake Slack Web API + Socket Mode server. Use as ``async with FakeSlack() as fake:``."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        *,
        signing_secret: str = "test-signing-secret",
        team_id: str = "T1",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A1",
        usergroups: Mapping[str, list[str]] | None = None,
        users: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.bot_token, self.app_token, self.signing_secret = bot_token, app_token, signing_secret
        self.team_id, self.app_id = team_id, app_id
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.usergroups: dict[str, list[str]] = dict(usergroups or {})
        self.users: dict[str, dict[str, Any]] = dict(users or {})
        self.calls: list[Call] = []
        self.uploads: dict[str, Upload] = {}
        self.responses: list[ResponsePost] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []  # every Socket Mode message from the client
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts): as it is now
        self.views: list[dict[str, Any]] = []  # every view views.open opened
        self._stubs: dict[str, Handler] = {}
        self._rate_limits: dict[str, list[int]] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._counter = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/commands/{team}/{id}/{name}", self._response)
        app.router.add_get("/link", self._websocket)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """Web API base URL, ending with "/" like slack_sdk's ``https://slack.com/api/``."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "default") -> str:
        """A loopback ``response_url`` whose POSTs are recorded under ``name``; shaped like
        Slack's (``https://hooks.slack.com/commands/T…/…/secret``), the name as the secret."""
        return f"{self.base_url}/commands/{self.team_id}/1/{name}"

    # ---- configuration -------------------------------------------------------------------------

    def stub(self, method: str, response: dict[str, Any] | Handler) -> None:
        """Answer ``method`` with a dict or ``response(call) -> dict`` (overrides built-ins)."""
        self._stubs[method] = response if callable(response) else (lambda _call: response)

    def unstub(self, method: str) -> None:
        """Answer ``method`` with the built-in handler again."""
        self._stubs.pop(method, None)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` fail with 429 + ``Retry-After``."""
        self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    # ---- inspection ----------------------------------------------------------------------------

    def calls_to(self, method: str, *, include_rate_limited: bool = False) -> list[Call]:
        """Recorded calls to ``method`` (answered ones only, unless asked otherwise)."""
        return [
            c
            for c in self.calls
            if c.method == method and (include_rate_limited or c.status != 429)
        ]

    def responses_to(self, name: str = "default") -> list[dict[str, Any]]:
        """Bodies POSTed to ``response_url(name)``."""
        return [r.body for r in self.responses if r.name == name]

    # The wait_for_* helpers take a `timeout` (hence the noqa): a per-wait deadline reads best.
    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> Call:
        """Wait until ``method`` was answered ``count`` times; return the ``count``-th call."""
        await self._wait(lambda: len(self.calls_to(method)) >= count, timeout, method)
        return self.calls_to(method)[count - 1]

    async def wait_for_response(
        self,
        name: str = "default",
        count: int = 1,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait for the ``count``-th POST to ``response_url(name)``; return its JSON body."""
        await self._wait(lambda: len(self.responses_to(name)) >= count, timeout, f"response {name}")
        return self.responses_to(name)[count - 1]

    async def wait_for_ack(
        self,
        envelope_id: str,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait for the Socket Mode ack of ``envelope_id``: ``{"envelope_id", "payload"?}``."""
        await self._wait(lambda: envelope_id in self.acks, timeout, f"ack {envelope_id}")
        return self.acks[envelope_id]

    async def wait_for_connection(self, timeout: float = 2.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected."""
        await self._wait(lambda: bool(self._sockets), timeout, "a Socket Mode connection")

    # ---- Socket Mode: server -> client -------------------------------------------------------

    async def send_envelope(
        self, type_: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send a Socket Mode envelope to the newest connection; return its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        await self.send_message(envelope)
        return envelope_id

    async def send_message(self, message: dict[str, Any]) -> None:
        """Send any JSON message (e.g. ``{"type": "disconnect"}``) to the newest connection."""
        await self.wait_for_connection()
        await self._sockets[-1].send_json(message)

    async def send_slash_command(self, body: Mapping[str, str] | None = None, **fields: str) -> str:
        """Send a ``slash_commands`` envelope; missing fields default (response_url -> fake)."""
        merged = {"response_url": self.response_url(), "team_id": self.team_id, **fields}
        payload = {**slash_command_fields(**merged), "api_app_id": self.app_id, **(body or {})}
        return await self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    def signed_slash_request(
        self, command: str = "/tally", text: str = "", **kwargs: Any
    ) -> tuple[str, dict[str, str]]:
        """``signed_slash_request`` with this fake's secret, team and ``response_url()``."""
        kwargs.setdefault("response_url", self.response_url())
        kwargs.setdefault("team_id", self.team_id)
        kwargs.setdefault("api_app_id", self.app_id)
        return signed_slash_request(self.signing_secret, command, text, **kwargs)

    # ---- internals -----------------------------------------------------------------------------

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], seconds: float, what: str) -> None:
        try:
            async with asyncio.timeout(seconds):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            seen = [c.method for c in self.calls]
            msg = f"timed out after {seconds}s waiting for {what}; calls: {seen}"
            raise AssertionError(msg) from None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            params.update(await request.json())
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.update(await request.post())
        call = Call(method, params, {k.lower(): v for k, v in request.headers.items()})
        self.calls.append(call)
        try:
            if pending := self._rate_limits.get(method):
                call.status = 429
                return web.json_response(
                    _err("ratelimited"), status=429, headers={"Retry-After": str(pending.pop(0))}
                )
            call.response = self._answer(call)
            return web.json_response(call.response)
        finally:
            self._notify()

    def _answer(self, call: Call) -> dict[str, Any]:
        expected = self.app_token if call.method == "apps.connections.open" else self.bot_token
        if call.token is None:
            return _err("not_authed")
        if call.token != expected:
            return _err("invalid_auth")
        if call.method in self._stubs:
            return self._stubs[call.method](call)
        handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
        return handler(call.params) if handler else _err("unknown_method")

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return _ok(
            url="https://tally.slack.com/",
            team="Tally",
            user="tallybot",
            team_id=self.team_id,
            user_id=self.bot_user_id,
            bot_id=self.bot_id,
            is_enterprise_install=False,
        )

    def _ts(self) -> str:
        return f"{1_700_000_000 + self._next()}.000100"

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return _err("channel_not_found")
        message = {"type": "message", "text": p.get("text", ""), "user": self.bot_user_id}
        message |= {"bot_id": self.bot_id, "ts": self._ts(), "blocks": _json(p.get("blocks"))}
        self.messages[(p["channel"], message["ts"])] = message
        return _ok(channel=p["channel"], ts=message["ts"], message=message)

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((p.get("channel", ""), p.get("ts", "")))
        if message is None:
            return _err("message_not_found")
        message |= {"text": p.get("text", ""), "blocks": _json(p.get("blocks"))}
        return _ok(channel=p["channel"], ts=p["ts"], text=message["text"])

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return _err("invalid_trigger_id")
        view = {"id": f"V{self._next():06d}", **_json(p.get("view"))}
        self.views.append(view)
        return _ok(view=view)

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel") or not p.get("user"):
            return _err("channel_not_found" if not p.get("channel") else "user_not_in_channel")
        return _ok(message_ts=self._ts())

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = p.get("usergroup")
        if group not in self.usergroups:
            return _err("no_such_subteam")
        return _ok(users=list(self.usergroups[group]))

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(p.get("user", ""))
        return _ok(user={"id": p["user"], **user}) if user is not None else _err("user_not_found")

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("filename") or not p.get("length"):
            return _err("invalid_arguments")
        file_id = f"F{self._next():06d}"
        self.uploads[file_id] = Upload(file_id, p["filename"], int(p["length"]))
        return _ok(upload_url=f"{self.base_url}/upload/{file_id}", file_id=file_id)

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        entries = json.loads(p.get("files", "[]"))
        if not entries or any(self.uploads.get(f["id"]) is None for f in entries):
            return _err("invalid_arguments")
        out = []
        if any(self.uploads[f["id"]].data is None for f in entries):
            return _err("file_not_found")  # never sent to its upload URL
        for entry in entries:
            upload = self.uploads[entry["id"]]
            upload.title, upload.completed = entry.get("title"), True
            upload.complete_params = {k: v for k, v in p.items() if k != "files"}
            out.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return _ok(files=out)

    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_base = self.base_url.replace("http://", "ws://")
        return _ok(url=f"{ws_base}/link?ticket={ticket}&app_id={self.app_id}")

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="file not found")
        if request.content_type == "multipart/form-data":
            part = await (await request.multipart()).next()
            data = await part.read() if part is not None else b""  # type: ignore[union-attr]
        else:
            data = await request.read()
        upload.data = bytes(data)
        self._notify()
        return web.Response(text=f"OK - {len(upload.data)}")  # text/plain, as files.slack.com

    async def _response(self, request: web.Request) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.responses.append(
            ResponsePost(request.match_info["name"], await request.json(), headers)
        )
        self._notify()
        return web.Response(text="ok")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # only URLs issued by apps.connections.open
            return web.Response(status=401, text="invalid ticket")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "fake-applink", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(ws)
        self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                with suppress(ValueError):
                    data = json.loads(msg.data)
                    self.received.append(data)
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.acks[data["envelope_id"]] = data
                    self._notify()
        finally:
            self._sockets.remove(ws)
            self._notify()
        return ws


@asynccontextmanager
async def serve_bolt_app(app: Any, path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve ``AsyncApp.web_app(path)`` on 127.0.0.1:0 in this loop; yield the endpoint URL."""
    runner = web.AppRunner(app.web_app(path=path), shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def socket_mode(
    app: Any, fake: FakeSlack, *, app_token: str | None = None, web_client: Any = None
) -> AsyncIterator[Any]:
    """Connect an ``AsyncSocketModeHandler`` for ``app`` to ``fake``; close it (and its tasks).

    The handler reaches apps.connections.open through ``web_client`` (default: ``app.client``).
    """
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(app, app_token or fake.app_token, web_client=web_client)
    try:
        # connect() retries forever on errors: fetch the URL first so a bad app token raises.
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
        async with asyncio.timeout(5):
            await handler.connect_async()
        await fake.wait_for_connection()
        yield handler
    finally:
        await handler.close_async()
        client = handler.client
        tasks = [client.message_processor, client.current_session_monitor, client.message_receiver]
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
