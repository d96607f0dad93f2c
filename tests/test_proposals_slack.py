"""Readers propose on Slack, editors decide with the review message's buttons: signed slash
commands and block_actions over real HTTP, against the loopback fake."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from conftest import make_service
from fakes.slack_fake import FakeSlack
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack.adapter import SlackPlatform
from bot.adapters.slack.settings import SlackConfig
from bot.service import Service

REVIEW = "CREVIEW"
READER, EDITOR, OTHER_EDITOR = "UR", "UED", "UEVE"
TURKIYE = "/endorse Türkiye Rutte source:https://www.reuters.com/tr"


@asynccontextmanager
async def slack_bot(service: Service, fake: FakeSlack) -> AsyncIterator[SlackPlatform]:
    settings = SlackConfig(
        mode="http",
        port=0,
        api_base_url=fake.api_url,
        editors=(EDITOR, OTHER_EDITOR),
        review_channel=REVIEW,
    )
    bot = SlackPlatform(
        service, settings, bot_token=fake.bot_token, signing_secret=fake.signing_secret
    )
    await bot.start()
    try:
        yield bot
    finally:
        await bot.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def signed(fake: FakeSlack, body: str, content_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    signature = SignatureVerifier(fake.signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


async def slash(http, bot, fake, line: str, user: str) -> dict[str, Any]:
    command, _, text = line.partition(" ")
    body, headers = fake.signed_slash_request(command, text, user_id=user, channel_id="CNEWS")
    async with http.post(bot.url, data=body, headers=headers) as resp:
        return await resp.json()


async def click(
    http, bot, fake, button: dict[str, Any], user: str, where: str = "click", ts: str = ""
) -> int:
    """`user` clicks `button` of the review message `ts` (by default the one the bot posted
    last); answers go to response_url(where)."""
    ts = ts or fake.calls_to("chat.postMessage")[-1].response["ts"]
    payload = {
        "type": "block_actions",
        "team": {"id": fake.team_id, "domain": "tally"},
        "user": {"id": user, "username": user.lower(), "team_id": fake.team_id},
        "api_app_id": fake.app_id,
        "token": "verification-token",
        "trigger_id": "1.1.trigger",
        "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW},
        "channel": {"id": REVIEW, "name": "review"},
        "message": {"type": "message", "ts": ts, "text": "Proposal"},
        "response_url": fake.response_url(where),
        "actions": [{**button, "block_id": "b", "action_ts": "1.2"}],
    }
    return await interact(http, bot, fake, payload)


async def interact(http, bot, fake, payload: dict[str, Any]) -> int:
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed(fake, body, "application/x-www-form-urlencoded")
    async with http.post(bot.url, data=body, headers=headers) as resp:
        return resp.status


async def send_form(http, bot, fake, view: dict[str, Any], user: str, reason: str | None) -> int:
    """`user` sends the form `view` (as views.open opened it) with `reason` typed."""
    typed = {"type": "plain_text_input", "value": reason}
    payload = {
        "type": "view_submission",
        "team": {"id": fake.team_id, "domain": "tally"},
        "user": {"id": user, "username": user.lower(), "team_id": fake.team_id},
        "api_app_id": fake.app_id,
        "token": "verification-token",
        "trigger_id": "2.2.trigger",
        "view": view | {"state": {"values": {"reason": {"reason": typed}}}},
    }
    return await interact(http, bot, fake, payload)


def review_of(fake: FakeSlack, posted) -> dict[str, Any]:
    """The review message as the channel shows it now."""
    return fake.messages[(posted.params["channel"], posted.response["ts"])]


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["text"]["text"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if "text" in b)


async def test_a_reader_proposes_and_an_editor_approves_with_the_button(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        ack = await slash(http, bot, fake, TURKIYE, READER)
        assert ack["response_type"] == "ephemeral"
        assert ack["text"] == "Proposed #1; an editor will review it."
        posted = await fake.wait_for_call("chat.postMessage")
        assert posted.params["channel"] == REVIEW
        shown = text_of(posted.params["blocks"])
        assert "#1: Türkiye supports Mark Rutte on 3 April 2024" in shown
        assert "Proposed by ur." in shown
        approve = buttons(posted.params["blocks"])["Approve"]
        assert "28/32" in (await slash(http, bot, fake, "/tally Rutte", READER))["text"]

        assert await click(http, bot, fake, approve, EDITOR) == 200
        settled = await fake.wait_for_call("chat.update")
        assert (settled.params["channel"], settled.params["ts"]) == (REVIEW, posted.response["ts"])
        review = review_of(fake, posted)
        assert "approved by ued: recorded as #33" in text_of(review["blocks"])
        assert buttons(review["blocks"]) == {}  # decided: no more buttons
        told = await fake.wait_for_call("chat.postEphemeral")
        assert (told.params["channel"], told.params["user"]) == ("CNEWS", READER)
        assert told.params["text"] == (
            "Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was approved by ued: "
            "recorded as #33."
        )
        assert "29/32" in (await slash(http, bot, fake, "/tally Rutte", READER))["text"]


async def test_a_reader_cannot_approve_with_the_button(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, TURKIYE, READER)
        approve = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
        await click(http, bot, fake, approve["Approve"], READER)
        refused = await fake.wait_for_response("click")
        assert refused["response_type"] == "ephemeral"
        assert refused["text"].startswith("Error: Only editors can approve proposals.")
        assert refused["replace_original"] is False
        assert fake.calls_to("chat.update") == []
        assert "28/32" in (await slash(http, bot, fake, "/tally Rutte", READER))["text"]


async def test_two_editors_clicking_at_once_decide_it_once(service, http):
    async with FakeSlack() as fake:
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, TURKIYE, READER)
            approve = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
            before = len(await service.store.events(service.race.id))
            await asyncio.gather(
                click(http, bot, fake, approve["Approve"], EDITOR, where="ued"),
                click(http, bot, fake, approve["Approve"], OTHER_EDITOR, where="ueve"),
            )
        # closed, so both clicks are done: the winner's settled the message, the other is told
        answered = {who: fake.responses_to(who) for who in ("ued", "ueve")}
        (loser,) = [who for who, said in answered.items() if said]
        (winner,) = {"ued", "ueve"} - {loser}
        ((told,),) = [answered[loser]]
        assert told["text"] == f"Error: Proposal #1 was approved already, by {winner}."
        assert len(await service.store.events(service.race.id)) == before + 1
        (settled,) = fake.calls_to("chat.update")  # edited once, by whoever claimed it
        assert f"approved by {winner}" in text_of(settled.params["blocks"])


async def test_a_newer_recording_asks_for_a_second_click(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, TURKIYE, READER)
        posted = await fake.wait_for_call("chat.postMessage")
        approve = buttons(posted.params["blocks"])
        await slash(http, bot, fake, "/oppose Türkiye Rutte source:https://x.org/no", EDITOR)
        await click(http, bot, fake, approve["Approve"], EDITOR)
        asked = await fake.wait_for_response("click")
        assert asked["text"].startswith("Türkiye was recorded again (#33, by ued) after proposal")
        assert fake.calls_to("chat.update") == []
        confirm = buttons(asked["blocks"])["Approve anyway"]
        await click(http, bot, fake, confirm, EDITOR, where="confirm", ts="ephemeral")
        settled = await fake.wait_for_call("chat.update")
        assert settled.params["ts"] == posted.response["ts"]  # the review message, not the question
        assert (await fake.wait_for_response("confirm"))["delete_original"] is True
        (event,) = await service.history(None, 1)
        assert event.id == 34 and event.position.value == "supports"


async def test_a_typed_approval_updates_the_review_message(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, TURKIYE, READER)
        posted = await fake.wait_for_call("chat.postMessage")
        typed = await slash(http, bot, fake, "/approve 1", EDITOR)
        assert typed["text"].startswith("Recorded #33")
        await fake.wait_for_call("chat.update")
        review = review_of(fake, posted)
        assert "Proposal #1 was approved by ued: recorded as #33." in text_of(review["blocks"])
        assert buttons(review["blocks"]) == {}


async def test_the_buttons_keep_working_after_a_restart(service, http):
    async with FakeSlack() as fake:
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, "/undecided Estonia", READER)
            posted = await fake.wait_for_call("chat.postMessage")
        async with slack_bot(service, fake) as bot:
            await click(http, bot, fake, buttons(posted.params["blocks"])["Approve"], EDITOR)
            await fake.wait_for_call("chat.update")
        assert "Proposal #1 was approved by ued: recorded as #33." in text_of(
            review_of(fake, posted)["blocks"]
        )
        told = await fake.wait_for_call("chat.postEphemeral")
        assert told.params["text"] == (
            "Proposal #1 (Estonia has no public position on 3 April 2024) was approved by ued: "
            "recorded as #33."
        )


async def test_after_a_restart_a_typed_rejection_still_updates_the_message(service, http, tmp_path):
    async with FakeSlack() as fake:
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, "/undecided Estonia", READER)
            posted = await fake.wait_for_call("chat.postMessage")
        restarted = await make_service(tmp_path / "tally.db", demo=False)  # a new process
        try:
            async with slack_bot(restarted, fake) as bot:
                await slash(http, bot, fake, "/reject 1 note:Estonia backs Rutte on record", EDITOR)
                await fake.wait_for_call("chat.update")
        finally:
            await restarted.store.close()
        review = review_of(fake, posted)
        assert "Proposal #1 was rejected by ued: Estonia backs Rutte on record" in text_of(
            review["blocks"]
        )


async def reject_form(http, bot, fake, reject: dict[str, Any]) -> dict[str, Any]:
    """An editor clicks Reject: the form views.open opened with the click's trigger."""
    await click(http, bot, fake, reject, EDITOR)
    opened = await fake.wait_for_call("views.open")
    assert opened.params["trigger_id"] == "1.1.trigger"
    return opened.response["view"]


