"""What a digest says: the tally, what changed since the channel's previous digest, the
holdouts and the countdown, for one fire instant.

A digest is of its channel's local day and covers what was recorded up to its fire instant (up
to its catch-up, when it is sent late): the first build for an instant stores the last event it
covers, so every channel firing then, whatever its zone, every process and every retry posts the
same tally. "What changed" lists the events after the last one covered by that channel's own
previous digest, which each send records. A fan-out builds once per (fire instant, previous
digest).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot.digest_records import SentDigest
from bot.domain import NO_CANDIDATES, Tally, format_date
from bot.replies import (
    Attachment,
    Reply,
    Section,
    history_line,
    holdout_lines,
    holdouts_title,
    tally_section,
)
from bot.service import Service

log = logging.getLogger(__name__)

BoardMaker = Callable[[Tally], Awaitable[Attachment | None]]

MAX_CHANGES = 25  # lines of "what changed"; /history has the rest
MAX_BUILT = 16  # digests kept for the fan-out: a few fire instants and previous digests


@dataclass(frozen=True)
class Digest:
    reply: Reply
    covered_to: int  # the last event it covers


class DigestBuilder:
    """A race's digest for a fire instant and the previous digest it follows, built once and
    kept for the fan-out (see the module doc)."""

    def __init__(self, service: Service, attach_board: BoardMaker | None = None) -> None:
        self.service = service
        self.attach_board = attach_board
        self._built: dict[tuple[datetime, date, SentDigest | None], Digest] = {}
        self._lock = asyncio.Lock()

    async def fired(self, fire: datetime, previous: SentDigest | None) -> Digest:
        """The digest that fired at `fire`, an instant in its channel's zone (its local date is
        the digest's day), for a channel whose previous digest was `previous`."""
        key = (fire, fire.date(), previous)  # the same instant is another day in another zone
        async with self._lock:
            if key not in self._built:
                covered = await self.service.digest_covers(fire)
                reply = await self._compose(fire.date(), previous, covered, preview=False)
                if len(self._built) >= MAX_BUILT:
                    del self._built[next(iter(self._built))]  # the oldest: its fire has passed
                self._built[key] = Digest(reply, covered)
            return self._built[key]

    async def preview(self, day: date) -> Reply:
        """The digest as it would be now, after the race's latest digest; stores nothing, so
        the day's own digests are unchanged."""
        previous = await self.service.latest_digest(before=day)
        last_event = await self.service.last_event_id()
        return await self._compose(day, previous, last_event, preview=True)

    async def _compose(
        self, day: date, previous: SentDigest | None, last_event: int, preview: bool
    ) -> Reply:
        svc, race = self.service, self.service.race
        tally = await svc.digest_tally(day, last_event)
        sections = [await self._changes(previous, last_event)]
        sections += [tally_section(t, race) for t in tally.candidates]
        if tally.candidates:
            leader = tally.shown()
            sections.append(Section(title=holdouts_title(leader), lines=holdout_lines(leader)))
        else:
            sections.append(Section(lines=(NO_CANDIDATES,)))
        kind = "digest preview" if preview else "daily digest"
        return Reply(
            title=f"{race.title}: {kind}, {format_date(day)}",
            sections=tuple(sections),
            footer=await svc.countdown(tally, last_event),
            attachment=None if preview else await self._board(tally),
            private=preview,
        )

    async def _changes(self, previous: SentDigest | None, last_event: int) -> Section:
        """The events recorded since the previous digest, each with its source."""
        svc, race = self.service, self.service.race
        if previous is None:
            return Section(
                title="What changed",
                lines=("This is the first digest; /history shows the log so far.",),
            )
        changed = await svc.events_recorded(after_id=previous.covered_to, up_to_id=last_event)
        names = svc.candidate_names()
        lines = [
            history_line(
                e,
                race,
                names,
                await svc.event(e.reverts) if e.reverts else None,
                svc.clock.tz,
            )
            for e in changed[:MAX_CHANGES]
        ]
        if len(changed) > MAX_CHANGES:
            lines.append(f"… and {len(changed) - MAX_CHANGES} more; /history shows them.")
        return Section(
            title=f"Since the digest of {format_date(previous.day)}",
            lines=tuple(lines) or ("Nothing new recorded.",),
        )

    async def _board(self, tally: Tally) -> Attachment | None:
        if self.attach_board is None:
            return None
        try:
            return await self.attach_board(tally)
        except Exception:  # a picture is not worth losing the digest over
            log.exception("Drawing the board failed; the digest goes without it")
            return None
