"""The newsroom's workflow, one conversation end to end, through the console and through each
platform's fake (real slack-bolt and discord.py over loopback HTTP): a reader proposes a
position with its source, an editor approves it (a button, or typed in the console), the
channel that follows the race gets exactly one alert, the next /tally counts it, and a strict
tally does not (it was only reported, not on record)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from fakes.discord_fake import FakeDiscord, RecordedRequest, slash_interaction
from fakes.slack_fake import FakeSlack
from test_proposals_discord import (
    EDITOR_ID,
    EDITORS_ROLE,
    GUILD,
    READER_ID,
    DiscordWithDMs,
    as_reviewer,
    click,
    described,
    discord_bot,
    next_where,
    propose,
)
from test_proposals_slack import EDITOR, READER, buttons, slack_bot, slash
from test_proposals_slack import click as slack_click

from bot.adapters.console import Console
from bot.alerts import Alerts
from bot.clock import Clock
from bot.domain import Actor
from bot.platform import Platform
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

BRUSSELS = ZoneInfo("Europe/Brussels")
SOURCE = "https://www.reuters.com/world/turkey-backs-rutte"
NEWS = "CNEWS"  # the Slack channel the reader proposes in, and that follows the race
NEWS_CHANNEL = 1300000000000000042  # the Discord one


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 4, 3, hour, minute, second, tzinfo=BRUSSELS)


def count(tally: str) -> int:
    """Rutte's count, as the tally's first 'N/32' says it."""
    found = re.search(r"(\d+)/32", tally)
    assert found is not None, tally
    return int(found[1])


class Newsroom:
    """One tallybot process on a pinned clock, its alerts' pauses on a fake monotonic clock."""

    def __init__(self, service: Service, clock: Clock) -> None:
        self.service, self.clock = service, clock
        self.ticks = 0.0

    async def pause(self, seconds: float) -> None:
        self.ticks += seconds

    async def alert(self, platform: Platform) -> None:
        """The minute of the approval passes, and the alerts' loop runs twice after it."""
        alerts = Alerts(
            self.service, {platform.name: platform}, sleep=self.pause, monotonic=lambda: self.ticks
        )
        for moment in (at(10, 1, 10), at(10, 1, 40)):  # a second run posts nothing again
            self.clock.pinned_at = moment
            await alerts.run_due()


@asynccontextmanager
async def newsroom(tmp_path: Path) -> AsyncIterator[Newsroom]:
    clock = Clock(BRUSSELS, at=at(10, 0))
    store = await Store.open(tmp_path / "tally.db", clock.now)
    service = Service(store, load_race("nato-sg-2024"), clock)
    await service.start(demo=True)
    clock.pinned_at = at(10, 0, 1)  # the seed comes before the /follow
    try:
        yield Newsroom(service, clock)
    finally:
        await store.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_through_the_console(tmp_path, http):
    """Console readers and editors; the followed channel is a Slack one."""
    async with newsroom(tmp_path) as room, FakeSlack() as fake:
        async with slack_bot(room.service, fake) as slack:
            followed = await slash(http, slack, fake, "/follow", EDITOR)
            assert "gets an alert within a minute" in followed["text"]
            files = tmp_path / "files"
            reader = Console(room.service, files, actor=Actor("console", "rita", "Rita")).handle
            editor = Console(
                room.service, files, actor=Actor("console", "ed", "Edna", is_editor=True)
            ).handle
            strict = count(await editor("/tally Rutte strict:yes"))
            room.clock.pinned_at = at(10, 0, 20)

            proposed = await reader(f"/endorse Türkiye Rutte source:{SOURCE}")
            assert proposed == "Proposed #1; an editor will review it."
            assert count(await editor("/tally Rutte")) == 28
            approved = await editor("/approve 1")
            assert approved.startswith("Recorded #33: Türkiye supports Mark Rutte")
            await room.alert(slack)

        (alert,) = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == NEWS]
        assert "Türkiye now supports Mark Rutte (29/32)" in alert.params["text"]
        assert count(await reader("/tally Rutte")) == 29
        assert count(await reader("/tally Rutte strict:yes")) == strict  # only reported


async def test_through_slack(tmp_path, http):
    async with newsroom(tmp_path) as room, FakeSlack() as fake:
        async with slack_bot(room.service, fake) as slack:
            await slash(http, slack, fake, "/follow", EDITOR)
            strictly = await slash(http, slack, fake, "/tally Rutte strict:yes", READER)
            strict = count(strictly["text"])
            room.clock.pinned_at = at(10, 0, 20)

            ack = await slash(http, slack, fake, f"/endorse Türkiye Rutte source:{SOURCE}", READER)
            assert ack["text"] == "Proposed #1; an editor will review it."
            review = await fake.wait_for_call("chat.postMessage")
            approve = buttons(review.params["blocks"])["Approve"]
            await slack_click(http, slack, fake, approve, EDITOR)
            await fake.wait_for_call("chat.update")  # the review message shows the approval
            await room.alert(slack)

            alerts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == NEWS]
            (alert,) = alerts
            assert "Türkiye now supports Mark Rutte (29/32)" in alert.params["text"]
            tally = (await slash(http, slack, fake, "/tally Rutte", READER))["text"]
            assert count(tally) == 29
            strictly = await slash(http, slack, fake, "/tally Rutte strict:yes", READER)
            assert count(strictly["text"]) == strict  # only reported: not on record


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with DiscordWithDMs(guilds=[GUILD]) as fake:
        with fake.patch_discord():
            yield fake


def text(request: RecordedRequest) -> str:
    return f"{request.content or ''}\n{described(request)}"


async def tally(fake: FakeDiscord, strict: bool = False) -> int:
    options = {"candidate": "Rutte"} | ({"strict": "yes"} if strict else {})
    await fake.send_interaction(slash_interaction("tally", options, user_id=READER_ID))
    return count(described(await fake.wait_for_callback()))


async def test_through_discord(tmp_path, discord_fake):
    fake = discord_fake
    async with newsroom(tmp_path) as room, discord_bot(room.service) as bot:
        where = as_reviewer() | {"channel_id": NEWS_CHANNEL}
        await fake.send_interaction(slash_interaction("follow", {}, **where))
        assert (await fake.wait_for_callback()).callback_type == 5  # an editor's: deferred
        await next_where(fake, "followup", lambda r: "gets an alert within a minute" in text(r))
        strict = await tally(fake, strict=True)
        room.clock.pinned_at = at(10, 0, 20)

        review = await propose(fake, {"member": "Türkiye", "candidate": "Rutte", "source": SOURCE})
        await click(fake, review, "proposal:approve:1", EDITOR_ID, [EDITORS_ROLE])
        await room.alert(bot)

        news = f"/channels/{NEWS_CHANNEL}/messages"
        (alert,) = [r for r in fake.channel_messages if r.path == news]
        assert "Türkiye now supports Mark Rutte (29/32)" in text(alert)
        assert await tally(fake) == 29
        assert await tally(fake, strict=True) == strict  # only reported: not on record
