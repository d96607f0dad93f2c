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
from fakes.slack_fake import FakeSlack
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack.adapter import SlackPlatform
from bot.adapters.slack.settings import SlackConfig
from bot.service import Service

REVIEW = "CREVIEW"
READER, EDITOR, OTHER_EDITOR = "UR", "UED", "UEVE"
SETTLED = {"ok": True, "channel": REVIEW, "ts": "1", "text": ""}  # the fake has no chat.update


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
    http, bot, fake, button: dict[str, Any], user: str, where: str = "click", ts: str = "1.1"
) -> int:
    """`user` clicks `button` of the review message `ts`; answers go to response_url(where)."""
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
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed(fake, body, "application/x-www-form-urlencoded")
    async with http.post(bot.url, data=body, headers=headers) as resp:
        return resp.status


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["text"]["text"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if "text" in b)


async def test_a_reader_proposes_and_an_editor_approves_with_the_button(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        fake.stub("chat.update", SETTLED)
        ack = await slash(
            http, bot, fake, "/endorse Türkiye Rutte source:https://example.org/tr", READER
        )
        assert ack["response_type"] == "ephemeral"
        assert ack["text"] == "Proposed #1; an editor will review it."
        posted = await fake.wait_for_call("chat.postMessage")
        assert posted.params["channel"] == REVIEW
        shown = text_of(posted.params["blocks"])
        assert "#1: Türkiye supports Mark Rutte on 3 April 2024" in shown
        assert "Proposed by ur." in shown
        approve = buttons(posted.params["blocks"])["Approve"]
        assert "28/32" in (await slash(http, bot, fake, "/tally Rutte", READER))["text"]

        assert await click(http, bot, fake, approve, EDITOR, ts="7.7") == 200
        settled = await fake.wait_for_call("chat.update")
        assert (settled.params["channel"], settled.params["ts"]) == (REVIEW, "7.7")
        assert "approved by ued: recorded as #33" in text_of(settled.params["blocks"])
        assert buttons(settled.params["blocks"]) == {}  # decided: no more buttons
        told = await fake.wait_for_call("chat.postEphemeral")
        assert (told.params["channel"], told.params["user"]) == ("CNEWS", READER)
        assert told.params["text"] == (
            "Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was approved by ued: "
            "recorded as #33."
        )
        assert "29/32" in (await slash(http, bot, fake, "/tally Rutte", READER))["text"]


async def test_a_reader_cannot_approve_with_the_button(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        await slash(http, bot, fake, "/endorse Türkiye Rutte", READER)
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
        fake.stub("chat.update", SETTLED)
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, "/endorse Türkiye Rutte", READER)
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
        (settled,) = fake.calls_to("chat.update")
        assert f"approved by {winner}" in text_of(settled.params["blocks"])


async def test_a_newer_recording_asks_for_a_second_click(service, http):
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        fake.stub("chat.update", SETTLED)
        await slash(http, bot, fake, "/endorse Türkiye Rutte", READER)
        approve = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
        await slash(http, bot, fake, "/oppose Türkiye Rutte", EDITOR)
        await click(http, bot, fake, approve["Approve"], EDITOR, ts="7.7")
        asked = await fake.wait_for_response("click")
        assert asked["text"].startswith("Türkiye was recorded again (#33, by ued) after proposal")
        assert fake.calls_to("chat.update") == []
        confirm = buttons(asked["blocks"])["Approve anyway"]
        await click(http, bot, fake, confirm, EDITOR, where="confirm", ts="ephemeral")
        settled = await fake.wait_for_call("chat.update")
        assert settled.params["ts"] == "7.7"  # the review message, not the question
        assert (await fake.wait_for_response("confirm"))["delete_original"] is True
        (event,) = await service.history(None, 1)
        assert event.id == 34 and event.position.value == "supports"


async def test_the_buttons_keep_working_after_a_restart(service, http):
    async with FakeSlack() as fake:
        fake.stub("chat.update", SETTLED)
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, "/undecided Estonia", READER)
            reject = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
        async with slack_bot(service, fake) as bot:
            await click(http, bot, fake, reject["Reject"], EDITOR)
            settled = await fake.wait_for_call("chat.update")
        assert "Proposal #1 was rejected by ued." in text_of(settled.params["blocks"])
        told = await fake.wait_for_call("chat.postEphemeral")
        assert told.params["text"] == (
            "Proposal #1 (Estonia has no public position on 3 April 2024) was rejected by ued."
        )


async def test_a_review_message_slack_will_not_update_still_decides(service, http, caplog):
    async with FakeSlack() as fake:  # chat.update unknown to the fake: Slack refuses it
        async with slack_bot(service, fake) as bot:
            await slash(http, bot, fake, "/endorse Türkiye Rutte", READER)
            approve = buttons((await fake.wait_for_call("chat.postMessage")).params["blocks"])
            await click(http, bot, fake, approve["Approve"], EDITOR)
            await fake.wait_for_call("chat.update")
        assert fake.responses_to("click") == []  # no error for the clicker: it was approved
        assert "could not update the review of proposal #1 (" in caplog.text
        assert (await service.tally()).candidates[0].count == 29
