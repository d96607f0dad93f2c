"""What a digest says: a headline, what moved since the channel's previous digest, the tally,
the holdouts and the countdown, for one fire instant; once the race has ended, how it ended.

A digest is of its channel's local day and covers what was recorded up to its fire instant (up
to its catch-up, when it is sent late): the first build for an instant stores the last event it
covers, so every channel firing then, whatever its zone, every process and every retry posts the
same tally. "What changed" compares each member's position after the last event covered by that
channel's own previous digest (which each send records) with its position now; a channel's
first digest looks back 24 hours, or over the latest FIRST_CHANGES events when nothing moved in
that time. A fan-out builds once per (fire instant, previous digest).

After the end (a candidate met the rule, or the deadline passed) a digest says how the race
ended; the first such one says it is the last daily one, and after it a digest goes out only on
a day something new was recorded (`Digest.reply` is None on the others).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bot.digest_records import SentDigest
from bot.domain import (
    NO_CANDIDATES,
    CandidateTally,
    Confidence,
    Event,
    Position,
    Race,
    Stance,
    Tally,
    format_date,
    plural,
)
from bot.render import cut
from bot.replies import (
    Attachment,
    Reply,
    Section,
    describe,
    holdout_lines,
    holdouts_title,
    outlet,
    tally_section,
)
from bot.service import Service

log = logging.getLogger(__name__)

BoardMaker = Callable[[Tally], Awaitable[Attachment | None]]

MAX_CHANGES = 25  # lines of "what changed"; /history has the rest
FIRST_LOOK_BACK = timedelta(hours=24)  # what a channel's first digest covers ...
FIRST_CHANGES = 10  # ... or, if nothing moved in that time, the latest this many events
MAX_ALT = 1_000  # characters of alt text: Slack's limit, within Discord's
MAX_BUILT = 16  # digests kept for the fan-out: a few fire instants and previous digests


@dataclass(frozen=True)
class Digest:
    reply: Reply | None  # None: the race has ended and nothing new was recorded to say
    covered_to: int  # the last event it covers


@dataclass(frozen=True)
class _Span:
    """What a digest's "what changed" covers: the events after `after` (up to the digest's
    last), how its headline says so ("since yesterday"), and its section's title."""

    after: int
    since: str
    title: str


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
                reply = await self._compose(fire, previous, covered, preview=False)
                if len(self._built) >= MAX_BUILT:
                    del self._built[next(iter(self._built))]  # the oldest: its fire has passed
                self._built[key] = Digest(reply, covered)
            return self._built[key]

    async def preview(self, day: date) -> Reply:
        """The digest as it would be now, after the race's latest digest; stores nothing, so
        the day's own digests are unchanged. After the end it says how the race ended."""
        svc = self.service
        previous = await svc.latest_digest(before=day)
        reply = await self._compose(svc.clock.now(), previous, await svc.last_event_id(), True)
        assert reply is not None  # only a posted digest can have nothing to say
        return reply

    async def _compose(
        self, fire: datetime, previous: SentDigest | None, last_event: int, preview: bool
    ) -> Reply | None:
        svc, race, day = self.service, self.service.race, fire.date()
        span = await self._span(fire, previous, last_event)
        tally = await svc.digest_tally(day, last_event)
        # Before the first event nothing is counted (the store reads an id of 0 as "all").
        before = await svc.digest_tally(day, span.after) if span.after else Tally(race, day)
        ended = await self._ended(tally, last_event)
        last = ended is not None  # the last daily digest: the first after the end
        if ended and previous is not None:
            was_over = await self._ended(
                await svc.digest_tally(previous.day, previous.covered_to), previous.covered_to
            )
            if was_over and last_event == previous.covered_to and not preview:
                return None  # said how it ended already, and nothing new since
            last = not was_over
        moved = await self._moved(day, span, last_event)
        sections = [Section(lines=(headline(tally, before, span.since, ended),))]
        sections.append(Section(title=span.title, lines=moved or ("Nothing new recorded.",)))
        sections += [tally_section(t, race) for t in tally.candidates]
        if tally.candidates:
            leader = tally.shown()
            holdouts = holdout_lines(leader, race)
            sections.append(Section(title=holdouts_title(leader), lines=holdouts))
        else:
            sections.append(Section(lines=(NO_CANDIDATES,)))
        footer = ended or await svc.countdown(tally, last_event)
        if last:
            footer += (
                " This is the last daily digest: from now on one comes only on a day something "
                "new is recorded; /unsubscribe stops them."
            )
        kind = "digest preview" if preview else "daily digest"
        return Reply(
            title=f"{race.title}: {kind}, {format_date(day)}",
            sections=tuple(sections),
            footer=footer,
            attachment=None if preview else await self._board(tally),
            private=preview,
            summary=sections[0].lines[0],
        )

    async def _span(self, fire: datetime, previous: SentDigest | None, last_event: int) -> _Span:
        if previous is not None:
            if previous.day == fire.date() - timedelta(days=1):
                return _Span(previous.covered_to, "since yesterday", "Since yesterday")
            since = f"since {format_date(previous.day)}"
            return _Span(
                previous.covered_to, since, f"Since the digest of {format_date(previous.day)}"
            )
        after = await self.service.recorded_before(fire - FIRST_LOOK_BACK, last_event)
        if after < last_event:
            return _Span(after, "in the last 24 hours", "In the last 24 hours")
        latest = await self.service.latest_events(FIRST_CHANGES, last_event)
        after = latest[0] - 1 if latest else 0
        return _Span(after, f"over the latest {len(latest)} changes", "The latest changes")

    async def _moved(self, day: date, span: _Span, last_event: int) -> tuple[str, ...]:
        """One line per member whose position moved in the span, from what to what, and the
        outlet of what it is now: a change undone in the span, or repeated as sure, moves
        nothing; the same position surer (or less sure) moves."""
        svc, race = self.service, self.service.race
        was, now = await asyncio.gather(
            svc.positions(day, span.after), svc.positions(day, last_event)
        )
        names = svc.candidate_names()
        lines = []
        for member in race.members:
            old, new = was.get(member.code), now.get(member.code)
            if _stance(old) != _stance(new):
                lines.append(moved_line(member.name, old, new, names, race))
        if len(lines) > MAX_CHANGES:
            rest = len(lines) - MAX_CHANGES
            lines[MAX_CHANGES:] = [f"… and {rest} more; /history shows them."]
        return tuple(lines)

    async def _ended(self, tally: Tally, last_event: int) -> str | None:
        """How the race ended, once it has: who met the rule and when, or that the deadline
        passed without it."""
        race = self.service.race
        deadline = race.deadline_on(tally.as_of)
        if any(t.met for t in tally.candidates):
            return await self.service.countdown(tally, last_event)
        if tally.as_of <= deadline.on:
            return None
        leader = f"; {_count(tally.shown())}" if tally.candidates else ""
        rule = race.rule_on(tally.as_of).describe()
        return (
            f"{deadline.label[0].upper()}{deadline.label[1:]} on {format_date(deadline.on)} "
            f"passed with no one reaching {rule}{leader}."
        )

    async def _board(self, tally: Tally) -> Attachment | None:
        """The board picture, described for screen readers (see `board_alt`)."""
        if self.attach_board is None:
            return None
        try:
            board = await self.attach_board(tally)
        except Exception:  # a picture is not worth losing the digest over
            log.exception("Drawing the board failed; the digest goes without it")
            return None
        return replace(board, alt=board_alt(tally)) if board is not None else None


