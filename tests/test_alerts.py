"""Alerts as it happens: /follow, one post per minute of changes, exactly once.

The clock is a fake the test moves, the platforms fakes that record what they were sent, and
the pauses (retries, one second between posts to a channel) a fake that moves a fake monotonic
clock, so minutes of the race pass in milliseconds: follow, record, restart, fail, run two
processes on one file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.alerts import Alerts
from bot.clock import Clock
from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.domain import Actor
from bot.platform import PostRejected
from bot.racefile import load_race
from bot.render import to_slack, to_text
from bot.replies import Reply
from bot.service import Service
from bot.service_alerts import AlertStatus
from bot.store.store import Store

BRUSSELS = ZoneInfo("Europe/Brussels")
RACE = "nato-sg-2024"
EDITOR = Actor("slack", "U0EDITOR", "Editor", is_editor=True)
READER = Actor("slack", "U0READER", "Reader")
CONSOLE = Actor("console", "console", "console user", is_editor=True)
NEWS = "C0NEWS"
REUTERS = "source:https://www.reuters.com/world/turkey-backs-rutte"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 4, 3, hour, minute, second, tzinfo=BRUSSELS)


class FakePlatform:
    """Implements Platform: records each post; the first `failures` posts raise `error`."""

    def __init__(self, name: str = "slack", failures: int = 0, error: Exception | None = None):
        self.name = name
        self.failures = failures
        self.error = error or ConnectionError("503 Service Unavailable")
        self.posts: list[tuple[str, Reply]] = []

    async def start(self) -> None: ...

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        await asyncio.sleep(0)  # let another process's run interleave here
        if self.failures:
            self.failures -= 1
            raise self.error
        self.posts.append((channel, reply))

    async def close(self) -> None: ...


class StuckPlatform(FakePlatform):
    """A post that never returns: the process stops in the middle of it."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        self.started.set()
        await asyncio.Event().wait()


@dataclass
class Bot:
    """One tallybot process: its own connection to the database file, fakes for the rest."""

    service: Service
    alerts: Alerts
    clock: Clock
    slack: FakePlatform
    sleeps: list[float] = field(default_factory=list)

    async def say(self, line: str, actor: Actor = EDITOR, channel: str = NEWS) -> str:
        return to_text(await run_line(Context(self.service, actor, channel), line))

    async def at(self, moment: datetime) -> None:
        """The clock reaches `moment` and the alerts' loop runs."""
        self.clock.pinned_at = moment
        await self.alerts.run_due()

    def texts(self) -> list[str]:
        return [to_text(reply) for _, reply in self.slack.posts]


@asynccontextmanager
async def running(
    db: Path, now: datetime, slack: FakePlatform | None = None, **options: Any
) -> AsyncIterator[Bot]:
    clock = Clock(BRUSSELS, at=now)
    store = await Store.open(db, clock.now)  # rows are recorded on the test's clock
    service = Service(store, load_race(RACE), clock)
    await service.start(demo=True)
    clock.pinned_at = now + timedelta(seconds=1)  # the seed comes before any /follow
    slack = slack or FakePlatform()
    ticks = [0.0]  # the fake monotonic clock, moved only by the fake pauses
    bot = Bot(service, None, clock, slack)  # type: ignore[arg-type]

    async def pause(seconds: float) -> None:
        bot.sleeps.append(seconds)
        ticks[0] += seconds

    bot.alerts = Alerts(
        service, {"slack": slack}, sleep=pause, monotonic=lambda: ticks[0], **options
    )
    try:
        yield bot
    finally:
        await bot.alerts.close()
        await store.close()


