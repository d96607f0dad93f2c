"""Readers propose on Discord, editors decide with the review message's buttons: a bot on the
fake Discord, over the gateway, with real discord.py component interactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import make_service
from fakes.discord_fake import (
    DEFAULT_GUILD_ID,
    DEFAULT_TOKEN,
    FakeDiscord,
    RecordedRequest,
    _Reply,
    _route,
    component_interaction,
    guild_payload,
    modal_submit_interaction,
    role_payload,
    slash_interaction,
    user_payload,
)

from bot.adapters.discord.adapter import DiscordPlatform
from bot.adapters.discord.settings import DiscordConfig
from bot.domain import Actor, Position
from bot.render import discord_escape
from bot.service import Service

EDITORS_ROLE = 1600000000000000001
REVIEW_CHANNEL = 1300000000000000009
DM_CHANNEL = 1300000000000000077
READER_ID, EDITOR_ID = 1400000000000000005, 1400000000000000006
GUILD = guild_payload(roles=[role_payload(EDITORS_ROLE, "Editors")])
CONFIG = DiscordConfig(
    guilds=(DEFAULT_GUILD_ID,), editor_roles=(str(EDITORS_ROLE),), review_channel=REVIEW_CHANNEL
)


class DiscordWithDMs(FakeDiscord):
    """The fake, able to open a direct message channel (the proposer is told there)."""

    @_route("POST", r"/users/@me/channels", "dm")
    async def _open_dm(self, req: RecordedRequest) -> _Reply:
        recipient = user_payload(int(req.json["recipient_id"]), "rita")
        return _Reply(200, {"id": str(DM_CHANNEL), "type": 1, "recipients": [recipient]})


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with DiscordWithDMs(guilds=[GUILD]) as fake:
        with fake.patch_discord():
            yield fake


@contextlib.asynccontextmanager
async def discord_bot(service: Service) -> AsyncIterator[DiscordPlatform]:
    platform = DiscordPlatform(service, CONFIG, DEFAULT_TOKEN, guild_ready_timeout=0.05)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.close()


async def next_where(
    fake: FakeDiscord, kind: str, wanted: Callable[[RecordedRequest], bool]
) -> RecordedRequest:
    while not wanted(request := await fake.wait_for(kind)):
        pass
    return request


def described(request: RecordedRequest) -> str:
    """Everything a message's embeds say."""
    parts = []
    for embed in request.embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
    return "\n".join(p for p in parts if p)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def propose(fake: FakeDiscord, line: dict[str, Any], name: str = "endorse") -> dict:
    """A reader's recording; the review message it posts, as the channel has it."""
    interaction = slash_interaction(name, line, user_id=READER_ID, username="rita")
    await fake.send_interaction(interaction)
    assert (await fake.wait_for_callback()).callback_type == 5  # a recording defers, privately
    posted = await next_where(fake, "channel_message", lambda r: r.method == "POST")
    assert posted.path == f"/channels/{REVIEW_CHANNEL}/messages"
    await next_where(fake, "followup", lambda r: r.method == "PATCH")  # the reader's answer
    (answer,) = fake.shown(interaction)
    assert answer.ephemeral
    assert described(answer).startswith("Proposed #")
    return fake.posted[posted.reply["id"]]


def as_reviewer(user: int = EDITOR_ID, roles: tuple[int, ...] = (EDITORS_ROLE,)) -> dict:
    return {"user_id": user, "username": "edna", "roles": roles, "channel_id": REVIEW_CHANNEL}


async def click(
    fake: FakeDiscord, message: dict[str, Any], custom_id: str, user: int, roles: list[int]
) -> dict[str, Any]:
    interaction = component_interaction(custom_id, message, **as_reviewer(user, tuple(roles)))
    await fake.send_interaction(interaction)
    assert (await fake.wait_for_callback()).callback_type == 5  # deferred, privately
    await next_where(fake, "followup", lambda r: r.method == "PATCH")
    return interaction