def board_alt(tally: Tally) -> str:
    """'Board: 30 of 32 back Mark Rutte; Romania backs Klaus Iohannis; Slovakia no position':
    what the board shows, the leader's holdouts grouped by what they do."""
    if not tally.candidates:
        return f"Board: {NO_CANDIDATES}"
    leader = tally.shown()
    groups: dict[str, list[str]] = {}
    for h in leader.holdouts:
        reason = "no position" if h.stance is Stance.NO_POSITION else h.reason
        groups.setdefault(reason, []).append(h.member.name)
    parts = [_count(leader)] + [f"{', '.join(names)} {what}" for what, names in groups.items()]
    return cut(f"Board: {'; '.join(parts)}", MAX_ALT)


def _stance(event: Event | None) -> tuple[Position, str | None, Confidence] | None:
    """What a member's position says, and how sure: a rumour confirmed moves the count."""
    return None if event is None else (event.position, event.candidate, event.confidence)


def _count(t: CandidateTally) -> str:
    return f"{t.count} of {t.total} back {t.candidate.name}"


_WAS = {
    Position.SUPPORTS: "supported",
    Position.OPPOSES: "opposed",
    Position.ABSTAINS: "abstained on",
}


def moved_line(
    member: str, old: Event | None, new: Event | None, names: dict[str, str], race: Race
) -> str:
    """'Hungary: opposed → supports Mark Rutte, on condition: ... (Reuters, reported)', the
    outlet linked where the platform links: the old position's candidate is named only when
    it is not the new one's, and how sure it was only when that is what changed ('supported
    (rumoured) → supports Mark Rutte (Reuters, reported)')."""
    if new is None or new.position is Position.UNDECIDED:
        now = "no public position"
    else:
        now = describe(new, names)
    if old is None or old.position is Position.UNDECIDED:
        then = "no position"
    else:
        then = _WAS[old.position]
        if new is None or old.candidate != new.candidate or new.position is Position.UNDECIDED:
            then += f" {names.get(old.candidate or '', old.candidate)}"
        elif old.position is new.position and old.confidence is not Confidence.ON_RECORD:
            then += f" ({old.confidence})"
    source = f" ({sourced(new, race)})" if new is not None else ""
    return f"{member}: {then} → {now}{source}"


def sourced(event: Event, race: Race) -> str:
    """Where a position comes from and, unless it is on record, how sure it is: 'Reuters',
    'Reuters, reported', 'no source, rumoured' (the outlet linked where the platform links)."""
    where = outlet(event.source, race)
    return where if event.confidence is Confidence.ON_RECORD else f"{where}, {event.confidence}"


def headline(tally: Tally, before: Tally, since: str, ended: str | None) -> str:
    """'Mark Rutte 28 → 30 (+2) since yesterday · 2 holdouts · 12 days to the Washington
    summit'; after the end, how it ended."""
    if ended is not None:
        return ended.removesuffix(".")
    if not tally.candidates:
        return NO_CANDIDATES
    leader = tally.shown()
    then = next((t.count for t in before.candidates if t.candidate.key == leader.candidate.key), 0)
    if then == leader.count:
        count = f"{leader.count} of {leader.total}, no change {since}"
    else:
        count = f"{then} → {leader.count} ({leader.count - then:+d}) {since}"
    return f"{leader.candidate.name} {count} · {plural(len(leader.holdouts), 'holdout')} · " + (
        _days_left(tally.race, tally.as_of)
    )


def _days_left(race: Race, today: date) -> str:
    deadline = race.deadline_on(today)
    days = (deadline.on - today).days
    return f"{plural(days, 'day')} to {deadline.label}" if days else f"{deadline.label} is today"
