"""Slack: signed slash commands over real HTTP and Socket Mode, against the loopback fake."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from fakes.slack_fake import FakeSlack
from slack_sdk.http_retry import builtin_async_handlers

from bot.__main__ import main
from bot.adapters.slack import adapter as slack_adapter
from bot.adapters.slack.adapter import BUSY, WORKING, SlackPlatform
from bot.adapters.slack.manifest import (
    MANIFEST_COMMAND,
    MANIFEST_COMMANDS,
    MANIFEST_DESCRIPTION,
    MANIFEST_USAGE_HINT,
    manifest,
    manifest_json,
)
from bot.adapters.slack.settings import SlackConfig
from bot.app import platform_makers
from bot.commands.spec import COMMANDS, top_level
from bot.config import Config
from bot.domain import Actor, Position
from bot.logs import REFUSED_REQUEST, install_redaction
from bot.platform import CredentialsError
from bot.replies import Attachment, Reply
from bot.service import Service

MANIFEST_FILE = Path(__file__).resolve().parent.parent / "slack-manifest.json"


@asynccontextmanager
async def slack_bot(
    service: Service,
    fake: FakeSlack,
    mode: str = "http",
    ack_within: float = 2.5,
    **config: Any,
) -> AsyncIterator[SlackPlatform]:
    """The adapter, started against the fake: HTTP on 127.0.0.1:0, or Socket Mode."""
    settings = SlackConfig(mode=mode, port=0, api_base_url=fake.api_url, **config)
    secret = {"signing_secret": fake.signing_secret} if mode == "http" else {}
    platform = SlackPlatform(
        service,
        settings,
        bot_token=fake.bot_token,
        app_token=fake.app_token,
        ack_within=ack_within,
        **secret,
    )
    await platform.start()
    try:
        yield platform
    finally:
        await platform.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def slash(
    http: aiohttp.ClientSession,
    bot: SlackPlatform,
    fake: FakeSlack,
    line: str,
    *,
    user: str = "U1",
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    """Type `line` in Slack as `user`: a signed POST to the bot; (status, ack body)."""
    command, _, text = line.partition(" ")
    body, headers = fake.signed_slash_request(command, text, user_id=user, **kwargs)
    async with http.post(bot.url, data=body, headers=headers) as resp:
        return resp.status, (await resp.json() if resp.status == 200 else {})


def shown(message: dict[str, Any]) -> str:
    """All the text of a message's blocks, as Slack would render it (before mrkdwn)."""
    parts = []
    for block in message.get("blocks", []):
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(e["text"] for e in block.get("elements", []))
    return "\n".join(parts)


async def log_length(service: Service) -> int:
    return len(await service.store.events(service.race.id))


# --- HTTP mode --------------------------------------------------------------------------------


async def test_tally_answered_in_the_ack_for_the_channel(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        assert [c.token for c in fake.calls_to("auth.test")] == ["xoxb-test"]  # at start
        status, ack = await slash(http, bot, fake, "/tally")
        assert status == 200 and ack["response_type"] == "in_channel"
        assert ack["blocks"][0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "NATO Secretary-General 2024"},
        }
        text = shown(ack)
        assert "██████████████░░ 28/32" in text
        assert "No public position (2): Slovakia, Türkiye" in text
        assert "97 days until the Washington summit on 9 July 2024." in text
        assert ack["text"] == (  # the fallback: the one-line summary, no bars
            "Mark Rutte 28/32 (23 only reported), needs 4 more for unanimity · "
            "97 days until the Washington summit on 9 July 2024."
        )

        status, ack = await slash(http, bot, fake, "/digest")
        assert ack["response_type"] == "ephemeral"  # a preview is for the caller alone
        assert "digest preview, 3 April 2024" in shown(ack)

        status, ack = await slash(http, bot, fake, "/tally Ruttte")
        assert ack["response_type"] == "ephemeral"  # errors go to the caller alone
        assert ack["text"] == "Error: Unknown candidate 'Ruttte'. Did you mean Mark Rutte?"

        async with http.get(bot.url.replace("/slack/events", "/healthz")) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        assert fake.responses == [] and fake.calls_to("chat.postMessage") == []


