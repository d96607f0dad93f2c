"""Value objects of a consensus race: members, candidates, positions and how a member stands
on a candidate, the log's events, the tally and the countdown. No I/O, no platform code; what
a candidate needs is in bot/rules.py."""

from __future__ import annotations

import bisect
import enum
from collections.abc import Callable, Iterable, Mapping
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


class Confidence(enum.StrEnum):
    """How sure a recording is: the member said it publicly, named outlets report it citing
    officials, or it is a rumour."""

    ON_RECORD = "on-record"
    REPORTED = "reported"
    RUMOURED = "rumoured"

    @property
    def words(self) -> str:
        """As a reply says it: 'on record', 'reported', 'rumoured'."""
        return self.value.replace("-", " ")

    @classmethod
    def default(cls, source: str | None) -> Confidence:
        """Without a word on it: reported with a source, a rumour without."""
        return cls.REPORTED if source else cls.RUMOURED


# What a count takes: /tally counts positions on record and reported, never a rumour (a
# rumour of a change leaves the member where its surer position had it); strict:yes counts
# positions on record only.
COUNTED = frozenset({Confidence.ON_RECORD, Confidence.REPORTED})
ON_RECORD = frozenset({Confidence.ON_RECORD})


def counting(strict: bool) -> frozenset[Confidence]:
    return ON_RECORD if strict else COUNTED


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
        """The flag emoji, built from the regional-indicator letters of the code; none for a
        code that is not a country's two letters (a race file's own member, "NORTH")."""
        if not self.alpha3:  # pycountry did not know it: no country, no flag
            return ""
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
        """'Rutte'; 'von der Leyen': a surname's lower-case particles belong to it."""
        words = self.name.split()
        start = next((i for i, w in enumerate(words[1:-1], 1) if w in _PARTICLES), len(words) - 1)
        return " ".join(words[start:])


