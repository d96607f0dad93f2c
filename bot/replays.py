"""The day a candidate met the rule, kept between commands: per candidate, the replay of the
log checkpointed at the end of each day that has changes. A back-fill or an undo (by any
process) replays only from its day, `as_of` answers from the nearest checkpoint, and a
command that follows a recording folds in that day alone."""

from __future__ import annotations

import asyncio
import copy
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection
from datetime import date, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Protocol

from bot.domain import Change, Confidence, Race, Recording
from bot.rules import RuleReplay

FOLD_ON_LOOP = 2_000  # changes folded on the event loop; more take tens of ms at 1M events


class EventLog(Protocol):
    """What the replays read of the store."""

    async def changes(
        self,
        race: str,
        as_of: date,
        up_to_id: int | None = None,
        since: date | None = None,
        counting: Collection[Confidence] | None = None,
    ) -> list[Change]: ...

    async def changes_after(self, race: str, after_id: int) -> list[Recording]: ...

    async def last_event_id(self, race: str) -> int: ...


class _Checkpoints:
    """One candidate's replay at the end of each day with changes, complete up to `through`."""

    def __init__(self, candidate: str, race: Race) -> None:
        self.candidate, self.race = candidate, race
        self.days: list[date] = []
        self.replays: list[RuleReplay] = []  # each one as it stood at the end of its day
        self.through: date | None = None  # None: nothing replayed yet

    def forget_from(self, day: date) -> None:
        """A change happened on `day`: that day and those after it must be replayed again."""
        if self.through is None or self.through < day:
            return
        del self.days[bisect_left(self.days, day) :]
        del self.replays[len(self.days) :]
        self.through = day - timedelta(days=1)

    def extend(self, changes: list[Change], through: date) -> None:
        """Fold the changes of the days after `through`, one checkpoint a day."""
        replay = _copy(self.replays[-1]) if self.replays else RuleReplay(self.candidate, self.race)
        for day, of_day in groupby(changes, key=attrgetter("happened_on")):
            replay.fold(of_day, until=day)
            self.days.append(day)
            self.replays.append(replay)
            replay = _copy(replay)
        self.through = through

    def reached(self, as_of: date) -> date | None:
        i = bisect_right(self.days, as_of) - 1
        base = self.replays[i] if i >= 0 else RuleReplay(self.candidate, self.race)
        since = self.days[i] if i >= 0 else date.min
        if any(since < turn <= as_of for turn in self.race.turns):
            return _copy(base).fold((), until=as_of).reached  # the membership changed since
        return base.reached


async def _folded(fold: Callable[[], object], changes: int) -> None:
    """Run `fold`: in a thread when it has many `changes` (a new process's replay, or one from
    a day long ago), so other commands answer meanwhile; the lock keeps them off it."""
    if changes > FOLD_ON_LOOP:
        await asyncio.to_thread(fold)
    else:
        fold()


def _copy(replay: RuleReplay) -> RuleReplay:
    """A replay to fold on, leaving `replay` as it was: its sets, lists and dicts copied (a
    dict's values that are those sets, as its sides are, become the copies), the rest (the
    race, its rule, dates) shared. A replay holds nothing deeper; deepcopy cost 0.2 ms."""
    twin = copy.copy(replay)
    state = vars(twin)
    copies = {id(v): v.copy() for v in state.values() if isinstance(v, set | list)}
    for name, value in state.items():
        if isinstance(value, dict):
            state[name] = {k: copies.get(id(v), v) for k, v in value.items()}
        elif id(value) in copies:
            state[name] = copies[id(value)]
    return twin


class Replays:
    """The kept replays of one race, following every process's writes by event id, counting
    the positions of the confidences `counting` (a rumour's day is not a day that counts)."""

    def __init__(self, log: EventLog, race: Race, counting: Collection[Confidence]) -> None:
        self._log, self._race, self._counting = log, race, counting
        self._lock = asyncio.Lock()  # two commands must not fold the same day twice
        self._seen = -1  # the last event id the checkpoints count; -1: none read yet
        self._checkpoints: dict[str, _Checkpoints] = {}
        self._once: tuple[tuple[str, date, int], date | None] | None = None

    async def met_on(self, candidate: str, as_of: date, up_to_id: int | None = None) -> date | None:
        """The day `candidate` last came to meet the rule, by the end of `as_of` (None while
        it does not), counting what was recorded by `up_to_id` (default: everything)."""
        async with self._lock:
            await self._follow()
            if up_to_id is not None and up_to_id != self._seen:
                return await self._replay_once(candidate, as_of, up_to_id)
            kept = self._checkpoints.get(candidate)
            if kept is None:
                kept = self._checkpoints[candidate] = _Checkpoints(candidate, self._race)
            if kept.through is None or kept.through < as_of:
                since = kept.through + timedelta(days=1) if kept.through else None
                changes = await self._log.changes(
                    self._race.id, as_of, self._seen, since, self._counting
                )
                await _folded(partial(kept.extend, changes, as_of), len(changes))
            return kept.reached(as_of)

    async def _follow(self) -> None:
        """Take in what any process recorded since: each checkpoint from the earliest day it
        touches (an undo's is the day of what it reverts) is replayed again when next asked."""
        if self._seen < 0:
            self._seen = await self._log.last_event_id(self._race.id)
            return
        recorded = await self._log.changes_after(self._race.id, self._seen)
        if not recorded:
            return
        earliest = min(r.happened_on for r in recorded)
        for kept in self._checkpoints.values():
            kept.forget_from(earliest)
        self._seen = recorded[-1].id

    async def _replay_once(self, candidate: str, as_of: date, up_to_id: int) -> date | None:
        """A digest counting fewer events than are known (or more): a replay of its own,
        the last one kept, as a fan-out asks the same again and again."""
        key = (candidate, as_of, up_to_id)
        if self._once is None or self._once[0] != key:
            replay = RuleReplay(candidate, self._race)
            changes = await self._log.changes(
                self._race.id, as_of, up_to_id, counting=self._counting
            )
            await _folded(partial(replay.fold, changes, until=as_of), len(changes))
            self._once = (key, replay.reached)
        return self._once[1]