async def test_forged_unsigned_and_stale_requests_are_refused(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        before = await log_length(service)
        line = ("/endorse", "Hungary Rutte")
        forged = fake.signed_slash_request(*line, user_id="UED", tamper=True)
        stale = fake.signed_slash_request(*line, user_id="UED", timestamp=int(time.time()) - 301)
        unsigned = fake.signed_slash_request(*line, user_id="UED")
        del unsigned[1]["X-Slack-Signature"]
        wrong_secret = FakeSlack(signing_secret="not-the-secret").signed_slash_request(
            *line, user_id="UED", response_url=fake.response_url()
        )
        for body, headers in (forged, stale, unsigned, wrong_secret):
            async with http.post(bot.url, data=body, headers=headers) as resp:
                assert resp.status == 401
        assert await log_length(service) == before
        assert fake.responses == [] and fake.calls_to("chat.postMessage") == []


async def test_a_bad_signature_is_one_short_log_line_without_the_body(
    service: Service, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """bolt logs the whole body of a refused request at INFO: anyone can send one, with any
    size, and a real one holds the response_url and the verification token."""
    install_redaction()  # as run_platforms does at start
    caplog.set_level(logging.INFO)
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        for _ in range(3):
            body, headers = fake.signed_slash_request(
                "/tally", "x" * 2000, tamper=True, response_url=fake.response_url("SECRET-URL")
            )
            async with http.post(bot.url, data=body, headers=headers) as resp:
                assert resp.status == 401
    bolt = [r for r in caplog.records if r.name.startswith("slack_bolt")]
    assert [r.getMessage() for r in bolt] == [REFUSED_REQUEST] * 3
    assert "SECRET-URL" not in caplog.text and "verification-token" not in caplog.text
    assert "x" * 100 not in caplog.text


async def test_non_editor_refused_editor_recorded_with_slack_identity(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        before = await log_length(service)
        _, ack = await slash(http, bot, fake, "/endorse Türkiye Rutte", user="UX")
        assert ack["response_type"] == "ephemeral"
        assert ack["text"].startswith("Error: Only editors can use /endorse.")
        assert await log_length(service) == before

        endorse = "/endorse Türkiye Rutte source:https://example.org/tr"
        _, ack = await slash(http, bot, fake, endorse, user="UED", user_name="ada")
        assert ack["response_type"] == "in_channel"
        assert "Recorded #33: Türkiye supports Mark Rutte" in shown(ack)
        assert "Mark Rutte: 29/32; needs 3 more for unanimity." in shown(ack)
        (event,) = await service.history(limit=1)
        assert event.actor == Actor("slack", "UED", "ada")
        assert fake.calls_to("usergroups.users.list") == []  # no group configured


async def test_editor_group_members_may_record_and_the_group_is_cached(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with (
        FakeSlack(usergroups={"S1": ["UG"]}) as fake,
        slack_bot(service, fake, editor_group="S1") as bot,
    ):
        _, ack = await slash(http, bot, fake, "/undecided Hungary", user="UG")
        assert ack["response_type"] == "in_channel" and "Recorded #33" in shown(ack)
        _, ack = await slash(http, bot, fake, "/undo", user="UX")
        assert ack["response_type"] == "ephemeral" and "Only editors" in ack["text"]
        (lookup,) = fake.calls_to("usergroups.users.list")  # one lookup for both users
        assert lookup.params["usergroup"] == "S1"

        bot.clock = lambda: time.monotonic() + 61  # a minute later the group is read again
        fake.usergroups["S1"] = ["UX"]
        _, ack = await slash(http, bot, fake, "/endorse Hungary Rutte", user="UX")
        assert ack["response_type"] == "in_channel" and "Recorded #34" in shown(ack)
        assert len(fake.calls_to("usergroups.users.list")) == 2


async def test_a_failing_group_lookup_stops_granting_after_ten_minutes(
    service: Service, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """UG is removed from the group while lookups fail: they keep recording only until ten
    minutes after the last good read; the failure is warned about once, retried sparingly."""
    now = [1000.0]
    async with (
        FakeSlack(usergroups={"S1": ["UG"]}) as fake,
        slack_bot(service, fake, editor_group="S1") as bot,
    ):
        bot.clock = lambda: now[0]

        async def record_as_ug() -> bool:
            _, ack = await slash(http, bot, fake, "/undecided Hungary", user="UG")
            return ack["response_type"] == "in_channel"

        assert await record_as_ug()  # read at 1000
        fake.usergroups["S1"] = []  # UG is removed...
        fake.stub("usergroups.users.list", {"ok": False, "error": "fatal_error"})  # ...unseen
        caplog.set_level(logging.INFO, logger="bot.adapters.slack")
        for _ in range(3):  # three commands at once: one read, then a pause before the next
            now[0] = 1061.0
            assert await record_as_ug()
        assert len(fake.calls_to("usergroups.users.list")) == 2
        now[0] = 1599.0  # 9 min 59 s after the last good read: still trusted
        assert await record_as_ug()
        now[0] = 1601.0
        assert not await record_as_ug()
        assert await log_length(service) == 32 + 5
        reads = len(fake.calls_to("usergroups.users.list"))
        assert reads == 3  # the good one, then at 1061 and 1599 (1601 is in the pause after it)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            "Slack: could not read editor group S1 (fatal_error); its members may record for "
            "10 minutes after the last good read at most, then not until a read succeeds "
            "(retried meanwhile). The app needs the usergroups:read scope."
        ]

        fake.stub("usergroups.users.list", lambda call: {"ok": True, "users": ["UX"]})
        now[0] = 1605.0  # within the pause after the failure at 1599: no read yet
        assert not await record_as_ug()
        assert len(fake.calls_to("usergroups.users.list")) == reads
        now[0] = 1700.0
        assert not await record_as_ug()  # read again: UG is gone for good
        _, ack = await slash(http, bot, fake, "/undecided Hungary", user="UX")
        assert ack["response_type"] == "in_channel"
    assert "Slack: read editor group S1 again, after 2 failed reads" in caplog.text


async def test_a_repeated_tally_is_answered_alike_until_a_recording_changes_it(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        _, first = await slash(http, bot, fake, "/tally")
        _, again = await slash(http, bot, fake, "/tally")
        assert again == first and "28/32" in shown(first)
        endorse = "/endorse Hungary Rutte source:https://example.org/hu"
        _, recorded = await slash(http, bot, fake, endorse, user="UED")
        assert recorded["response_type"] == "in_channel"
        _, after = await slash(http, bot, fake, "/tally")
        assert "29/32" in shown(after) and "28/32" not in shown(after)


@pytest.mark.parametrize(
    ("auth", "request_fields"),
    [
        ({}, {"team_id": "T2"}),  # another workspace
        ({"enterprise_id": "E1"}, {"enterprise_id": "E2"}),  # the same team id, another org
        ({"enterprise_id": "E1"}, {}),
    ],
)
async def test_a_request_from_another_workspace_is_told_it_is_not_set_up(
    service: Service, http: aiohttp.ClientSession, auth: dict[str, str], request_fields: Any
) -> None:
    async with FakeSlack() as fake:
        answer = fake._m_auth_test({}) | auth
        fake.stub("auth.test", answer)
        async with slack_bot(service, fake, editors=("UED",)) as bot:
            for line in ("/endorse Hungary Rutte", "/tally"):
                _, ack = await slash(http, bot, fake, line, user="UED", **request_fields)
                assert ack == {
                    "text": "Error: This workspace is not set up for tallybot: it serves only "
                    "the workspace whose SLACK_BOT_TOKEN it runs with.",
                    "blocks": ack["blocks"],
                    "response_type": "ephemeral",
                }
            assert await log_length(service) == 32
            fields = {"enterprise_id": auth["enterprise_id"]} if auth else {}
            _, ack = await slash(http, bot, fake, "/endorse Hungary Rutte", user="UED", **fields)
            assert ack["response_type"] == "in_channel"  # the workspace itself is served


@pytest.fixture
def gate(service: Service, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Commands wait until this is set, before they read anything."""
    gate = asyncio.Event()
    refresh = service.refresh

    async def slow_refresh(data_version: int | None = None) -> None:
        await gate.wait()
        await refresh(data_version)

    monkeypatch.setattr(service, "refresh", slow_refresh)
    return gate


async def test_a_slow_answer_is_posted_and_the_working_placeholder_deleted(
    service: Service, http: aiohttp.ClientSession, gate: asyncio.Event
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, ack_within=0.05) as bot:
        status, ack = await slash(http, bot, fake, "/tally", response_url=fake.response_url("r1"))
        assert status == 200
        assert ack == {"text": WORKING, "response_type": "ephemeral"}
        assert fake.responses_to("r1") == []
        gate.set()
        answer = await fake.wait_for_response("r1")
        assert answer["response_type"] == "in_channel" and not answer.get("replace_original")
        assert "28/32" in shown(answer) and answer["text"].startswith(
            "Mark Rutte 28/32 (23 only reported), needs"
        )
        deleted = await fake.wait_for_response("r1", count=2)
        assert deleted.get("delete_original") is True  # "Working on it…" does not stay


async def test_a_slow_refusal_replaces_the_working_placeholder(
    service: Service, http: aiohttp.ClientSession, gate: asyncio.Event
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, ack_within=0.05) as bot:
        url = fake.response_url("r1")
        _, ack = await slash(http, bot, fake, "/tally Ruttte", response_url=url)
        assert ack == {"text": WORKING, "response_type": "ephemeral"}
        gate.set()
        refusal = await fake.wait_for_response("r1")
        assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is True
        assert refusal["text"] == "Error: Unknown candidate 'Ruttte'. Did you mean Mark Rutte?"


async def test_every_command_answers_and_no_other(
    service: Service, http: aiohttp.ClientSession
) -> None:
    """One listener serves every command Slack may send; a command tallybot lacks is not
    answered as one of its own."""
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        for word in top_level():
            status, ack = await slash(http, bot, fake, f"/{word}", user="UX")
            assert status == 200 and ack["response_type"] in ("in_channel", "ephemeral"), word
            assert ack["text"] and "Unknown command" not in ack["text"], word
        for other in ("/hello", "/tallyx", "/xtally"):
            body, headers = fake.signed_slash_request(other)
            async with http.post(bot.url, data=body, headers=headers) as resp:
                assert resp.status == 404, other
        assert await log_length(service) == 32


class SetWhenLogged(logging.Handler):
    """Sets `event` when a record holding `text` is logged: to act at a given point."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def test_closing_sends_the_answers_and_files_still_in_flight(
    service: Service,
    http: aiohttp.ClientSession,
    gate: asyncio.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A restart while an export is still being made: its answer and file still arrive, and
    nothing is logged as a failure."""
    caplog.set_level(logging.INFO)
    opener = SetWhenLogged("Slack: closing; waiting for 1 commands", gate)
    logging.getLogger("bot.adapters.slack.adapter").addHandler(opener)
    try:
        async with FakeSlack() as fake:
            async with slack_bot(service, fake, ack_within=0.05) as bot:
                url = fake.response_url("r1")
                _, ack = await slash(http, bot, fake, "/export", channel_id="C42", response_url=url)
                assert ack == {"text": WORKING, "response_type": "ephemeral"}
                assert not gate.is_set()
            # closed: the export was let through only once close() had begun
            answer, deleted = fake.responses_to("r1")
            assert "The event log: 32 events." in shown(answer)
            assert deleted.get("delete_original") is True
            (upload,) = fake.uploads.values()
            assert upload.completed and upload.complete_params["channel_id"] == "C42"
    finally:
        logging.getLogger("bot.adapters.slack.adapter").removeHandler(opener)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_follow_up_that_fails_after_the_ack_is_logged_once(
    service: Service,
    http: aiohttp.ClientSession,
    gate: asyncio.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer cannot reach Slack (a response_url nobody listens on): one error with why."""
    failed = asyncio.Event()
    handler = SetWhenLogged("Slack: /tally failed after its ack", failed)
    logging.getLogger("bot.adapters.slack.adapter").addHandler(handler)
    try:
        async with FakeSlack() as fake, slack_bot(service, fake, ack_within=0.05) as bot:
            unreachable = "http://127.0.0.1:9/commands/T1/1/gone"
            _, ack = await slash(http, bot, fake, "/tally", response_url=unreachable)
            assert ack == {"text": WORKING, "response_type": "ephemeral"}
            gate.set()
            await asyncio.wait_for(failed.wait(), 2)
    finally:
        logging.getLogger("bot.adapters.slack.adapter").removeHandler(handler)
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.exc_info is not None and isinstance(error.exc_info[1], aiohttp.ClientError)


async def test_closing_gives_up_on_a_stuck_command_with_one_warning(
    service: Service,
    http: aiohttp.ClientSession,
    gate: asyncio.Event,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slack_adapter, "CLOSE_GRACE", 0.05)
    caplog.set_level(logging.INFO)
    async with FakeSlack() as fake:
        async with slack_bot(service, fake, ack_within=0.05) as bot:
            _, ack = await slash(http, bot, fake, "/tally", response_url=fake.response_url("r1"))
            assert ack == {"text": WORKING, "response_type": "ephemeral"}
        assert fake.responses_to("r1") == []
    problems = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING
    ]
    assert problems == [("WARNING", "Slack: closed with 1 commands unanswered after 0.05 s")]


async def test_past_the_bound_of_commands_in_flight_a_command_is_told_to_retry(
    service: Service,
    http: aiohttp.ClientSession,
    gate: asyncio.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slack_adapter, "IN_FLIGHT", 1)
    async with FakeSlack() as fake, slack_bot(service, fake, ack_within=0.05) as bot:
        _, ack = await slash(http, bot, fake, "/tally", response_url=fake.response_url("r1"))
        assert ack == {"text": WORKING, "response_type": "ephemeral"}
        _, ack = await slash(http, bot, fake, "/holdouts")
        assert ack["response_type"] == "ephemeral" and ack["text"] == f"Error: {BUSY}"
        gate.set()
        assert "28/32" in shown(await fake.wait_for_response("r1"))
        await fake.wait_for_response("r1", count=2)  # the placeholder deleted
        await asyncio.wait(set(bot._tasks))  # the first command's task ends just after that
        _, ack = await slash(http, bot, fake, "/holdouts")
        assert ack["response_type"] == "in_channel"


async def test_user_text_is_escaped_for_mrkdwn(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        note = "<!channel> & <https://evil.example|click here>"
        _, ack = await slash(http, bot, fake, f"/undecided Slovakia note:{note}", user="UED")
        assert ack["response_type"] == "in_channel"
        # Slack itself sends &, < and > as entities; they are stored as typed.
        escaped = "&lt;!here&gt; &amp; fine"
        _, ack = await slash(http, bot, fake, f"/undecided Türkiye note:{escaped}", user="UED")
        assert ack["response_type"] == "in_channel"
        notes = [e.note for e in await service.history(limit=2)]
        assert notes == ["<!here> & fine", note]

        _, ack = await slash(http, bot, fake, "/history limit:2")
        text = json.dumps(ack)
        assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;" in shown(ack)
        assert "&lt;!here&gt; &amp; fine" in shown(ack)
        assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text


async def test_export_uploads_the_file_to_the_channel(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        _, ack = await slash(http, bot, fake, "/export json", channel_id="C42")
        assert ack["response_type"] == "in_channel"
        assert "The event log: 32 events." in shown(ack)
        await fake.wait_for_call("files.completeUploadExternal")
        (upload,) = fake.uploads.values()
        assert re.fullmatch(r"nato-sg-2024-events-2024-04-03-\d{6}\.json", upload.filename)
        assert upload.completed
        assert upload.complete_params["channel_id"] == "C42"
        assert upload.data is not None and len(json.loads(upload.data)) == 32


async def test_a_long_answer_is_one_message_with_the_whole_answer_as_a_file(
    service: Service, http: aiohttp.ClientSession, editor: Actor
) -> None:
    """A reader's /history limit:100 over long notes must not flood the channel."""
    hungary, rutte = service.roster.member("Hungary"), service.roster.candidate("Rutte")
    for i in range(100):
        note = f"{i:03d} " + "x" * 490
        await service.record(editor, hungary, Position.SUPPORTS, rutte, note=note)
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        _, ack = await slash(http, bot, fake, "/history limit:100", channel_id="C42")
        assert "more lines in the attached History" in shown(ack) and "099 " in shown(ack)
        await fake.wait_for_call("files.completeUploadExternal")
        (upload,) = fake.uploads.values()
        assert upload.filename.endswith(".txt") and upload.data is not None
        assert all(f"{i:03d} " in upload.data.decode() for i in range(100))
        assert len(fake.calls_to("chat.postMessage")) == 0  # the answer is the ack alone


async def test_a_failed_upload_is_explained_to_the_caller(
    service: Service, http: aiohttp.ClientSession
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        fake.stub("files.getUploadURLExternal", {"ok": False, "error": "not_in_channel"})
        _, ack = await slash(http, bot, fake, "/export", response_url=fake.response_url("r2"))
        assert ack["response_type"] == "in_channel"
        explained = await fake.wait_for_response("r2")
        assert explained["response_type"] == "ephemeral"
        assert "(not_in_channel): invite the bot" in explained["text"]


async def test_post_sends_blocks_and_retries_a_429(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry handler sleeps Retry-After plus up to 1 s of jitter; no jitter keeps this fast.
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        fake.rate_limit_next("chat.postMessage", retry_after=0, times=2)
        attachment = Attachment("board.png", "image/png", b"\x89PNG-bytes", alt="Board: 28 of 32")
        await bot.post("C9", Reply.text("Good morning: 28/32 back Rutte.", title="Digest"))
        await bot.post(
            "C9", replace(Reply.text("<The> board.", title="Day"), attachment=attachment)
        )
        statuses = [c.status for c in fake.calls_to("chat.postMessage", include_rate_limited=True)]
        assert statuses == [429, 429, 200]
        [first] = fake.calls_to("chat.postMessage")
        assert first.params["channel"] == "C9" and first.params["text"] == "Digest"
        assert first.params["blocks"][0]["text"]["text"] == "Digest"
        assert "28/32 back Rutte" in shown(first.params)
        # A reply with a file is one message: the file, the reply its message, and alt text.
        (upload,) = fake.uploads.values()
        assert (upload.filename, upload.data) == ("board.png", b"\x89PNG-bytes")
        assert upload.complete_params["channel_id"] == "C9"
        assert upload.complete_params["initial_comment"] == "*Day*\n\n&lt;The&gt; board."
        [asked] = fake.calls_to("files.getUploadURLExternal")
        assert asked.params["alt_txt"] == "Board: 28 of 32"


# --- credentials ------------------------------------------------------------------------------


async def test_the_fallback_text_is_the_summary_line(service: Service) -> None:
    """What a push notification and a screen reader get: the one line, never the bars."""
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        summary = "Mark Rutte 28 → 30 (+2) since yesterday · <!channel> 2 holdouts"
        digest = Reply.text("██████████████░░ 30/32 back Mark Rutte", title="Digest")
        await bot.post("C9", replace(digest, summary=summary))
        (sent,) = fake.calls_to("chat.postMessage")
        assert sent.params["text"] == (
            "Mark Rutte 28 → 30 (+2) since yesterday · &lt;!channel&gt; 2 holdouts"
        )
        assert "30/32" in shown(sent.params)


async def test_a_rejected_bot_token_stops_the_start(service: Service) -> None:
    async with FakeSlack(bot_token="xoxb-right") as fake:
        settings = SlackConfig(port=0, api_base_url=fake.api_url)
        bot = SlackPlatform(service, settings, bot_token="xoxb-wrong", app_token="xapp-test")
        with pytest.raises(CredentialsError, match=r"^SLACK_BOT_TOKEN was rejected") as refused:
            await bot.start()
        assert "invalid_auth" in str(refused.value) and "xoxb-wrong" not in str(refused.value)
        assert "\n" not in str(refused.value)
        await bot.close()


async def test_a_rejected_app_token_stops_the_start(service: Service) -> None:
    async with FakeSlack() as fake:
        settings = SlackConfig(mode="socket", api_base_url=fake.api_url)
        bot = SlackPlatform(service, settings, bot_token=fake.bot_token, app_token="xapp-wrong")
        with pytest.raises(CredentialsError, match=r"^SLACK_APP_TOKEN was rejected") as refused:
            await bot.start()
        assert "invalid_auth" in str(refused.value) and "xapp-wrong" not in str(refused.value)
        await bot.close()
        assert fake.received == [] and fake.acks == {}


# --- Socket Mode ------------------------------------------------------------------------------


async def test_socket_mode_acks_each_command(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlack() as fake, slack_bot(service, fake, "socket", editors=("UED",)):
        (opened,) = fake.calls_to("apps.connections.open")
        assert opened.token == "xapp-test"
        envelope = await fake.send_slash_command(command="/holdouts", text="Rutte")
        ack = (await fake.wait_for_ack(envelope))["payload"]
        assert ack["response_type"] == "in_channel"
        assert ack["text"].startswith("Holdouts on Mark Rutte: 4 of 32")

        # /candidate is one slash command for "candidate add" and "candidate withdraw".
        envelope = await fake.send_slash_command(
            command="/candidate", text="add Kaja Kallas Estonia", user_id="UED"
        )
        ack = (await fake.wait_for_ack(envelope))["payload"]
        assert "Added candidate Kaja Kallas, nominated by Estonia." in shown(ack)
        envelope = await fake.send_slash_command(command="/candidate", text="withdraw Kallas")
        ack = (await fake.wait_for_ack(envelope))["payload"]
        assert ack["response_type"] == "ephemeral" and "Only editors" in ack["text"]
    assert "Socket Mode" in caplog.text
    assert fake.bot_token not in caplog.text and fake.app_token not in caplog.text


async def test_socket_mode_defers_a_slow_command_and_answers_it_later(
    service: Service, gate: asyncio.Event
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake, "socket", ack_within=0.05):
        envelope = await fake.send_slash_command(
            command="/tally", response_url=fake.response_url("r1")
        )
        ack = (await fake.wait_for_ack(envelope))["payload"]
        assert ack == {"text": WORKING, "response_type": "ephemeral"}
        gate.set()
        answer = await fake.wait_for_response("r1")
        assert answer["response_type"] == "in_channel" and "28/32" in shown(answer)
        assert (await fake.wait_for_response("r1", count=2)).get("delete_original") is True


def test_run_builds_the_slack_platform_for_the_configured_transport(service: Service) -> None:
    config = Config(platforms=Config().platforms | {"slack": SlackConfig(mode="http")})
    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "x"}
    (make,) = platform_makers(config, None, environ=environ)
    platform = make.build(service, None)  # None: auth.test not asked yet
    assert isinstance(platform, SlackPlatform) and platform.name == "slack"
    assert platform.client.base_url == "https://slack.com/api/"


# --- the app manifest -------------------------------------------------------------------------


def test_the_manifest_has_one_slash_command_per_first_word_within_slack_limits() -> None:
    commands = manifest()["features"]["slash_commands"]
    names = [c["command"] for c in commands]
    assert names == list(dict.fromkeys(f"/{name.split()[0]}" for name in COMMANDS))
    assert len(names) == len(set(names)) == len(top_level()) <= MANIFEST_COMMANDS
    for c in commands:
        assert len(c["command"]) <= MANIFEST_COMMAND and c["command"] == c["command"].lower()
        assert " " not in c["command"]
        assert 0 < len(c["description"]) <= MANIFEST_DESCRIPTION
        assert len(c.get("usage_hint", "")) <= MANIFEST_USAGE_HINT
        assert "url" not in c
    (candidate,) = [c for c in commands if c["command"] == "/candidate"]
    assert (
        candidate["usage_hint"]
        == "add <name> [member] [on:YYYY-MM-DD] | withdraw <candidate> [on:YYYY-MM-DD]"
    )
    assert candidate["description"].startswith("add: Add a candidate. Editors only. withdraw:")
    assert manifest()["settings"]["socket_mode_enabled"] is True
    assert manifest()["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "files:write",
        "usergroups:read",
        "users:read",
    ]
    assert len(manifest()["display_information"]["name"]) <= 35
    assert len(manifest()["display_information"]["description"]) <= 140


def test_the_http_manifest_sends_every_command_to_the_url() -> None:
    url = "https://tally.example.org/slack/events"
    http = manifest(url)
    assert http["settings"]["socket_mode_enabled"] is False
    assert {c["url"] for c in http["features"]["slash_commands"]} == {url}


def test_the_committed_manifest_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack-manifest"]) == 0
    printed = capsys.readouterr().out
    assert printed == manifest_json()
    assert MANIFEST_FILE.read_text(encoding="utf-8") == printed, (
        "slack-manifest.json is out of date: run `tallybot slack-manifest > slack-manifest.json`"
    )
