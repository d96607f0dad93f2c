"""The daily digest: subscribing, what it says, and posting it on time, exactly once.

The clock is a fake the test moves and the platforms are fakes that record what they were sent,
so each test walks through days of the race in milliseconds: subscribe, reach nine o'clock,
restart, fail, retry, run two processes on one file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.clock import Clock
from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.config import DigestChannel, DigestConfig
from bot.digest_records import DigestKey, DigestSend, Subscription
from bot.domain import Actor, Tally
from bot.platform import Posted
from bot.racefile import load_race
from bot.render import discord_messages, to_slack, to_text
from bot.replies import Attachment, Reply
from bot.scheduling import DigestScheduler, next_fire_time
from bot.service import Service
from bot.store.store import Store

BRUSSELS = ZoneInfo("Europe/Brussels")
AUCKLAND = ZoneInfo("Pacific/Auckland")
TOKYO = ZoneInfo("Asia/Tokyo")
RACE = "nato-sg-2024"
EDITOR = Actor("slack", "U0EDITOR", "Editor", is_editor=True)
READER = Actor("slack", "U0READER", "Reader")
DISCORD_EDITOR = Actor("discord", "42", "Editor", is_editor=True)
CONSOLE = Actor("console", "console", "console user", is_editor=True)
NEWS = "C0NEWS"


def brussels(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=BRUSSELS)


class FakePlatform:
    """Implements Platform: records each post; the first `failures` posts raise."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.posts: list[tuple[str, Reply]] = []

    async def start(self) -> None: ...

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        await asyncio.sleep(0)  # let another process's run interleave here
        if self.failures:
            self.failures -= 1
            raise ConnectionError("503 Service Unavailable")
        self.posts.append((channel, reply))

    async def close(self) -> None: ...


