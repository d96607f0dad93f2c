"""Alerts as it happens: a channel that follows a race (/follow) gets a short post within a
minute of each change recorded, exactly once.

What an alert says. The changes recorded in one minute (UTC) go in one post, a line per member
whose counted position moved: "Türkiye now supports Mark Rutte (29/32) · Reuters, reported",
with the position's condition and, unless it is on record, how sure it is. What moved compares
each member's standing in the tally before the minute's first event with its standing after
its last, so an undo within the minute, or a repeat, moves nothing and posts nothing. A rumour
never alerts: the tally does not count it, so neither a rumour nor its undo moves anything, and
a member whose latest word in the minute is a rumour gets no line (the digest tells it, marked
rumoured); a rumour confirmed by a surer recording moves the count, and alerts. The change
that makes a candidate meet the rule is a post of its own, first, led by the headline ("Mark
Rutte has reached unanimity: 32/32"); the minute's other changes follow in the usual post.

Exactly once. A minute is alerted once it has passed (and SETTLE more, for a write still
waiting on the lock). Before posting, a run claims each of the minute's posts, the (race,
platform, channel, minute, part) row with the ids of the events it covers, in one statement; a
second process, or a restart, finds the row and posts nothing. The changes' row is claimed
last, so a minute without it is not done yet, and by whoever claimed the headline, so the two
posts keep their order whatever the processes. A row left 'sending' for `lease` was abandoned
mid-post by a process that stopped: it is claimed again and posted, with a WARNING that it may
be a repeat (the digest's choice: at least once in the one window no database closes).
Catch-up is bounded: of the minutes of the last LOOK_BACK that a channel has not had, the
latest `catch_up` are posted and the older recorded as 'skipped', with one WARNING.

Limits. Posts to one channel are at least MIN_GAP apart (Slack takes about one message a
second per channel), and at most `concurrency` posts are in flight per platform, so a fan-out
to many channels neither bursts into the platform's limits nor spends `post_timeout` queued
(discord.py waits out each route's limit, and slack_sdk a 429, inside the post). A failed
post is retried with a growing pause, `attempts` times in all, then left 'failed' with one
ERROR; a refusal for good (PostRejected) stops the channel's alerts, stored, with one ERROR
saying what to do, and other channels keep theirs.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.digest import sourced
from bot.domain import Confidence, Event, Position, Tally, compute_tally
from bot.platform import Platform, PostRejected, post_error
from bot.replies import Reply, Section, describe, link_labels
from bot.service_alerts import (
    CHANGES,
    RULE_MET,
    AlertKey,
    AlertSend,
    AlertStatus,
    Follow,
    Minute,
)

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)

TICK = 10.0  # seconds between runs: an alert goes out within a minute and TICK of its events
SETTLE = timedelta(seconds=5)  # a minute is alerted this long after it ends
LOOK_BACK = timedelta(hours=24)  # older changes are the digest's, not an alert's
MIN_GAP = 1.0  # seconds between two posts to one channel
MAX_LINES = 10  # changes in one alert; /history has the rest


class _Outcome(enum.Enum):
    """What came of one post of a minute's alert, for its channel's run."""

    OURS = "ours"  # posted, given up, or nothing to post: this run is done with it
    THEIRS = "theirs"  # another run, here or in another process, has claimed it
    STOPPED = "stopped"  # the channel refused for good: its alerts stopped


Built = dict[Minute, "asyncio.Future[dict[str, Reply]]"]  # a run's alerts, each built once


def minute_of(moment: datetime) -> str:
    """The UTC minute of an instant, as alert rows and recorded_at ('...THH:MM') read it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