async def settled(fake: FakeDiscord, message: dict[str, Any]) -> dict[str, Any]:
    """The review message once its edit arrived, as the channel has it now."""
    path = f"/channels/{REVIEW_CHANNEL}/messages/{message['id']}"
    await next_where(fake, "channel_message", lambda r: r.method == "PATCH" and r.path == path)
    return fake.posted[message["id"]]


TURKIYE = {"member": "Türkiye", "candidate": "Rutte", "source": "https://www.reuters.com/tr"}


async def test_a_reader_proposes_and_an_editor_approves_with_the_button(fake, service):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        assert "#1: Türkiye supports Mark Rutte on 3 April 2024" in described_of(review)
        assert custom_ids(review) == ["proposal:approve:1", "proposal:reject:1"]

        clicked = await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
        (answer,) = fake.shown(clicked)
        assert answer.ephemeral
        told = (
            "Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was approved by Edna: "
            "recorded as #33."
        )
        assert described(answer) == told
        shown = fake.posted[review["id"]]
        assert custom_ids(shown) == []  # decided: its buttons are gone
        assert "approved by Edna: recorded as #33" in described_of(shown)
        dm = next(r for r in fake.channel_messages if r.path == f"/channels/{DM_CHANNEL}/messages")
        assert dm.content == discord_escape(told)  # a direct message to the proposer
        await fake.send_interaction(slash_interaction("tally", {"candidate": "Rutte"}))
        tally = await fake.wait_for_callback()
    assert "29/32" in described(tally)


async def test_a_reader_cannot_approve_with_the_button(fake, service):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        clicked = await click(fake, review, "proposal:approve:1", READER_ID, [])
        (answer,) = fake.shown(clicked)
        assert answer.ephemeral
        assert described(answer).startswith("Only editors can approve proposals.")
        assert not [r for r in fake.channel_messages if r.method == "PATCH"]
        assert (await service.tally()).candidates[0].count == 28


async def test_the_buttons_keep_working_after_a_restart(fake, service):
    async with discord_bot(service):
        review = await propose(fake, {"member": "Estonia"}, name="undecided")
    async with discord_bot(service):
        clicked = await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
    (answer,) = fake.shown(clicked)
    assert described(answer) == (
        "Proposal #1 (Estonia has no public position on 3 April 2024) was approved by Edna: "
        "recorded as #33."
    )
    assert fake.unhandled == []


def described_of(message: dict[str, Any]) -> str:
    return "\n".join(e.get("description", "") for e in message["embeds"])


async def test_a_newer_recording_asks_for_a_second_click(fake, service, editor):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        member, rutte = service.roster.member("Türkiye"), service.roster.candidate("Rutte")
        await service.record(editor, member, Position.OPPOSES, rutte, source="https://x.org/no")
        asked = await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
        (question,) = fake.shown(asked)
        assert question.ephemeral
        assert question.content.startswith("Türkiye was recorded again (#33, by Edna)")
        confirm = fake._messages[(asked["token"], "@original")]
        assert custom_ids(confirm) == [f"proposal:confirm:1:{review['id']}"]
        assert not [r for r in fake.channel_messages if r.method == "PATCH"]

        await click(fake, confirm, f"proposal:confirm:1:{review['id']}", EDITOR_ID, [EDITORS_ROLE])
        assert "approved by Edna: recorded as #34" in described_of(await settled(fake, review))
        assert (await service.tally()).candidates[0].count == 29


async def test_a_typed_approval_updates_the_review_message(fake, service):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        typed = slash_interaction("approve", {"number": 1}, **as_reviewer())
        await fake.send_interaction(typed)
        shown = await settled(fake, review)
        assert custom_ids(shown) == []
        assert "Proposal #1 was approved by Edna: recorded as #33." in described_of(shown)


