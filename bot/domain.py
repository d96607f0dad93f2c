"""Value objects and rules of a consensus race. No I/O, no platform code."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property


class TallyError(Exception):
    """A refusal the user should read: one line saying what was wrong and what would work."""


class Position(enum.StrEnum):
    SUPPORTS = "supports"
    OPPOSES = "opposes"
    UNDECIDED = "undecided"


# Stored in the log beside positions: an event that reverts an earlier one.
UNDO = "undo"


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


class RuleKind(enum.StrEnum):
    UNANIMITY = "unanimity"
    MAJORITY = "majority"
    THRESHOLD = "threshold"


@dataclass(frozen=True)
class Rule:
    kind: RuleKind = RuleKind.UNANIMITY
    threshold: int = 0

    def required(self, members: int) -> int:
        if self.kind is RuleKind.UNANIMITY:
            return members
        if self.kind is RuleKind.MAJORITY:
            return members // 2 + 1
        return self.threshold

    def describe(self) -> str:
        if self.kind is RuleKind.UNANIMITY:
            return "unanimity"
        if self.kind is RuleKind.MAJORITY:
            return "a majority"
        return f"{self.threshold} backers"


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

    def member(self, code: str) -> Member:
        return self.members_by_code[code]

    @cached_property
    def members_by_code(self) -> Mapping[str, Member]:
        return {m.code: m for m in self.members}

    @property
    def required(self) -> int:
        return self.rule.required(len(self.members))


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
    position: str  # a Position value, or UNDO
    candidate: str | None
    happened_on: date
    recorded_at: datetime
    actor: Actor
    source: str | None = None
    note: str | None = None
    reverts: int | None = None


@dataclass(frozen=True)
class Holdout:
    member: Member
    reason: str  # "opposes", "backs Klaus Iohannis", "no public position"
    event: Event | None


@dataclass(frozen=True)
class CandidateTally:
    candidate: Candidate
    backers: tuple[Member, ...]
    holdouts: tuple[Holdout, ...]
    total: int
    required: int
    rule: Rule

    @property
    def count(self) -> int:
        return len(self.backers)

    @property
    def missing(self) -> int:
        return max(0, self.required - self.count)

    @property
    def met(self) -> bool:
        return self.missing == 0

    def needs(self) -> str:
        if self.rule.kind is RuleKind.THRESHOLD:
            if self.met:
                return f"has the {self.required} backers it needs"
            return f"needs {self.missing} more to reach {self.required}"
        if self.met:
            return f"has {self.rule.describe()}"
        return f"needs {self.missing} more for {self.rule.describe()}"


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


def standing_reason(event: Event | None, candidate: Candidate, names: Mapping[str, str]) -> str:
    """How a member that does not back `candidate` stands, in a few words."""
    if event is None or event.position == Position.UNDECIDED:
        return "no public position"
    other = names.get(event.candidate or "", event.candidate or "")
    if event.position == Position.OPPOSES:
        return "opposes" if event.candidate == candidate.key else f"opposes {other}"
    return f"backs {other}"


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
            if event and event.position == Position.SUPPORTS and event.candidate == cand.key:
                backers.append(member)
            else:
                holdouts.append(Holdout(member, standing_reason(event, cand, names), event))
        tallies.append(
            CandidateTally(
                cand,
                tuple(backers),
                tuple(holdouts),
                len(race.members),
                race.required,
                race.rule,
            )
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


Change = tuple[str, str, str | None, date]  # member, position, candidate, the day it happened


@dataclass
class RuleReplay:
    """Counts a candidate's backers over the position changes in the order they happened, to
    know the day the rule was last reached (`reached`, None while it is not met). Later
    changes fold in without starting over."""

    candidate: str
    required: int
    backing: dict[str, bool] = field(default_factory=dict)
    backers: int = 0
    reached: date | None = None
    last_day: date | None = None

    def fold(self, changes: Iterable[Change]) -> RuleReplay:
        """Add changes (undone ones left out) that happened on or after `last_day`."""
        for member, position, backed, day in changes:
            backs = position == Position.SUPPORTS and backed == self.candidate
            self.backers += backs - self.backing.get(member, False)
            self.backing[member] = backs
            if self.backers >= self.required and self.reached is None:
                self.reached = day
            elif self.backers < self.required:
                self.reached = None
            self.last_day = day
        return self


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"
