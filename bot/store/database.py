"""The connections and the discipline of writing: one writer, one reader, busy waits.

Two aiosqlite connections in autocommit mode: `db` writes, `reader` only reads, so a write
waiting for another process's lock never holds up a read (WAL lets reads go on meanwhile).
Long reads (a replay's input, a timeline's) go through `heavy`, on a third, plain sqlite3
connection in a thread of its own, so a short read never queues behind them.
Writes go through `_write`: one at a time, and retried while another process holds the lock,
up to BUSY_WAIT; writes that span statements use `BEGIN IMMEDIATE` (`_transaction`). A
recording goes through `_write_together` (group commit): the recordings queued while one is
written are then written in one trip to the database thread and one transaction, each in a
savepoint of its own, so one that fails writes nothing and fails no other.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

import aiosqlite

from bot.domain import TallyError
from bot.store.schema import StorageError, migrate, probe

T = TypeVar("T")
log = logging.getLogger(__name__)

BUSY = "The database is busy (another tallybot process is writing); try again."
BUSY_WAIT = 2.5  # seconds a write may wait for the lock: the answer still comes within 3 s
_WRITE_BUSY_MS = 100  # SQLite's own wait per attempt, short: the retries happen in `_write`
_RETRY_PAUSE = 0.05  # seconds between attempts
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # primary codes
_OPEN_BUSY_MS = 10_000  # opening and migrating may wait longer: no one is waiting for an answer
_READ_BUSY_MS = 1_000  # in WAL a read waits only while another process recovers the log


class Database:
    """The two connections to one file, and the one way to write (see the module doc)."""

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
        self._writers = 0  # writes under way in this process, waiting ones included
        self._queued: list[_Queued] = []  # see _write_together
        self._heavy = ThreadPoolExecutor(1, thread_name_prefix="tallybot-heavy")
        self._heavy_db: sqlite3.Connection | None = None  # opened in that thread, on first use
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    async def open(cls, path: str | Path, clock: Callable[[], datetime] | None = None) -> Self:
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
            await migrate(db, path)
            await db.execute("PRAGMA foreign_keys = ON")  # after: a migration copies tables
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

    async def data_version(self) -> int:
        """Changes whenever any connection, this process's writer or another process, has
        committed to the file since the last ask (SQLite's PRAGMA data_version, one step on the
        reader): what is kept from a read holds until it changes."""
        ((version,),) = await self.reader.execute_fetchall("PRAGMA data_version")
        return version

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._heavy, self._close_heavy)
        self._heavy.shutdown()
        await self.reader.close()
        await self.db.close()

    def background(self, work: Coroutine) -> asyncio.Task:
        """Run `work` as a task that `close` cancels (a warm-up no one waits for); if it
        fails, the failure is logged, as no one awaits it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("A background read failed", exc_info=task.exception())

    async def heavy(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run a long read, `work(connection)`, in the heavy-read thread: it converts its rows
        there, so neither the event loop nor `reader`'s queue waits while it runs."""
        return await asyncio.get_running_loop().run_in_executor(self._heavy, self._run_heavy, work)

    def _run_heavy(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._heavy_db is None:
            self._heavy_db = sqlite3.connect(self.path, isolation_level=None)
            self._heavy_db.execute("PRAGMA query_only = ON")
            self._heavy_db.execute(f"PRAGMA busy_timeout = {_READ_BUSY_MS}")
        return work(self._heavy_db)

    def _close_heavy(self) -> None:
        if self._heavy_db is not None:
            self._heavy_db.close()
            self._heavy_db = None

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a write on `db`, one at a time in this process, retrying while another process
        holds SQLite's write lock; past BUSY_WAIT (counted from the call) it is refused in one
        line. The retries wait here, not in the connection's thread, so nothing else waits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_WAIT
        self._writers += 1
        try:
            async with self._write_lock:
                while loop.time() < deadline:
                    try:
                        return await work()
                    except sqlite3.OperationalError as exc:
                        if not _busy(exc):
                            raise
                    await asyncio.sleep(_RETRY_PAUSE)
            raise TallyError(BUSY)
        finally:
            self._writers -= 1

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

    def writes_waiting(self) -> bool:
        """Whether a write of this process is being made or waits to be (or to hear it was)."""
        return self._writers > 0

    async def _write_together(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job(connection)` in the writer's thread, in one transaction with the jobs
        queued meanwhile (group commit), and return what it returned once that transaction is
        committed: one trip to the thread and one commit for all. Each job runs in a savepoint,
        so one that raises writes nothing and is the only one to fail. As `_write`, it waits
        while another process holds the lock, and past BUSY_WAIT it is refused in one line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_WAIT
        queued = _Queued(job, loop.create_future())
        self._queued.append(queued)
        self._writers += 1
        try:
            async with self._write_lock:
                # Whoever holds the lock writes all that is queued; a job written meanwhile
                # is done.
                while not queued.done.done() and queued in self._queued:
                    if loop.time() >= deadline:
                        raise TallyError(BUSY)
                    batch, self._queued = self._queued, []
                    hop = asyncio.ensure_future(self.db._execute(self._commit_together, batch))
                    hop.add_done_callback(lambda hop, batch=batch: self._settle(batch, hop))
                    try:
                        await asyncio.shield(hop)  # cancelled or not, `_settle` answers all
                    except Exception as exc:  # `_settle` gave each job the error, or queued them
                        if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
                            await asyncio.sleep(_RETRY_PAUSE)
        except BaseException:
            queued.done.cancel()  # no one waits for it: should it be queued again, it is left out
            raise
        finally:
            self._writers -= 1
            if queued in self._queued:  # refused, or cancelled while it waited: not written
                self._queued.remove(queued)
        return await queued.done

    def _commit_together(self, batch: list[_Queued]) -> list[tuple[bool, object]]:
        """In the writer's thread: the batch's jobs in one transaction, each in a savepoint;
        for each, (True, the exception it raised) or (False, what it returned), once committed.
        Refused as busy at BEGIN, nothing was written."""
        db = self.db._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            outcomes: list[tuple[bool, object]] = []
            for queued in batch:
                db.execute("SAVEPOINT job")
                try:
                    outcomes.append((False, queued.job(db)))
                except Exception as exc:
                    db.execute("ROLLBACK TO job")
                    outcomes.append((True, exc))
                db.execute("RELEASE job")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._rolled_back()
            raise
        return outcomes

    def _rolled_back(self) -> None:
        """In the writer's thread: a batch of `_write_together` was rolled back, whatever its
        jobs returned (a subclass forgets what it kept of them)."""

    def _settle(self, batch: list[_Queued], hop: asyncio.Future) -> None:
        """Answer each job of a batch, once it is committed or failed; a batch refused as busy
        waits in the queue again, first, for the next attempt."""
        if hop.cancelled():  # the loop is closing
            for queued in batch:
                queued.done.cancel()
            return
        error = hop.exception()
        if isinstance(error, sqlite3.OperationalError) and _busy(error):
            self._queued[:0] = [queued for queued in batch if not queued.done.done()]
            return
        outcomes = [(True, error)] * len(batch) if error else hop.result()
        for queued, (failed, outcome) in zip(batch, outcomes, strict=True):
            if queued.done.done():
                continue
            if failed:
                queued.done.set_exception(outcome)
            else:
                queued.done.set_result(outcome)

    def _now(self) -> str:
        return utc(self.clock())


@dataclass(frozen=True, eq=False)  # compared by identity: the queue holds each once
class _Queued:
    job: Callable[[sqlite3.Connection], object]
    done: asyncio.Future


def _busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode & 0xFF in _BUSY_CODES  # BUSY_SNAPSHOT too


async def _connect(path: Path) -> aiosqlite.Connection:
    connection = aiosqlite.connect(path, isolation_level=None)
    try:
        return await connection
    except (OSError, sqlite3.Error) as exc:
        # aiosqlite queues its thread's stop and does not wait for it (upstream PR #389):
        # wait here, or the thread may report to an event loop that has closed.
        await asyncio.to_thread(connection._thread.join)
        raise StorageError(f"Cannot open the database {path}: {exc}.") from None


def utc(moment: datetime) -> str:
    """How instants are stored: UTC ISO text, so they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
