"""Alerts as it happens: a channel that follows a race (/follow) gets a short post within a
minute of each change recorded, exactly once.

What an alert says. The changes recorded in one minute (UTC) go in one post, a line per member
whose position moved: "Türkiye now supports Mark Rutte (29/32) · Reuters". What moved compares
each member's position before the minute's first event with its position after its last, so an
undo within the minute, or a repeat, moves nothing and posts nothing. A minute in which a
candidate comes to meet the rule is led by the headline ("Mark Rutte has unanimity: 32/32").

Exactly once. A minute is alerted once it has passed (and SETTLE more, for a write still
waiting on the lock). Before posting, a run claims the (race, platform, channel, minute) row,
with the ids of the events it covers, in one statement; a second process, or a restart, finds
the row and posts nothing. A row left 'sending' for `lease` was abandoned mid-post by a process
that stopped: it is claimed again and posted, with a WARNING that it may be a repeat (the
digest's choice: at least once in the one window no database closes). Catch-up is bounded: of
the minutes of the last LOOK_BACK that a channel has not had, the latest `catch_up` are posted
and the older recorded as 'skipped', with one WARNING.

Limits. Posts to one channel are at least MIN_GAP apart (Slack takes about one message a
second per channel). A failed post is retried with a growing pause, `attempts` times in all,
then left 'failed' with one ERROR; a refusal for good (PostRejected) stops the channel's alerts,
stored, with one ERROR saying what to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain import Event, Position, Tally
from bot.platform import Platform, PostRejected, post_error
from bot.replies import Reply, Section, describe, link_labels, outlet
from bot.service_alerts import AlertKey, AlertStatus, Follow, Minute

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)

TICK = 10.0  # seconds between runs: an alert goes out within a minute and TICK of its events
SETTLE = timedelta(seconds=5)  # a minute is alerted this long after it ends
LOOK_BACK = timedelta(hours=24)  # older changes are the digest's, not an alert's
MIN_GAP = 1.0  # seconds between two posts to one channel
MAX_LINES = 10  # changes in one alert; /history has the rest


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
        self._last_post: dict[tuple[str, str], float] = {}
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
        built: dict[Minute, Reply | None] = {}
        work = []
        for follow in follows:
            mine, abandoned = [], []
            for whole in minutes:
                minute = await self._followed(follow, whole, last)
                if minute is None:
                    continue
                row = rows.get(self._key(follow, minute.minute))
                if row is None:
                    mine.append(minute)
                elif row.status is AlertStatus.SENDING and row.updated_at < stale:
                    abandoned.append(Minute(minute.minute, row.events))
            if mine or abandoned:
                work.append(self._channel(follow, abandoned, mine, built))
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

    def _key(self, follow: Follow, minute: str) -> AlertKey:
        return AlertKey(follow.race, follow.platform, follow.channel, minute)

    async def _channel(
        self,
        follow: Follow,
        abandoned: list[Minute],
        pending: list[Minute],
        built: dict[Minute, Reply | None],
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
        for minute, resumed in [(m, True) for m in abandoned] + [(m, False) for m in pending]:
            if minute not in built:
                built[minute] = await self._compose(minute)
            if not await self._deliver(follow, minute, built[minute], resumed):
                return  # the channel refused for good: its alerts stopped

    async def _deliver(
        self, follow: Follow, minute: Minute, reply: Reply | None, resumed: bool
    ) -> bool:
        """Claim and post one minute's alert; False if the channel's alerts stopped."""
        key, where = self._key(follow, minute.minute), f"{follow.platform} channel {follow.channel}"
        now = self.service.clock.now()
        if reply is None:
            await self.service.claim_alert(
                key, minute.events, now, now - self.lease, AlertStatus.SKIPPED, "nothing moved"
            )
            return True
        if not await self.service.claim_alert(key, minute.events, now, now - self.lease):
            return True  # another run, here or in another process, has it
        if resumed:
            log.warning("Resuming the alert for %s left mid-send; it may be posted twice", where)
        platform = self.platforms[follow.platform]
        for attempt in range(1, self.attempts + 1):
            await self._space(follow)
            try:
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
                return False
            except Exception as exc:  # a platform error, a 429, the network, a timeout: retry
                error = post_error(exc)
                final = attempt == self.attempts
                status = AlertStatus.FAILED if final else AlertStatus.SENDING
                await self.service.alert_result(key, self.service.clock.now(), status, error)
                if final:
                    log.error("The alert for %s failed %d times; last: %s", where, attempt, error)
                    return True
                await self.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                await self.service.alert_result(key, self.service.clock.now(), AlertStatus.SENT)
                return True
        return True

    async def _space(self, follow: Follow) -> None:
        """Wait until MIN_GAP has passed since this channel's last post (Slack's ~1/s)."""
        channel = (follow.platform, follow.channel)
        last = self._last_post.get(channel)
        if last is not None and (wait := MIN_GAP - (self.monotonic() - last)) > 0:
            await self.sleep(wait)
        self._last_post[channel] = self.monotonic()

    async def _compose(self, minute: Minute) -> Reply | None:
        """The alert of a minute's events; None if they moved nobody."""
        svc, race = self.service, self.service.race
        before, after = minute.events[0] - 1, minute.events[-1]
        day = _local_day(minute.minute, svc)
        was, now = await asyncio.gather(svc.positions(day, before), svc.positions(day, after))
        moved = [
            (m.name, now.get(m.code))
            for m in race.members
            if _stance(was.get(m.code)) != _stance(now.get(m.code))
        ]
        if not moved:
            return None
        tally = await svc.digest_tally(day, after)
        then = await svc.digest_tally(day, before) if before else Tally(race, day)
        names = svc.candidate_names()
        lines = [_line(name, new, tally, names, race) for name, new in moved]
        if len(lines) > MAX_LINES:
            lines[MAX_LINES:] = [f"… and {len(lines) - MAX_LINES} more; /history shows them."]
        met_before = {t.candidate.key for t in then.candidates if t.met}
        newly = [t for t in tally.candidates if t.met and t.candidate.key not in met_before]
        if newly:
            t = newly[0]
            head = f"{t.candidate.name} has {t.rule.describe()}: {t.count}/{t.total}"
            return Reply(
                title=head,
                sections=(Section(lines=tuple(lines)),),
                footer=await svc.countdown(tally, after),
                summary=head,
            )
        return Reply(
            title=race.title, sections=(Section(lines=tuple(lines)),), summary=link_labels(lines[0])
        )


def _local_day(minute: str, service: Service) -> date:
    moment = datetime.fromisoformat(f"{minute}+00:00")
    return moment.astimezone(service.clock.tz).date()


def _stance(event: Event | None) -> tuple[Position | None, str | None] | None:
    return None if event is None else (event.position, event.candidate)


def _line(name: str, new: Event | None, tally: Tally, names: dict[str, str], race) -> str:
    """'Türkiye now supports Mark Rutte (29/32) · Reuters', the outlet linked; a position on
    no candidate counts the leader's backers."""
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
    source = f" · {outlet(new.source, race)}" if new is not None else ""
    return f"{name} now {what}{count}{source}"
