"""Readers propose on Discord, editors decide with the review message's buttons: a bot on the
fake Discord, over the gateway, with real discord.py component interactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fakes.discord_fake import (
    DEFAULT_GUILD_ID,
    DEFAULT_TOKEN,
    FakeDiscord,
    RecordedRequest,
    _Reply,
    _route,
    guild_payload,
    role_payload,
    slash_interaction,
    user_payload,
)

from bot.adapters.discord.adapter import DiscordPlatform
from bot.adapters.discord.settings import DiscordConfig
from bot.domain import Position
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
    assert described(answer) == "Proposed #1; an editor will review it."
    return {
        "id": "1500000000000000042",
        "channel_id": str(REVIEW_CHANNEL),
        "author": fake.bot_user,
        "content": "",
        "timestamp": "2024-04-03T10:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": posted.message["embeds"],
        "components": posted.message["components"],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }


async def click(
    fake: FakeDiscord, message: dict[str, Any], custom_id: str, user: int, roles: list[int]
) -> dict[str, Any]:
    interaction = slash_interaction(
        "-", user_id=user, username="edna", roles=roles, channel_id=REVIEW_CHANNEL
    )
    interaction |= {
        "type": 3,
        "data": {"custom_id": custom_id, "component_type": 2},
        "message": message,
    }
    await fake.send_interaction(interaction)
    assert (await fake.wait_for_callback()).callback_type == 5  # deferred, privately
    await next_where(fake, "followup", lambda r: r.method == "PATCH")
    return interaction


async def test_a_reader_proposes_and_an_editor_approves_with_the_button(fake, service):
    async with discord_bot(service):
        review = await propose(fake, {"member": "Türkiye", "candidate": "Rutte"})
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
        settled = next(
            r for r in fake.channel_messages if r.method == "PATCH" and r.path.endswith("042")
        )
        assert custom_ids(settled.message) == []  # decided: its buttons are gone
        assert "approved by Edna: recorded as #33" in described(settled)
        dm = next(r for r in fake.channel_messages if r.path == f"/channels/{DM_CHANNEL}/messages")
        assert dm.content == discord_escape(told)  # a direct message to the proposer
        await fake.send_interaction(slash_interaction("tally", {"candidate": "Rutte"}))
        tally = await fake.wait_for_callback()
    assert "29/32\nNeeds 3 more" in described(tally)


async def test_a_reader_cannot_approve_with_the_button(fake, service):
    async with discord_bot(service):
        review = await propose(fake, {"member": "Türkiye", "candidate": "Rutte"})
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
        clicked = await click(fake, review, "proposal:reject:1", EDITOR_ID, [EDITORS_ROLE])
    (answer,) = fake.shown(clicked)
    assert described(answer) == (
        "Proposal #1 (Estonia has no public position on 3 April 2024) was rejected by Edna."
    )
    assert fake.unhandled == []


def described_of(message: dict[str, Any]) -> str:
    return "\n".join(e.get("description", "") for e in message["embeds"])


async def test_a_newer_recording_asks_for_a_second_click(fake, service, editor):
    async with discord_bot(service):
        review = await propose(fake, {"member": "Türkiye", "candidate": "Rutte"})
        member, rutte = service.roster.member("Türkiye"), service.roster.candidate("Rutte")
        await service.record(editor, member, Position.OPPOSES, rutte)
        asked = await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
        (question,) = fake.shown(asked)
        assert question.ephemeral
        assert question.content.startswith("Türkiye was recorded again (#33, by Edna)")
        confirm = fake._messages[(asked["token"], "@original")]
        assert custom_ids(confirm) == ["proposal:confirm:1:1500000000000000042"]
        assert not [r for r in fake.channel_messages if r.method == "PATCH"]

        await click(
            fake, confirm, "proposal:confirm:1:1500000000000000042", EDITOR_ID, [EDITORS_ROLE]
        )
        settled = next(r for r in fake.channel_messages if r.method == "PATCH")
        assert settled.path == f"/channels/{REVIEW_CHANNEL}/messages/1500000000000000042"
        assert "approved by Edna: recorded as #34" in described(settled)
        assert (await service.tally()).candidates[0].count == 29