async def test_reject_asks_why_and_the_proposer_is_told(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, TURKIYE, READER)
        posted = await fake.wait_for_call("chat.postMessage")
        view = await reject_form(http, bot, fake, buttons(posted.params["blocks"])["Reject"])
        (field,) = view["blocks"]
        assert field["optional"] is True
        assert (field["element"]["type"], field["element"]["max_length"]) == (
            "plain_text_input",
            500,
        )
        assert fake.calls_to("chat.update") == []  # not rejected until the form is sent

        why = "Ankara has not said so on record"
        assert await send_form(http, bot, fake, view, EDITOR, why) == 200
        await fake.wait_for_call("chat.update")
        review = review_of(fake, posted)
        assert f"Proposal #1 was rejected by ued: {why}" in text_of(review["blocks"])
        assert buttons(review["blocks"]) == {}
        told = await fake.wait_for_call("chat.postEphemeral")
        assert (told.params["channel"], told.params["user"]) == ("CNEWS", READER)
        assert told.params["text"] == (
            f"Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was rejected by ued: {why}"
        )
        assert (await service.proposal(1)).reason == why


async def test_a_reader_sending_the_reject_form_is_refused(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, TURKIYE, READER)
        reject = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])["Reject"]
        await click(http, bot, fake, reject, READER)  # a reader's click opens no form
        refused = await fake.wait_for_response("click")
        assert refused["text"].startswith("Error: Only editors can reject proposals.")
        assert fake.calls_to("views.open") == []

        view = await reject_form(http, bot, fake, reject)  # an editor's form, sent by a reader
        assert await send_form(http, bot, fake, view, READER, "spam") == 200
        told = await fake.wait_for_call("chat.postEphemeral")
        assert (told.params["channel"], told.params["user"]) == (REVIEW, READER)
        assert told.params["text"].startswith("Error: Only editors can reject proposals.")
        assert (await service.proposal(1)).status == "open"
        assert fake.calls_to("chat.update") == []


async def test_a_review_message_slack_will_not_update_still_decides(service, http, caplog):
    async with FakeSlack() as fake:
        fake.stub("chat.update", {"ok": False, "error": "message_not_found"})  # deleted, say
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, TURKIYE, READER)
            approve = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
            await click(http, bot, fake, approve["Approve"], EDITOR)
            await fake.wait_for_call("chat.update")
        assert fake.responses_to("click") == []  # no error for the clicker: it was approved
        assert "Slack: could not update the review of proposal #1 (" in caplog.text
        assert (await service.tally()).candidates[0].count == 29