class Alerts:
    """Posts a race's alerts to the channels following it (see the module doc).

    `sleep` waits between retries and posts to one channel (tests pass a fake); `monotonic`
    tells the gap since a channel's last post. `lease` must exceed `post_timeout` and the
    pauses between attempts together."""

    def __init__(
        self,
        service: Service,
        platforms: Mapping[str, Platform],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        attempts: int = 3,
        backoff: float = 2.0,
        post_timeout: float = 30.0,
        lease: timedelta = timedelta(minutes=5),
        catch_up: int = 5,
        concurrency: int = 8,
    ) -> None:
        self.service = service
        self.platforms = dict(platforms)
        self.sleep = sleep
        self.monotonic = monotonic
        self.attempts = attempts
        self.backoff = backoff
        self.post_timeout = post_timeout
        self.lease = lease
        self.catch_up = catch_up
        self.concurrency = concurrency
        self._last_post: dict[tuple[str, str], float] = {}
        # posts in flight per platform: the fan-out waits here, not inside `post_timeout`
        self._posting: dict[str, asyncio.Semaphore] = {}
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run every TICK in a task of its own, until close(). Start the platforms first."""
        self._loop = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Cancel the loop; an alert cut short mid-post is resumed after `lease`."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # a busy database, say: the next tick tries again
                log.exception("An alert run failed; tried again in %g s", TICK)
            await asyncio.sleep(TICK)

    async def run_due(self, now: datetime | None = None) -> None:
        """Post every channel's alerts of the minutes passed by `now` that nobody claimed."""
        now = now or self.service.clock.now()
        follows = [f for f in await self.service.follows() if f.platform in self.platforms]
        if not follows:
            return
        cutoff = (now - SETTLE).replace(second=0, microsecond=0)
        start = max(min(f.since for f in follows), now - LOOK_BACK)
        last = await self.service.last_event_id()
        first, up_to = await asyncio.gather(
            self.service.recorded_before(start, last), self.service.recorded_before(cutoff, last)
        )
        minutes = await self.service.alert_minutes(first, up_to) if up_to > first else []
        rows = await self.service.alert_sends(minute_of(start))
        stale = now - self.lease
        built: Built = {}
        work = []
        for follow in follows:
            mine: list[Minute] = []
            abandoned: list[tuple[Minute, str]] = []
            for whole in minutes:
                minute = await self._followed(follow, whole, last)
                if minute is None:
                    continue
                if self._key(follow, minute.minute) not in rows:  # claimed last: not done
                    mine.append(minute)
                for part in (RULE_MET, CHANGES):
                    row = rows.get(self._key(follow, minute.minute, part))
                    if row and row.status is AlertStatus.SENDING and row.updated_at < stale:
                        abandoned.append((Minute(minute.minute, row.events), part))
            if mine or abandoned:
                work.append(self._channel(follow, abandoned, mine, built, rows))
        for result in await asyncio.gather(*work, return_exceptions=True):
            if isinstance(result, Exception):  # one channel's trouble stops no other's
                log.error("An alert delivery failed", exc_info=result)

    async def _followed(self, follow: Follow, minute: Minute, last: int) -> Minute | None:
        """The minute's events recorded once the channel followed the race, if any."""
        since = minute_of(follow.since)
        if since != minute.minute:
            return minute if since < minute.minute else None
        before = await self.service.recorded_before(follow.since, last)
        events = tuple(e for e in minute.events if e > before)
        return Minute(minute.minute, events) if events else None

    def _key(self, follow: Follow, minute: str, part: str = CHANGES) -> AlertKey:
        return AlertKey(follow.race, follow.platform, follow.channel, minute, part)

    async def _channel(
        self,
        follow: Follow,
        abandoned: list[tuple[Minute, str]],
        pending: list[Minute],
        built: Built,
        rows: Mapping[AlertKey, AlertSend],
    ) -> None:
        where = f"{follow.platform} channel {follow.channel}"
        late, pending = pending[: -self.catch_up], pending[-self.catch_up :]
        now = self.service.clock.now()
        skipped = 0
        for minute in late:
            key = self._key(follow, minute.minute)
            why = "too far behind after a pause; /history has it"
            skipped += await self.service.claim_alert(
                key, minute.events, now, now - self.lease, AlertStatus.SKIPPED, why
            )
        if skipped:
            log.warning(
                "Skipped %d alert(s) for %s recorded while alerts were not running: only the "
                "latest %d are caught up; /history shows the rest",
                skipped,
                where,
                self.catch_up,
            )
        resumed = set()
        for minute, part in abandoned:
            if await self._post(follow, minute, part, built, True) is _Outcome.STOPPED:
                return
            resumed.add(self._key(follow, minute.minute, part))
        for minute in pending:
            for part in (RULE_MET, CHANGES):
                outcome = await self._post(follow, minute, part, built, False)
                if outcome is _Outcome.STOPPED:
                    return
                key = self._key(follow, minute.minute, part)
                row = rows.get(key)
                if (
                    outcome is _Outcome.THEIRS
                    and key not in resumed
                    and (row is None or row.status is AlertStatus.SENDING)
                ):
                    break  # whoever posts the headline posts the changes after it, in order

    async def _post(
        self,
        follow: Follow,
        minute: Minute,
        part: str,
        built: Built,
        resumed: bool,
    ) -> _Outcome:
        if minute not in built:  # the first channel to ask builds it; the others await that
            built[minute] = asyncio.ensure_future(self._compose(minute))
        posts = await built[minute]
        return await self._deliver(follow, minute, part, posts.get(part), resumed)

    async def _deliver(
        self, follow: Follow, minute: Minute, part: str, reply: Reply | None, resumed: bool
    ) -> _Outcome:
        """Claim and post one of a minute's posts."""
        key = self._key(follow, minute.minute, part)
        where = f"{follow.platform} channel {follow.channel}"
        now = self.service.clock.now()
        if reply is None:  # the changes' row marks the minute done; a resumed row, settled
            if part == CHANGES or resumed:
                await self.service.claim_alert(
                    key, minute.events, now, now - self.lease, AlertStatus.SKIPPED, "nothing moved"
                )
            return _Outcome.OURS
        if not await self.service.claim_alert(key, minute.events, now, now - self.lease):
            return _Outcome.THEIRS  # another run, here or in another process
        if resumed:
            log.warning("Resuming the alert for %s left mid-send; it may be posted twice", where)
        platform = self.platforms[follow.platform]
        if (posting := self._posting.get(follow.platform)) is None:
            posting = self._posting[follow.platform] = asyncio.Semaphore(self.concurrency)
        for attempt in range(1, self.attempts + 1):
            await self._space(follow)
            try:
                async with posting:
                    await asyncio.wait_for(platform.post(follow.channel, reply), self.post_timeout)
            except PostRejected as exc:
                await self.service.alert_result(
                    key, self.service.clock.now(), AlertStatus.REJECTED, str(exc)
                )
                await self.service.stop_alerts(follow.platform, follow.channel, exc.reason)
                log.error(
                    "Alerts for %s stopped: the platform refused the post (%s): %s; then /follow "
                    "there again.",
                    where,
                    exc.reason,
                    exc.what_to_do,
                )
                return _Outcome.STOPPED
            except Exception as exc:  # a platform error, a 429, the network, a timeout: retry
                error = post_error(exc)
                final = attempt == self.attempts
                status = AlertStatus.FAILED if final else AlertStatus.SENDING
                await self.service.alert_result(key, self.service.clock.now(), status, error)
                if final:
                    log.error("The alert for %s failed %d times; last: %s", where, attempt, error)
                    return _Outcome.OURS
                await self.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                await self.service.alert_result(key, self.service.clock.now(), AlertStatus.SENT)
                return _Outcome.OURS
        return _Outcome.OURS

    async def _space(self, follow: Follow) -> None:
        """Wait until MIN_GAP has passed since this channel's last post (Slack's ~1/s)."""
        channel = (follow.platform, follow.channel)
        last = self._last_post.get(channel)
        if last is not None and (wait := MIN_GAP - (self.monotonic() - last)) > 0:
            await self.sleep(wait)
        self._last_post[channel] = self.monotonic()

    async def _compose(self, minute: Minute) -> dict[str, Reply]:
        """A minute's posts by part: the change that met the rule, and the other changes;
        none if nothing moved."""
        svc, race = self.service, self.service.race
        before, after = minute.events[0] - 1, minute.events[-1]
        day = _local_day(minute.minute, svc)
        tally, now = await asyncio.gather(svc.digest_tally(day, after), svc.positions(day, after))
        names = svc.candidate_names()
        # Before the first event nothing is counted (the store reads an id of 0 as "all").
        then = await svc.digest_tally(day, before) if before else _nothing(tally, names)
        was, standing = _standings(then), _standings(tally)
        lines = {
            m.code: _line(m.name, now.get(m.code), tally, names, race)
            for m in race.members
            if was.get(m.code) != standing.get(m.code) and not _rumour(now.get(m.code))
        }
        posts: dict[str, Reply] = {}
        met_before = {t.candidate.key for t in then.candidates if t.met}
        newly = [t for t in tally.candidates if t.met and t.candidate.key not in met_before]
        if newly:
            t = newly[0]
            head = f"{t.candidate.name} has reached {t.rule.describe()}: {t.count}/{t.total}"
            meeting = await self._meeting(minute, day, t.candidate.key)
            line, event = lines.pop(meeting, None), now.get(meeting or "")
            posts[RULE_MET] = Reply(
                title=head,
                sections=(Section(lines=(line,)),) if line else (),
                footer=await svc.countdown(tally, after),
                summary=f"{head} · {link_labels(sourced(event, race))}" if line and event else head,
            )
        if lines:
            shown = list(lines.values())
            if len(shown) > MAX_LINES:
                shown[MAX_LINES:] = [f"… and {len(shown) - MAX_LINES} more; /history shows them."]
            posts[CHANGES] = Reply(
                title=race.title,
                sections=(Section(lines=tuple(shown)),),
                summary=link_labels(shown[0]),
            )
        return posts

    async def _meeting(self, minute: Minute, day: date, candidate: str) -> str | None:
        """The member whose change made `candidate` meet the rule for good in the minute: the
        event after the minute's last tally that does not meet it (the first, if none)."""
        svc, events = self.service, minute.events
        met = len(events) - 1
        while met > 0:
            earlier = await svc.digest_tally(day, events[met - 1])
            if not any(t.met for t in earlier.candidates if t.candidate.key == candidate):
                break
            met -= 1
        event = await svc.event(events[met])
        return event.member if event is not None else None


