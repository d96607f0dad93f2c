"""One database file shared with other processes and other applications: what each one sees,
who waits for whom, and what tallybot refuses to touch."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import date

import pytest
from conftest import make_service

from bot.adapters.console import Console
from bot.domain import Actor, Position, TallyError
from bot.store.database import BUSY
from bot.store.schema import MIGRATIONS, StorageError
from bot.store.store import Store

EDITOR = Actor("test", "ed", "Editor", is_editor=True)


def journal_mode(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA journal_mode").fetchone()[0]


async def test_another_applications_database_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO orders (total) VALUES (9.5)")
    with pytest.raises(StorageError) as refused:
        await Store.open(path)
    assert str(refused.value) == (
        f"{path} is not a tallybot database (it has tables of its own: orders); "
        "give tallybot a new file with --db or the config's database."
    )
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["orders"]
    assert journal_mode(path) == "delete"  # not switched to WAL either


async def test_a_newer_database_is_refused_before_anything_changes(tmp_path):
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer than this tallybot"):
        await Store.open(path)
    assert journal_mode(path) == "delete"


async def test_an_empty_file_becomes_a_tallybot_database(tmp_path):
    (tmp_path / "empty.db").touch()
    store = await Store.open(tmp_path / "empty.db")
    assert await store.events("nato-sg-2024") == []
    await store.close()


async def test_candidate_changes_in_another_process_are_followed(tmp_path):
    """Process B withdraws Iohannis and adds Kallas; process A follows at its next command."""
    a = await make_service(tmp_path / "shared.db")
    b = await make_service(tmp_path / "shared.db")
    stale_iohannis = a.roster.candidate("Iohannis")
    await b.withdraw_candidate(EDITOR, b.roster.candidate("Iohannis"))
    await b.add_candidate(EDITOR, "Kaja Kallas", None)

    hungary = a.race.member("HU")
    with pytest.raises(TallyError, match="Klaus Iohannis withdrew on 3 April 2024"):
        await a.record(EDITOR, hungary, Position.SUPPORTS, stale_iohannis)
    assert [t.candidate.name for t in (await a.tally()).candidates] == [
        "Mark Rutte",
        "Kaja Kallas",
    ]
    await a.refresh()
    kallas = a.roster.candidate("Kallas")
    assert (await a.record(EDITOR, hungary, Position.SUPPORTS, kallas)).event.candidate == (
        "kaja-kallas"
    )
    with pytest.raises(TallyError, match="withdrew already"):
        await a.withdraw_candidate(EDITOR, stale_iohannis)
    await a.store.close()
    await b.store.close()


async def test_a_typed_command_names_a_candidate_another_process_just_added(tmp_path):
    a = await make_service(tmp_path / "shared.db")
    b = await make_service(tmp_path / "shared.db")
    chat = Console(a, tmp_path / "files").handle
    await b.add_candidate(EDITOR, "Kaja Kallas", None)
    await b.withdraw_candidate(EDITOR, b.roster.candidate("Iohannis"))
    assert "Recorded #33: Estonia supports Kaja Kallas" in await chat("/endorse Estonia Kallas")
    assert "Klaus Iohannis withdrew on 3 April 2024" in await chat("/endorse Romania Iohannis")
    await a.store.close()
    await b.store.close()


async def test_candidate_changes_apply_by_the_dates_they_happened(service):
    """Withdraw on 20 March, return on 25 March; a withdrawal dated 10 March cannot then be
    slipped in before them, and the record says what the dates say."""
    iohannis = service.roster.candidate("Iohannis")
    await service.withdraw_candidate(EDITOR, iohannis, date(2024, 3, 20))
    await service.add_candidate(EDITOR, "Klaus Iohannis", None, date(2024, 3, 25))
    with pytest.raises(TallyError) as refused:
        await service.withdraw_candidate(
            EDITOR, service.roster.candidate("Iohannis"), date(2024, 3, 10)
        )
    assert str(refused.value) == (
        "Klaus Iohannis came back on 25 March 2024; date the withdrawal on or after that day."
    )

    def names(tally):
        return [t.candidate.name for t in tally.candidates]

    assert "Klaus Iohannis" in names(await service.tally(as_of=date(2024, 3, 15)))
    assert "Klaus Iohannis" not in names(await service.tally(as_of=date(2024, 3, 22)))
    assert "Klaus Iohannis" in names(await service.tally(as_of=date(2024, 3, 28)))
    assert service.roster.candidate("Iohannis").withdrawn_on is None
    romania = service.race.member("RO")
    done = await service.record(
        EDITOR, romania, Position.SUPPORTS, service.roster.candidate("Iohannis"), date(2024, 3, 15)
    )
    assert done.event.happened_on == date(2024, 3, 15)
    with pytest.raises(TallyError, match="withdrew on 20 March 2024"):
        await service.record(
            EDITOR,
            romania,
            Position.SUPPORTS,
            service.roster.candidate("Iohannis"),
            date(2024, 3, 22),
        )


async def test_impossible_candidate_dates_are_refused_and_write_nothing(service):
    kallas = (await service.add_candidate(EDITOR, "Kaja Kallas", None, date(2024, 3, 12))).candidate
    (before,) = await service.store.db.execute_fetchall("SELECT count(*) FROM candidate_events")
    with pytest.raises(TallyError) as refused:
        await service.withdraw_candidate(EDITOR, kallas, date(2024, 3, 1))
    assert str(refused.value) == (
        "Kaja Kallas entered the race on 12 March 2024; date the withdrawal on or after that day."
    )
    await service.withdraw_candidate(EDITOR, kallas, date(2024, 3, 20))
    with pytest.raises(TallyError) as refused:
        await service.add_candidate(EDITOR, "Kaja Kallas", None, date(2024, 3, 18))
    assert str(refused.value) == (
        "Kaja Kallas withdrew on 20 March 2024; date the return on or after that day."
    )
    with pytest.raises(TallyError, match="withdrew already, on 20 March 2024"):
        await service.withdraw_candidate(EDITOR, kallas, date(2024, 3, 25))
    (after,) = await service.store.db.execute_fetchall("SELECT count(*) FROM candidate_events")
    assert after[0] == before[0] + 1  # the one withdrawal that was possible


class HeldWriteLock:
    """Another process writing: a plain sqlite3 connection in its own thread holds the write
    lock (BEGIN IMMEDIATE) until released."""

    def __init__(self, path) -> None:
        self.path = path
        self.taken = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        self.taken.set()
        self.release.wait(30)
        db.execute("ROLLBACK")
        db.close()

    async def __aenter__(self) -> HeldWriteLock:
        self.thread.start()
        await asyncio.to_thread(self.taken.wait, 10)
        return self

    async def __aexit__(self, *exc) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join)


async def test_reads_go_on_while_a_write_waits_for_another_process(service, tmp_path, monkeypatch):
    chat = Console(service, tmp_path / "files").handle
    before = len(await service.store.events(service.race.id))
    writing, append = asyncio.Event(), service.store.append

    async def signalled_append(new):
        writing.set()
        return await append(new)

    monkeypatch.setattr(service.store, "append", signalled_append)
    async with HeldWriteLock(service.store.path):
        started = time.monotonic()
        recording = asyncio.create_task(chat("/endorse Hungary Rutte"))
        await writing.wait()  # the recording is waiting for SQLite's lock
        for _ in range(3):
            asked = time.monotonic()
            tally = await asyncio.wait_for(chat("/tally"), 1.0)
            assert time.monotonic() - asked < 0.5 and "28/32\n  Needs" in tally
            assert not recording.done()
        assert await recording == f"Error: {BUSY}"
        assert time.monotonic() - started < 3.0
    assert len(await service.store.events(service.race.id)) == before  # nothing was written
    assert "Recorded #33" in await chat("/endorse Hungary Rutte")  # once the lock is free
