"""The Store: an append-only event log, the current positions beside it, candidates.

A recording is one INSERT statement: triggers keep `current_positions` in step within that
same statement, which makes `/tally` cost O(members) and leaves no window where the two
disagree. Recordings queued together share a transaction, each in a savepoint of its own
(`Database._write_together`); how writes wait and retry is `Database`'s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from bot.domain import (
    Actor,
    Candidate,
    CandidateAction,
    Change,
    Confidence,
    Event,
    EventKind,
    Position,
    Recording,
    Standing,
)
from bot.export import ExportQuery
from bot.store.checkpoints import CheckpointRows
from bot.store.digests import DigestRows

_EVENT_COLUMNS = (
    "id, race, member, position, candidate, happened_on, recorded_at,"
    " actor_platform, actor_id, actor_name, source, note, reverts, confidence, condition"
)
_ACTIVE = "NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)"
_MAX_ID = 2**63 - 1  # "no upper bound" for id ranges


# Each member's last active position of each day, by index seeks on events_by_member: the
# members, then walking back each one's days, one seek a day giving its last event; only when
# that one does not count (an undo, undone, recorded after `up`) is the day searched.
_ACTIVE_AS_OF = (
    "{e}.position != 'undo' AND {e}.id <= :up AND {counted}"
    " AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = {e}.id AND u.id <= :up)"
)
_CHANGES = """
WITH RECURSIVE m(member) AS (
  SELECT (SELECT member FROM events WHERE race = :race ORDER BY member LIMIT 1)
  UNION ALL
  SELECT (SELECT member FROM events WHERE race = :race AND member > m.member
          ORDER BY member LIMIT 1)
  FROM m WHERE m.member IS NOT NULL
), d(member, id) AS (
  SELECT member, (SELECT id FROM events WHERE race = :race AND member = m.member
                  AND happened_on >= :since AND happened_on <= :until
                  ORDER BY happened_on DESC, id DESC LIMIT 1)
  FROM m WHERE m.member IS NOT NULL
  UNION ALL
  SELECT d.member, (SELECT x.id FROM events AS x WHERE x.race = :race AND x.member = d.member
                    AND x.happened_on >= :since AND x.happened_on < l.happened_on
                    ORDER BY x.happened_on DESC, x.id DESC LIMIT 1)
  FROM d JOIN events AS l ON l.id = d.id
)
SELECT d.member, e.position, e.candidate, e.happened_on
FROM d JOIN events AS l ON l.id = d.id JOIN events AS e ON e.id = CASE
  WHEN {l_active} THEN l.id
  ELSE (SELECT x.id FROM events AS x
        WHERE x.race = :race AND x.member = d.member AND x.happened_on = l.happened_on
          AND {x_active}
        ORDER BY x.id DESC LIMIT 1)
END
ORDER BY e.happened_on, e.id
"""


def _counted(e: str, counting: Collection[Confidence] | None) -> str:
    """SQL true for a row of alias `e` whose confidence is in `counting` (None: any); a row
    from before confidences were recorded (NULL) is read by its source, as _event reads it.
    The values are the enum's own, never typed text."""
    if counting is None:
        return "1"
    values = ", ".join(f"'{c.value}'" for c in sorted(counting))
    return (
        f"coalesce({e}.confidence, iif(nullif({e}.source, '') IS NULL, 'rumoured', 'reported'))"
        f" IN ({values})"
    )


def _changes_sql(counting: Collection[Confidence] | None) -> str:
    active = {e: _ACTIVE_AS_OF.format(e=e, counted=_counted(e, counting)) for e in ("l", "x")}
    return _CHANGES.format(l_active=active["l"], x_active=active["x"])


@dataclass(frozen=True)
class NewEvent:
    race: str
    member: str
    position: str
    candidate: str | None
    happened_on: date
    actor: Actor
    source: str | None = None
    note: str | None = None
    confidence: Confidence | None = None  # None: by its source (Confidence.default)
    condition: str | None = None


@dataclass(frozen=True)
class CandidateChange:
    action: CandidateAction | None  # None for a candidate never added
    on: date | None  # None: in the race from its start


