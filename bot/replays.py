"""The day a candidate met the rule, kept between commands and between processes: per
candidate, the replay of the log checkpointed at the end of each day that has changes, kept in
the file too, so a new process starts from it. A back-fill or an undo (by any process)
replays from its day only until the replay stands as its checkpoint did, `as_of` answers from
the nearest checkpoint, and a command that follows a recording folds in that day alone."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Coroutine
from datetime import date, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple, Protocol, TypeVar

from bot.domain import Change, Confidence, Race, Recording, Stance
from bot.rules import RuleReplay

log = logging.getLogger(__name__)

FOLD_ON_LOOP = 2_000  # changes folded on the event loop; more take tens of ms at 1M events
FORMAT = 1  # of the checkpoints kept in the file: a change to the replay's rules bumps it
KEEP_AFTER = 30.0  # seconds from a fold to writing the checkpoints to the file
MAX_KEPT_BYTES = 16_000_000  # larger checkpoints are not kept in the file (replayed instead)
MAX_TOUCHED = 64  # days touched since the last mend; more are replayed from the earliest
FIRST_SPAN = 2  # days read at once while mending (doubled each time it has not converged):
# most mends converge on the day after; a day costs about 0.1 ms of SQL beside 0.6 ms a read
_STANCES = {s.value: s for s in Stance}
T = TypeVar("T")


class EventLog(Protocol):
    """What the replays read of the store, and the checkpoints it keeps for them."""

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

    async def kept_replays(self, race: str, key: str) -> tuple[int, str] | None: ...

    async def kept_replay_stances(self, race: str, key: str, head: str) -> str | None: ...

    async def keep_replays(
        self, race: str, key: str, seen: int, head: str, stances: str
    ) -> None: ...

    def background(self, work: Coroutine) -> asyncio.Task: ...


class UnreadableCheckpoints(Exception):
    """The stances of the checkpoints read from the file cannot be read: another process has
    kept newer ones since, or the file was edited. They are then replayed."""


class _KeptStances:
    """The stances of checkpoints kept in the file: a JSON text, {candidate: [each
    checkpoint's stances, as a JSON text]}, read from the file (`text`) and parsed only when a
    replay first folds on from one (a new process's first tally needs none)."""

    def __init__(self) -> None:
        self.text: str | None = None
        self._read: dict | None = None

    def of(self, candidate: str) -> list[str]:
        if self._read is None:
            if self.text is None:
                raise UnreadableCheckpoints("their stances were not read")
            self._read = json.loads(self.text)
        return self._read[candidate]


class _Packed(NamedTuple):
    """A checkpoint read from the file, unpacked only when a replay folds on from it."""

    kept: _KeptStances
    position: int  # among the candidate's kept stances
    reached: date | None
    last_day: date | None

    def stances(self, candidate: str) -> str:
        try:
            return self.kept.of(candidate)[self.position]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise UnreadableCheckpoints(repr(exc)) from exc


class _Checkpoints:
    """One candidate's replay at the end of each day with changes, complete up to `through`
    but for the days `touched` since (their checkpoints and later ones may be wrong)."""

    def __init__(self, candidate: str, race: Race) -> None:
        self.candidate, self.race = candidate, race
        self.days: list[date] = []
        self.states: list[RuleReplay | _Packed] = []  # each as it stood at the end of its day
        self.through: date | None = None  # None: nothing replayed yet
        self.touched: set[date] = set()

    def touch(self, day: date) -> None:
        """A change happened on `day`: its checkpoint and later ones are to be checked."""
        if self.through is None or self.through < day:
            return
        self.touched.add(day)
        if len(self.touched) > MAX_TOUCHED:  # replay from the earliest rather than keep more
            self.cut(min(self.touched))

    def cut(self, day: date) -> None:
        """Forget the checkpoints from `day` on: they are replayed when next asked."""
        del self.days[bisect_left(self.days, day) :]
        del self.states[len(self.days) :]
        if self.through is not None:
            self.through = min(self.through, day - timedelta(days=1))
        self.touched = {d for d in self.touched if d < day}

    def replay(self, i: int) -> RuleReplay:
        """Checkpoint `i`'s replay (unpacked once), or a new one for i < 0."""
        if i < 0:
            return RuleReplay(self.candidate, self.race)
        state = self.states[i]
        if isinstance(state, _Packed):
            text = state.stances(self.candidate)
            try:
                stances = {m: _STANCES[s] for m, s in json.loads(text).items()}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise UnreadableCheckpoints(repr(exc)) from exc
            state = self.states[i] = RuleReplay.resumed(
                self.candidate, self.race, self.days[i], stances, state.reached, state.last_day
            )
        return state

    def extend(self, changes: list[Change], through: date) -> None:
        """Fold the changes of the days after `through`, one checkpoint a day."""
        replay = _copy(self.replay(len(self.days) - 1))
        for day, of_day in groupby(changes, key=attrgetter("happened_on")):
            replay.fold(of_day, until=day)
            self.days.append(day)
            self.states.append(replay)
            replay = _copy(replay)
        self.through = through

    def mend(
        self, changes: list[Change], since: date, until: date, base: RuleReplay
    ) -> date | None:
        """Replay the days `since` to `until` over `base` (the replay of the day before) and
        put them in place of their checkpoints; stop at the first day that ends as its old
        checkpoint did, as every later one then still holds. That day, or None if none did
        (the checkpoints from `since` are then those replayed, up to `until`)."""
        start = bisect_left(self.days, since)
        days, states, converged = [], [], None
        replay = _copy(base)
        for day, of_day in groupby(changes, key=attrgetter("happened_on")):
            replay.fold(of_day, until=day)
            days.append(day)
            states.append(replay)
            old = bisect_left(self.days, day, lo=start)
            if old < len(self.days) and self.days[old] == day and _same(replay, self.replay(old)):
                converged = old
                break
            replay = _copy(replay)
        end = converged + 1 if converged is not None else bisect_right(self.days, until)
        self.days[start:end], self.states[start:end] = days, states
        done = days[-1] if converged is not None else until
        touched = {d for d in self.touched if d > done}
        if converged is None and self.through is not None and until < self.through:
            touched.add(until + timedelta(days=1))  # the days after are still to check
        self.touched = touched
        return days[-1] if converged is not None else None

    def turned(self, as_of: date) -> bool:
        """Whether the membership changed between the last checkpoint by `as_of` and it."""
        i = bisect_right(self.days, as_of) - 1
        since = self.days[i] if i >= 0 else date.min
        return any(since < turn <= as_of for turn in self.race.turns)

    def reached(self, as_of: date) -> date | None:
        i = bisect_right(self.days, as_of) - 1
        if self.turned(as_of):
            return _copy(self.replay(i)).fold((), until=as_of).reached
        return self.states[i].reached if i >= 0 else None

    @classmethod
    def unpacked(cls, candidate: str, race: Race, head: dict, kept: _KeptStances) -> _Checkpoints:
        """The checkpoints of `candidate` from the file: `head` says each one's day and the
        day the rule was met by then; `kept` holds their stances."""
        checkpoints = cls(candidate, race)
        checkpoints.through = _day(head["through"])
        checkpoints.days = [date.fromisoformat(d) for d in head["days"]]
        columns = enumerate(zip(head["reached"], head["last"], strict=True))
        checkpoints.states = [_Packed(kept, i, _day(r), _day(x)) for i, (r, x) in columns]
        if len(checkpoints.states) != len(checkpoints.days):
            raise ValueError("as many checkpoints as days")
        return checkpoints


def _pack(lists: dict[str, tuple[date, list[date], list[RuleReplay | _Packed]]]) -> tuple[str, str]:
    """The checkpoints as the file keeps them: JSON texts of their heads (each candidate's
    days, and the day the rule was met by each) and of their stances (each checkpoint's a JSON
    text of its own, unpacked only when a replay folds on from it)."""
    heads, stances = {}, {}
    for candidate, (through, days, states) in lists.items():
        heads[candidate] = {
            "through": through.isoformat(),
            "days": [d.isoformat() for d in days],
            "reached": [_iso(s.reached) for s in states],
            "last": [_iso(s.last_day) for s in states],
        }
        stances[candidate] = [
            s.stances(candidate)
            if isinstance(s, _Packed)
            else json.dumps({m: v.value for m, v in s.stances.items()}, separators=(",", ":"))
            for s in states
        ]
    return _json(heads), _json(stances)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _same(a: RuleReplay, b: RuleReplay) -> bool:
    """Whether the two replays will answer alike from here on: the same stances (no position
    written or not) and the same day the rule was met."""
    if a.reached != b.reached:
        return False
    none = Stance.NO_POSITION
    return {m: s for m, s in a.stances.items() if s is not none} == {
        m: s for m, s in b.stances.items() if s is not none
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


async def _folded(fold: Callable[[], T], changes: int) -> T:
    """Run `fold`: in a thread when it has many `changes` (a new process's replay, or one from
    a day long ago), so other commands answer meanwhile; the lock keeps them off it."""
    if changes > FOLD_ON_LOOP:
        return await asyncio.to_thread(fold)
    return fold()


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


def replays_key(race: Race, counting: Collection[Confidence]) -> str:
    """What a replay's checkpoints depend on besides the log: the confidences counted (in
    clear, before the colon: the file keeps one set of checkpoints per way of counting), then
    a hash of the format and of each era's rule and members. A race file whose rule or members
    changed starts from a new replay rather than from checkpoints of the old one."""
    eras = [
        [day.isoformat(), _plain(race.rule_on(day)), sorted(race.codes_on(day))]
        for day in (date.min, *race.turns)
    ]
    text = json.dumps([FORMAT, eras], sort_keys=True)
    counted = "+".join(sorted(c.value for c in counting))
    return f"{counted}:{hashlib.sha256(text.encode()).hexdigest()}"


def _plain(value: object) -> object:
    """A rule as JSON-ready values, the same in every process (sets sorted)."""
    if dataclasses.is_dataclass(value):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return [type(value).__name__, fields]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | None) else repr(value)


class Replays:
    """The kept replays of one race, following every process's writes by event id, counting
    the positions of the confidences `counting` (a rumour's day is not a day that counts)."""

    def __init__(self, log: EventLog, race: Race, counting: Collection[Confidence]) -> None:
        self._log, self._race, self._counting = log, race, counting
        self._key = replays_key(race, counting)
        self._lock = asyncio.Lock()  # two commands must not fold the same day twice
        self._seen = -1  # the last event id the checkpoints count; -1: none read yet
        self._checkpoints: dict[str, _Checkpoints] = {}
        # the stances of the checkpoints read from the file, and the heads they were read with
        self._kept_stances: _KeptStances | None = None
        self._kept_head = ""
        self._once: tuple[tuple[str, date, int], date | None] | None = None
        self._keeping: asyncio.Task | None = None  # writes the checkpoints to the file
        self._keep_due = False  # something was folded since they were last written
        self._keep_now = asyncio.Event()  # write them without waiting for KEEP_AFTER

    async def met_on(self, candidate: str, as_of: date, up_to_id: int | None = None) -> date | None:
        """The day `candidate` last came to meet the rule, by the end of `as_of` (None while
        it does not), counting what was recorded by `up_to_id` (default: everything)."""
        async with self._lock:
            await self._follow()
            try:
                return await self._answer(candidate, as_of, up_to_id)
            except UnreadableCheckpoints as exc:
                log.warning("The kept replay checkpoints are unreadable (%s); replaying", exc)
                self._checkpoints, self._kept_stances = {}, None
                return await self._answer(candidate, as_of, up_to_id)

    async def _answer(self, candidate: str, as_of: date, up_to_id: int | None) -> date | None:
        if up_to_id is not None and up_to_id != self._seen:
            return await self._replay_once(candidate, as_of, up_to_id)
        return await self._met_on(candidate, as_of)

    async def _met_on(self, candidate: str, as_of: date) -> date | None:
        kept = self._checkpoints.get(candidate)
        if kept is None:
            kept = self._checkpoints[candidate] = _Checkpoints(candidate, self._race)
        folded = await self._mend(kept)
        extend = kept.through is None or kept.through < as_of
        if extend or kept.turned(as_of):  # folds on from a checkpoint
            await self._read_kept_stances()
        if extend:
            since = kept.through + timedelta(days=1) if kept.through else None
            changes = await self._log.changes(
                self._race.id, as_of, self._seen, since, self._counting
            )
            await _folded(partial(kept.extend, changes, as_of), len(changes))
            folded = True
        if folded:
            self._keep()
        return kept.reached(as_of)

    async def _follow(self) -> None:
        """Take in what any process recorded since: each day it touches (an undo's is the day
        of what it reverts) is checked again when next asked. A new process starts from the
        checkpoints kept in the file, if any, and follows the log from there."""
        if self._seen < 0:
            last = await self._log.last_event_id(self._race.id)
            if not await self._read_kept(last):
                self._seen = last
                return
        recorded = await self._log.changes_after(self._race.id, self._seen)
        if not recorded:
            return
        days = {r.happened_on for r in recorded}
        for kept in self._checkpoints.values():
            for day in days:
                kept.touch(day)
        self._seen = recorded[-1].id

    async def _mend(self, kept: _Checkpoints) -> bool:
        """Replay the touched days, each from the checkpoint before it until the replay stands
        as the old checkpoint did (often the day after, once the member has another position),
        reading the log a few days at a time, twice as many each time. Whether any was."""
        span = FIRST_SPAN
        folded = bool(kept.touched)
        if folded:
            await self._read_kept_stances()
        while kept.touched:
            since = min(kept.touched)
            assert kept.through is not None  # touch() keeps no day past it
            until = min(kept.through, since + timedelta(days=span - 1))
            base = kept.replay(bisect_left(kept.days, since) - 1)
            changes = await self._log.changes(
                self._race.id, until, self._seen, since, self._counting
            )
            converged = await _folded(partial(kept.mend, changes, since, until, base), len(changes))
            span = FIRST_SPAN if converged is not None else span * 2
        return folded

    async def _read_kept(self, last: int) -> bool:
        """Start from the checkpoints kept in the file: whether there were any to trust."""
        kept = await self._log.kept_replays(self._race.id, self._key)
        if kept is None:
            return False
        seen, head = kept
        if seen > last:  # counts events the log no longer has: not this file's
            return False
        try:
            self._kept_stances = stances = _KeptStances()
            self._checkpoints = {
                c: _Checkpoints.unpacked(c, self._race, h, stances)
                for c, h in json.loads(head).items()
            }
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            log.warning("The kept replay checkpoints are unreadable (%s); replaying the log", exc)
            self._checkpoints = {}
            return False
        self._seen, self._kept_head = seen, head
        return True

    async def _read_kept_stances(self) -> None:
        """Read the stances of the checkpoints read from the file, before a fold from one:
        those written with them, unless another process has written others since."""
        if self._kept_stances is None or self._kept_stances.text is not None:
            return
        text = await self._log.kept_replay_stances(self._race.id, self._key, self._kept_head)
        if text is None:
            raise UnreadableCheckpoints("the file keeps newer ones since they were read")
        self._kept_stances.text = text

    def _keep(self) -> None:
        """Write the checkpoints to the file KEEP_AFTER seconds after the first fold since
        they were last written (a burst of recordings is one write), so a new process starts
        from them; `written` writes them at once."""
        self._keep_due = True
        if self._keeping is None or self._keeping.done():
            self._keeping = self._log.background(self._write_kept())

    async def written(self) -> None:
        """Write the checkpoints to the file now, if anything was folded since they were."""
        if self._keeping is None or self._keeping.done():
            return
        self._keep_now.set()
        try:
            await asyncio.wait({self._keeping})
        finally:
            self._keep_now.clear()

    async def _write_kept(self) -> None:
        while self._keep_due:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._keep_now.wait(), KEEP_AFTER)
            self._keep_due = False
            # Copied between folds; a kept checkpoint is never changed (a fold starts from a
            # copy), so the copies can be packed in a thread while commands go on.
            try:
                async with self._lock:
                    await self._read_kept_stances()
                    seen, lists = (
                        self._seen,
                        {
                            c: (k.through, k.days.copy(), k.states.copy())
                            for c, k in self._checkpoints.items()
                            if not k.touched and k.through is not None
                        },
                    )
                head, stances = await asyncio.to_thread(_pack, lists)
            except UnreadableCheckpoints:
                return  # the next fold replays them; the file keeps newer ones, or bad ones
            if len(head) + len(stances) <= MAX_KEPT_BYTES:
                await self._log.keep_replays(self._race.id, self._key, seen, head, stances)

    async def _replay_once(self, candidate: str, as_of: date, up_to_id: int) -> date | None:
        """A digest counting fewer events than are known (or more): a replay of its own,
        the last one kept, as a fan-out asks the same again and again."""
        key = (candidate, as_of, up_to_id)
        if self._once is None or self._once[0] != key:
            self._once = (key, await self._replay_to(candidate, as_of, up_to_id))
        return self._once[1]

    async def _replay_to(self, candidate: str, as_of: date, up_to_id: int) -> date | None:
        """The replay counting the events up to `up_to_id`. When it is behind the kept
        checkpoints, it is theirs up to the first day a later event touches (often today),
        folded on from there."""
        replay, since = RuleReplay(candidate, self._race), None
        kept = self._checkpoints.get(candidate)
        if kept is not None and up_to_id < self._seen:
            if await self._mend(kept):
                self._keep()
            if kept.through is not None and kept.through >= as_of:
                await self._read_kept_stances()
                later = await self._log.changes_after(self._race.id, up_to_id)
                since = min((r.happened_on for r in later if r.id <= self._seen), default=None)
                if since is None or since > as_of:
                    return kept.reached(as_of)
                replay = _copy(kept.replay(bisect_left(kept.days, since) - 1))
        changes = await self._log.changes(self._race.id, as_of, up_to_id, since, self._counting)
        await _folded(partial(replay.fold, changes, until=as_of), len(changes))
        return replay.reached
