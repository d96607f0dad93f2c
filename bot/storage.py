"""The SQLite store: an append-only event log, the current positions beside it, candidates.

One aiosqlite connection in autocommit mode. A recording is one INSERT statement, so it is its
own transaction: triggers keep `current_positions` in step within that same statement, which
makes `/tally` cost O(members) and leaves no window where the two disagree. Writes that span
statements take `_write_lock` and `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import aiosqlite

from bot.domain import Actor, Candidate, Event

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version). Append only.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        position TEXT NOT NULL CHECK (position IN ('supports', 'opposes', 'undecided', 'undo')),
        candidate TEXT,
        happened_on TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        source TEXT,
        note TEXT,
        reverts INTEGER UNIQUE REFERENCES events (id)
    );
    CREATE INDEX events_by_member ON events (race, member, happened_on, id);
    CREATE INDEX events_by_actor ON events (actor_platform, actor_id, race, id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

    -- Each member's latest position by the date it happened (ties: the later recording).
    CREATE TABLE current_positions (
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        event_id INTEGER NOT NULL REFERENCES events (id),
        happened_on TEXT NOT NULL,
        PRIMARY KEY (race, member)
    ) WITHOUT ROWID;
    CREATE TRIGGER events_position AFTER INSERT ON events WHEN NEW.position != 'undo'
    BEGIN
        INSERT INTO current_positions (race, member, event_id, happened_on)
        VALUES (NEW.race, NEW.member, NEW.id, NEW.happened_on)
        ON CONFLICT (race, member) DO UPDATE
            SET event_id = excluded.event_id, happened_on = excluded.happened_on
            WHERE excluded.happened_on >= current_positions.happened_on;
    END;
    CREATE TRIGGER events_undo AFTER INSERT ON events WHEN NEW.position = 'undo'
    BEGIN
        DELETE FROM current_positions WHERE race = NEW.race AND member = NEW.member;
        INSERT INTO current_positions (race, member, event_id, happened_on)
        SELECT race, member, id, happened_on FROM events AS e
        WHERE e.race = NEW.race AND e.member = NEW.member AND e.position != 'undo'
          AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)
        ORDER BY e.happened_on DESC, e.id DESC LIMIT 1;
    END;

    CREATE TABLE candidates (
        race TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        member TEXT,
        aliases TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        withdrawn_on TEXT,
        PRIMARY KEY (race, key)
    );
    CREATE TABLE seeded (race TEXT PRIMARY KEY, seeded_at TEXT NOT NULL);
    """,
]

_EVENT_COLUMNS = (
    "id, race, member, position, candidate, happened_on, recorded_at,"
    " actor_platform, actor_id, actor_name, source, note, reverts"
)
_ACTIVE = "NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)"


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