# A position by its stored value: a dict, as Position(value) costs ten times as much, on each
# of a replay's 100,000 rows.
_POSITIONS = {p.value: p for p in Position}
_CONFIDENCES = {c.value: c for c in Confidence}


def _kind(position: str) -> tuple[EventKind, Position | None]:
    """The log's position column read: 'undo' is an undo, anything else a position."""
    if position == EventKind.UNDO:
        return EventKind.UNDO, None
    return EventKind.POSITION, _POSITIONS[position]


def _event(row: Sequence) -> Event:
    kind, position = _kind(row[3])
    return Event(
        id=row[0],
        race=row[1],
        member=row[2],
        kind=kind,
        position=position,
        candidate=row[4],
        happened_on=date.fromisoformat(row[5]),
        recorded_at=datetime.fromisoformat(row[6]),
        actor=Actor(row[7], row[8], row[9]),
        source=row[10],
        note=row[11],
        reverts=row[12],
        # NULL: recorded before confidences were (migration 12), so by its source
        confidence=_CONFIDENCES[row[13]] if row[13] else Confidence.default(row[10]),
        condition=row[14],
    )


class Store(DigestRows, CheckpointRows):
    """The event log, the current positions and the candidates; the digest's rows beside them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The writer thread's own (see `_standing`): (race, member): (event id, since, source)
        # of the run each member's latest appended repeat continues, and that event's id.
        self._runs: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        self._appended_to = 0

    # --- writes -------------------------------------------------------------------------

    async def append(self, new: NewEvent) -> tuple[Event, Event | None, Standing | None] | None:
        """Append one event, and say the member's position before it, in one statement, so
        concurrent recordings each see their own (RETURNING is computed before the AFTER
        triggers move the position on); when it repeats that position (the same, on a day not
        before it), the standing it continues, read in the same transaction. One trip to the
        database thread and one commit, shared with the recordings queued meanwhile (see
        `_write_together`). None, and nothing written, if its candidate was not in the race on
        its day, by the candidate log as it is then, whichever process changed it last."""
        params = (
            *_params(new, self._now()),
            *(new.candidate, new.race, new.candidate, new.happened_on.isoformat()),
            *(new.race, new.member),
        )

        def job(db: sqlite3.Connection) -> tuple[tuple, list | None, tuple | None] | None:
            rows = db.execute(_APPEND, params).fetchall()  # all: the statement is done
            if not rows:
                return None
            (row,) = rows
            before = json.loads(row[-1]) if row[-1] else None
            return row[:-1], before, self._standing(db, row, before)

        appended = await self._write_together(job)
        if appended is None:
            return None
        row, before, standing = appended
        return (
            _event(row),
            _event(before) if before else None,
            Standing(date.fromisoformat(standing[0]), standing[1]) if standing else None,
        )

    def _standing(self, db: sqlite3.Connection, row: tuple, before: list | None) -> tuple | None:
        """In the writer's thread, right after appending `row` (columns as _EVENT_COLUMNS): when
        it repeats `before`, the member's position before it (same position and candidate, on
        a day not before it), (since, source) of the run it continues, else None. A run's
        standing is kept from the repeat before, while every event since was appended here one
        after another: it is then the kept one's, with this event's source if it has one. Else
        (another process's event, an undo, a seed in between) it is read again."""
        if row[0] != self._appended_to + 1:
            self._runs.clear()
        self._appended_to = row[0]
        member = (row[1], row[2])
        if before is None or before[5] > row[5] or before[3:5] != list(row[3:5]):
            self._runs.pop(member, None)
            return None
        kept = self._runs.get(member)
        if kept is not None and kept[0] == before[0]:
            standing = (kept[1], row[10] or kept[2])
        else:
            day = {"race": row[1], "members": json.dumps([row[2]]), "day": row[5], "up": _MAX_ID}
            (standing,) = db.execute(_STANDINGS_OF_ANY, day).fetchall()
            standing = standing[1:]
        self._runs[member] = (row[0], *standing)
        return standing

    def _rolled_back(self) -> None:
        self._runs.clear()  # they may be of events that were never committed

    async def seed(self, race: str, events: Iterable[NewEvent]) -> int:
        """Append a race's seed events once; returns how many were added (0 if seeded before)."""
        events = list(events)

        async def work() -> int:
            cursor = await self.db.execute(
                "INSERT INTO seeded (race, seeded_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (race, self._now()),
            )
            if cursor.rowcount != 1:
                return 0
            await self.db.executemany(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES"
                " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                [_params(e, self._now()) for e in events],
            )
            return len(events)

        return await self._transaction(work)

    async def undo_last(self, race: str, actor: Actor) -> Event | None:
        """Revert the actor's latest event that is not itself an undo nor already undone."""
        rows = await self._write(
            lambda: self.db.execute_fetchall(
                f"INSERT INTO events ({_EVENT_COLUMNS})"
                " SELECT NULL, race, member, 'undo', candidate, happened_on, ?, ?, ?, ?,"
                "   NULL, NULL, id, NULL, NULL"
                " FROM events AS e"
                " WHERE e.actor_platform = ? AND e.actor_id = ? AND e.race = ?"
                f"   AND e.position != 'undo' AND {_ACTIVE}"
                " ORDER BY e.id DESC LIMIT 1"
                f" RETURNING {_EVENT_COLUMNS}",
                (self._now(), actor.platform, actor.id, actor.name, actor.platform, actor.id, race),
            )
        )
        return _event(rows[0]) if rows else None

    async def add_candidate(
        self, race: str, candidate: Candidate, on: date | None, actor: Actor
    ) -> bool:
        """False if a candidate with that key exists already. One statement: check and add."""
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO candidate_events (race, key, action, name, member, aliases,"
                "   happened_on, recorded_at, actor_platform, actor_id, actor_name)"
                " SELECT ?, ?, 'add', ?, ?, ?, ?, ?, ?, ?, ?"
                " WHERE NOT EXISTS (SELECT 1 FROM candidate_events"
                "   WHERE race = ? AND key = ? AND action = 'add')",
                (
                    race,
                    candidate.key,
                    candidate.name,
                    candidate.member,
                    "\n".join(candidate.aliases),
                    on.isoformat() if on else None,
                    self._now(),
                    actor.platform,
                    actor.id,
                    actor.name,
                    race,
                    candidate.key,
                ),
            )
        )
        return cursor.rowcount == 1

    async def candidate_change(
        self, race: str, key: str, action: CandidateAction, on: date, actor: Actor
    ) -> CandidateChange | None:
        """A candidate withdraws ('withdraw') or comes back ('return') on a day. The log by
        dates alternates, each change on or after the one before it: a withdrawal follows an
        add or a return, a return follows a withdrawal. Checked and written in one transaction;
        None when written, else the latest change, which this one had to follow."""
        follows = (
            (CandidateAction.ADD, CandidateAction.RETURN)
            if action is CandidateAction.WITHDRAW
            else (CandidateAction.WITHDRAW,)
        )

        async def work() -> CandidateChange | None:
            rows = await self.db.execute_fetchall(
                "SELECT action, happened_on FROM candidate_events WHERE race = ? AND key = ?"
                " ORDER BY coalesce(happened_on, '') DESC, id DESC LIMIT 1",
                (race, key),
            )
            if not rows:
                return CandidateChange(None, None)
            latest = CandidateChange(CandidateAction(rows[0][0]), _day(rows[0][1]))
            if latest.action not in follows or (latest.on or on) > on:
                return latest
            await self.db.execute(
                "INSERT INTO candidate_events (race, key, action, happened_on, recorded_at,"
                "   actor_platform, actor_id, actor_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (race, key, action, on.isoformat(), self._now(), actor.platform, actor.id,
                 actor.name),
            )  # fmt: skip
            return None

        return await self._transaction(work)

    # --- reads --------------------------------------------------------------------------

    async def candidates(self, race: str, as_of: date | None = None) -> list[Candidate]:
        """The candidates, in the order they entered the race, with the log applied by the
        dates things happened (at the end of `as_of`, for a look back: those added later are
        left out, and so are changes after that day)."""
        rows = await self.reader.execute_fetchall(
            "SELECT key, action, name, member, aliases, happened_on FROM candidate_events"
            " WHERE race = ? AND coalesce(happened_on, '') <= ?"
            " ORDER BY coalesce(happened_on, ''), id",  # by date; the race file's (none) first
            (race, as_of.isoformat() if as_of else "9999-12-31"),
        )
        found: dict[str, Candidate] = {}
        for key, action, name, member, aliases, happened_on in rows:
            if action == CandidateAction.ADD:
                found[key] = Candidate(
                    key, name, member, tuple(a for a in aliases.split("\n") if a)
                )
            elif key in found:
                withdrawn = _day(happened_on) if action == CandidateAction.WITHDRAW else None
                found[key] = replace(found[key], withdrawn_on=withdrawn)
        return list(found.values())

    async def candidates_version(self) -> int:
        """Changes whenever any process changes a candidate: the candidate log is append-only,
        so its largest id is its version (one index seek)."""
        ((version,),) = await self.reader.execute_fetchall(
            "SELECT coalesce(max(id), 0) FROM candidate_events"
        )
        return version

    async def current(self, race: str) -> dict[str, Event]:
        """Each member's latest position, read from the maintained table: O(members)."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM current_positions AS c"
            " JOIN events AS e ON e.id = c.event_id WHERE c.race = ?",
            (race,),
        )
        return {row[2]: _event(row) for row in rows}

    async def position_of(self, race: str, member: str) -> Event | None:
        rows = await self.reader.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM current_positions AS c"
            " JOIN events AS e ON e.id = c.event_id WHERE c.race = ? AND c.member = ?",
            (race, member),
        )
        return _event(rows[0]) if rows else None

    async def as_of(
        self,
        race: str,
        day: date,
        members: Sequence[str],
        up_to_id: int | None = None,
        counting: Collection[Confidence] | None = None,
    ) -> dict[str, Event]:
        """Each member's latest position among events that happened on or before `day` (and,
        with `up_to_id`, were recorded by then; with `counting`, are that sure): one index
        seek per member, not a log scan."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM json_each(?) AS m JOIN events AS e ON e.id = ("
            "  SELECT x.id FROM events AS x"
            "  WHERE x.race = ? AND x.member = m.value AND x.happened_on <= ? AND x.id <= ?"
            f"    AND x.position != 'undo' AND {_counted('x', counting)}"
            "    AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = x.id AND u.id <= ?)"
            "  ORDER BY x.happened_on DESC, x.id DESC LIMIT 1)",
            (json.dumps(list(members)), race, day.isoformat(), *[up_to_id or _MAX_ID] * 2),
        )
        return {row[2]: _event(row) for row in rows}

    async def changes(
        self,
        race: str,
        as_of: date,
        up_to_id: int | None = None,
        since: date | None = None,
        counting: Collection[Confidence] | None = None,
    ) -> list[Change]:
        """(member, position, candidate, day) of each member's last active position of each
        day from `since` to `as_of` (with `counting`, of those that sure), in the order they
        happened: a replay's and a timeline's input, as both read the state at the end of each
        day. A skip-scan of events_by_member, so it reads about one row per member and day,
        however many events those days hold; on its own connection and thread, rows converted
        there."""
        params = {
            "race": race,
            "since": (since or date.min).isoformat(),
            "until": as_of.isoformat(),
            "up": up_to_id or _MAX_ID,
        }

        sql = _changes_sql(counting)

        def read(db: sqlite3.Connection) -> list[Change]:
            rows = db.execute(sql, params)
            fromiso, positions = date.fromisoformat, _POSITIONS
            return [Change(m, positions[p], c, fromiso(d)) for m, p, c, d in rows]

        return await self.heavy(read)

    async def changes_after(self, race: str, after_id: int) -> list[Recording]:
        """The events recorded after `after_id`, undos included: what a kept replay has not
        seen yet."""
        rows = await self.reader.execute_fetchall(
            "SELECT id, member, position, candidate, happened_on FROM events"
            " WHERE race = ? AND id > ? ORDER BY id",
            (race, after_id),
        )
        recorded = []
        for i, member, position, candidate, day in rows:
            kind, taken = _kind(position)
            recorded.append(Recording(i, kind, member, taken, candidate, date.fromisoformat(day)))
        return recorded

    async def history(self, race: str, member: str | None = None, limit: int = 10) -> list[Event]:
        """The log, newest recording first."""
        where, params = "race = ?", [race]
        if member is not None:
            where += " AND member = ?"
            params.append(member)
        rows = await self.reader.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_event(r) for r in rows]

    async def standings(
        self,
        race: str,
        members: Sequence[str],
        day: date,
        up_to_id: int | None = None,
        counting: Collection[Confidence] | None = None,
    ) -> dict[str, Standing]:
        """Each member's standing on `day` (counting what was recorded by `up_to_id`): the first
        day of its latest position's unbroken run of repeats, and the run's latest source. Index
        seeks over events_by_member bounded by the run itself, never the member's whole log:
        the latest active event, the latest one before it that differs (the run's edge), then
        the run's first event and its latest with a source. Undone events do not count, nor
        (with `counting`) those less sure."""
        rows = await self.reader.execute_fetchall(
            _standings_sql(counting),
            {
                "race": race,
                "members": json.dumps(list(members)),
                "day": day.isoformat(),
                "up": up_to_id or _MAX_ID,
            },
        )
        return {
            member: Standing(date.fromisoformat(since), source) for member, since, source in rows
        }

    async def events(
        self, race: str, after_id: int = 0, up_to_id: int | None = None
    ) -> list[Event]:
        """The log of a race in recording order: all of it, or the ids in (after_id, up_to_id]."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE race = ? AND id > ? AND id <= ?"
            " ORDER BY id",
            (race, after_id, up_to_id or _MAX_ID),
        )
        return [_event(r) for r in rows]

    def event_rows(
        self, race: str, since: date | None = None, until: date | None = None
    ) -> ExportQuery:
        """The read of an export: the log of a race that happened from `since` to `until`, in
        recording order, each row as the export shows it (EXPORT_COLUMNS): names beside codes,
        an event from before confidences read by its source (none for an undo), and with
        :sheet, text a spreadsheet would run as a formula (=, +, -, @) quoted with a leading '
        (as bot.export quotes other rows). Run by the export's worker on its own connection."""

        def text(value: str) -> str:
            return (
                f"CASE WHEN :sheet AND unicode({value}) IN (61, 43, 45, 64, 9, 13)"
                f" THEN '''' || {value} ELSE {value} END"
            )

        confidence = (
            "CASE WHEN e.position = 'undo' THEN NULL WHEN e.confidence != '' THEN e.confidence"
            " WHEN e.source != '' THEN :reported ELSE :rumoured END"
        )
        columns = [
            "e.id", *map(text, ["e.race", "e.member", "coalesce(m.name, e.member)"]),
            "e.position", *map(text, ["e.candidate", "c.name", "e.happened_on", "e.recorded_at",
            "e.actor_platform", "e.actor_id", "e.actor_name", "e.source", "e.note"]),
            "e.reverts", text(confidence), text("e.condition"),
        ]  # fmt: skip
        sql = (
            "WITH members(code, name) AS MATERIALIZED (SELECT key, value FROM json_each(:members)),"
            " candidates(key, name) AS MATERIALIZED"
            "  (SELECT key, value FROM json_each(:candidates))"
            f" SELECT {', '.join(columns)} FROM events AS e"
            " LEFT JOIN members AS m ON m.code = e.member"
            " LEFT JOIN candidates AS c ON c.key = e.candidate"
            " WHERE e.race = :race AND e.happened_on >= :since AND e.happened_on <= :until"
            " ORDER BY e.id"
        )
        params = {
            "race": race,
            "since": (since or date.min).isoformat(),
            "until": (until or date.max).isoformat(),
            "reported": Confidence.REPORTED.value,  # as Confidence.default reads a source
            "rumoured": Confidence.RUMOURED.value,
        }
        return ExportQuery(self.path, sql, params)

    async def event(self, event_id: int) -> Event | None:
        rows = await self.reader.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)
        )
        return _event(rows[0]) if rows else None

    async def last_event_id(self, race: str) -> int:
        (row,) = await self.reader.execute_fetchall(
            "SELECT coalesce(max(id), 0) FROM events WHERE race = ?", (race,)
        )
        return row[0]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _params(e: NewEvent, recorded_at: str) -> tuple:
    return (
        e.race,
        e.member,
        e.position,
        e.candidate,
        e.happened_on.isoformat(),
        recorded_at,
        e.actor.platform,
        e.actor.id,
        e.actor.name,
        e.source,
        e.note,
        (e.confidence or Confidence.default(e.source)).value,
        e.condition,
    )


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _EVENT_COLUMNS.split(","))


