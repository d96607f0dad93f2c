"""The SQLite store: an append-only event log, the current positions beside it, candidates.

Two aiosqlite connections in autocommit mode: `db` writes, `reader` only reads, so a write
waiting for another process's lock never holds up a read (WAL lets reads go on meanwhile).
A recording is one INSERT statement, so it is its own transaction: triggers keep
`current_positions` in step within that same statement, which makes `/tally` cost O(members)
and leaves no window where the two disagree. Writes go through `_write`: one at a time, and
retried while another process holds the lock, up to BUSY_WAIT; writes that span statements
use `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TypeVar

import aiosqlite

from bot.digest_records import DigestKey, DigestSend, DigestStatus, SentDigest, Subscription
from bot.domain import (
    SEED_ACTOR,
    Actor,
    Candidate,
    CandidateAction,
    Change,
    Event,
    EventKind,
    Position,
    Recording,
    TallyError,
)
from bot.store.schema import StorageError, migrate, probe

T = TypeVar("T")


_EVENT_COLUMNS = (
    "id, race, member, position, candidate, happened_on, recorded_at,"
    " actor_platform, actor_id, actor_name, source, note, reverts"
)
_ACTIVE = "NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)"
_MAX_ID = 2**63 - 1  # "no upper bound" for id ranges
_EXPORT_BATCH = 500  # rows an export reads at a time


BUSY = "The database is busy (another tallybot process is writing); try again."
BUSY_WAIT = 2.5  # seconds a write may wait for the lock: the answer still comes within 3 s
_WRITE_BUSY_MS = 100  # SQLite's own wait per attempt, short: the retries happen in `_write`
_RETRY_PAUSE = 0.05  # seconds between attempts
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # primary codes
_OPEN_BUSY_MS = 10_000  # opening and migrating may wait longer: no one is waiting for an answer
_READ_BUSY_MS = 1_000  # in WAL a read waits only while another process recovers the log


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


@dataclass(frozen=True)
class CandidateChange:
    action: CandidateAction | None  # None for a candidate never added
    on: date | None  # None: in the race from its start


def _kind(position: str) -> tuple[EventKind, Position | None]:
    """The log's position column read: 'undo' is an undo, anything else a position."""
    if position == EventKind.UNDO:
        return EventKind.UNDO, None
    return EventKind.POSITION, Position(position)


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
    )