async def test_a_followed_channel_gets_one_alert_after_the_minute_of_a_change(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        assert "gets an alert within a minute" in await bot.say("/follow")
        bot.clock.pinned_at = at(10, 0, 20)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        await bot.at(at(10, 0, 50))
        assert bot.slack.posts == []  # the minute has not passed: more may come in it
        await bot.at(at(10, 1, 10))
        await bot.at(at(10, 1, 20))
        assert len(bot.slack.posts) == 1
        channel, reply = bot.slack.posts[0]
        assert channel == NEWS
        assert "Türkiye now supports Mark Rutte (29/32) · reuters.com" in to_text(reply)
        link = "<https://www.reuters.com/world/turkey-backs-rutte|reuters.com>"
        assert link in str(to_slack(reply))
        await bot.say("/unfollow")
        bot.clock.pinned_at = at(10, 2, 5)
        await bot.say("/oppose Slovakia Rutte")
        await bot.at(at(10, 4))
        assert len(bot.slack.posts) == 1  # unfollowed: nothing more


async def test_changes_in_one_minute_make_one_post(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 1, 40)
        await bot.say("/endorse Slovakia Rutte")
        await bot.at(at(10, 2, 10))
        assert len(bot.slack.posts) == 1
        (text,) = bot.texts()
        assert "Slovakia now supports Mark Rutte (30/32) · no source" in text
        assert "Türkiye now supports Mark Rutte (30/32) · reuters.com" in text


async def test_an_undo_inside_the_minute_posts_nothing(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 1, 30)
        await bot.say("/undo")
        await bot.at(at(10, 2, 10))
        await bot.at(at(10, 3, 10))
        assert bot.slack.posts == []
        rows = await bot.service.store.alert_sends(RACE, "2024-04-03T08:01")
        assert [r.status for r in rows.values()] == [AlertStatus.SKIPPED]


async def test_an_undo_in_the_next_minute_is_its_own_alert(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 55)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 2, 5)
        await bot.say("/undo")
        await bot.at(at(10, 3, 10))
        texts = bot.texts()
        assert len(texts) == 2
        assert "Türkiye now supports Mark Rutte (29/32)" in texts[0]
        assert "Türkiye now has no public position (Mark Rutte 28/32)" in texts[1]
        assert bot.sleeps == [1.0]  # the second post to the channel waited a second


async def test_the_change_that_meets_the_rule_is_its_own_post_with_a_headline(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 2, 5)
        for member in ("Slovakia", "Romania", "Hungary"):
            await bot.say(f"/endorse {member} Rutte")
        await bot.at(at(10, 3, 10))
        first, second = (reply for _, reply in bot.slack.posts)
        assert "Mark Rutte has" not in to_text(first)
        assert second.title == "Mark Rutte has unanimity: 32/32"
        assert "Hungary now supports Mark Rutte (32/32)" in to_text(second)


async def test_two_processes_on_one_database_post_each_alert_once(tmp_path):
    db = tmp_path / "shared.db"
    async with running(db, at(10, 0)) as a, running(db, at(10, 0)) as b:
        for channel in ("C1", "C2", "C3"):
            await a.say("/follow", channel=channel)
        for minute in (1, 2, 3):
            a.clock.pinned_at = b.clock.pinned_at = at(10, minute, 5)
            member = ("Türkiye", "Slovakia", "Hungary")[minute - 1]
            await (a, b)[minute % 2].say(f"/endorse {member} Rutte")
            a.clock.pinned_at = b.clock.pinned_at = at(10, minute + 1, 10)
            await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
            await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
        posts = a.slack.posts + b.slack.posts
        assert sorted(channel for channel, _ in posts) == sorted(["C1", "C2", "C3"] * 3)
        assert len({to_text(reply) for _, reply in posts}) == 3  # the same alert everywhere


async def test_a_restart_posts_what_was_recorded_while_down_and_resumes_a_cut_post(
    tmp_path, caplog
):
    db = tmp_path / "t.db"
    stuck = StuckPlatform()
    async with running(db, at(10, 0), slack=stuck) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 2, 10)
        run = asyncio.create_task(bot.alerts.run_due())
        await stuck.started.wait()
        run.cancel()  # the process stops mid-post
        await bot.say("/endorse Slovakia Rutte")  # recorded at 10:02:10, while it stops
    async with running(db, at(10, 4)) as bot:
        await bot.alerts.run_due()
        assert ["Slovakia now" in t for t in bot.texts()] == [True]  # 10:01's is still leased
        with caplog.at_level(logging.WARNING, logger="bot.alerts"):
            await bot.at(at(10, 7, 30))  # the lease of 10:01's claim has passed
        texts = bot.texts()
        assert len(texts) == 2 and "Türkiye now supports Mark Rutte (29/32)" in texts[1]
        assert [r.getMessage() for r in caplog.records] == [
            f"Resuming the alert for slack channel {NEWS} left mid-send; it may be posted twice"
        ]
        await bot.at(at(10, 9))
        assert len(bot.slack.posts) == 2