def _local_day(minute: str, service: Service) -> date:
    moment = datetime.fromisoformat(f"{minute}+00:00")
    return moment.astimezone(service.clock.tz).date()


def _standings(tally: Tally) -> dict[str, tuple[str, ...]]:
    """How each member stands on each candidate, as the tally counts it: what an alert's
    "moved" compares, so a rumour the tally leaves out moves nobody."""
    held: dict[str, list[str]] = {}
    for t in tally.candidates:
        for member in t.backers:
            held.setdefault(member.code, []).append(f"backs {t.candidate.key}")
        for h in t.holdouts:
            held.setdefault(h.member.code, []).append(f"{h.reason} ({t.candidate.key})")
    return {code: tuple(stands) for code, stands in held.items()}


def _nothing(tally: Tally, names: dict[str, str]) -> Tally:
    """The tally before any event: the same candidates, nobody's position known."""
    candidates = [t.candidate for t in tally.candidates]
    return compute_tally(tally.race, candidates, {}, tally.as_of, names)


def _rumour(event: Event | None) -> bool:
    return event is not None and event.confidence is Confidence.RUMOURED


def _line(name: str, new: Event | None, tally: Tally, names: dict[str, str], race) -> str:
    """'Türkiye now supports Mark Rutte (29/32) · Reuters, reported', the outlet linked, the
    condition said; a position on no candidate counts the leader's backers."""
    if new is None or new.position is Position.UNDECIDED:
        what, about = "has no public position", None
    else:
        what, about = describe(new, names), new.candidate
    counts = {t.candidate.key: t for t in tally.candidates}
    count = ""
    if about in counts:
        count = f" ({counts[about].count}/{counts[about].total})"
    elif tally.candidates:
        leader = tally.shown()
        count = f" ({leader.candidate.name} {leader.count}/{leader.total})"
    source = f" · {sourced(new, race)}" if new is not None else ""
    return f"{name} now {what}{count}{source}"