async def reject_form(fake: FakeDiscord, review: dict[str, Any]) -> dict[str, Any]:
    """An editor clicks Reject: the form asking why, as the click's response."""
    clicked = component_interaction("proposal:reject:1", review, **as_reviewer())
    await fake.send_interaction(clicked)
    opened = await fake.wait_for_callback()
    assert opened.callback_type == 9  # a modal, within the 3 s, no deferral first
    return opened.json["data"]


async def test_reject_asks_why_and_the_proposer_is_told(fake, service):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        form = await reject_form(fake, review)
        assert form["title"] == "Reject proposal #1"
        ((reason,),) = [row["components"] for row in form["components"]]
        assert (reason["required"], reason["max_length"]) == (False, 500)

        why = "Ankara has not said so on record"
        sent = modal_submit_interaction(
            form["custom_id"], {reason["custom_id"]: why}, review, **as_reviewer()
        )
        await fake.send_interaction(sent)
        shown = await settled(fake, review)
        assert f"Proposal #1 was rejected by Edna: {why}" in described_of(shown)
        assert custom_ids(shown) == []
        dm = next(r for r in fake.channel_messages if r.path == f"/channels/{DM_CHANNEL}/messages")
        assert dm.content == discord_escape(
            f"Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was rejected by Edna: {why}"
        )
        assert (await service.proposal(1)).reason == why


async def test_a_reader_sending_the_reject_form_is_refused(fake, service):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        refused = component_interaction("proposal:reject:1", review, **as_reviewer(READER_ID, ()))
        await fake.send_interaction(refused)
        answered = await fake.wait_for_callback()
        assert answered.callback_type == 4 and answered.ephemeral  # a reader's click: no form
        assert described(answered).startswith("Only editors can reject proposals.")

        form = await reject_form(fake, review)  # the form an editor opened, sent by a reader
        (row,) = form["components"]
        values = {row["components"][0]["custom_id"]: "spam"}
        sent = modal_submit_interaction(
            form["custom_id"], values, review, **as_reviewer(READER_ID, ())
        )
        await fake.send_interaction(sent)
        assert (await fake.wait_for_callback()).callback_type == 5
        await next_where(fake, "followup", lambda r: r.method == "PATCH")
        (answer,) = fake.shown(sent)
        assert answer.ephemeral
        assert described(answer).startswith("Only editors can reject proposals.")
        assert (await service.proposal(1)).status == "open"
        assert not [r for r in fake.channel_messages if r.method == "PATCH"]


async def test_after_a_restart_a_decision_elsewhere_still_updates_the_message(
    fake, service, tmp_path
):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
    # another process, say the console, rejects it while the bot is down
    console = await make_service(tmp_path / "tally.db", demo=False)
    try:
        await console.reject(
            Actor("console", "ed", "Edna", is_editor=True), await console.proposal(1)
        )
    finally:
        await console.store.close()
    restarted = await make_service(tmp_path / "tally.db", demo=False)
    try:
        async with discord_bot(restarted):
            # a click on its stale button is told, and the message shows the decision
            stale = await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
            (answer,) = fake.shown(stale)
            assert described(answer) == "Proposal #1 was rejected already, by Edna."
            assert "Proposal #1 was rejected by Edna." in described_of(await settled(fake, review))
            assert await restarted.settle_reviews() == 0  # settled once, for good
    finally:
        await restarted.store.close()


async def test_the_sweep_shows_what_another_process_decided(fake, service, tmp_path):
    async with discord_bot(service):
        review = await propose(fake, TURKIYE)
        other = await make_service(tmp_path / "tally.db", demo=False)
        try:
            await other.approve(
                Actor("console", "ed", "Edna", is_editor=True), await other.proposal(1)
            )
        finally:
            await other.store.close()
        assert not [r for r in fake.channel_messages if r.method == "PATCH"]
        assert await service.settle_reviews(platforms=("discord",)) == 1  # what a sweep runs
        assert "approved by Edna: recorded as #33" in described_of(await settled(fake, review))
