"""Slack: every command of the core as a slash command, over Socket Mode or HTTP (slack-bolt).

The adapter maps a Slack user to an `Actor`, hands the typed text to `run_line` and renders the
reply; manifest.py generates the app manifest from the same command list.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncSlackResponse, AsyncWebClient

from bot.adapters.slack.names import DisplayNames
from bot.adapters.slack.settings import SlackConfig
from bot.commands.run import answer_within, guarded, run_line
from bot.commands.spec import Context, top_level
from bot.desk import Desk
from bot.domain import Actor, TallyError
from bot.platform import CredentialsError, Posted, PostRejected
from bot.render import answerable, cut, slack_escape, to_slack
from bot.replies import Attachment, Reply
from bot.service import Service
from bot.service_proposals import (
    NeedsConfirm,
    Proposal,
    Reviewer,
    ReviewMessage,
    decide_click,
    decision,
    open_proposal,
    stale_click,
    sweep_reviews,
)
from bot.text import MAX_NOTE, one_line

log = logging.getLogger(__name__)

ACK_WITHIN = 2.5  # seconds: Slack shows an error unless the ack arrives within 3
WORKING = "Working on it…"
EDITOR_GROUP_TTL = 60.0  # seconds a user group's members are cached
EDITOR_GROUP_STALE = 600.0  # seconds past the last good read after which the group grants nothing
EDITOR_GROUP_RETRY = (5.0, 60.0)  # pause after a failed read: first, doubling up to the last
CLOSE_GRACE = 5.0  # seconds close() lets commands in flight finish
IN_FLIGHT = 100  # commands running or following up at once; more are told to try again
BUSY = "tallybot is busy answering other commands; try again in a moment."
UPLOAD_LIMIT = 1_000_000_000  # bytes: Slack's limit for one file
ALT_TEXT = 1_000  # characters of a file's alt text
SECTION_TEXT = 3_000  # characters of a section block's text
RATE_LIMIT_RETRIES = 3  # slack_sdk retries a 429 once unless told otherwise
REVIEW = "proposal_"  # the review buttons' action ids: proposal_approve, _reject, _confirm
REASON = "proposal_reason"  # the callback_id of Reject's "why?" form
MODAL_TITLE = 24  # characters of a modal's title


def message(reply: Reply) -> dict[str, Any]:
    """An ack, response_url or chat.postMessage body: errors to the caller, answers to all."""
    text, blocks = to_slack(reply)
    return {
        "text": text,
        "blocks": blocks,
        "response_type": "ephemeral" if reply.caller_only else "in_channel",
    }


def as_text(blocks: list[dict[str, Any]]) -> str:
    """Blocks as one mrkdwn text, for where Slack takes no blocks (a file's message)."""
    lines = []
    for block in blocks:
        if block["type"] == "header":
            lines.append(f"*{slack_escape(block['text']['text'])}*")
        elif block["type"] == "context":
            lines += [e["text"] for e in block["elements"]]
        elif "text" in block:
            lines.append(block["text"]["text"])
    return "\n\n".join(lines)


def unescape(text: str) -> str:
    """Slack sends &, < and > as entities; the core wants the text as typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class _SameToken(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN itself, then warns that the client's token wins over it;
    here both are the same token, so the warning would only alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


_bolt_log = logging.getLogger(f"{__name__}.bolt")
_bolt_log.addFilter(_SameToken())


def web_client(config: SlackConfig, bot_token: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=bot_token,
        base_url=config.api_base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


async def check_tokens(
    client: AsyncWebClient, app_token: str | None, auth: AsyncSlackResponse | None = None
) -> tuple[AsyncSlackResponse, str | None]:
    """Ask Slack whether the tokens are good: auth.test for the bot token (unless `auth`, its
    answer, is given) and, given an app token (Socket Mode), apps.connections.open, whose URL
    this returns. The socket handler would retry a rejected app token forever. Raises
    CredentialsError in one line."""
    if auth is None:
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            raise CredentialsError(
                f"SLACK_BOT_TOKEN was rejected by Slack ({exc.response.get('error')}); copy the "
                "Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page."
            ) from None
    if app_token is None:
        return auth, None
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise CredentialsError(
            f"SLACK_APP_TOKEN was rejected by Slack ({exc.response.get('error')}); create an "
            "app-level token (xapp-...) with the connections:write scope under Basic "
            "Information > App-Level Tokens."
        ) from None
    return auth, opened["url"]


async def check_credentials(
    config: SlackConfig, bot_token: str, app_token: str | None
) -> AsyncSlackResponse:
    """`check_tokens` before anything local is opened (the signing secret cannot be asked
    about). The auth.test answer is kept for `SlackPlatform(auth=...)`; a Socket Mode URL is
    not, as it is opened afresh at start."""
    socket = config.mode == "socket"
    auth, _ = await check_tokens(web_client(config, bot_token), app_token if socket else None)
    return auth


class SlackPlatform:
    """Serves the slash commands until `close()`; `post()` is for the digest scheduler."""

    name = "slack"

    def __init__(
        self,
        service: Service,
        config: SlackConfig,
        *,
        bot_token: str,
        app_token: str | None = None,
        signing_secret: str | None = None,
        ack_within: float = ACK_WITHIN,
        clock: Callable[[], float] = time.monotonic,
        auth: AsyncSlackResponse | None = None,  # auth.test's answer, when already asked
    ) -> None:
        self.service = service
        self.config = config
        self.ack_within = ack_within
        self.clock = clock
        self.url = ""  # the HTTP endpoint once started in HTTP mode
        self._app_token = app_token
        self._auth = auth
        self.client = web_client(config, bot_token)
        # The token goes only in the client; "" keeps bolt from reading SLACK_SIGNING_SECRET in
        # Socket Mode, where requests are not signed (bolt verifies only HTTP requests). Over
        # HTTP the listener runs inline and bolt answers as it returns, rather than polling for
        # the ack every 10 ms; the listener returns once acked, whatever follows runs apart.
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            logger=_bolt_log,
            process_before_response=config.mode == "http",
        )
        # One listener for every command: bolt tries its listeners in turn on each request.
        words = "|".join(re.escape(word) for word in top_level())
        self.app.command(re.compile(f"^/(?:{words})$"))(self._on_command)
        self.app.action(re.compile(f"^{REVIEW}(?:approve|reject|confirm)$"))(self._on_review)
        self.app.view(REASON)(self._on_reason)
        self.desk = Desk.of(service)
        if config.review_channel:
            reviewer = Reviewer(
                config.proposals_per_reader,
                self._show_proposal,
                self._tell_proposer,
                self._settle,
            )
            for race in self.desk.services.values():
                race.review_on("slack", reviewer)
        self._tasks: set[asyncio.Task[None]] = set()  # commands, from start to last follow-up
        self._group = EditorGroup(self.client, config.editor_group)
        self._names = DisplayNames(self._display_name)
        self._team: tuple[str, str | None] | None = None  # (team_id, enterprise_id) once started
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._sweep: asyncio.Task[None] | None = None
        self._rendered: tuple[Reply, Reply, dict[str, Any]] | None = None  # see _run

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.close()  # run_platforms closes only what started
            raise

    async def _start(self) -> None:
        app_token = self._app_token if self.config.mode == "socket" else None
        # A Socket Mode URL is opened afresh even when the tokens were checked before.
        auth, socket_url = await check_tokens(self.client, app_token, self._auth)
        self._team = (auth["team_id"], auth.get("enterprise_id") or None)  # before any request
        if socket_url is None:
            await self._serve_http()
            where = f"listening on {self.url}"
        else:
            await self._connect_socket(socket_url)
            where = "connected over Socket Mode"
        log.info("Slack: %s as @%s in %s", where, auth.get("user"), auth.get("team"))
        if self.config.review_channel:  # decisions another process made
            self._sweep = asyncio.create_task(sweep_reviews(self.desk.default, self.name))

    async def _serve_http(self) -> None:
        web_app = self.app.web_app(path=self.config.path)  # 401s bad or stale signatures
        web_app.router.add_get("/healthz", _healthz)
        # No access log: a line per request costs more than a /tally; refusals log their own.
        self._runner = web.AppRunner(web_app, shutdown_timeout=CLOSE_GRACE, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.host, self.config.port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}{self.config.path}"

    async def _connect_socket(self, url: str) -> None:
        assert self._app_token is not None, "Socket Mode needs the app token"
        self._socket = AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)
        self._socket.client.wss_uri = url  # opened by check_tokens: a rejected token raised there
        await self._socket.connect_async()

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            await asyncio.gather(self._sweep, return_exceptions=True)
            self._sweep = None
        if self._tasks:
            log.info("Slack: closing; waiting for %d commands still answering", len(self._tasks))
            _, late = await asyncio.wait(set(self._tasks), timeout=CLOSE_GRACE)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
                log.warning(
                    "Slack: closed with %d commands unanswered after %g s", len(late), CLOSE_GRACE
                )
        if self._socket is not None:
            await self._socket.close_async()
            client = self._socket.client
            tasks = (
                client.message_processor,
                client.current_session_monitor,
                client.message_receiver,
            )
            await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- sending --------------------------------------------------------------------------------

    # Errors no retry can fix, and what whoever runs the bot should do about each.
    _REFUSALS = {
        "not_in_channel": "invite the bot with /invite @tallybot",
        "channel_not_found": "the channel was deleted (or is private and the bot was never "
        "invited there): /unsubscribe or remove it from [[digest.channels]]",
        "is_archived": "the channel is archived: unarchive it, or remove it from "
        "[[digest.channels]]",
    }

    async def post(
        self, channel: str, reply: Reply, skip: int = 0, posted: Posted | None = None
    ) -> None:
        """One message: the blocks, or with an attachment the file, the reply its message
        (files_upload_v2 takes no blocks: their text, as mrkdwn) and its alt text."""
        if skip:  # the one message is out
            return
        body = message(reply)
        try:
            if reply.attachment is None:
                await self.client.chat_postMessage(
                    channel=channel, text=body["text"], blocks=body["blocks"]
                )
            else:
                await self._upload(channel, reply.attachment, as_text(body["blocks"]))
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in self._REFUSALS:
                raise PostRejected(error, self._REFUSALS[error]) from None
            raise
        if posted is not None:
            await posted(1)

    async def _upload(
        self, channel: str, attachment: Attachment, comment: str | None = None
    ) -> None:
        """Upload a file to the channel, with `comment` as its message; one on disk (an
        export) is removed, sent or not."""
        try:
            await self.client.files_upload_v2(
                channel=channel,
                filename=attachment.filename,
                title=attachment.filename,
                file=str(attachment.path) if attachment.path is not None else attachment.data,
                alt_txt=cut(attachment.alt, ALT_TEXT) or None,
                initial_comment=comment,
            )
        finally:
            attachment.discard()

    # --- slash commands -------------------------------------------------------------------------

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Returns once the command is acked; its answer and files follow in a task of their
        own, which close() waits for."""
        if len(self._tasks) >= IN_FLIGHT:
            log.warning("Slack: %d commands in flight, refused %s", IN_FLIGHT, command["command"])
            await ack(message(Reply.refusal(BUSY)))
            return
        acked = asyncio.get_running_loop().create_future()

        async def ack_once(*args: Any, **kwargs: Any) -> None:
            await ack(*args, **kwargs)
            acked.set_result(None)

        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if acked.done() and not task.cancelled() and task.exception() is not None:
                log.error(
                    "Slack: %s failed after its ack", command["command"], exc_info=task.exception()
                )

        task = asyncio.create_task(self._answer(command, ack_once, respond))
        self._tasks.add(task)
        task.add_done_callback(finished)
        await asyncio.wait({task, acked}, return_when=asyncio.FIRST_COMPLETED)
        if not acked.done():
            task.result()  # it failed before acking: bolt answers 500 and logs why

    async def _answer(self, command: dict[str, Any], ack: AsyncAck, respond: AsyncRespond) -> None:
        """Ack with the answer if it is ready in time, else ack now and answer via response_url;
        then upload its file, if any."""

        async def defer() -> None:
            await ack(text=WORKING, response_type="ephemeral")

        reply, deferred = await answer_within(
            self.ack_within, f"Slack: {command.get('command')}", self._run(command), defer
        )
        if not deferred:
            await ack(self._message(reply))
        else:
            await self._follow_up(reply, respond)
        if reply.attachment is not None:
            await self._upload_or_explain(command.get("channel_id", ""), reply.attachment, respond)

    async def _follow_up(self, reply: Reply, respond: AsyncRespond) -> None:
        """The answer after the "Working on it…" ack, which never stays on screen: a private
        answer replaces it; a public one is posted, then the placeholder deleted (Slack keeps
        a replaced ephemeral message ephemeral)."""
        private = reply.caller_only
        sent = await respond(**message(reply), replace_original=private)
        if sent.status_code != 200:
            log.warning("Slack: response_url refused the answer (%s)", sent.status_code)
        elif not private:
            await respond(delete_original=True)

    async def _run(self, command: dict[str, Any]) -> Reply:
        if (refusal := self.not_served(command)) is not None:
            log.info(
                "Slack: refused %s from team %r", command.get("command"), command.get("team_id")
            )
            return Reply.refusal(refusal)
        ctx = Context(self.desk, await self._actor(command), command.get("channel_id", ""))
        line = f"{command['command']} {unescape(command.get('text', ''))}"
        reply = await run_line(ctx, line)
        if self._rendered is not None and reply is self._rendered[0]:
            return self._rendered[1]
        fitted = answerable(reply, UPLOAD_LIMIT, "Slack")
        if reply.attachment is None:  # a kept answer comes back as the same object
            self._rendered = (reply, fitted, message(fitted))
        return fitted

    def _message(self, reply: Reply) -> dict[str, Any]:
        """`message(reply)`, made once for the last answer without a file; a copy, as bolt
        sets its blocks in the body it is given."""
        if self._rendered is not None and reply is self._rendered[1]:
            return dict(self._rendered[2])
        return message(reply)

    async def _upload_or_explain(
        self, channel: str, attachment: Attachment, respond: AsyncRespond
    ) -> None:
        try:
            await self._upload(channel, attachment)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning(
                "Slack: could not upload %s to %s (%s)", attachment.filename, channel, error
            )
            await respond(
                text=f"Could not upload {attachment.filename} here ({error}): invite the bot "
                "to this channel (/invite @tallybot) and try again.",
                response_type="ephemeral",
            )

    # --- readers' proposals --------------------------------------------------------------------

    def _lines(self, proposal: Proposal) -> tuple[str, ...]:
        return self.desk.services[proposal.race].review_lines(proposal)

    async def _show_proposal(self, proposal: Proposal) -> ReviewMessage:
        """Post a new proposal in the review channel, with its Approve and Reject buttons."""
        lines = self._lines(proposal)
        sent = await self.client.chat_postMessage(
            channel=self.config.review_channel,
            text=f"Proposal {lines[0]}",
            blocks=review_blocks(lines, proposal.id),
        )
        return ReviewMessage(self.name, sent["channel"], sent["ts"])

    async def _settle(self, proposal: Proposal, where: ReviewMessage) -> None:
        """A review message, its buttons replaced by how the proposal was decided."""
        lines = self._lines(proposal)
        await self.client.chat_update(
            channel=where.channel, ts=where.message, text=lines[-1], blocks=review_blocks(lines)
        )

    async def _tell_proposer(self, proposal: Proposal) -> None:
        """How it was decided, to the proposer alone, in the channel they proposed it in."""
        what = self.desk.services[proposal.race].describe(proposal)
        await self.client.chat_postEphemeral(
            channel=proposal.channel, user=proposal.proposer.id, text=decision(proposal, what)
        )

    def _in_task(self, work: Awaitable[None], what: str) -> None:
        """Work after an ack, in a task close() waits for."""

        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("Slack: %s failed", what, exc_info=task.exception())

        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(finished)

    async def _on_review(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """A click on a review button: acked at once, decided in a task close() waits for."""
        await ack()
        self._in_task(self._review(body, action, respond), "a review click")

    async def _review(
        self, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Approve or reject as the clicking user, checked for editor rights as a command is;
        every review message of the proposal then shows the decision in place of its buttons.
        Reject first asks why, in a form. A click that cannot decide (not an editor, decided
        already) is answered to the clicker alone."""
        verb = action["action_id"].removeprefix(REVIEW)
        number, _, review_ts = str(action.get("value", "")).partition(":")
        channel = (body.get("channel") or {}).get("id", "")
        review_ts = review_ts or (body.get("container") or {}).get("message_ts", "")
        where = ReviewMessage(self.name, channel, review_ts) if channel and review_ts else None
        command = _clicker(body)
        asked: list[NeedsConfirm] = []

        async def decide() -> Reply:
            if (refusal := self.not_served(command)) is not None:
                return Reply.refusal(refusal)
            actor = await self._actor(command)
            if verb == "reject":
                await self._ask_reason(actor, int(number), where, body.get("trigger_id", ""))
                return Reply.text("Asked why.")
            try:
                service, decided = await decide_click(self.desk, actor, int(number), verb, where)
            except NeedsConfirm as exc:
                asked.append(exc)
                raise
            return Reply.text(decision(decided, service.describe(decided)))

        reply = await guarded(f"Slack: review #{number}", decide())
        if asked:  # a second click confirms
            await respond(
                text=asked[0].conflict,
                blocks=confirm_blocks(asked[0].conflict, int(number), review_ts),
                response_type="ephemeral",
                replace_original=False,
            )
        elif reply.error:
            await respond(**message(reply), replace_original=False)
        elif verb == "confirm":  # the confirmation asked for has done its job
            await respond(delete_original=True)

    async def _ask_reason(
        self, actor: Actor, number: int, where: ReviewMessage | None, trigger: str
    ) -> None:
        """Reject's form, opened with the click's trigger (good for 3 s); a reader, or a
        proposal decided already, is told so instead."""
        try:
            await open_proposal(self.desk, actor, number)
        except TallyError:
            await stale_click(self.desk, number, where)
            raise
        try:
            await self.client.views_open(trigger_id=trigger, view=reason_view(number, where))
        except SlackApiError as exc:
            raise TallyError(
                f"Slack did not open the form asking why ({exc.response.get('error')}); click "
                f"Reject again, or type /reject {number} note:why."
            ) from None

    async def _on_reason(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Reject's form sent: acked at once (the form closes), rejected in a task."""
        await ack()
        self._in_task(self._rejected_with(body), "a rejection's form")

    async def _rejected_with(self, body: dict[str, Any]) -> None:
        """Rejected with the reason given, as whoever sent the form, checked for editor rights
        again; a refusal is shown to them alone, in the review channel."""
        view = body.get("view") or {}
        kept = json.loads(view.get("private_metadata") or "{}")
        number = int(kept.get("proposal", 0))
        where = ReviewMessage(self.name, kept["channel"], kept["ts"]) if kept.get("ts") else None
        field = ((view.get("state") or {}).get("values") or {}).get("reason") or {}
        reason = ((field.get("reason") or {}).get("value") or "").strip() or None
        command = _clicker(body)

        async def reject() -> Reply:
            if (refusal := self.not_served(command)) is not None:
                return Reply.refusal(refusal)
            actor = await self._actor(command)
            await decide_click(self.desk, actor, number, "reject", where, reason)
            return Reply.text("Rejected.")

        reply = await guarded(f"Slack: rejecting #{number}", reject())
        if reply.error:
            await self.client.chat_postEphemeral(
                channel=where.channel if where else self.config.review_channel,
                user=command["user_id"],
                text=message(reply)["text"],
            )

    # --- identity -------------------------------------------------------------------------------

    async def _actor(self, command: dict[str, Any]) -> Actor:
        user = command.get("user_id", "")
        name = await self._names.name(user, command.get("user_name") or user, self.clock())
        return Actor("slack", user, name, is_editor=await self._is_editor(user))

    async def _display_name(self, user: str) -> str | None:
        """users.info's display name (else real name) for the user; None when it cannot say."""
        try:
            found = (await self.client.users_info(user=user))["user"]
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            if error != "user_not_found":
                log.warning("Slack: users.info failed (%s); the app needs users:read", error)
            return None
        profile = found.get("profile", {})
        return one_line(profile.get("display_name") or profile.get("real_name") or "") or None

    async def _is_editor(self, user: str) -> bool:
        if user in self.config.editors:
            return True
        return bool(self.config.editor_group) and user in await self._group.members(self.clock())

    def not_served(self, command: dict[str, Any]) -> str | None:
        """Why a command gets a refusal instead of an answer: it comes from another workspace
        (or Enterprise Grid org) than the one the bot token belongs to, learned at start."""
        team, enterprise = self._team or ("", None)
        same_org = (command.get("enterprise_id") or None) == enterprise
        if team and command.get("team_id") == team and same_org:
            return None
        return (
            "This workspace is not set up for tallybot: it serves only the workspace whose "
            "SLACK_BOT_TOKEN it runs with."
        )


class EditorGroup:
    """A user group's members, read at most once a minute and trusted for a bounded time: past
    EDITOR_GROUP_STALE since the last good read it grants nothing until a read succeeds, so a
    failing lookup cannot keep a removed editor recording. Failed reads are retried with a
    growing pause, and warned about once per run of failures."""

    def __init__(self, client: AsyncWebClient, group: str) -> None:
        self.client = client
        self.group = group
        self._members: frozenset[str] = frozenset()
        self._read_at: float | None = None  # the last good read
        self._retry_at = 0.0  # no read before this, after a failure
        self._failures = 0
        self._lock = asyncio.Lock()  # one read at a time; the others wait for its answer

    async def members(self, now: float) -> frozenset[str]:
        async with self._lock:
            fresh = self._read_at is not None and now - self._read_at < EDITOR_GROUP_TTL
            if not fresh and now >= self._retry_at:
                await self._read(now)
            if self._read_at is None or now - self._read_at > EDITOR_GROUP_STALE:
                return frozenset()
            return self._members

    async def _read(self, now: float) -> None:
        try:
            found = await self.client.usergroups_users_list(usergroup=self.group)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            first, most = EDITOR_GROUP_RETRY
            self._retry_at = now + min(first * 2**self._failures, most)
            self._failures += 1
            if self._failures == 1:
                error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
                log.warning(
                    "Slack: could not read editor group %s (%s); its members may record for "
                    "%d minutes after the last good read at most, then not until a read "
                    "succeeds (retried meanwhile). The app needs the usergroups:read scope.",
                    self.group,
                    error,
                    EDITOR_GROUP_STALE // 60,
                )
            return
        if self._failures:
            log.info(
                "Slack: read editor group %s again, after %d failed reads",
                self.group,
                self._failures,
            )
        self._members = frozenset(found.get("users", ()))
        self._read_at, self._failures = now, 0


def review_blocks(lines: tuple[str, ...], number: int | None = None) -> list[dict[str, Any]]:
    """A proposal as editors review it; with its `number`, the Approve and Reject buttons."""
    text = "\n".join(slack_escape(line) for line in lines)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_TEXT)}}
    ]
    if number is not None:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button("Approve", f"{REVIEW}approve", str(number), "primary"),
                    _button("Reject", f"{REVIEW}reject", str(number), "danger"),
                ],
            }
        )
    return blocks


