"""The rule a candidate must meet, one strategy per kind, and the replay that finds the day it
was met.

A rule reads who backs a candidate and who opposes them (member codes) and answers whether that
meets it (`met`), how far along it is (`progress`), what is still missing (`needs`) and what it
is called (`describe`). Nothing outside this module compares a count with what a rule requires.
`progress` is one `Measure` per quantity the rule counts and the members who block it whatever
the counts, so a rule that weighs members (a qualified majority: a share of the members and a
share of their population) or gives some a veto (the Security Council's permanent members) is
one more class here and one more kind in the race file (`bot/racefile.py`); the tally, the
replies, the charts and the replay read any rule alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date

from bot.domain import Change, Stance, stance


@dataclass(frozen=True)
class Measure:
    """One quantity a rule counts, as a progress bar shows it: 28 of 32 members, 32 needed."""

    count: int
    total: int
    needed: int
    unit: str = ""  # what it counts when not members, e.g. "% of the population"

    @property
    def counts_members(self) -> bool:
        """Whether it counts members, so a chart of backers can draw its line."""
        return not self.unit

    @property
    def missing(self) -> int:
        return max(0, self.needed - self.count)

    @property
    def shown(self) -> str:
        """'28/32', as beside a progress bar."""
        return self._with_unit(f"{self.count}/{self.total}")

    @property
    def target(self) -> str:
        """'32/32': what meeting it takes."""
        return self._with_unit(f"{self.needed}/{self.total}")

    def _with_unit(self, text: str) -> str:
        return f"{text} {self.unit}" if self.unit else text


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
    """What a candidate needs, from the members who back them and those who oppose them."""

    @abstractmethod
    def progress(self, backers: Collection[str], opposers: Collection[str] = ()) -> Progress:
        """Each measure the rule counts, given the members (codes) backing and opposing."""

    @abstractmethod
    def needs(self, backers: Collection[str], opposers: Collection[str] = ()) -> str:
        """What is still missing, or that nothing is: 'needs 4 more for unanimity'."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in a few words, as in 'reached unanimity': 'a majority', '24 backers'."""

    def met(self, backers: Collection[str], opposers: Collection[str] = ()) -> bool:
        return self.progress(backers, opposers).met

    def goal(self) -> tuple[Measure, ...]:
        """What meeting the rule takes, each measure's `target`, before anyone backs."""
        return self.progress(()).measures


@dataclass(frozen=True)
class _HeadCount(Rule):
    """A number of backers out of `total` members, whoever they are."""

    total: int

    @property
    @abstractmethod
    def needed(self) -> int: ...

    def progress(self, backers: Collection[str], opposers: Collection[str] = ()) -> Progress:
        return Progress((Measure(len(backers), self.total, self.needed),))

    def met(self, backers: Collection[str], opposers: Collection[str] = ()) -> bool:
        # What `progress` says, without building it: the replay asks after every change.
        return len(backers) >= self.needed

    def needs(self, backers: Collection[str], opposers: Collection[str] = ()) -> str:
        missing = self.progress(backers).measures[0].missing
        if missing == 0:
            return f"has {self.describe()}"
        return f"needs {missing} more for {self.describe()}"


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
class Threshold(_HeadCount):
    """A set number of backers, `backers` of `total`."""

    backers: int

    @property
    def needed(self) -> int:
        return self.backers

    def needs(self, backers: Collection[str], opposers: Collection[str] = ()) -> str:
        missing = self.progress(backers).measures[0].missing
        if missing == 0:
            return f"has the {self.backers} backers it needs"
        return f"needs {missing} more to reach {self.backers}"

    def describe(self) -> str:
        return f"{self.backers} backers"


@dataclass
class RuleReplay:
    """Follows a candidate's backers and opposers over the position changes in the order they
    happened, asking the rule whenever one's stance changes, to know the day it was last met
    (`reached`, None while it is not). Later changes fold in without starting over."""

    candidate: str
    rule: Rule
    stances: dict[str, Stance] = field(default_factory=dict)  # by member code
    backers: set[str] = field(default_factory=set)
    opposers: set[str] = field(default_factory=set)
    reached: date | None = None
    last_day: date | None = None

    def fold(self, changes: Iterable[Change]) -> RuleReplay:
        """Add changes (undone ones left out) that happened on or after `last_day`."""
        for change in changes:
            now = stance(change, self.candidate)
            # Only a change of stance can meet the rule or lose it.
            if now is not self.stances.get(change.member, Stance.NO_POSITION):
                self._move(change.member, now)
                if not self.rule.met(self.backers, self.opposers):
                    self.reached = None
                elif self.reached is None:
                    self.reached = change.happened_on
            self.last_day = change.happened_on
        return self

    def _move(self, member: str, now: Stance) -> None:
        self.stances[member] = now
        self.backers.discard(member)
        self.opposers.discard(member)
        if now is Stance.BACKS:
            self.backers.add(member)
        elif now is Stance.OPPOSES:
            self.opposers.add(member)
