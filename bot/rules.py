"""The rule a candidate must meet, one strategy per kind, and the replay that finds the day it
was met.

A rule reads who backs a candidate, who opposes them and who abstains (member codes; a code the
rule does not know is ignored) and answers whether that meets it (`met`), how far along it is
(`progress`), what is still missing (`needs`), the whole line in its own terms (`status`) and
what it is called (`describe`). Nothing outside this module compares a count with what a rule
requires. `progress` is one `Measure` per quantity the rule counts and the members who block it
whatever the counts, so the tally, the replies, the charts and the replay read any rule alike:
a head count (unanimity, a majority, two-thirds, a threshold), a qualified majority (a share of
the members and a share of their weight, the EU's Council) or a vote with a veto (the Security
Council). The electorate a replay counts may change by date (`Electorate`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cached_property
from typing import ClassVar, Protocol

from bot.domain import Change, Stance, stance


@dataclass(frozen=True)
class Measure:
    """One quantity a rule counts, as a progress bar shows it: 28 of 32 members, 32 needed; or
    a weight (count, total and needed in its units) shown as a share: 84.6% of the population."""

    count: int
    total: int
    needed: int
    unit: str = ""  # what it counts when not members, e.g. "weight", "of the population"
    share: Fraction | None = None  # the share of the total the rule asks for: shown in percent
    members_word: str = ""  # what the members counted are called, e.g. "states"
    waived: bool = False  # not needed this time (no blocking minority can form)

    @property
    def counts_members(self) -> bool:
        """Whether it counts members, so a chart of backers can draw its line."""
        return not self.unit

    @property
    def missing(self) -> int:
        return 0 if self.waived else max(0, self.needed - self.count)

    @property
    def shown(self) -> str:
        """'28/32', '25/27 states' or '84.6% of the population', as beside a progress bar."""
        if self.share is not None:
            return self._with_unit(
                _percent(Fraction(self.count, self.total), 1, self.count < self.needed)
            )
        return self._with_unit(f"{self.count}/{self.total}")

    @property
    def target(self) -> str:
        """'32/32' or '65% of the population': what meeting it takes."""
        if self.share is not None:
            return self._with_unit(_share(self.share))
        return self._with_unit(f"{self.needed}/{self.total}")

    def _with_unit(self, text: str) -> str:
        word = self.unit or self.members_word
        return f"{text} {word}" if word else text


@dataclass(frozen=True)
class Progress:
    """How far a candidate is along a rule: each measure it counts, and the members whose
    opposition blocks it whatever the counts (a veto)."""

    measures: tuple[Measure, ...]
    blocked_by: tuple[str, ...] = ()  # member codes

    @property
    def met(self) -> bool:
        return not self.blocked_by and all(m.missing == 0 for m in self.measures)


class Rule(ABC):
    """What a candidate needs, from the members who back them, oppose them and abstain."""

    @abstractmethod
    def progress(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> Progress:
        """Each measure the rule counts, given the members (codes) on each side."""

    @abstractmethod
    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        """What is still missing, or that nothing is: 'needs 4 more for unanimity'."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in a few words, as in 'reached unanimity': 'a majority', '24 backers'."""

    def met(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> bool:
        return self.progress(backers, opposers, abstainers).met

    def status(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        """The whole line in the rule's terms, without the candidate: '28/32; needs 4 more for
        unanimity'."""
        measures = self.progress(backers, opposers, abstainers).measures
        shown = ", ".join(m.shown for m in measures)
        return f"{shown}; {self.needs(backers, opposers, abstainers)}"

    def goal(self) -> tuple[Measure, ...]:
        """What meeting the rule takes, each measure's `target`, before anyone backs."""
        return self.progress(()).measures


@dataclass(frozen=True)
class _HeadCount(Rule):
    """A number of backers out of `total` members, whoever they are (the electorate a replay
    follows says who is a member)."""

    total: int

    @property
    @abstractmethod
    def needed(self) -> int: ...

    def progress(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> Progress:
        return Progress((Measure(len(backers), self.total, self.needed),))

    def met(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> bool:
        # What `progress` says, without building it: the replay asks after every change.
        return len(backers) >= self.needed

    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        missing = self.progress(backers).measures[0].missing
        if missing == 0:
            return f"has {self.describe()}"
        return f"needs {missing} more for {self.describe()}"

    def status(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        shown = self.progress(backers).measures[0].shown
        if self.met(backers):
            return f"{shown}: {self.describe()} reached"
        return f"{shown}; {self.needs(backers)}"


@dataclass(frozen=True)
class Unanimity(_HeadCount):
    """Every member backs the candidate (NATO's Secretary-General)."""

    @property
    def needed(self) -> int:
        return self.total

    def describe(self) -> str:
        return "unanimity"


@dataclass(frozen=True)
class Majority(_HeadCount):
    """More than half of the members back the candidate."""

    @property
    def needed(self) -> int:
        return self.total // 2 + 1

    def describe(self) -> str:
        return "a majority"


@dataclass(frozen=True)
class TwoThirds(_HeadCount):
    """At least two-thirds of the members back the candidate."""

    @property
    def needed(self) -> int:
        return -(-2 * self.total // 3)

    def describe(self) -> str:
        return "two-thirds"


@dataclass(frozen=True)
class Threshold(_HeadCount):
    """A set number of backers, `backers` of `total`."""

    backers: int

    @property
    def needed(self) -> int:
        return self.backers

    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        missing = self.progress(backers).measures[0].missing
        if missing == 0:
            return f"has the {self.backers} backers it needs"
        return f"needs {missing} more to reach {self.backers}"

    def describe(self) -> str:
        return f"{self.backers} backers"


@dataclass(frozen=True)
class QualifiedMajority(Rule):
    """A share of the members that together hold a share of a weight, both required (the EU's
    Council: 55% of the states, 65% of the population). When fewer than `blocking_minority`
    members are not in favour (opposing, abstaining or silent), they cannot block: the share of
    the members is enough."""

    weights: tuple[tuple[str, int], ...]  # (member code, weight)
    member_share: float = 0.55
    weight_share: float = 0.65
    blocking_minority: int | None = 4
    weight: str = "population"
    members_word: str = "states"

    def __post_init__(self) -> None:
        codes = [code for code, _ in self.weights]
        if not codes or len(set(codes)) != len(codes):
            raise ValueError("a qualified majority needs its members' weights, each code once")
        if any(not isinstance(w, int) or w <= 0 for _, w in self.weights):
            raise ValueError("a qualified majority's weights must all be whole numbers above 0")
        for name in ("member_share", "weight_share"):
            share = getattr(self, name)
            if not isinstance(share, int | float) or not 0 < share <= 1:
                raise ValueError(f"{name} = {share!r} must be a number above 0 and at most 1")
        if self.blocking_minority is not None and self.blocking_minority < 1:
            raise ValueError(f"blocking_minority = {self.blocking_minority} must be at least 1")

    # Shares as exact fractions of what the race file wrote (0.55 is 11/20), so that exactly
    # 55% of the members or 65% of the weight reaches it.
    @cached_property
    def _member_share(self) -> Fraction:
        return Fraction(str(self.member_share))

    @cached_property
    def _weight_share(self) -> Fraction:
        return Fraction(str(self.weight_share))

    @cached_property
    def _weight_of(self) -> dict[str, int]:
        return dict(self.weights)

    @cached_property
    def _total_weight(self) -> int:
        return sum(self._weight_of.values())

    @cached_property
    def _members_needed(self) -> int:
        return math.ceil(self._member_share * len(self.weights))

    @cached_property
    def _weight_needed(self) -> int:
        return math.ceil(self._weight_share * self._total_weight)

    def progress(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> Progress:
        weight_of = self._weight_of
        favour = weight_of.keys() & backers
        members = len(self.weights)
        unblockable = (
            self.blocking_minority is not None and members - len(favour) < self.blocking_minority
        )
        return Progress(
            (
                Measure(len(favour), members, self._members_needed, members_word=self.members_word),
                Measure(
                    sum(weight_of[c] for c in favour),
                    self._total_weight,
                    self._weight_needed,
                    unit=f"of the {self.weight}",
                    share=self._weight_share,
                    waived=unblockable,
                ),
            )
        )

    def met(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> bool:
        # What `progress` says, without building it: the replay asks after every change.
        favour = self._weight_of.keys() & backers
        if len(favour) < self._members_needed:
            return False
        against = len(self.weights) - len(favour)
        if self.blocking_minority is not None and against < self.blocking_minority:
            return True
        return sum(self._weight_of[c] for c in favour) >= self._weight_needed

    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        missing = self._missing(self.progress(backers))
        return f"needs {missing}" if missing else f"has {self.describe()}"

    def status(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        progress = self.progress(backers)
        states, weight = progress.measures
        members = _percent(Fraction(states.count, states.total), 0, states.count < states.needed)
        line = (
            f"{states.shown} ({members}, needs {_share(self._member_share)}) and "
            f"{weight.shown} (needs {_share(self._weight_share)})"
        )
        missing = self._missing(progress)
        if missing:
            return f"{line}: needs {missing}"
        if weight.count < weight.needed:  # met by the members alone
            against = states.total - states.count
            return (
                f"{line}: qualified majority reached, as no blocking minority can form "
                f"({_plural(against, self.members_word)} not in favour, "
                f"{self.blocking_minority} needed to block)"
            )
        return f"{line}: qualified majority reached"

    def describe(self) -> str:
        return "a qualified majority"

    def _missing(self, progress: Progress) -> str:
        """'2 more states and 3.1 points of the population', or '' when nothing is."""
        states, weight = progress.measures
        parts = []
        if states.missing:
            parts.append(_plural(states.missing, self.members_word, "more"))
        if weight.missing:
            short = self._weight_share - Fraction(weight.count, weight.total)
            points = math.ceil(short * 1000) / 10  # rounded up: never less than is missing
            parts.append(f"{points:.1f} points of the {self.weight}")
        return " and ".join(parts)


@dataclass(frozen=True)
class SecurityCouncil(Rule):
    """`needed` members in favour and none of the `veto` members against (the UN Security
    Council recommending a Secretary-General: 9 of 15, no permanent member opposing; one that
    abstains does not block)."""

    members: tuple[tuple[str, str], ...]  # (code, name)
    needed: int = 9
    veto: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 1 <= self.needed <= len(self.members):
            raise ValueError(f"needed = {self.needed} must be 1 to {len(self.members)}")
        outside = sorted(self.veto - self._names.keys())
        if outside:
            raise ValueError(f"veto member(s) {', '.join(outside)} are not members")

    @cached_property
    def _names(self) -> dict[str, str]:
        return dict(self.members)

    def progress(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> Progress:
        against = set(opposers)
        return Progress(
            (Measure(len(self._names.keys() & backers), len(self.members), self.needed),),
            blocked_by=tuple(c for c, _ in self.members if c in self.veto and c in against),
        )

    def met(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> bool:
        # What `progress` says, without building it: the replay asks after every change.
        in_favour = len(self._names.keys() & backers)
        return in_favour >= self.needed and self.veto.isdisjoint(opposers)

    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        progress = self.progress(backers, opposers)
        if progress.blocked_by:
            return f"is vetoed by {self._named(progress.blocked_by)}"
        missing = progress.measures[0].missing
        if missing:
            return f"needs {missing} more in favour"
        return f"has {self.needed} in favour and no permanent member against"

    def status(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
        progress = self.progress(backers, opposers)
        favour = progress.measures[0]
        if progress.blocked_by:
            vetoed = self._named(progress.blocked_by)
            return f"{favour.count} in favour (needs {self.needed}); vetoed by {vetoed}"
        if favour.missing:
            return f"{favour.count} in favour; needs {favour.missing} more"
        return f"{favour.count} in favour; no permanent member against: would pass"

    def describe(self) -> str:
        return "a Security Council recommendation"

    def _named(self, codes: Iterable[str]) -> str:
        names = [self._names[c] for c in codes]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _percent(share: Fraction, places: int, short: bool) -> str:
    """'84.6%': rounded, or cut when `short`, so a share below what a rule asks for never
    reads as reaching it."""
    scaled = share * 100 * 10**places
    whole = math.floor(scaled) if short else math.floor(scaled + Fraction(1, 2))
    return f"{whole / 10**places:.{places}f}%"


def _share(share: Fraction) -> str:
    """What a rule asks for, as written: '65%', '72%', '66.5%'."""
    return f"{float(share * 100):g}%"


def _plural(n: int, word: str, more: str = "") -> str:
    """'2 more states', '1 more state' ('states' is the plural of the race file's word)."""
    single = word[:-1] if n == 1 and word.endswith("s") else word
    return " ".join(part for part in (str(n), more, single) if part)


class Electorate(Protocol):
    """Who the members are on each day, and the rule over them (a race whose membership
    changes by date). `rule_on(date.min)` is the rule before the first turn."""

    turns: tuple[date, ...]  # sorted days the membership changes

    def rule_on(self, day: date) -> Rule: ...

    def codes_on(self, day: date) -> frozenset[str] | None: ...  # None: every code


@dataclass(frozen=True)
class FixedElectorate:
    """The same members every day; `codes` None counts every code the changes name."""

    rule: Rule
    codes: frozenset[str] | None = None
    turns: ClassVar[tuple[date, ...]] = ()

    def rule_on(self, day: date) -> Rule:
        return self.rule

    def codes_on(self, day: date) -> frozenset[str] | None:
        return self.codes


@dataclass
class RuleReplay:
    """Follows a candidate's backers, opposers and abstainers over the position changes in the
    order they happened, asking the rule whenever a member's stance changes and whenever the
    membership does, to know the day it was last met (`reached`, None while it is not). Later
    changes fold in without starting over. A Rule for `electorate` is a fixed one counting
    every code."""

    candidate: str
    electorate: Electorate | Rule
    stances: dict[str, Stance] = field(default_factory=dict)  # by member code, members or not
    # The members' codes on each side, on the last day folded.
    backers: set[str] = field(default_factory=set)
    opposers: set[str] = field(default_factory=set)
    abstainers: set[str] = field(default_factory=set)
    reached: date | None = None
    last_day: date | None = None

    def __post_init__(self) -> None:
        if isinstance(self.electorate, Rule):
            self.electorate = FixedElectorate(self.electorate)
        self._rule = self.electorate.rule_on(date.min)
        self._codes: frozenset[str] | None = self.electorate.codes_on(date.min)
        self._turns = list(self.electorate.turns)  # those not yet folded, latest first
        self._turns.reverse()
        self._sides = {
            Stance.BACKS: self.backers,
            Stance.OPPOSES: self.opposers,
            Stance.ABSTAINS: self.abstainers,
        }

    @classmethod
    def resumed(
        cls,
        candidate: str,
        electorate: Electorate | Rule,
        day: date,
        stances: dict[str, Stance],
        reached: date | None,
        last_day: date | None,
    ) -> RuleReplay:
        """The replay as it stood at the end of `day`, from what it held then (a checkpoint
        kept in the file): the membership's turns up to `day` taken without asking the rule
        again, as it was asked when they were folded."""
        replay = cls(candidate, electorate, stances, reached=reached, last_day=last_day)
        turns = replay._turns
        while turns and turns[-1] <= day:
            turn = turns.pop()
            replay._rule = replay.electorate.rule_on(turn)
            replay._codes = replay.electorate.codes_on(turn)
        codes = replay._codes
        for held, side in replay._sides.items():
            side.update(
                m for m, s in stances.items() if s is held and (codes is None or m in codes)
            )
        return replay

    def fold(self, changes: Iterable[Change], until: date | None = None) -> RuleReplay:
        """Add changes (undone ones left out) that happened on or after `last_day`, and the
        membership's turns up to the last of them, or up to `until` if later."""
        candidate, stances, sides, turns = self.candidate, self.stances, self._sides, self._turns
        rule, codes = self._rule, self._codes
        for change in changes:
            day = change.happened_on
            if turns and day >= turns[-1]:
                self._turn(day)  # the members of that day, before its changes
                rule, codes = self._rule, self._codes
            now = stance(change, candidate)
            member = change.member
            before = stances.get(member, Stance.NO_POSITION)
            # Only a member's change of stance can meet the rule or lose it.
            if now is not before:
                stances[member] = now
                if codes is None or member in codes:
                    if (side := sides.get(before)) is not None:
                        side.discard(member)
                    if (side := sides.get(now)) is not None:
                        side.add(member)
                    self._ask(rule, day)
            self.last_day = day
        if until is not None:
            self._turn(until)
        return self

    def _ask(self, rule: Rule, day: date) -> None:
        """Whether the rule is met after what happened on `day`: since when, or not."""
        if not rule.met(self.backers, self.opposers, self.abstainers):
            self.reached = None
        elif self.reached is None:
            self.reached = day

    def _turn(self, day: date) -> None:
        """Take each change of membership up to `day`, asking the rule on each one's day."""
        while self._turns and self._turns[-1] <= day:
            turn = self._turns.pop()
            self._rule = self.electorate.rule_on(turn)
            self._codes = codes = self.electorate.codes_on(turn)
            for held, side in self._sides.items():
                side.clear()
                side.update(m for m, s in self.stances.items() if s is held)
                if codes is not None:
                    side.intersection_update(codes)
            self._ask(self._rule, turn)
            self.last_day = max(turn, self.last_day or turn)
