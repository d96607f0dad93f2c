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
from bot.service_alerts import RULE_MET, AlertKey, AlertStatus
from bot.store.store import Store

BRUSSELS = ZoneInfo("Europe/Brussels")
RACE = "nato-sg-2024"
EDITOR = Actor("slack", "U0EDITOR", "Editor", is_editor=True)
READER = Actor("slack", "U0READER", "Reader")
CONSOLE = Actor("console", "console", "console user", is_editor=True)
NEWS = "C0NEWS"
REUTERS = "source:https://www.reuters.com/world/turkey-backs-rutte"
POLITICO = "source:https://www.politico.eu/article/nato-secretary-general/"


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
        await bot.say(f"/oppose Slovakia Rutte {POLITICO}")
        await bot.at(at(10, 4))
        assert len(bot.slack.posts) == 1  # unfollowed: nothing more


async def test_changes_in_one_minute_make_one_post(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 1, 40)
        await bot.say(f"/endorse Slovakia Rutte {POLITICO}")
        await bot.at(at(10, 2, 10))
        assert len(bot.slack.posts) == 1
        (text,) = bot.texts()
        assert text.splitlines()[2:] == [
            "Slovakia now supports Mark Rutte (30/32) · politico.eu, reported",
            "Türkiye now supports Mark Rutte (30/32) · reuters.com, reported",
        ]


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
        for member in ("Slovakia", "Hungary", "Romania"):  # Romania's makes it 32 of 32
            await bot.say(f"/endorse {member} Rutte {POLITICO}")
        await bot.at(at(10, 3, 10))
        first, headline, rest = (reply for _, reply in bot.slack.posts)
        assert "Mark Rutte has" not in to_text(first)
        assert to_text(headline).splitlines()[:3] == [
            "Mark Rutte has reached unanimity: 32/32",
            "",
            "Romania now supports Mark Rutte (32/32) · politico.eu, reported",
        ]
        assert headline.summary == "Mark Rutte has reached unanimity: 32/32 · politico.eu, reported"
        assert "reached unanimity on 3 April 2024" in headline.footer
        assert to_text(rest).splitlines() == [
            "NATO Secretary-General 2024",
            "",
            "Hungary now supports Mark Rutte (32/32) · politico.eu, reported",
            "Slovakia now supports Mark Rutte (32/32) · politico.eu, reported",
        ]
        assert bot.sleeps == [1.0, 1.0]  # the channel's three posts, a second apart
        await bot.at(at(10, 6))
        assert len(bot.slack.posts) == 3