class StuckPlatform(FakePlatform):
    """A post that never returns: the process dies in the middle of it."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.started = asyncio.Event()

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        self.started.set()
        await asyncio.Event().wait()


@dataclass
class Bot:
    """One tallybot process: its own connection to the database file, fakes for the rest."""

    service: Service
    scheduler: DigestScheduler
    clock: Clock
    slack: FakePlatform
    discord: FakePlatform
    sleeps: list[float]

    async def say(self, line: str, actor: Actor = EDITOR, channel: str = NEWS) -> str:
        return to_text(await run_line(Context(self.service, actor, channel), line))

    async def at(self, moment: datetime) -> None:
        """The clock reaches `moment` and the cron job (or the minute's refresh) runs."""
        self.clock.pinned_at = moment
        await self.scheduler.run_due()

    async def sends(self, *days: date) -> dict[date, DigestSend]:
        """The send records of NEWS on Slack, by day."""
        records = await self.service.store.digest_sends(RACE, days)
        return {k.day: r for k, r in records.items() if k.channel == NEWS}


@asynccontextmanager
async def running(
    db: Path,
    now: datetime,
    *,
    digest: DigestConfig | None = None,
    slack: FakePlatform | None = None,
    discord: FakePlatform | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **options: Any,
) -> AsyncIterator[Bot]:
    clock = Clock(BRUSSELS, at=now)
    store = await Store.open(db, clock.now)  # rows are recorded on the test's clock
    service = Service(store, load_race(RACE), clock, digest)
    await service.start(demo=True)
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    slack = slack or FakePlatform("slack")
    discord = discord or FakePlatform("discord")
    scheduler = DigestScheduler(
        service, {"slack": slack, "discord": discord}, sleep=sleep or no_wait, **options
    )
    try:
        await (await scheduler.start())  # the catch-up posts what is due now
        yield Bot(service, scheduler, clock, slack, discord, sleeps)
    finally:
        await scheduler.close()
        await store.close()


# --- subscribing and what the digest says ---------------------------------------------------


async def test_a_subscribed_channel_gets_the_digest_at_nine_with_what_changed(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        assert await bot.say("/subscribe") == (
            "Subscribed: this channel gets the daily digest at 09:00 (Europe/Brussels), "
            "from 3 April 2024. /digest shows today's now; /unsubscribe stops it."
        )
        await bot.at(brussels(3, 8, 59))
        assert bot.slack.posts == []
        await bot.at(brussels(3, 9))
        [(channel, reply)] = bot.slack.posts
        text = to_text(reply)
        assert channel == NEWS
        assert reply.title == "NATO Secretary-General 2024: daily digest, 3 April 2024"
        # The first digest covers the last 24 hours: the whole seeded race, recorded at start.
        assert reply.summary == (
            "Mark Rutte 0 → 28 (+28) in the last 24 hours · 4 holdouts · "
            "97 days to the Washington summit"
        )
        assert text.startswith(f"{reply.title}\n\n{reply.summary}\n\nIn the last 24 hours\n")
        assert "Hungary: no position → opposes Mark Rutte (politico.eu)" in text  # on record
        assert "28/32\n  Needs 4 more for unanimity." in text
        assert "Holdouts on Mark Rutte: 4 of 32" in text
        assert "🇭🇺 Hungary: opposes since 2 April 2024" in text
        assert reply.footer == "97 days until the Washington summit on 9 July 2024."
        await bot.at(brussels(3, 9, 1))  # the next minute's refresh posts nothing more
        assert len(bot.slack.posts) == 1

        bot.clock.pinned_at = brussels(3, 15)
        await bot.say("/endorse Türkiye Rutte source:https://example.org/tr note:Erdogan agrees")
        await bot.say("/oppose Slovakia Rutte source:https://example.org/sk")
        await bot.say("/undo")
        await bot.at(brussels(4, 9))
        reply = bot.slack.posts[-1][1]
        text = to_text(reply)
        assert reply.summary == (
            "Mark Rutte 28 → 29 (+1) since yesterday · 3 holdouts · "
            "96 days to the Washington summit"
        )
        # What moved, from what, and its outlet; Slovakia's opposition was undone: no move.
        changes = text.split("Since yesterday\n")[1].split("\n\n")[0]
        assert changes == "  Türkiye: no position → supports Mark Rutte (example.org, reported)"
        # The outlet links to the source where the platform links.
        assert "Mark Rutte (<https://example.org/tr|example.org>, reported)" in str(
            to_slack(reply)[1]
        )
        assert "Mark Rutte ([example.org](https://example.org/tr), reported)" in str(
            discord_messages(reply)
        )
        assert "29/32\n  Needs" in text
        assert reply.footer == "96 days until the Washington summit on 9 July 2024."

        await bot.at(brussels(5, 9))
        assert "Nothing new recorded." in to_text(bot.slack.posts[-1][1])


async def test_a_first_digest_after_a_quiet_day_shows_the_latest_ten_changes(tmp_path):
    async with running(tmp_path / "t.db", brussels(2, 10)) as bot:
        await bot.say("/endorse Romania Rutte confidence:reported")  # the eleventh latest: left out
        for member in ("Hungary", "Slovakia", "Türkiye"):
            await bot.say(f"/endorse {member} Rutte source:https://www.reuters.com/{member}")
        for verb in ("oppose", "endorse", "oppose", "endorse", "oppose", "endorse", "oppose"):
            await bot.say(f"/{verb} Canada Rutte confidence:reported")
        bot.clock.pinned_at = brussels(3, 12)
        await bot.say("/subscribe")
        await bot.at(brussels(4, 9))  # nothing recorded in the 24 hours before
        [(_, reply)] = bot.slack.posts
        assert reply.summary.startswith("Mark Rutte 29 → 31 (+2) over the latest 10 changes")
        changes = to_text(reply).split("The latest changes\n")[1].split("\n\n")[0]
        assert changes.splitlines() == [
            "  Canada: supported → opposes Mark Rutte (no source, reported)",
            "  Hungary: opposed → supports Mark Rutte (reuters.com, reported)",
            "  Slovakia: no position → supports Mark Rutte (reuters.com, reported)",
            "  Türkiye: no position → supports Mark Rutte (reuters.com, reported)",
        ]


async def test_subscribe_takes_a_time_and_a_zone_and_unsubscribe_stops_it(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        reply = await bot.say("/subscribe time:8:30 tz:america/new_york")
        assert "at 08:30 (America/New_York), from 3 April 2024." in reply
        assert "at 07:15 (Europe/Brussels), from 4 April 2024." in await bot.say(
            "/subscribe time:07:15"
        )  # a change, not a second subscription; 07:15 today had passed
        await bot.at(brussels(3, 8, 1))
        assert bot.slack.posts == []  # and is not caught up: it came before the change
        [sub] = await bot.service.store.subscriptions(RACE)
        assert (sub.time, sub.timezone) == (time(7, 15), "Europe/Brussels")
        assert await bot.say("/unsubscribe") == (
            "Unsubscribed: no more daily digests here. /subscribe starts them again."
        )
        await bot.at(brussels(4, 9))
        assert bot.slack.posts == []


@pytest.mark.parametrize(
    ("line", "actor", "channel", "error"),
    [
        ("/subscribe time:25:00", EDITOR, NEWS, "time:25:00 is not a time; use HH:MM like 09:00."),
        ("/subscribe time:9am", EDITOR, NEWS, "time:9am is not a time; use HH:MM like 09:00."),
        (
            "/subscribe tz:Europe/Brusels",
            EDITOR,
            NEWS,
            "Unknown time zone 'Europe/Brusels'. Did you mean Europe/Brussels?",
        ),
        (
            "/subscribe tz:Atlantis",
            EDITOR,
            NEWS,
            "Unknown time zone 'Atlantis'. Use a name like Europe/Brussels.",
        ),
        ("/subscribe daily", EDITOR, NEWS, "/subscribe takes no arguments here"),
        ("/subscribe", READER, NEWS, "Only editors can use /subscribe."),
        ("/unsubscribe", READER, NEWS, "Only editors can use /unsubscribe."),
        ("/subscribe", CONSOLE, "", "the console has none"),
        ("/unsubscribe", EDITOR, NEWS, "This channel is not subscribed"),
        ("/subscribe time:10:00", DISCORD_EDITOR, "D0CONFIG", "is set in the config file"),
        ("/unsubscribe", DISCORD_EDITOR, "D0CONFIG", "is set in the config file"),
    ],
)
async def test_bad_subscriptions_get_one_clear_line_and_write_nothing(
    tmp_path, line, actor, channel, error
):
    digest = DigestConfig(channels=(DigestChannel("discord", "D0CONFIG"),))
    async with running(tmp_path / "t.db", brussels(3, 8), digest=digest) as bot:
        before = await bot.service.store.subscriptions(RACE)
        reply = await bot.say(line, actor, channel)
        assert reply.startswith("Error: ") and error in reply and "\n" not in reply
        assert await bot.service.store.subscriptions(RACE) == before


async def test_digest_is_a_preview_that_does_not_count_as_the_days_digest(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
        preview = await bot.say("/digest", READER)
        assert preview.startswith("NATO Secretary-General 2024: digest preview, 3 April 2024")
        assert "97 days until the Washington summit" in preview
        assert "digest preview" in await bot.say("/digest", CONSOLE, channel="")
        assert bot.slack.posts == []
        await bot.at(brussels(3, 9))
        [(_, reply)] = bot.slack.posts
        assert "In the last 24 hours" in to_text(reply)  # the preview left no trace


async def test_once_the_rule_is_met_the_digest_says_how_it_ended_and_stops_being_daily(
    tmp_path,
):
    async with running(tmp_path / "t.db", brussels(19, 10, month=6)) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(20, 9, month=6))
        for member in ("Hungary", "Slovakia", "Türkiye", "Romania"):
            await bot.say(f"/endorse {member} Rutte on:2024-06-18 confidence:on-record")
        ended = (
            "Mark Rutte reached unanimity on 18 June 2024, "
            "21 days before the Washington summit on 9 July 2024."
        )
        text = await bot.say("/digest")
        assert "Holdouts on Mark Rutte: 0 of 32" in text and ended in text
        await bot.at(brussels(21, 9, month=6))
        last = bot.slack.posts[-1][1]
        assert last.summary == ended.removesuffix(".")
        assert "Hungary: opposed → supports Mark Rutte (no source)" in to_text(last)  # on record
        assert last.footer == (
            f"{ended} This is the last daily digest: from now on one comes only on a day "
            "something new is recorded; /unsubscribe stops them."
        )
        await bot.at(brussels(22, 9, month=6))
        preview = await bot.say("/digest")  # after the last daily one: how it ended, no more
        assert ended in preview and "last daily digest" not in preview
        await bot.at(brussels(23, 9, month=6))
        assert bot.slack.posts[-1][1] is last  # nothing new: nothing posted
        sends = await bot.sends(date(2024, 6, 22))
        assert sends[date(2024, 6, 22)].status == "skipped"
        bot.clock.pinned_at = brussels(23, 12, month=6)
        await bot.say("/endorse Romania Rutte source:https://example.org/ro")  # a correction
        await bot.at(brussels(24, 9, month=6))
        after = bot.slack.posts[-1][1]
        assert after is not last and after.summary == ended.removesuffix(".")
        assert after.footer == ended  # said once, in the last daily one


async def test_after_the_deadline_the_digest_says_it_passed_not_how_long_ago(tmp_path):
    async with running(tmp_path / "t.db", brussels(9, 10, month=7)) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(10, 9, month=7))
        await bot.at(brussels(11, 9, month=7))
        [(_, reply)] = bot.slack.posts
        assert reply.summary == (
            "The Washington summit on 9 July 2024 passed with no one reaching unanimity; "
            "28 of 32 back Mark Rutte"
        )
        assert "ago" not in to_text(reply)


async def test_the_board_is_attached_when_configured_and_its_failure_loses_nothing(tmp_path):
    drawn: list[Tally] = []

    async def board(tally: Tally) -> Attachment:
        drawn.append(tally)
        if len(drawn) > 1:
            raise RuntimeError("no fonts")
        return Attachment("board.png", "image/png", b"\x89PNG")

    async with running(tmp_path / "t.db", brussels(3, 8), attach_board=board) as bot:
        await bot.say("/subscribe")
        assert "digest preview" in await bot.say("/digest")  # a preview draws no board
        await bot.at(brussels(3, 9))
        await bot.at(brussels(4, 9))
        # One post a day, the board in it, described for screen readers.
        first, second = (reply for _, reply in bot.slack.posts)
        assert first.attachment == Attachment(
            "board.png",
            "image/png",
            b"\x89PNG",
            alt="Board: 28 of 32 back Mark Rutte; Hungary opposes; Romania backs Klaus Iohannis; "
            "Slovakia, Türkiye no position",
        )
        assert drawn[0].candidates[0].count == 28
        assert second.attachment is None and second.footer.startswith("96 days")


# --- on time, across daylight saving ---------------------------------------------------------


def test_nine_oclock_stays_nine_across_daylight_saving_changes():
    nine = Subscription(RACE, "slack", NEWS, time(9), "Europe/Brussels")
    spring = next_fire_time(nine, brussels(30, 9, month=3))  # last Sunday of March
    assert spring == brussels(31, 9, month=3) and spring.utcoffset() == timedelta(hours=2)
    assert spring.timestamp() - brussels(30, 9, month=3).timestamp() == 23 * 3600
    autumn = next_fire_time(nine, brussels(26, 9, month=10))  # last Sunday of October
    assert autumn == brussels(27, 9, month=10) and autumn.utcoffset() == timedelta(hours=1)
    assert autumn.timestamp() - brussels(26, 9, month=10).timestamp() == 25 * 3600


async def test_the_registered_cron_job_runs_in_the_channels_zone(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
        await bot.say("/subscribe tz:America/New_York time:07:30", channel="C0US")
        await bot.say("/subscribe tz:America/New_York time:07:30", DISCORD_EDITOR, "D0US")
        await bot.scheduler.refresh()  # what the minute's refresh job does
        saturday = brussels(30, 12, month=3)  # the clocks go forward that night
        new_york = datetime(2024, 3, 30, 7, 30, tzinfo=ZoneInfo("America/New_York"))
        # One fire for both channels at that time; each at its time in its own zone.
        fires = bot.scheduler.next_fires(saturday)
        assert fires == [new_york, brussels(31, 9, month=3)]
        assert [f.tzinfo for f in fires] == [ZoneInfo("America/New_York"), BRUSSELS]

        await bot.say("/unsubscribe", channel="C0US")
        await bot.say("/unsubscribe", DISCORD_EDITOR, "D0US")
        await bot.scheduler.refresh()
        assert bot.scheduler.next_fires(saturday) == [brussels(31, 9, month=3)]


async def test_the_october_hour_that_happens_twice_gets_one_digest(tmp_path):
    async with running(tmp_path / "t.db", brussels(26, 12, month=10)) as bot:
        await bot.say("/subscribe time:02:30")
        [sub] = await bot.service.store.subscriptions(RACE)
        first = next_fire_time(sub, brussels(26, 12, month=10))  # 02:30 summer time
        second = next_fire_time(sub, first)  # 02:30 winter time: the cron trigger fires again
        assert second.timestamp() - first.timestamp() == 3600
        await bot.at(first)
        await bot.at(second)
        assert len(bot.slack.posts) == 1


def test_the_march_hour_that_never_happens_fires_once_an_hour_later():
    early = Subscription(RACE, "slack", NEWS, time(2, 30), "Europe/Brussels")
    fire = next_fire_time(early, brussels(30, 12, month=3))
    assert fire.timestamp() == datetime(2024, 3, 31, 3, 30, tzinfo=BRUSSELS).timestamp()
    assert next_fire_time(early, fire) == brussels(1, 2, 30)


# --- restarts and downtime ------------------------------------------------------------------


async def test_a_restart_just_before_nine_posts_at_nine_once(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
    async with running(tmp_path / "t.db", brussels(3, 8, 59)) as bot:
        assert bot.slack.posts == []
        assert bot.scheduler.next_fires(bot.clock.now()) == [brussels(3, 9)]
        await bot.at(brussels(3, 9))
        await bot.at(brussels(3, 9, 1))
        assert len(bot.slack.posts) == 1


async def test_half_a_minute_before_nine_nothing_is_due_and_at_nine_it_is(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
        await bot.at(datetime(2024, 4, 3, 8, 59, 30, tzinfo=BRUSSELS))  # the whole instant
        assert bot.slack.posts == []
        await bot.at(brussels(3, 9))
        assert len(bot.slack.posts) == 1


async def test_a_restart_just_after_nine_posts_what_was_missed_and_nothing_twice(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(3, 9))
        assert len(bot.slack.posts) == 1
    async with running(tmp_path / "t.db", brussels(3, 9, 1)) as bot:  # it went out before
        assert bot.slack.posts == []
    async with running(tmp_path / "t.db", brussels(4, 9, 1)) as bot:  # down at nine
        [(_, reply)] = bot.slack.posts  # posted on start
        assert reply.title.endswith("4 April 2024")


async def test_after_a_missed_day_older_digests_are_skipped_and_logged_not_sent(tmp_path, caplog):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(3, 9))
        bot.clock.pinned_at = brussels(3, 12)
        await bot.say("/endorse Türkiye Rutte source:https://example.org/tr")
    # Down all of 4 April; back on 5 April at 14:00, five hours after nine.
    with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
        async with running(tmp_path / "t.db", brussels(5, 14)) as bot:
            [(_, reply)] = bot.slack.posts
            assert reply.title.endswith("5 April 2024")
            text = to_text(reply)
            assert "Since the digest of 3 April 2024" in text  # 4 April's was never built
            assert "Mark Rutte 28 → 29 (+1) since 3 April 2024 · 3 holdouts" in reply.summary
            assert "Türkiye: no position → supports Mark Rutte (example.org, reported)" in text
            sends = await bot.sends(date(2024, 4, 4), date(2024, 4, 5))
            assert {d.day: s.status for d, s in sends.items()} == {4: "skipped", 5: "sent"}
            await bot.at(brussels(5, 14, 1))
    skipped = [r for r in caplog.records if r.getMessage().startswith("Skipped the digest")]
    assert len(skipped) == 1 and "2024-04-04 09:00 CEST" in skipped[0].getMessage()
    assert "over 6 hours ago (grace_hours)" in skipped[0].getMessage()


async def test_a_digest_missed_by_more_than_the_grace_is_not_sent_late(tmp_path, caplog):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        await bot.say("/subscribe")
    with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
        async with running(tmp_path / "t.db", brussels(3, 15, 1)) as bot:  # 6 h 1 min late
            assert bot.slack.posts == []
            assert (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)].status == "skipped"
            await bot.at(brussels(4, 9))
            assert len(bot.slack.posts) == 1  # the next day's comes as usual
    assert any("not sent late" in r.getMessage() for r in caplog.records)


# --- failures --------------------------------------------------------------------------------


async def test_a_failed_post_is_retried_with_backoff_and_recorded(tmp_path):
    flaky = FakePlatform("slack", failures=2)
    async with running(tmp_path / "t.db", brussels(3, 8), slack=flaky) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(3, 9))
        assert len(flaky.posts) == 1 and bot.sleeps == [2.0, 4.0]
        send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
        assert (send.status, send.attempts) == ("sent", 3)
        assert send.last_error == "ConnectionError: 503 Service Unavailable"
        assert send.sent_at is not None
        await bot.at(brussels(3, 9, 1))
        assert len(flaky.posts) == 1


async def test_a_post_that_keeps_failing_is_logged_and_kept_not_dropped_or_repeated(
    tmp_path, caplog
):
    down = FakePlatform("slack", failures=100)
    async with running(tmp_path / "t.db", brussels(3, 8), slack=down) as bot:
        await bot.say("/subscribe")
        with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
            await bot.at(brussels(3, 9))
        assert bot.sleeps == [2.0, 4.0, 8.0]
        send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
        assert (send.status, send.attempts) == ("failed", 4)
        [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert "failed 4 times" in error.getMessage() and NEWS in error.getMessage()
        assert "tried again in 5 minutes while within the grace" in error.getMessage()
        retries = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert [m.rsplit("; ", 1)[-1] for m in retries] == [
            "retry in 2 seconds",
            "retry in 4 seconds",
            "retry in 8 seconds",
        ]
    # Within the grace a failed digest is tried again once the lease has passed...
    async with running(tmp_path / "t.db", brussels(3, 9, 10), slack=down) as bot:
        assert down.failures == 92
        send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
        assert (send.status, send.attempts) == ("failed", 8)
        await bot.at(brussels(3, 9, 12))  # ... but not before
        assert down.failures == 92
    # ... and never once the grace has passed: the row stays failed, nothing is posted late.
    async with running(tmp_path / "t.db", brussels(3, 15, 10), slack=down) as bot:
        assert down.failures == 92 and bot.slack.posts == []


async def test_a_send_cut_short_by_a_crash_is_resumed_after_the_lease(tmp_path, caplog):
    """At-least-once: the row still says 'sending', so after the lease it is sent again."""
    stuck = StuckPlatform()
    async with running(tmp_path / "t.db", brussels(3, 8), slack=stuck) as crashing:
        await crashing.say("/subscribe")
        crashing.clock.pinned_at = brussels(3, 9)
        run = asyncio.create_task(crashing.scheduler.run_due())
        await asyncio.wait_for(stuck.started.wait(), 5)  # fail, not hang, if it never posts
        run.cancel()  # the process dies mid-post
        with suppress(asyncio.CancelledError):
            await run
        send = (await crashing.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
        assert (send.status, send.attempts) == ("sending", 0)
    with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
        async with running(tmp_path / "t.db", brussels(3, 9, 1)) as bot:
            assert bot.slack.posts == []  # within the lease the row may be another's
            await bot.at(brussels(3, 9, 6))
            await bot.at(brussels(3, 9, 7))
            assert len(bot.slack.posts) == 1
            send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
            assert (send.status, send.attempts) == ("sent", 1)
    assert any(
        "after 0 message(s); the next may be posted twice" in r.getMessage() for r in caplog.records
    )


async def test_a_send_cut_short_and_found_after_the_grace_is_failed_and_logged(tmp_path, caplog):
    stuck = StuckPlatform()
    async with running(tmp_path / "t.db", brussels(3, 8), slack=stuck) as crashing:
        await crashing.say("/subscribe")
        crashing.clock.pinned_at = brussels(3, 9)
        run = asyncio.create_task(crashing.scheduler.run_due())
        await asyncio.wait_for(stuck.started.wait(), 5)  # fail, not hang, if it never posts
        run.cancel()
        with suppress(asyncio.CancelledError):
            await run
    with caplog.at_level(logging.ERROR, logger="bot.scheduling"):
        async with running(tmp_path / "t.db", brussels(3, 18)) as bot:
            assert bot.slack.posts == []
            send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
            assert send.status == "failed" and "interrupted mid-send" in send.last_error
    assert any("interrupted mid-send" in r.getMessage() for r in caplog.records)


# --- several processes, many channels -------------------------------------------------------


async def test_two_processes_on_one_database_post_each_digest_once(tmp_path):
    db = tmp_path / "shared.db"
    async with running(db, brussels(3, 8)) as a, running(db, brussels(3, 8)) as b:
        for channel in ("C1", "C2", "C3"):
            await a.say("/subscribe", channel=channel)
        await b.say("/subscribe", DISCORD_EDITOR, "D1")
        for day in (3, 4, 5):
            a.clock.pinned_at = b.clock.pinned_at = brussels(day, 9)
            await asyncio.gather(a.scheduler.run_due(), b.scheduler.run_due())
            await asyncio.gather(a.scheduler.run_due(), b.scheduler.run_due())
        posts = a.slack.posts + b.slack.posts + a.discord.posts + b.discord.posts
        assert sorted(channel for channel, _ in posts) == sorted(["C1", "C2", "C3", "D1"] * 3)
        # Whichever process posted, a day's digest says the same.
        per_day = {(r.title, to_text(r)) for _, r in posts}
        assert len(per_day) == 3


async def test_a_claim_is_won_by_exactly_one_of_many_racing_connections(tmp_path):
    stores = [await Store.open(tmp_path / "race.db") for _ in range(2)]
    key = DigestKey(RACE, "slack", NEWS, date(2024, 4, 3))
    now = brussels(3, 9)
    claims = await asyncio.gather(
        *(stores[i % 2].claim_digest(key, now, now - timedelta(minutes=5)) for i in range(20))
    )
    assert claims.count(True) == 1
    for store in stores:
        await store.close()


async def test_config_channels_are_due_from_when_first_seen_and_go_when_removed(tmp_path):
    digest = DigestConfig(channels=(DigestChannel("slack", NEWS, time(8, 30)),))
    async with running(tmp_path / "t.db", brussels(3, 10), digest=digest) as bot:
        assert bot.slack.posts == []  # 08:30 came before the bot first saw the channel
        await bot.at(brussels(4, 8, 30))
        assert len(bot.slack.posts) == 1
    async with running(tmp_path / "t.db", brussels(5, 8)) as bot:  # dropped from the config
        assert await bot.service.store.subscriptions(RACE) == []


async def test_a_thousand_channels_get_one_digest_built_once(tmp_path):
    channels = tuple(
        DigestChannel("discord" if i % 2 else "slack", f"C{i:04}") for i in range(1000)
    )
    digest = DigestConfig(channels=channels)
    async with running(tmp_path / "t.db", brussels(3, 8), digest=digest) as bot:
        await bot.at(brussels(3, 9))
        posts = bot.slack.posts + bot.discord.posts
        assert len({channel for channel, _ in posts}) == len(posts) == 1000
        assert len({id(reply) for _, reply in posts}) == 1  # built once, fanned out
        _, reply = posts[0]
        _, blocks = to_slack(reply)  # as the Slack adapter posts it
        assert blocks[0]["text"]["text"].endswith("daily digest, 3 April 2024")
        embeds, *_ = discord_messages(reply)  # Discord messages of embeds, the title first
        assert embeds[0]["title"].endswith("daily digest, 3 April 2024")


class GatedPlatform(FakePlatform):
    """Each channel's post waits for its gate: a slow send that the test releases."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.gates: dict[str, asyncio.Event] = {}
        self.entered = asyncio.Event()

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        self.entered.set()
        await self.gates.setdefault(channel, asyncio.Event()).wait()
        self.posts.append((channel, reply))


async def test_a_channel_queued_past_the_lease_is_not_taken_over_mid_send(tmp_path):
    """Process A posts one channel at a time; B must not re-send what A has just claimed."""
    gate = GatedPlatform()
    db = tmp_path / "t.db"
    async with (
        running(db, brussels(3, 8), slack=gate, concurrency=1) as a,
        running(db, brussels(3, 8)) as b,
    ):
        await a.say("/subscribe", channel="C1")
        await a.say("/subscribe", channel="C2")
        a.clock.pinned_at = b.clock.pinned_at = brussels(3, 9)
        run = asyncio.create_task(a.scheduler.run_due())
        await asyncio.wait_for(gate.entered.wait(), 5)  # C1 posting, C2 queued behind it
        gate.entered.clear()
        a.clock.pinned_at = b.clock.pinned_at = brussels(3, 9, 6)  # a slow first post
        gate.gates.setdefault("C1", asyncio.Event()).set()
        await asyncio.wait_for(gate.entered.wait(), 5)  # A has claimed C2 and is posting it
        await b.scheduler.run_due()  # B, while A is alive and mid-post
        gate.gates.setdefault("C2", asyncio.Event()).set()
        await run
        posts = sorted(channel for channel, _ in gate.posts + b.slack.posts)
        assert posts == ["C1", "C2"]


class ByMessages(FakePlatform):
    """Posts a reply as Discord does, message by message; the `fail_at`-th message it is
    sent fails once, as a 503 would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__("discord")
        self.fail_at = fail_at
        self.messages: list[str] = []  # each message as the channel shows it: its text

    async def post(
        self, channel: str, reply: Reply, skip: int = 0, posted: Posted | None = None
    ) -> None:
        self.posts.append((channel, reply))  # each attempt: what it was asked to post
        for n, embeds in enumerate(discord_messages(reply)[skip:], start=skip + 1):
            await asyncio.sleep(0)
            if n == self.fail_at:
                self.fail_at = 0
                raise ConnectionError("503 Service Unavailable")
            self.messages.append(str(embeds))
            if posted is not None:
                await posted(n)


async def test_a_long_digest_that_fails_partway_resumes_where_it_stopped(tmp_path):
    platform = ByMessages(fail_at=2)
    async with running(tmp_path / "t.db", brussels(3, 8), discord=platform) as bot:
        await bot.say("/subscribe", DISCORD_EDITOR, channel="D0NEWS")
        await bot.at(brussels(3, 9))  # the whole seeded race: a digest of several messages
        (_, first), (_, retried) = platform.posts
        assert retried is first and bot.sleeps == [2.0]  # one failure, one retry
        whole = [str(embeds) for embeds in discord_messages(first)]
        assert len(whole) >= 2
        assert platform.messages == whole  # each message once, in order
        [send] = (await bot.service.store.digest_sends(RACE, [date(2024, 4, 3)])).values()
        assert (send.status, send.attempts, send.posted) == ("sent", 2, len(whole))


class OneChannelBreaks(FakePlatform):
    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        if channel == "C-BROKEN":
            raise KeyError("a bug, not a platform error")
        await super().post(channel, reply)


async def test_one_broken_channel_does_not_stop_the_others(tmp_path):
    platform = OneChannelBreaks("slack")
    async with running(tmp_path / "t.db", brussels(3, 8), slack=platform) as bot:
        for channel in ("C-A", "C-BROKEN", "C-B"):
            await bot.say("/subscribe", channel=channel)
        await bot.at(brussels(3, 9))
        assert sorted(channel for channel, _ in platform.posts) == ["C-A", "C-B"]


# --- every channel its own zone, day and fire time ------------------------------------------


async def test_a_channel_ahead_of_the_configured_zone_gets_the_digest_of_its_own_day(
    tmp_path, caplog
):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        assert "at 09:00 (Pacific/Auckland), from 4 April 2024." in await bot.say(
            "/subscribe time:09:00 tz:Pacific/Auckland"
        )
        with caplog.at_level(logging.WARNING):
            await bot.at(datetime(2024, 4, 4, 9, tzinfo=AUCKLAND))  # 22:00 on 3 April here
        [(_, reply)] = bot.slack.posts
        assert reply.title.endswith("daily digest, 4 April 2024")
        assert "28/32\n  Needs" in to_text(reply)
        assert reply.footer == "96 days until the Washington summit on 9 July 2024."
        assert (await bot.sends(date(2024, 4, 4)))[date(2024, 4, 4)].status == "sent"
        assert [r.getMessage() for r in caplog.records] == []
        # Users still cannot look past today in the configured zone.
        assert "as_of:2024-04-04 is after today (2024-04-03)" in await bot.say(
            "/tally as_of:2024-04-04"
        )


async def test_each_fire_time_counts_what_was_recorded_by_then(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 0, 30)) as bot:
        await bot.say("/subscribe tz:Asia/Tokyo", channel="C0TOKYO")
        await bot.say("/subscribe")
        await bot.at(datetime(2024, 4, 3, 9, tzinfo=TOKYO))  # 02:00 in Brussels
        bot.clock.pinned_at = brussels(3, 5)
        await bot.say("/endorse Türkiye Rutte source:https://example.org/tr")
        await bot.at(brussels(3, 9))
        (tokyo, in_tokyo), (here, in_brussels) = bot.slack.posts
        assert (tokyo, here) == ("C0TOKYO", NEWS)
        assert in_tokyo.title == in_brussels.title  # both of 3 April
        assert "28/32\n  Needs" in to_text(in_tokyo)
        assert "29/32\n  Needs" in to_text(in_brussels)
        assert "29/32\n  Needs" in await bot.say("/tally")


async def test_what_changed_is_since_that_channels_own_previous_digest(tmp_path):
    async with running(tmp_path / "t.db", brussels(2, 20)) as bot:
        await bot.say("/subscribe tz:Asia/Tokyo", channel="C0TOKYO")
        await bot.say("/subscribe")
        await bot.at(datetime(2024, 4, 3, 9, tzinfo=TOKYO))  # 3 April, 02:00 in Brussels
        bot.clock.pinned_at = brussels(3, 5)
        await bot.say("/endorse Türkiye Rutte source:https://example.org/tr")
        await bot.at(brussels(3, 9))  # Brussels' digest of 3 April counts it already
        await bot.at(datetime(2024, 4, 4, 9, tzinfo=TOKYO))
        await bot.at(brussels(4, 9))
        texts = [(channel, to_text(reply)) for channel, reply in bot.slack.posts]
        assert [channel for channel, _ in texts] == ["C0TOKYO", NEWS] * 2
        tokyo, brussels_ = texts[2][1], texts[3][1]
        assert "Since yesterday\n  Türkiye: no position → supports Mark Rutte" in tokyo
        assert "Since yesterday\n  Nothing new recorded." in brussels_
        assert "29 of 32, no change since yesterday" in brussels_
        sends = await bot.service.store.digest_sends(RACE, [date(2024, 4, 3)])
        covered = {k.channel: s.covered_to for k, s in sends.items()}
        assert covered == {"C0TOKYO": 32, NEWS: 33}  # the seeds are #1-#32


async def test_a_subscription_is_scheduled_at_once_not_at_the_next_refresh(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8, 59)) as bot:
        await bot.say("/subscribe time:09:00")  # a minute before its time
        assert bot.scheduler.next_fires(bot.clock.now()) == [brussels(3, 9)]
        await bot.say("/unsubscribe")
        assert bot.scheduler.next_fires(bot.clock.now()) == []


async def test_stopping_mid_retry_cancels_the_post_and_leaves_the_row_for_the_lease(
    tmp_path, caplog
):
    retrying = asyncio.Event()

    async def wait_for_the_stop(seconds: float) -> None:
        retrying.set()
        await asyncio.Event().wait()

    down = FakePlatform("slack", failures=100)
    async with running(
        tmp_path / "t.db", brussels(3, 8), slack=down, sleep=wait_for_the_stop
    ) as bot:
        await bot.say("/subscribe")
        await bot.scheduler.refresh()  # what the minute's refresh does
        bot.clock.pinned_at = brussels(3, 9)
        [job] = [
            j for j in bot.scheduler.scheduler.get_jobs() if isinstance(j.trigger, CronTrigger)
        ]
        with caplog.at_level(logging.DEBUG):
            job.modify(next_run_time=datetime.now(UTC))  # APScheduler runs it, as at nine
            await asyncio.wait_for(retrying.wait(), 5)  # fail, not hang, if it never retries
            await bot.scheduler.close()
            # What the event loop would still run before the process exits:
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if left:
                await asyncio.wait(left, timeout=5)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert not any(r.exc_info for r in caplog.records)
        assert [r.getMessage() for r in caplog.records if r.name == "bot.scheduling"][-1] == (
            "Stopped with 1 digest post(s) in flight; each is resumed after 5 minutes"
        )
        send = (await bot.sends(date(2024, 4, 3)))[date(2024, 4, 3)]
        assert (send.status, send.attempts) == ("sending", 1)  # the lease resumes it