# Lower-case words that begin a surname: "Ursula von der Leyen", "Ana de la Cruz".
_PARTICLES = frozenset(
    {"von", "van", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le"}
)


@dataclass(frozen=True)
class Deadline:
    on: date
    label: str  # "the Washington summit"
    since: date | None = None  # the day it became the target (None: from the start)
    source: str | None = None


@dataclass(frozen=True)
class Tenure:
    """A member that joined or left during the race: a member from `joined` (None: from the
    start) until the day before `left` (None: to the end)."""

    member: str  # its code
    joined: date | None
    left: date | None
    source: str

    def holds(self, day: date) -> bool:
        return (self.joined is None or self.joined <= day) and (
            self.left is None or day < self.left
        )


class Ballots(NamedTuple):
    """One candidate's counts in an anonymous round: in favour ("encourage"), against
    ("discourage"), and no opinion."""

    candidate: str  # its key
    encourage: int
    discourage: int
    no_opinion: int


@dataclass(frozen=True)
class Round:
    """A published round of anonymous counts (a UN straw poll), with the veto members'
    ballots apart when they were coloured."""

    on: date
    name: str  # "sixth straw poll"
    source: str
    counts: tuple[Ballots, ...]
    veto_counts: tuple[Ballots, ...] = ()


@dataclass(frozen=True)
class SeedEvent:
    member: str
    position: Position
    candidate: str | None
    on: date
    source: str
    note: str = ""
    confidence: Confidence | None = None  # None: by its source (reported)
    condition: str | None = None


@dataclass(frozen=True)
class Race:
    id: str
    title: str
    members: tuple[Member, ...]  # everyone who is a member at some time in the race
    candidates: tuple[Candidate, ...]
    rule: Rule  # over the members at the end of the race
    deadline: Deadline  # the current one
    timezone: str = "UTC"
    seed: tuple[SeedEvent, ...] = ()
    # The race file's short names for outlets: (host without www., name), e.g.
    # ("politico.eu", "Politico"); a source on that host or under it is shown by that name.
    outlets: tuple[tuple[str, str], ...] = ()
    # Members that joined or left during the race; the rule over some day's members, which
    # a race whose membership changes is built with (else `rule` is every day's).
    tenures: tuple[Tenure, ...] = ()
    rule_over: Callable[[tuple[Member, ...]], Rule] | None = field(default=None, compare=False)
    earlier_deadlines: tuple[Deadline, ...] = ()  # oldest first
    rounds: tuple[Round, ...] = ()  # by date
    entries: tuple[CandidateEntry, ...] = ()  # the race file's dated entries and withdrawals

    def member(self, code: str) -> Member:
        return self.members_by_code[code]

    @cached_property
    def members_by_code(self) -> Mapping[str, Member]:
        return {m.code: m for m in self.members}

    @cached_property
    def turns(self) -> tuple[date, ...]:
        """The days the membership changes, in order."""
        days = {d for t in self.tenures for d in (t.joined, t.left) if d is not None}
        return tuple(sorted(days))

    def members_on(self, day: date) -> tuple[Member, ...]:
        """The members on `day`, in the race's order."""
        if not self.tenures:
            return self.members
        return self._electorate(self._era(day))[0]

    def codes_on(self, day: date) -> frozenset[str]:
        return self._electorate(self._era(day))[1] if self.tenures else self._all_codes

    def rule_on(self, day: date) -> Rule:
        """The rule over the members of `day`."""
        if not self.tenures or self.rule_over is None:
            return self.rule
        return self._electorate(self._era(day))[2]

    def tenure(self, code: str) -> Tenure | None:
        return next((t for t in self.tenures if t.member == code), None)

    @cached_property
    def _all_codes(self) -> frozenset[str]:
        return frozenset(self.members_by_code)

    def _era(self, day: date) -> int:
        """How many membership changes came by `day`: the same number, the same members."""
        return bisect.bisect_right(self.turns, day)

    def _electorate(self, era: int) -> tuple[tuple[Member, ...], frozenset[str], Rule]:
        """The members, their codes and the rule over them in an era (built once each)."""
        if era not in self._eras:
            day = self.turns[era - 1] if era else date.min
            held = {t.member: t.holds(day) for t in self.tenures}
            members = tuple(m for m in self.members if held.get(m.code, True))
            rule = self.rule_over(members) if self.rule_over is not None else self.rule
            self._eras[era] = members, frozenset(m.code for m in members), rule
        return self._eras[era]

    @cached_property
    def _eras(self) -> dict[int, tuple[tuple[Member, ...], frozenset[str], Rule]]:
        return {}

    def deadline_on(self, day: date) -> Deadline:
        """The deadline that was the target on `day`: the latest set by then."""
        current = self.deadline
        for earlier in (*reversed(self.earlier_deadlines),):
            if current.since is None or current.since <= day:
                break
            current = earlier
        return current

    def deadline_before(self, deadline: Deadline) -> Deadline | None:
        """The deadline `deadline` replaced, if any."""
        order = (*self.earlier_deadlines, self.deadline)
        at = order.index(deadline)
        return order[at - 1] if at else None


@dataclass(frozen=True)
class CandidateEntry:
    """A candidate's dated entry or withdrawal, as the race file gives it."""

    candidate: str  # its key
    action: CandidateAction
    on: date


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
    confidence: Confidence = Confidence.REPORTED
    condition: str | None = None  # a conditional position's condition: it counts all the same


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
    reported: frozenset[str] = frozenset()  # the backers' codes only reported, not on record

    @property
    def count(self) -> int:
        return len(self.backers)

    @cached_property
    def _sides(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The codes of the members backing, opposing and abstaining, as the rule reads them."""
        held = {s: frozenset(h.member.code for h in self.holdouts if h.stance is s)
                for s in (Stance.OPPOSES, Stance.ABSTAINS)}  # fmt: skip
        backers = frozenset(m.code for m in self.backers)
        return backers, held[Stance.OPPOSES], held[Stance.ABSTAINS]

    @property
    def progress(self) -> Progress:
        return self.rule.progress(*self._sides)

    @property
    def met(self) -> bool:
        return self.rule.met(*self._sides)

    def needs(self) -> str:
        return self.rule.needs(*self._sides)

    def status(self) -> str:
        """The count in the rule's own terms: '28/32; needs 4 more for unanimity'."""
        return self.rule.status(*self._sides)


@dataclass(frozen=True)
class Tally:
    race: Race
    as_of: date
    candidates: tuple[CandidateTally, ...] = field(default_factory=tuple)
    strict: bool = False  # counting positions on record only
    # Members whose latest report is less sure than the count takes, with that report: a
    # rumour (or, strictly, a report) shown beside the count, not in it.
    unsure: tuple[tuple[Member, Event], ...] = ()

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
    unsure: Mapping[str, Event] | None = None,
    strict: bool = False,
) -> Tally:
    """The tally from each member's latest position that counts (`latest`, keyed by member
    code: on record or reported; with `strict`, on record only). `unsure` holds the later,
    less sure reports of some members, shown beside the count.

    `names` maps every candidate key to a name, for holdouts backing one not tallied here.
    """
    candidates = tuple(candidates)
    members, rule = race.members_on(as_of), race.rule_on(as_of)
    unsure = unsure or {}
    silent = "no position on record" if strict else "no public position"
    tallies = []
    for cand in candidates:
        backers: list[Member] = []
        holdouts: list[Holdout] = []
        for member in members:
            event = latest.get(member.code)
            held = stance(event, cand.key)
            if held is Stance.BACKS:
                backers.append(member)
            else:
                words = stance_words(held, event, names, silent)
                holdouts.append(Holdout(member, held, words, event))
        reported = frozenset(
            m.code for m in backers if latest[m.code].confidence is Confidence.REPORTED
        )
        tallies.append(
            CandidateTally(cand, tuple(backers), tuple(holdouts), len(members), rule, reported)
        )
    doubted = tuple((m, unsure[m.code]) for m in members if m.code in unsure)
    return Tally(race, as_of, tuple(tallies), strict, doubted)


def countdown(race: Race, today: date, met: tuple[str, date] | None = None) -> str:
    """One line: days to the deadline of `today` (or of the day the rule was met), how long
    ago it passed, or who met the rule and when."""
    deadline = race.deadline_on(met[1] if met else today)
    when = f"{deadline.label} on {format_date(deadline.on)}"
    if met is not None:
        name, met_on = met
        head = f"{name} reached {race.rule_on(met_on).describe()} on {format_date(met_on)}"
        before = (deadline.on - met_on).days
        if before > 0:
            return f"{head}, {plural(before, 'day')} before {when}."
        if before == 0:
            return f"{head}, the day of {deadline.label}."
        return f"{head}, {plural(-before, 'day')} after {when}."
    days = (deadline.on - today).days
    if days > 0:
        line = f"{plural(days, 'day')} until {when}."
    elif days == 0:
        line = f"Today is {when}."
    else:
        line = f"{when[0].upper()}{when[1:]} was {plural(-days, 'day')} ago."
    return line


def moved(race: Race, deadline: Deadline) -> str:
    """What /countdown adds while the rule is not met: ' The target moved on 2 April 2024
    from the NATO foreign ministers' meeting (3 April 2024).' (nothing if none moved)."""
    before = race.deadline_before(deadline)
    if before is None:
        return ""
    moved_on = f" on {format_date(deadline.since)}" if deadline.since else ""
    return f" The target moved{moved_on} from {before.label} ({format_date(before.on)})."


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"
