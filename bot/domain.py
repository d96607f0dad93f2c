"""Value objects of a consensus race: members, candidates, positions and how a member stands
on a candidate, the log's events, the tally and the countdown. No I/O, no platform code; what
a candidate needs is in bot/rules.py."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bot.rules import Progress, Rule


class TallyError(Exception):
    """A refusal the user should read: one line saying what was wrong and what would work."""


class Position(enum.StrEnum):
    SUPPORTS = "supports"
    OPPOSES = "opposes"
    ABSTAINS = "abstains"  # on a candidate: neither for nor against (counts as not in favour)
    UNDECIDED = "undecided"


class EventKind(enum.StrEnum):
    """What a row of the log is: a position taken, or the undo of an earlier row (stored in
    the log's position column, as 'undo')."""

    POSITION = "position"
    UNDO = "undo"


class CandidateAction(enum.StrEnum):
    """A row of a candidate's log: entering the race, withdrawing, coming back."""

    ADD = "add"
    WITHDRAW = "withdraw"
    RETURN = "return"


class Stance(enum.StrEnum):
    """How a member stands on one candidate."""

    BACKS = "backs"
    OPPOSES = "opposes"
    ABSTAINS = "abstains"
    BACKS_ANOTHER = "backs another"
    NO_POSITION = "no position"


@dataclass(frozen=True)
class Member:
    code: str  # ISO 3166 alpha-2
    name: str
    alpha3: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The flag emoji, built from the regional-indicator letters of the code."""
        return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in self.code.upper())


@dataclass(frozen=True)
class Candidate:
    key: str
    name: str
    member: str | None = None  # the nominating member's code
    aliases: tuple[str, ...] = ()
    withdrawn_on: date | None = None

    @property
    def last_name(self) -> str:
        return self.name.split()[-1]


@dataclass(frozen=True)
class Deadline:
    on: date
    label: str  # "the Washington summit"


@dataclass(frozen=True)
class SeedEvent:
    member: str
    position: Position
    candidate: str | None
    on: date
    source: str
    note: str = ""


@dataclass(frozen=True)
class Race:
    id: str
    title: str
    members: tuple[Member, ...]
    candidates: tuple[Candidate, ...]
    rule: Rule
    deadline: Deadline
    timezone: str = "UTC"
    seed: tuple[SeedEvent, ...] = ()
    # The race file's short names for outlets: (host without www., name), e.g.
    # ("politico.eu", "Politico"); a source on that host or under it is shown by that name.
    outlets: tuple[tuple[str, str], ...] = ()

    def member(self, code: str) -> Member:
        return self.members_by_code[code]

    @cached_property
    def members_by_code(self) -> Mapping[str, Member]:
        return {m.code: m for m in self.members}


@dataclass(frozen=True)
class Actor:
    platform: str  # "console", "discord", "slack", "seed"
    id: str
    name: str
    is_editor: bool = False

    def require_editor(self, what: str) -> None:
        if not self.is_editor:
            raise TallyError(
                f"Only editors can {what}. Ask an editor, or use /tally, /holdouts or /history."
            )


SEED_ACTOR = Actor("seed", "race-file", "race file")  # who recorded what the race file holds


@dataclass(frozen=True)
class Event:
    """One row of the append-only log."""

    id: int
    race: str
    member: str
    kind: EventKind
    position: Position | None  # None for an undo
    candidate: str | None
    happened_on: date
    recorded_at: datetime
    actor: Actor
    source: str | None = None
    note: str | None = None
    reverts: int | None = None


class Change(NamedTuple):
    """A position as a replay reads it: who took it, for whom, the day it happened."""

    member: str
    position: Position
    candidate: str | None
    happened_on: date


class Recording(NamedTuple):
    """A row of the log as a kept replay reads what was recorded since it last looked."""

    id: int
    kind: EventKind
    member: str
    position: Position | None  # None for an undo
    candidate: str | None
    happened_on: date  # an undo's is the day of the position it reverts

    @property
    def change(self) -> Change:
        """A position's row as a replay folds it."""
        assert self.position is not None, "an undo is not a change to fold"
        return Change(self.member, self.position, self.candidate, self.happened_on)


# A member's stance on a candidate by its position and whether that names the candidate; any
# other (undecided, opposing someone else) is no position on this one.
_STANCES = {
    (Position.SUPPORTS, True): Stance.BACKS,
    (Position.SUPPORTS, False): Stance.BACKS_ANOTHER,
    (Position.OPPOSES, True): Stance.OPPOSES,
    (Position.ABSTAINS, True): Stance.ABSTAINS,
}


def stance(taken: Event | Change | None, candidate: str) -> Stance:
    """How a member stands on `candidate` (a key), from its latest position (None: none)."""
    if taken is None:
        return Stance.NO_POSITION
    return _STANCES.get((taken.position, taken.candidate == candidate), Stance.NO_POSITION)


def stance_words(
    held: Stance, event: Event | None, names: Mapping[str, str], silent: str = "no public position"
) -> str:
    """How a member that does not back a candidate stands on them, in a few words, naming
    another candidate by `names` (key to name): 'opposes', 'backs Klaus Iohannis', 'opposes
    Klaus Iohannis' (who is another), or `silent` when it has no position at all."""
    other = (event.candidate or "") if event is not None else ""
    other = names.get(other, other)
    if held is Stance.BACKS_ANOTHER:
        return f"backs {other}"
    if held in (Stance.OPPOSES, Stance.ABSTAINS):
        return held.value
    if event is not None and event.position == Position.OPPOSES:
        return f"opposes {other}"
    return silent


class Standing(NamedTuple):
    """A position as it stands after repeats: the first day of its unbroken run (a repeat
    confirms it), and the latest source recorded in that run."""

    since: date
    source: str | None


@dataclass(frozen=True)
class Holdout:
    member: Member
    stance: Stance  # any but BACKS
    reason: str  # "opposes", "backs Klaus Iohannis", "no public position"
    event: Event | None
    confirmed: Standing | None = None  # set by Service.confirmed; else the event's own

    @property
    def standing(self) -> Standing | None:
        """Since when it holds its position, and the latest source for it."""
        if self.confirmed is not None or self.event is None:
            return self.confirmed
        return Standing(self.event.happened_on, self.event.source)


@dataclass(frozen=True)
class CandidateTally:
    candidate: Candidate
    backers: tuple[Member, ...]
    holdouts: tuple[Holdout, ...]
    total: int
    rule: Rule

    @property
    def count(self) -> int:
        return len(self.backers)

    @cached_property
    def _sides(self) -> tuple[frozenset[str], frozenset[str]]:
        """The codes of the members backing and of those opposing, as the rule reads them."""
        opposers = (h.member.code for h in self.holdouts if h.stance is Stance.OPPOSES)
        return frozenset(m.code for m in self.backers), frozenset(opposers)

    @property
    def progress(self) -> Progress:
        return self.rule.progress(*self._sides)

    @property
    def met(self) -> bool:
        return self.rule.met(*self._sides)

    def needs(self) -> str:
        return self.rule.needs(*self._sides)


@dataclass(frozen=True)
class Tally:
    race: Race
    as_of: date
    candidates: tuple[CandidateTally, ...] = field(default_factory=tuple)

    def shown(self, candidate: Candidate | None = None) -> CandidateTally:
        """The candidate's tally, or by default the leader's (the first on a tie)."""
        if not self.candidates:
            raise TallyError(NO_CANDIDATES)
        if candidate is None:
            return max(self.candidates, key=lambda t: t.count)
        return next(t for t in self.candidates if t.candidate.key == candidate.key)


NO_CANDIDATES = "No active candidates; an editor can /candidate add one."


def compute_tally(
    race: Race,
    candidates: Iterable[Candidate],
    latest: Mapping[str, Event],
    as_of: date,
    names: Mapping[str, str],
) -> Tally:
    """The tally from each member's latest position (`latest`, keyed by member code).

    `names` maps every candidate key to a name, for holdouts backing one not tallied here.
    """
    candidates = tuple(candidates)
    tallies = []
    for cand in candidates:
        backers: list[Member] = []
        holdouts: list[Holdout] = []
        for member in race.members:
            event = latest.get(member.code)
            held = stance(event, cand.key)
            if held is Stance.BACKS:
                backers.append(member)
            else:
                holdouts.append(Holdout(member, held, stance_words(held, event, names), event))
        tallies.append(
            CandidateTally(cand, tuple(backers), tuple(holdouts), len(race.members), race.rule)
        )
    return Tally(race, as_of, tuple(tallies))


def countdown(race: Race, today: date, met: tuple[str, date] | None = None) -> str:
    """One line: days to the deadline, how long ago it passed, or who met the rule and when."""
    deadline = race.deadline
    when = f"{deadline.label} on {format_date(deadline.on)}"
    if met is not None:
        name, met_on = met
        head = f"{name} reached {race.rule.describe()} on {format_date(met_on)}"
        before = (deadline.on - met_on).days
        if before > 0:
            return f"{head}, {plural(before, 'day')} before {when}."
        if before == 0:
            return f"{head}, the day of {deadline.label}."
        return f"{head}, {plural(-before, 'day')} after {when}."
    days = (deadline.on - today).days
    if days > 0:
        return f"{plural(days, 'day')} until {when}."
    if days == 0:
        return f"Today is {when}."
    return f"{when[0].upper()}{when[1:]} was {plural(-days, 'day')} ago."


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"
