"""When the daily digest goes out, and exactly once: each subscribed channel's, at its local
time, once a day. What it says is bot/digest.py's.

Exactly once. APScheduler's misfire and coalesce settings live in memory, so delivery rests on
the database instead: before posting, a run claims the (race, platform, channel, day) row with
one statement (`Service.claim_digest`); a restarted process, or a second process on the same
file, finds the row and posts nothing. A failed post is retried with exponential backoff, each
attempt counted and its error recorded; after the last one the row stays 'failed' and is
logged at ERROR. A post the platform refuses for good (the bot is not in the channel, the
channel is gone: `PostRejected`) is not retried: the row says 'rejected' for that day, and one
ERROR says what to do. A digest long enough for several messages counts in its row those the
platform accepted, so a retry, or a later run after a crash, resumes after them.

One window no database can close: a crash after the platform accepted a post and before the
row says 'sent'. There we choose at-least-once. A row still 'sending' and untouched for `lease`
belonged to a process that stopped (crashed, or was shut down mid-post), so a later run claims
it again and posts, logging a WARNING that it may be a repeat. A missing morning digest costs
more than a rare repeat, and the window is narrow: from the platform's accepting a post to the
one UPDATE that records it. Stopping the bot cancels the runs in flight and leaves their rows
to that lease.

Catch-up. The fires of today and yesterday (each channel's local days) that have passed are
due: one within `[digest] grace_hours` of its time is posted at once; an older one is recorded
as 'skipped' and logged, never posted late. Fires from before a channel subscribed (or, for a
config file's channel, before the bot first saw it) are not due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.digest import BoardMaker, Digest, DigestBuilder
from bot.digest_records import DigestKey, DigestStatus, SentDigest, Subscription
from bot.platform import Platform, PostRejected, post_error
from bot.replies import Reply, Section
from bot.service import Service

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

REFRESH_SECONDS = 60  # how often subscriptions made in another process are picked up
CLOSE_WAIT = 5.0  # seconds close() waits for cancelled runs to finish
_CRON_PREFIX = "digest at "
# Our own rows decide what is due and what is late; APScheduler only has to call on time.
_JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "misfire_grace_time": None,
    "max_instances": 1,
    "replace_existing": True,
}


# --- when a digest is due -------------------------------------------------------------------


@lru_cache(maxsize=256)
def _trigger(at: time, zone: str) -> CronTrigger:
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(zone))


def next_fire_time(sub: Subscription, after: datetime) -> datetime:
    """The first time strictly after `after` that the subscription's cron trigger fires."""
    # The trigger gives the first fire at or after an instant, rounded up to whole seconds.
    return _trigger(sub.time, sub.timezone).get_next_fire_time(
        None, after + timedelta(microseconds=1)
    )


async def first_digest_day(service: Service, sub: Subscription) -> date:
    """The day of a new subscription's first digest: the next fire, unless that day's digest
    went out already (a channel subscribing again after its digest)."""
    first = next_fire_time(sub, service.clock.now())
    key = DigestKey(sub.race, sub.platform, sub.channel, first.date())
    if key in await service.digest_sends([key.day]):
        first = next_fire_time(sub, first)
    return first.date()


def fire_on(sub: Subscription, day: date) -> datetime | None:
    """When the digest for the subscription's local `day` fires; None if the trigger skips it."""
    midnight = datetime.combine(day, time(0), ZoneInfo(sub.timezone))
    fire = next_fire_time(sub, midnight - timedelta(microseconds=1))
    return fire if fire.date() == day else None


def due_fires(sub: Subscription, now: datetime) -> list[datetime]:
    """Yesterday's and today's fires (local days) that have passed, and came after `since`."""
    today = now.astimezone(ZoneInfo(sub.timezone)).date()
    fires = (fire_on(sub, today - timedelta(days=n)) for n in (1, 0))
    return [f for f in fires if f and f <= now and (sub.since is None or f >= sub.since)]


# --- posting it -----------------------------------------------------------------------------


def in_words(span: timedelta) -> str:
    """'5 minutes', '1 hour 30 minutes', '2 seconds': for log lines people read."""
    seconds, parts = round(span.total_seconds()), []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}" + ("s" if count > 1 else ""))
    return " ".join(parts) or "no time"


def together(lead: Digest, parts: list[Digest]) -> Digest:
    """One digest of several races: each race's title, sections and countdown in turn, the
    lead race's board attached. With no other part, the lead's digest as it is."""
    replies = [d.reply for d in (lead, *parts) if d.reply is not None]
    if not parts or not replies:
        return lead
    sections: list[Section] = []
    for reply in replies:
        sections.append(Section(title=reply.title, lines=()))
        sections.extend(reply.sections)
        sections.append(Section(lines=(reply.footer,)))
    return Digest(
        Reply(
            title=f"Daily digest: {len(replies)} races",
            sections=tuple(sections),
            attachment=replies[0].attachment,
            summary=" · ".join(r.summary for r in replies if r.summary),
        ),
        lead.covered_to,
    )