class Store:
    def __init__(
        self,
        db: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        path: Path,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.reader = reader
        self.path = path
        self.clock = clock or (lambda: datetime.now(UTC))
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, clock: Callable[[], datetime] | None = None) -> Store:
        """Open (creating and migrating) the database; `clock` stamps when rows are recorded.

        Raises StorageError, in one line, when the file cannot be used: found by reading it
        with plain sqlite3 first, before anything in it is changed.
        """
        path = Path(path)
        await asyncio.to_thread(probe, path)
        db = await _connect(path)
        reader = None
        try:
            await db.execute(f"PRAGMA busy_timeout = {_OPEN_BUSY_MS}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await migrate(db, path)
            await db.execute(f"PRAGMA busy_timeout = {_WRITE_BUSY_MS}")
            reader = await _connect(path)
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute(f"PRAGMA busy_timeout = {_READ_BUSY_MS}")
        except BaseException as exc:
            for connection in (db, reader):
                if connection is not None:
                    await connection.close()  # or its thread keeps the process alive
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"Cannot use the database {path}: {exc}.") from None
            raise
        return cls(db, reader, path, clock)

    async def close(self) -> None:
        await self.reader.close()
        await self.db.close()

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a write on `db`, one at a time in this process, retrying while another process
        holds SQLite's write lock; past BUSY_WAIT (counted from the call) it is refused in one
        line. The retries wait here, not in the connection's thread, so nothing else waits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_WAIT
        async with self._write_lock:
            while loop.time() < deadline:
                try:
                    return await work()
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF not in _BUSY_CODES:  # BUSY_SNAPSHOT too
                        raise
                await asyncio.sleep(_RETRY_PAUSE)
        raise TallyError(BUSY)

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        """Statements that must land together: `BEGIN IMMEDIATE` takes the lock first."""

        async def attempt() -> T:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                result = await work()
                await self.db.execute("COMMIT")
                return result
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

        return await self._write(attempt)

    def _now(self) -> str:
        return _utc(self.clock())

    # --- writes -------------------------------------------------------------------------

    async def append(self, new: NewEvent) -> tuple[Event, Event | None] | None:
        """Append one event, and say the member's position before it, in one statement: one
        transaction and one trip to the database thread, so concurrent recordings each see
        their own. (RETURNING is computed before the AFTER triggers move the position on.)
        None, and nothing written, if its candidate was not in the race on its day, by the
        candidate log as it is then, whichever process changed it last."""
        rows = await self._write(
            lambda: self.db.execute_fetchall(
                f"INSERT INTO events ({_EVENT_COLUMNS})"
                " SELECT NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL"
                " WHERE ? IS NULL OR (SELECT action FROM candidate_events"
                "   WHERE race = ? AND key = ? AND coalesce(happened_on, '') <= ?"
                "   ORDER BY coalesce(happened_on, '') DESC, id DESC LIMIT 1) IN ('add', 'return')"
                f" RETURNING {_EVENT_COLUMNS}, (SELECT json_array({_prefixed('p')})"
                "   FROM current_positions AS c JOIN events AS p ON p.id = c.event_id"
                "   WHERE c.race = ? AND c.member = ?)",
                (
                    *_params(new, self._now()),
                    *(new.candidate, new.race, new.candidate, new.happened_on.isoformat()),
                    *(new.race, new.member),
                ),
            )
        )
        if not rows:
            return None
        (row,) = rows
        previous = _event(json.loads(row[-1])) if row[-1] else None
        return _event(row[:-1]), previous

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
                " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
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
                "   NULL, NULL, id"
                " FROM events AS e"
                " WHERE e.actor_platform = ? AND e.actor_id = ? AND e.race = ?"
                f"   AND e.position != 'undo' AND {_ACTIVE}"
                " ORDER BY e.id DESC LIMIT 1"
                f" RETURNING {_EVENT_COLUMNS}",
                (self._now(), actor.platform, actor.id, actor.name, actor.platform, actor.id, race),
            )
        )
        return _event(rows[0]) if rows else None

    async def ensure_candidates(self, race: str, candidates: Iterable[Candidate]) -> None:
        """Add the race file's candidates that the database does not know yet."""
        for candidate in candidates:
            await self.add_candidate(race, candidate, None, SEED_ACTOR)

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
        self, race: str, day: date, members: Sequence[str], up_to_id: int | None = None
    ) -> dict[str, Event]:
        """Each member's latest position among events that happened on or before `day` (and,
        with `up_to_id`, were recorded by then): one index seek per member, not a log scan."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_prefixed('e')} FROM json_each(?) AS m JOIN events AS e ON e.id = ("
            "  SELECT x.id FROM events AS x"
            "  WHERE x.race = ? AND x.member = m.value AND x.happened_on <= ? AND x.id <= ?"
            "    AND x.position != 'undo'"
            "    AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = x.id AND u.id <= ?)"
            "  ORDER BY x.happened_on DESC, x.id DESC LIMIT 1)",
            (json.dumps(list(members)), race, day.isoformat(), *[up_to_id or _MAX_ID] * 2),
        )
        return {row[2]: _event(row) for row in rows}

    async def changes(self, race: str, as_of: date, up_to_id: int | None = None) -> list[Change]:
        """(member, position, candidate, day) of the active position events up to `as_of`, in
        the order they happened: a replay's input, without building an Event per row."""
        rows = await self.reader.execute_fetchall(
            "SELECT member, position, candidate, happened_on FROM events AS e"
            " WHERE race = ? AND position != 'undo' AND happened_on <= ? AND id <= ?"
            "   AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id AND u.id <= ?)"
            " ORDER BY happened_on, id",
            (race, as_of.isoformat(), *[up_to_id or _MAX_ID] * 2),
        )
        return [Change(m, Position(p), c, date.fromisoformat(d)) for m, p, c, d in rows]

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
    ) -> Iterator[tuple]:
        """The log of a race as plain rows (the columns of an Event) in recording order, those
        that happened from `since` to `until`: for an export, run in a thread. Its own plain
        sqlite3 connection, so a long read holds up neither the event loop nor `reader`, and
        rows come a batch at a time, so memory stays bounded however long the log is."""
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA query_only = ON")
            cursor = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE race = ?"
                " AND happened_on >= ? AND happened_on <= ? ORDER BY id",
                (race, (since or date.min).isoformat(), (until or date.max).isoformat()),
            )
            while batch := cursor.fetchmany(_EXPORT_BATCH):
                yield from batch
        finally:
            db.close()

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

    # --- the daily digest -----------------------------------------------------------------

    async def subscribe(self, sub: Subscription, actor: Actor) -> None:
        """Add a channel's subscription, or change its time and zone."""
        assert sub.since is not None
        await self._write(
            lambda: self.db.execute(
                "INSERT INTO digest_subscriptions"
                " (race, platform, channel, at, timezone, since, actor_platform, actor_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel) DO UPDATE SET at = excluded.at,"
                "   timezone = excluded.timezone, since = excluded.since,"
                "   actor_platform = excluded.actor_platform, actor_id = excluded.actor_id",
                (
                    sub.race,
                    sub.platform,
                    sub.channel,
                    f"{sub.time:%H:%M}",
                    sub.timezone,
                    _utc(sub.since),
                    actor.platform,
                    actor.id,
                ),
            )
        )

    async def sync_config_subscriptions(
        self, race: str, subs: Sequence[Subscription], now: datetime
    ) -> None:
        """Make the config file's channels (stored with actor 'config') exactly `subs`.

        A channel new to the config is due from `now`; one that stays keeps its `since`.
        """
        keep = {(s.platform, s.channel) for s in subs}

        async def sync() -> None:
            rows = await self.db.execute_fetchall(
                "SELECT platform, channel FROM digest_subscriptions"
                " WHERE race = ? AND actor_platform = 'config'",
                (race,),
            )
            await self.db.executemany(
                "DELETE FROM digest_subscriptions WHERE race = ? AND platform = ? AND channel = ?",
                [(race, p, c) for p, c in rows if (p, c) not in keep],
            )
            await self.db.executemany(
                "INSERT INTO digest_subscriptions"
                " (race, platform, channel, at, timezone, since, actor_platform, actor_id)"
                " VALUES (?, ?, ?, ?, ?, ?, 'config', '')"
                " ON CONFLICT (race, platform, channel) DO UPDATE SET at = excluded.at,"
                "   timezone = excluded.timezone, actor_platform = 'config', actor_id = ''",
                [
                    (race, s.platform, s.channel, f"{s.time:%H:%M}", s.timezone, _utc(now))
                    for s in subs
                ],
            )

        await self._transaction(sync)

    async def unsubscribe(self, race: str, platform: str, channel: str) -> bool:
        """False if the channel was not subscribed."""
        cursor = await self._write(
            lambda: self.db.execute(
                "DELETE FROM digest_subscriptions WHERE race = ? AND platform = ? AND channel = ?",
                (race, platform, channel),
            )
        )
        return cursor.rowcount == 1

    async def subscriptions(self, race: str) -> list[Subscription]:
        rows = await self.reader.execute_fetchall(
            "SELECT race, platform, channel, at, timezone, since FROM digest_subscriptions"
            " WHERE race = ? ORDER BY platform, channel",
            (race,),
        )
        return [
            Subscription(
                r[0], r[1], r[2], time.fromisoformat(r[3]), r[4], datetime.fromisoformat(r[5])
            )
            for r in rows
        ]

    async def claim_digest(
        self,
        key: DigestKey,
        now: datetime,
        stale_before: datetime,
        status: DigestStatus = DigestStatus.SENDING,
        error: str | None = None,
    ) -> bool:
        """Claim a digest in one statement: True if this caller now owns it.

        A new row is claimed with `status`; an existing one only if it is 'sending' or 'failed'
        and was last touched before `stale_before` (its process stopped mid-send, or its last
        attempts failed). Every other caller, in this process or another, gets False.
        """
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO digest_sends"
                " (race, platform, channel, day, status, last_error, claimed_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel, day) DO UPDATE"
                "   SET status = excluded.status,"
                "     last_error = coalesce(excluded.last_error, last_error),"
                "     updated_at = excluded.updated_at"
                "   WHERE status IN ('sending', 'failed') AND updated_at < ?",
                (*_key(key), status, error, _utc(now), _utc(now), _utc(stale_before)),
            )
        )
        return cursor.rowcount == 1

    async def digest_result(
        self,
        key: DigestKey,
        now: datetime,
        status: DigestStatus,
        error: str | None = None,
        covered_to: int | None = None,
    ) -> None:
        """Count one attempt: 'sent' with the last event the digest covered; or its error and
        'sending' (to retry), 'failed' (tried again later) or 'rejected' (not this day)."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE digest_sends SET status = ?, attempts = attempts + 1,"
                "   last_error = coalesce(?, last_error), covered_to = ?,"
                "   updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? END"
                " WHERE race = ? AND platform = ? AND channel = ? AND day = ?",
                (status, error, covered_to, _utc(now), status, _utc(now), *_key(key)),
            )
        )

    async def digest_sends(self, race: str, days: Iterable[date]) -> dict[DigestKey, DigestSend]:
        days = sorted({d.isoformat() for d in days})
        if not days:
            return {}
        rows = await self.reader.execute_fetchall(
            "SELECT race, platform, channel, day, status, attempts, last_error, claimed_at,"
            " updated_at, sent_at, covered_to FROM digest_sends"
            f" WHERE race = ? AND day IN ({', '.join('?' * len(days))})",
            (race, *days),
        )
        sends = (
            DigestSend(
                DigestKey(r[0], r[1], r[2], date.fromisoformat(r[3])),
                DigestStatus(r[4]),
                r[5],
                r[6],
                datetime.fromisoformat(r[7]),
                datetime.fromisoformat(r[8]),
                datetime.fromisoformat(r[9]) if r[9] else None,
                r[10],
            )
            for r in rows
        )
        return {s.key: s for s in sends}

    async def digest_build(self, race: str, fire: datetime, last_event: int, now: datetime) -> int:
        """The last event the digest that fired at `fire` covers: `last_event` if this is the
        first build for that instant, else what the first build stored (here or in another
        process), so a retry or a second process posts the same digest."""
        ((covered,),) = await self._write(
            lambda: self.db.execute_fetchall(
                "INSERT INTO digest_builds (race, fire_at, last_event, built_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (race, fire_at) DO UPDATE SET last_event = last_event"
                " RETURNING last_event",
                (race, _utc(fire), last_event, _utc(now)),
            )
        )
        return covered

    async def previous_sends(self, keys: Sequence[DigestKey]) -> dict[DigestKey, SentDigest]:
        """For each key, the channel's latest digest sent before that day, if any: one index
        seek per channel, so a fan-out to a thousand channels asks once."""
        if not keys:
            return {}
        rows = await self.reader.execute_fetchall(
            "WITH k (i, race, platform, channel, day) AS (SELECT key,"
            "   json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            "   json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?))"
            " SELECT k.i, s.day, s.covered_to FROM k JOIN digest_sends AS s ON s.rowid = ("
            "   SELECT x.rowid FROM digest_sends AS x"
            "   WHERE x.race = k.race AND x.platform = k.platform AND x.channel = k.channel"
            "     AND x.day < k.day AND x.status = 'sent' AND x.covered_to IS NOT NULL"
            "   ORDER BY x.day DESC LIMIT 1)",
            (json.dumps([_key(k) for k in keys]),),
        )
        return {keys[i]: SentDigest(date.fromisoformat(d), c) for i, d, c in rows}

    async def latest_send(self, race: str, before: date) -> SentDigest | None:
        """The race's latest digest sent, to any channel, before the day `before`."""
        rows = await self.reader.execute_fetchall(
            "SELECT day, covered_to FROM digest_sends"
            " WHERE race = ? AND day < ? AND status = 'sent' AND covered_to IS NOT NULL"
            " ORDER BY day DESC, covered_to DESC LIMIT 1",
            (race, before.isoformat()),
        )
        return SentDigest(date.fromisoformat(rows[0][0]), rows[0][1]) if rows else None


async def _connect(path: Path) -> aiosqlite.Connection:
    connection = aiosqlite.connect(path, isolation_level=None)
    try:
        return await connection
    except (OSError, sqlite3.Error) as exc:
        # aiosqlite queues its thread's stop and does not wait for it (upstream PR #389):
        # wait here, or the thread may report to an event loop that has closed.
        await asyncio.to_thread(connection._thread.join)
        raise StorageError(f"Cannot open the database {path}: {exc}.") from None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _key(key: DigestKey) -> tuple[str, str, str, str]:
    return (key.race, key.platform, key.channel, key.day.isoformat())


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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
    )


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _EVENT_COLUMNS.split(","))