def _standings_sql(counting: Collection[Confidence] | None) -> str:
    """The query of `Store.standings`: parameters race, members (JSON), day and up."""
    counted = _counted("x", counting)
    active = (
        "x.race = :race AND x.member = l.member AND x.happened_on <= :day AND x.id <= :up"
        f" AND x.position != 'undo' AND {counted}"
        " AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = x.id AND u.id <= :up)"
    )
    # after the edge: its own day with a later id, or a later day (two index ranges, as
    # SQLite ranges over one column of a row value only)
    edge_day = f"{active} AND x.happened_on = b.happened_on AND x.id > b.id"
    later = f"{active} AND x.happened_on > coalesce(b.happened_on, '')"
    with_source = "x.source IS NOT NULL AND x.source != ''"
    return (
        "WITH l AS ("
        "  SELECT e.member, e.position, e.candidate FROM json_each(:members) AS m"
        "  JOIN events AS e ON e.id = ("
        "    SELECT x.id FROM events AS x"
        "    WHERE x.race = :race AND x.member = m.value AND x.happened_on <= :day"
        f"      AND x.id <= :up AND x.position != 'undo' AND {counted} AND NOT EXISTS"
        "        (SELECT 1 FROM events AS u WHERE u.reverts = x.id AND u.id <= :up)"
        "    ORDER BY x.happened_on DESC, x.id DESC LIMIT 1)"
        "), r AS ("
        "  SELECT l.member, b.happened_on, b.id FROM l LEFT JOIN events AS b ON b.id = ("
        f"    SELECT x.id FROM events AS x WHERE {active}"
        "      AND (x.position IS NOT l.position OR x.candidate IS NOT l.candidate)"
        "    ORDER BY x.happened_on DESC, x.id DESC LIMIT 1)"
        ") SELECT l.member, coalesce("
        f"  (SELECT x.happened_on FROM events AS x WHERE {edge_day} ORDER BY x.id LIMIT 1),"
        f"  (SELECT x.happened_on FROM events AS x WHERE {later}"
        "    ORDER BY x.happened_on, x.id LIMIT 1)"
        "), coalesce("
        f"  (SELECT x.source FROM events AS x WHERE {later} AND {with_source}"
        "    ORDER BY x.happened_on DESC, x.id DESC LIMIT 1),"
        f"  (SELECT x.source FROM events AS x WHERE {edge_day} AND {with_source}"
        "    ORDER BY x.id DESC LIMIT 1)"
        ")"
        " FROM l JOIN r AS b ON b.member = l.member"
    )


_APPEND = (
    f"INSERT INTO events ({_EVENT_COLUMNS})"
    " SELECT NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?"
    " WHERE ? IS NULL OR (SELECT action FROM candidate_events"
    "   WHERE race = ? AND key = ? AND coalesce(happened_on, '') <= ?"
    "   ORDER BY coalesce(happened_on, '') DESC, id DESC LIMIT 1) IN ('add', 'return')"
    f" RETURNING {_EVENT_COLUMNS}, (SELECT json_array({_prefixed('p')})"
    "   FROM current_positions AS c JOIN events AS p ON p.id = c.event_id"
    "   WHERE c.race = ? AND c.member = ?)"
)
_STANDINGS_OF_ANY = _standings_sql(None)  # a recording's: whatever the confidence