# A channel's due digest: its key, its fire, its row's status, and how many messages of it
# an earlier attempt posted.
_Due = tuple[DigestKey, datetime, DigestStatus | None, int]


class DigestScheduler:
    """Posts each subscribed channel's digest once a day at its local time (see the module doc).

    The time zone, grace and channels come from `service.digest` and `service.clock`. `sleep`
    waits between retries (tests pass a fake). `lease` must exceed `post_timeout` and the
    longest backoff together, `post_timeout + backoff * 2 ** (attempts - 2)`: a row left
    untouched that long was abandoned by its process.
    """

    def __init__(
        self,
        service: Service,
        platforms: Mapping[str, Platform],
        *,
        scheduler: AsyncIOScheduler | None = None,
        attach_board: BoardMaker | None = None,
        sleep: Sleep = asyncio.sleep,
        attempts: int = 4,
        backoff: float = 2.0,
        post_timeout: float = 60.0,
        lease: timedelta = timedelta(minutes=5),
        concurrency: int = 8,
        desk: Sequence[tuple[Service, DigestBuilder]] = (),
    ) -> None:
        """`desk`: every race followed, this one among them, in the config's order, each with
        its builder. A channel subscribed to several gets one digest a day, at the time of the
        first of them it is subscribed to, with a part for each: that race's scheduler posts
        it, the others leave the channel to it."""
        self.service = service
        self.platforms = dict(platforms)
        self.clock = service.clock
        self.grace = timedelta(hours=service.digest.grace_hours)
        self.scheduler = scheduler or AsyncIOScheduler(timezone=service.clock.tz)
        races = list(desk) or [(service, DigestBuilder(service, attach_board))]
        at = next(i for i, (other, _) in enumerate(races) if other is service)
        self.builder = races[at][1]
        self._earlier = [other for other, _ in races[:at]]  # they post their channels' digests
        self._later = races[at + 1 :]  # whose parts go in this race's posts to shared channels
        self.sleep = sleep
        self.attempts = attempts
        self.backoff = backoff
        self.post_timeout = post_timeout
        self.lease = lease
        self._posting = asyncio.Semaphore(concurrency)  # channels being sent to at once
        self._unserved: set[str] = set()  # platforms already warned about
        self._runs: set[asyncio.Task[None]] = set()  # ours, not APScheduler's: close() awaits
        self._in_flight: set[DigestKey] = set()  # claimed here and being posted

    async def start(self) -> asyncio.Task[None]:
        """Store the config's channels, schedule every subscription, start the scheduler, and
        begin posting what is due now (the catch-up): the task returned, which a stop cancels
        like any run in flight. Start the platforms first."""
        await self.service.sync_digest_channels()
        await self.refresh()
        self.scheduler.add_job(
            self._begin,
            IntervalTrigger(seconds=REFRESH_SECONDS),
            args=(self._tick,),
            id="digest refresh",
            **_JOB_OPTIONS,
        )
        self.scheduler.start()
        self.service.subscription_listeners.append(self._subscriptions_changed)
        return await self._begin(self.run_due)

    async def close(self) -> None:
        """Stop the scheduler and cancel the runs in flight. A post cut short stays 'sending'
        and is resumed after `lease`, by this process's next start or by another one."""
        if self._subscriptions_changed in self.service.subscription_listeners:
            self.service.subscription_listeners.remove(self._subscriptions_changed)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        cut_short, runs = len(self._in_flight), list(self._runs)
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.wait(runs, timeout=CLOSE_WAIT)
        if cut_short:
            log.info(
                "Stopped with %d digest post(s) in flight; each is resumed after %s",
                cut_short,
                in_words(self.lease),
            )

    async def _begin(self, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run `work` as a task of our own and return at once. APScheduler calls this, so a
        stop cancels our task (which close() awaits), never APScheduler's job mid-way, which it
        would log as an error with the CancelledError's traceback."""
        task = asyncio.create_task(work())
        self._runs.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("A digest run failed", exc_info=task.exception())

    async def _subscriptions_changed(self) -> None:
        # A /subscribe here is scheduled at once: waiting for the minute's refresh would post a
        # subscription made less than a minute before its time late.
        try:
            await self.refresh()
        except Exception:  # the subscription is stored; the next refresh picks it up
            log.exception("Scheduling a changed subscription failed; retried within a minute")

    async def refresh(self) -> None:
        """One cron job per distinct (time, zone) of the subscriptions; drop the unused ones."""
        subs = await self.service.subscriptions()
        wanted = {f"{_CRON_PREFIX}{s.time:%H:%M} {s.timezone}": s for s in subs}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(_CRON_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, sub in wanted.items():
            if self.scheduler.get_job(job_id) is None:
                trigger = _trigger(sub.time, sub.timezone)
                self.scheduler.add_job(
                    self._begin, trigger, args=(self.run_due,), id=job_id, **_JOB_OPTIONS
                )
        for platform in {s.platform for s in subs} - set(self.platforms) - self._unserved:
            self._unserved.add(platform)
            log.warning("Digests for %s channels are not posted: it is not running here", platform)

    def next_fires(self, after: datetime) -> list[datetime]:
        """When the scheduled digests fire next, at or after `after`, earliest first: one
        instant per distinct (time, zone) of the subscriptions, as `refresh` last saw them."""
        return sorted(
            job.trigger.get_next_fire_time(None, after)
            for job in self.scheduler.get_jobs()
            if job.id.startswith(_CRON_PREFIX)
        )

    async def _tick(self) -> None:
        # Picks up subscriptions made in another process, and rows abandoned mid-send.
        await self.refresh()
        await self.run_due()

    async def run_due(self, now: datetime | None = None) -> None:
        """Post every digest due at `now` (default: the clock's) that nobody has claimed yet."""
        now = now or self.clock.now()
        race, service = self.service.race.id, self.service
        theirs = {
            (s.platform, s.channel) for other in self._earlier for s in await other.subscriptions()
        }
        due = [
            (s, f)
            for s in await service.subscriptions()
            if (s.platform, s.channel) not in theirs
            for f in due_fires(s, now)
        ]
        records = await service.digest_sends(f.date() for _, f in due)
        stale = now - self.lease
        channels: dict[tuple[str, str], tuple[Subscription, list[_Due]]] = {}
        for sub, fire in due:
            key = DigestKey(race, sub.platform, sub.channel, fire.date())
            record = records.get(key)
            prior, posted = (record.status, record.posted) if record else (None, 0)
            # A row left 'sending' was abandoned by a stopped process; a 'failed' one is tried
            # again while within the grace. Either only once untouched for the lease.
            retry = (
                prior in (DigestStatus.SENDING, DigestStatus.FAILED) and record.updated_at < stale
            )
            if retry and prior is DigestStatus.FAILED and now - fire > self.grace:
                continue  # failed for good; logged when it failed
            if (prior is None or retry) and sub.platform in self.platforms:
                channels.setdefault((sub.platform, sub.channel), (sub, []))[1].append(
                    (key, fire, prior, posted)
                )
        # Each channel's "what changed" starts after its previous digest: asked for all at once.
        previous = await service.previous_digests([todo[0][0] for _, todo in channels.values()])
        deliveries = [
            self._deliver_in_order(sub, todo, now, previous.get(todo[0][0]))
            for sub, todo in channels.values()
        ]
        # One channel's trouble must not cancel the others' posts mid-send.
        for result in await asyncio.gather(*deliveries, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("A digest delivery failed", exc_info=result)

    async def _deliver_in_order(
        self, sub: Subscription, todo: list[_Due], now: datetime, previous: SentDigest | None
    ) -> None:
        # Yesterday's before today's, so today's "what changed" follows yesterday's if it went.
        for key, fire, prior, posted in todo:
            previous = (
                await self._deliver(sub, key, fire, now, (prior, posted), previous) or previous
            )

    async def _deliver(
        self,
        sub: Subscription,
        key: DigestKey,
        fire: datetime,
        now: datetime,
        row: tuple[DigestStatus | None, int],
        previous: SentDigest | None,
    ) -> SentDigest | None:
        """Post one channel's digest of one day if this run can claim it; what it sent, if so.
        `row`: the status of its row, and how many messages of it were posted."""
        service, (prior, posted) = self.service, row
        where = f"{sub.platform} channel {sub.channel}"
        if now - fire > self.grace:
            late = f"due {fire:%Y-%m-%d %H:%M %Z}, over {in_words(self.grace)} ago"
            if prior is None:
                if await service.claim_digest(
                    key, now, now - self.lease, DigestStatus.SKIPPED, late
                ):
                    log.warning(
                        "Skipped the digest for %s: %s (grace_hours); not sent late", where, late
                    )
            elif await service.claim_digest(
                key, now, now - self.lease, DigestStatus.FAILED, f"interrupted mid-send; {late}"
            ):
                log.error(
                    "The digest for %s was interrupted mid-send and is now late: %s", where, late
                )
            return None
        # Claim only once a slot is free, and stamp the claim with the time it is made: a row
        # queued behind a thousand others must not look abandoned when its turn comes.
        async with self._posting:
            claimed_at = max(now, self.clock.now())
            if not await service.claim_digest(key, claimed_at, claimed_at - self.lease):
                return None  # another run, here or in another process, has it
            if prior is DigestStatus.SENDING:
                log.warning(
                    "Resuming the digest for %s left mid-send after %d message(s); the next "
                    "may be posted twice",
                    where,
                    posted,
                )
            elif prior is DigestStatus.FAILED:
                log.warning("Trying the digest for %s again after it failed", where)
            self._in_flight.add(key)
            try:
                digest = await self.builder.fired(fire, previous)
                parts = await self._parts_of_later_races(sub, key, fire)
                sent = await self._send(sub, key, together(digest, [d for _, d in parts]), posted)
                if sent is not None:
                    await self._record_parts(parts)
                return sent
            finally:
                self._in_flight.discard(key)

    async def _parts_of_later_races(
        self, sub: Subscription, key: DigestKey, fire: datetime
    ) -> list[tuple[DigestKey, Digest]]:
        """The digests, at this one's fire, of the later races the channel follows, each
        following that race's own previous digest there."""
        parts = []
        for other, builder in self._later:
            if not any(
                (s.platform, s.channel) == (sub.platform, sub.channel)
                for s in await other.subscriptions()
            ):
                continue
            theirs = replace(key, race=other.race.id)
            previous = (await other.previous_digests([theirs])).get(theirs)
            parts.append((theirs, await builder.fired(fire, previous)))
        return parts

    async def _record_parts(self, parts: list[tuple[DigestKey, Digest]]) -> None:
        """Each later race's part went out with this digest: its row says so, and what it
        covered, so that race's next "what changed" follows it."""
        for theirs, digest in parts:
            other = next(o for o, _ in self._later if o.race.id == theirs.race)
            now = self.clock.now()
            if await other.claim_digest(theirs, now, now - self.lease):
                status = DigestStatus.SENT if digest.reply else DigestStatus.SKIPPED
                await other.digest_result(theirs, now, status, covered_to=digest.covered_to)

    async def _send(
        self, sub: Subscription, key: DigestKey, digest: Digest, posted: int
    ) -> SentDigest | None:
        """One post, the board in it, retried until it is sent; each retry resumes after the
        messages already `posted` (counted in its row), so none is posted twice."""
        service, platform = self.service, self.platforms[sub.platform]
        where = f"{sub.platform} channel {sub.channel}"
        reply = digest.reply
        if reply is None:  # the race has ended, and the last daily digest said so
            await service.digest_result(
                key, self.clock.now(), DigestStatus.SKIPPED, "the race has ended; nothing new"
            )
            log.info("No digest for %s: the race has ended and nothing new was recorded", where)
            return None

        async def progress(count: int) -> None:
            nonlocal posted
            posted = count
            await service.digest_posted(key, self.clock.now(), count)

        for attempt in range(1, self.attempts + 1):
            try:
                await asyncio.wait_for(
                    platform.post(sub.channel, reply, posted, progress), self.post_timeout
                )
            except PostRejected as exc:  # retrying cannot help: fail the day at once
                await service.digest_result(key, self.clock.now(), DigestStatus.REJECTED, str(exc))
                log.error(
                    "The digest for %s was refused (%s): %s. Not tried again today.",
                    where,
                    exc.reason,
                    exc.what_to_do,
                )
                return None
            except Exception as exc:  # a platform error, a 429, the network, a timeout: retry
                error = post_error(exc)
                if attempt == self.attempts:
                    await service.digest_result(key, self.clock.now(), DigestStatus.FAILED, error)
                    log.error(
                        "The digest for %s failed %d times (tried again in %s while within the "
                        "grace); last: %s",
                        where,
                        attempt,
                        in_words(self.lease),
                        error,
                    )
                    return None
                await service.digest_result(key, self.clock.now(), DigestStatus.SENDING, error)
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning(
                    "Posting the digest to %s failed (%s); retry in %s",
                    where,
                    error,
                    in_words(timedelta(seconds=delay)),
                )
                await self.sleep(delay)
            else:
                await service.digest_result(
                    key, self.clock.now(), DigestStatus.SENT, covered_to=digest.covered_to
                )
                log.info("Posted the digest of %s to %s", key.day.isoformat(), where)
                return SentDigest(key.day, digest.covered_to)
        return None