def _clicker(body: dict[str, Any]) -> dict[str, Any]:
    """Who clicked (or sent a form), as a slash command names them."""
    user = body.get("user") or {}
    return {
        "team_id": (body.get("team") or {}).get("id"),
        "enterprise_id": (body.get("enterprise") or {}).get("id"),
        "user_id": user.get("id", ""),
        "user_name": user.get("username") or user.get("name"),
    }


def reason_view(number: int, where: ReviewMessage | None) -> dict[str, Any]:
    """Reject's form: why, optionally, in at most MAX_NOTE characters (Slack keeps to it);
    which proposal and review message it is about ride along in its private_metadata."""
    kept = {"proposal": number, "channel": where.channel, "ts": where.message} if where else {}
    return {
        "type": "modal",
        "callback_id": REASON,
        "private_metadata": json.dumps(kept or {"proposal": number}),
        "title": {"type": "plain_text", "text": cut(f"Reject proposal #{number}", MODAL_TITLE)},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": {"type": "plain_text", "text": "Why? The proposer is told."},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "max_length": MAX_NOTE,
                },
            }
        ],
    }


def confirm_blocks(conflict: str, number: int, review_ts: str) -> list[dict[str, Any]]:
    """The clicker's question when the member was recorded again since: approve anyway?"""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(conflict)}},
        {
            "type": "actions",
            "elements": [
                _button("Approve anyway", f"{REVIEW}confirm", f"{number}:{review_ts}", "danger")
            ],
        },
    ]


def _button(label: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