async def test_catch_up_after_downtime_is_bounded_and_skips_the_rest_once(tmp_path, caplog):
    db = tmp_path / "t.db"
    async with running(db, at(10, 0)) as bot:
        await bot.say("/follow")
        for minute, member in enumerate(("Türkiye", "Slovakia", "Romania", "Estonia"), 1):
            bot.clock.pinned_at = at(10, minute, 5)
            await bot.say(f"/oppose {member} Rutte")
    async with running(db, at(10, 10), catch_up=2) as bot:
        with caplog.at_level(logging.WARNING, logger="bot.alerts"):
            await bot.alerts.run_due()
            await bot.at(at(10, 11))
        assert [t.split(" now")[0].splitlines()[-1] for t in bot.texts()] == [
            "Romania",
            "Estonia",
        ]
        assert [r.getMessage() for r in caplog.records] == [
            f"Skipped 2 alert(s) for slack channel {NEWS} recorded while alerts were not "
            "running: only the latest 2 are caught up; /history shows the rest"
        ]


async def test_a_rejected_channel_stops_its_alerts_with_one_error(tmp_path, caplog):
    refused = FakePlatform(
        failures=1, error=PostRejected("not_in_channel", "invite the bot with /invite @tallybot")
    )
    async with running(tmp_path / "t.db", at(10, 0), slack=refused) as bot:
        await bot.say("/follow")
        with caplog.at_level(logging.ERROR, logger="bot.alerts"):
            for minute, member in ((1, "Türkiye"), (2, "Slovakia"), (3, "Estonia")):
                bot.clock.pinned_at = at(10, minute, 5)
                await bot.say(f"/oppose {member} Rutte")
                await bot.at(at(10, minute + 1, 10))
        assert refused.posts == []
        assert [r.getMessage() for r in caplog.records] == [
            f"Alerts for slack channel {NEWS} stopped: the platform refused the post "
            "(not_in_channel): invite the bot with /invite @tallybot; then /follow there again."
        ]
        assert await bot.service.store.follows(RACE) == []
        await bot.say("/follow")  # invited: following again starts from now
        bot.clock.pinned_at = at(10, 5, 5)
        await bot.say("/endorse Türkiye Rutte")
        await bot.at(at(10, 6, 10))
        assert ["Türkiye now supports" in t for t in bot.texts()] == [True]


async def test_a_failed_post_is_retried_with_a_growing_pause_then_given_up(tmp_path, caplog):
    flaky = FakePlatform(failures=2)
    async with running(tmp_path / "t.db", at(10, 0), slack=flaky) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say("/endorse Türkiye Rutte")
        await bot.at(at(10, 2, 10))
        assert len(flaky.posts) == 1 and bot.sleeps == [2.0, 4.0]
        flaky.failures = 3
        bot.clock.pinned_at = at(10, 2, 30)
        await bot.say("/endorse Slovakia Rutte")
        with caplog.at_level(logging.ERROR, logger="bot.alerts"):
            await bot.at(at(10, 3, 10))
            await bot.at(at(10, 9))  # a failed alert is not tried again
        assert len(flaky.posts) == 1
        assert [r.getMessage() for r in caplog.records] == [
            f"The alert for slack channel {NEWS} failed 3 times; last: "
            "ConnectionError: 503 Service Unavailable"
        ]


async def test_follow_needs_an_editor_and_a_channel(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        assert "editor" in await bot.say("/follow", READER)
        assert await bot.say("/follow", CONSOLE, "") == (
            "Error: Alerts go to a Slack or Discord channel, and the console has none; "
            "/follow there, or /history here."
        )
        await bot.say("/follow")
        assert "follows the race already" in await bot.say("/follow")
        await bot.say("/unfollow")
        assert "does not follow the race" in await bot.say("/unfollow")