async def test_an_undo_within_the_minute_cancels_the_rule_met_post(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        for member in ("Türkiye", "Slovakia", "Hungary", "Romania"):
            await bot.say(f"/endorse {member} Rutte {POLITICO}")
        await bot.say("/undo")  # Romania's: 31 of 32 after all
        await bot.at(at(10, 2, 10))
        [(_, reply)] = bot.slack.posts
        assert "has reached" not in to_text(reply) and "Romania" not in to_text(reply)
        assert "Hungary now supports Mark Rutte (31/32)" in to_text(reply)
        rows = await bot.service.store.alert_sends(RACE, "2024-04-03T08:01")
        assert [(k.part, r.status) for k, r in rows.items()] == [("", AlertStatus.SENT)]


async def test_two_processes_on_one_database_post_each_alert_once(tmp_path):
    db = tmp_path / "shared.db"
    async with running(db, at(10, 0)) as a, running(db, at(10, 0)) as b:
        for channel in ("C1", "C2", "C3"):
            await a.say("/follow", channel=channel)
        for minute in (1, 2, 3):
            a.clock.pinned_at = b.clock.pinned_at = at(10, minute, 5)
            member = ("Türkiye", "Slovakia", "Hungary")[minute - 1]
            await (a, b)[minute % 2].say(f"/endorse {member} Rutte {POLITICO}")
            a.clock.pinned_at = b.clock.pinned_at = at(10, minute + 1, 10)
            await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
            await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
        posts = a.slack.posts + b.slack.posts
        assert sorted(channel for channel, _ in posts) == sorted(["C1", "C2", "C3"] * 3)
        assert len({to_text(reply) for _, reply in posts}) == 3  # the same alert everywhere


async def test_two_processes_post_the_rule_met_and_the_changes_once_to_each_channel(tmp_path):
    db = tmp_path / "shared.db"
    async with running(db, at(10, 0)) as a, running(db, at(10, 0)) as b:
        for channel in ("C1", "C2", "C3"):
            await b.say("/follow", channel=channel)
        a.clock.pinned_at = b.clock.pinned_at = at(10, 1, 5)
        for member in ("Türkiye", "Slovakia", "Hungary", "Romania"):
            await a.say(f"/endorse {member} Rutte {POLITICO}")
        a.clock.pinned_at = b.clock.pinned_at = at(10, 2, 10)
        await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
        await asyncio.gather(a.alerts.run_due(), b.alerts.run_due())
        posts = a.slack.posts + b.slack.posts
        titles = sorted((channel, reply.title) for channel, reply in posts)
        assert titles == sorted(
            (channel, title)
            for channel in ("C1", "C2", "C3")
            for title in ("Mark Rutte has reached unanimity: 32/32", "NATO Secretary-General 2024")
        )
        for bot in (a, b):  # each channel's headline went before its other changes
            seen = [(c, r.title.startswith("Mark Rutte")) for c, r in bot.slack.posts]
            assert all(seen.index((c, True)) < seen.index((c, False)) for c, _ in seen)


async def test_a_restart_cut_in_the_rule_met_post_resumes_it_then_posts_the_rest(tmp_path, caplog):
    db = tmp_path / "t.db"
    stuck = StuckPlatform()
    async with running(db, at(10, 0), slack=stuck) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        for member in ("Türkiye", "Slovakia", "Hungary", "Romania"):
            await bot.say(f"/endorse {member} Rutte {POLITICO}")
        bot.clock.pinned_at = at(10, 2, 10)
        run = asyncio.create_task(bot.alerts.run_due())
        await stuck.started.wait()
        run.cancel()  # the process stops while posting the headline
    async with running(db, at(10, 3)) as bot:
        await bot.alerts.run_due()
        assert bot.slack.posts == []  # the rest waits for the headline's claim, in order
        with caplog.at_level(logging.WARNING, logger="bot.alerts"):
            await bot.at(at(10, 7, 30))  # the headline's claim has lapsed
        assert [r.title for _, r in bot.slack.posts] == [
            "Mark Rutte has reached unanimity: 32/32",
            "NATO Secretary-General 2024",
        ]
        assert len(caplog.records) == 1 and "may be posted twice" in caplog.records[0].message
        await bot.at(at(10, 9))
        assert len(bot.slack.posts) == 2


async def test_a_process_that_stopped_after_the_headline_leaves_only_the_rest_to_post(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        before = await bot.service.last_event_id()
        bot.clock.pinned_at = at(10, 1, 5)
        for member in ("Türkiye", "Slovakia", "Hungary", "Romania"):
            await bot.say(f"/endorse {member} Rutte {POLITICO}")
        [minute] = await bot.service.alert_minutes(before, await bot.service.last_event_id())
        headline = AlertKey(RACE, "slack", NEWS, minute.minute, RULE_MET)
        now = bot.clock.now()  # another process posted the headline, then stopped
        await bot.service.claim_alert(headline, minute.events, now, now)
        await bot.service.alert_result(headline, now, AlertStatus.SENT)
        await bot.at(at(10, 2, 10))
        [(_, reply)] = bot.slack.posts
        assert reply.title == "NATO Secretary-General 2024" and "Hungary now" in to_text(reply)


async def test_a_minutes_alert_is_built_once_for_all_its_channels(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        for channel in ("C1", "C2", "C3"):
            await bot.say("/follow", channel=channel)
        built = []
        compose = bot.alerts._compose

        async def counted(minute):
            built.append(minute.minute)
            return await compose(minute)

        bot.alerts._compose = counted  # type: ignore[method-assign]
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        await bot.at(at(10, 2, 10))
        assert built == ["2024-04-03T08:01"] and len(bot.slack.posts) == 3


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
        await bot.say(f"/endorse Slovakia Rutte {POLITICO}")  # recorded at 10:02:10, while it stops
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
            await bot.say(f"/oppose {member} Rutte {POLITICO}")
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
                await bot.say(f"/oppose {member} Rutte {POLITICO}")
                await bot.at(at(10, minute + 1, 10))
        assert refused.posts == []
        assert [r.getMessage() for r in caplog.records] == [
            f"Alerts for slack channel {NEWS} stopped: the platform refused the post "
            "(not_in_channel): invite the bot with /invite @tallybot; then /follow there again."
        ]
        assert await bot.service.store.follows(RACE) == []
        await bot.say("/follow")  # invited: following again starts from now
        bot.clock.pinned_at = at(10, 5, 5)
        await bot.say(f"/endorse Türkiye Rutte {POLITICO}")
        await bot.at(at(10, 6, 10))
        assert ["Türkiye now supports" in t for t in bot.texts()] == [True]


async def test_a_failed_post_is_retried_with_a_growing_pause_then_given_up(tmp_path, caplog):
    flaky = FakePlatform(failures=2)
    async with running(tmp_path / "t.db", at(10, 0), slack=flaky) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {POLITICO}")
        await bot.at(at(10, 2, 10))
        assert len(flaky.posts) == 1 and bot.sleeps == [2.0, 4.0]
        flaky.failures = 3
        bot.clock.pinned_at = at(10, 2, 30)
        await bot.say(f"/endorse Slovakia Rutte {POLITICO}")
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