def _event(row: Sequence) -> Event:
    return Event(
        id=row[0],
        race=row[1],
        member=row[2],
        position=row[3],
        candidate=row[4],
        happened_on=date.fromisoformat(row[5]),
        recorded_at=datetime.fromisoformat(row[6]),
        actor=Actor(row[7], row[8], row[9]),
        source=row[10],
        note=row[11],
        reverts=row[12],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA busy_timeout = 10000")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        store = cls(db, path)
        try:
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self.db.close()

    async def _migrate(self) -> None:
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                (version,) = await (await self.db.execute("PRAGMA user_version")).fetchone()
                if version > len(MIGRATIONS):
                    raise RuntimeError(
                        f"{self.path} has schema version {version}, newer than this tallybot"
                        f" ({len(MIGRATIONS)}); upgrade tallybot."
                    )
                for step in MIGRATIONS[version:]:
                    # executescript would COMMIT first; run each statement in this transaction.
                    for statement in _statements(step):
                        await self.db.execute(statement)
                await self.db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        (version,) = await (await self.db.execute("PRAGMA user_version")).fetchone()
        return version

    # --- writes -------------------------------------------------------------------------

    async def append(self, new: NewEvent) -> Event:
        """Append one event; one statement, so one transaction."""
        async with self._write_lock:
            # execute_fetchall: the statement and its RETURNING row in one trip to the thread.
            (row,) = await self.db.execute_fetchall(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES"
                " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                f" RETURNING {_EVENT_COLUMNS}",
                _params(new),
            )
        return _event(row)

    async def seed(self, race: str, events: Iterable[NewEvent]) -> int:
        """Append a race's seed events once; returns how many were added (0 if seeded before)."""
        events = list(events)
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                cursor = await self.db.execute(
                    "INSERT INTO seeded (race, seeded_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (race, _now()),
                )
                added = 0
                if cursor.rowcount == 1:
                    await self.db.executemany(
                        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES"
                        " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [_params(e) for e in events],
                    )
                    added = len(events)
                await self.db.execute("COMMIT")
                return added
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def undo_last(self, race: str, actor: Actor) -> Event | None:
        """Revert the actor's latest event that is not itself an undo nor already undone."""
        async with self._write_lock:
            rows = await self.db.execute_fetchall(
                f"INSERT INTO events ({_EVENT_COLUMNS})"
                " SELECT NULL, race, member, 'undo', candidate, happened_on, ?, ?, ?, ?,"
                "   NULL, NULL, id"
                " FROM events AS e"
                " WHERE e.actor_platform = ? AND e.actor_id = ? AND e.race = ?"
                f"   AND e.position != 'undo' AND {_ACTIVE}"
                " ORDER BY e.id DESC LIMIT 1"
                f" RETURNING {_EVENT_COLUMNS}",
                (_now(), actor.platform, actor.id, actor.name, actor.platform, actor.id, race),
            )
        return _event(rows[0]) if rows else None

    async def ensure_candidates(self, race: str, candidates: Iterable[Candidate]) -> None:
        """Add the race file's candidates that the database does not know yet."""
        async with self._write_lock:
            await self.db.executemany(
                "INSERT INTO candidates (race, key, name, member, aliases, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(race, c.key, c.name, c.member, "\n".join(c.aliases), _now()) for c in candidates],
            )

    async def add_candidate(self, race: str, candidate: Candidate) -> bool:
        """False if a candidate with that key exists already."""
        async with self._write_lock:
            cursor = await self.db.execute(
                "INSERT INTO candidates (race, key, name, member, aliases, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (race, candidate.key, candidate.name, candidate.member, "", _now()),
            )
        return cursor.rowcount == 1

    async def withdraw_candidate(self, race: str, key: str, on: date) -> None:
        async with self._write_lock:
            await self.db.execute(
                "UPDATE candidates SET withdrawn_on = ? WHERE race = ? AND key = ?",
                (on.isoformat(), race, key),
            )

    # --- reads --------------------------------------------------------------------------

    async def candidates(self, race: str) -> list[Candidate]:
        rows = await self.db.execute_fetchall(
            "SELECT key, name, member, aliases, withdrawn_on FROM candidates"
            " WHERE race = ? ORDER BY added_at, key",
            (race,),
        )
        return [
            Candidate(
                key=r[0],
                name=r[1],
                member=r[2],
                aliases=tuple(a for a in r[3].split("\n") if a),
                withdrawn_on=date.fromisoformat(r[4]) if r[4] else None,
            )
            for r in rows
        ]

    async def current(self, race: str) -> dict[str, Event]:
        """Each member's latest position, read from the maintained table: O(members)."""
        rows = await self.db.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM current_positions AS c"
            " JOIN events AS e ON e.id = c.event_id WHERE c.race = ?",
            (race,),
        )
        return {row[2]: _event(row) for row in rows}

    async def position_of(self, race: str, member: str) -> Event | None:
        rows = await self.db.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM current_positions AS c"
            " JOIN events AS e ON e.id = c.event_id WHERE c.race = ? AND c.member = ?",
            (race, member),
        )
        return _event(rows[0]) if rows else None

    async def as_of(self, race: str, day: date) -> dict[str, Event]:
        """Each member's latest position among events that happened on or before `day`."""
        rows = await self.db.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM ("
            f"  SELECT {_prefixed('e')}, ROW_NUMBER() OVER ("
            "    PARTITION BY e.member ORDER BY e.happened_on DESC, e.id DESC) AS latest"
            "  FROM events AS e"
            f"  WHERE e.race = ? AND e.position != 'undo' AND e.happened_on <= ? AND {_ACTIVE}"
            ") WHERE latest = 1",
            (race, day.isoformat()),
        )
        return {row[2]: _event(row) for row in rows}

    async def history(self, race: str, member: str | None = None, limit: int = 10) -> list[Event]:
        """The log, newest recording first."""
        where, params = "race = ?", [race]
        if member is not None:
            where += " AND member = ?"
            params.append(member)
        rows = await self.db.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_event(r) for r in rows]

    async def events(self, race: str) -> list[Event]:
        """The whole log of a race in recording order."""
        rows = await self.db.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE race = ? ORDER BY id", (race,)
        )
        return [_event(r) for r in rows]

    async def event(self, event_id: int) -> Event | None:
        rows = await self.db.execute_fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)
        )
        return _event(rows[0]) if rows else None


def _params(e: NewEvent) -> tuple:
    return (
        e.race,
        e.member,
        e.position,
        e.candidate,
        e.happened_on.isoformat(),
        _now(),
        e.actor.platform,
        e.actor.id,
        e.actor.name,
        e.source,
        e.note,
    )


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _EVENT_COLUMNS.split(","))


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buffer.strip()[:60]}")
    return statements
