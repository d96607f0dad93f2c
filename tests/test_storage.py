"""The SQLite store: append-only log, current positions, concurrency, restarts, migrations."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import date, timedelta

import pytest
from conftest import make_service

from bot.domain import Actor, Candidate, Event, EventKind, Position, TallyError
from bot.store.schema import MIGRATIONS, StorageError, split_statements
from bot.store.store import NewEvent, Store

EDITOR = Actor("test", "ed", "Editor", is_editor=True)

SOURCE = "https://www.reuters.com/world/nato"


async def user_version(store: Store) -> int:
    ((version,),) = await store.db.execute_fetchall("PRAGMA user_version")
    return version


def replay(events: list[Event], as_of: date | None = None) -> dict[str, Event]:
    """The reference the store must agree with: each member's latest position by the date it
    happened (ties: the later recording), undone events left out."""
    undone = {e.reverts for e in events if e.kind is EventKind.UNDO}
    latest: dict[str, Event] = {}
    for e in sorted(events, key=lambda e: (e.happened_on, e.id)):
        if e.kind is EventKind.UNDO or e.id in undone or (as_of and e.happened_on > as_of):
            continue
        latest[e.member] = e
    return latest


async def test_schema_is_versioned_in_wal_mode(tmp_path):
    store = await Store.open(tmp_path / "a.db")
    assert await user_version(store) == len(MIGRATIONS)
    (mode,) = await (await store.db.execute("PRAGMA journal_mode")).fetchone()
    assert mode == "wal"
    await store.close()
    again = await Store.open(tmp_path / "a.db")  # migrating twice is a no-op
    assert await user_version(again) == len(MIGRATIONS)
    await again.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "new.db") as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer than this tallybot"):
        await Store.open(tmp_path / "new.db")


async def test_the_log_cannot_be_edited_or_deleted(service):
    for sql in ("UPDATE events SET member = 'XX'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await service.store.db.execute(sql)
    assert len(await service.store.events(service.race.id)) == 32


async def test_insert_or_replace_cannot_rewrite_the_log(service):
    """REPLACE deletes the old row without firing DELETE triggers; it must be refused too."""
    store, race = service.store, service.race.id
    before = await store.event(5)
    tally = await service.tally()
    rewrite = (
        "INSERT OR REPLACE INTO events (id, race, member, position, candidate, happened_on,"
        " recorded_at, actor_platform, actor_id, actor_name)"
        " VALUES (5, ?, ?, 'opposes', 'rutte', '2024-04-03', '2024-04-03T00:00:00+00:00',"
        " 'x', 'x', 'x')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await store.db.execute(rewrite, (race, before.member))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await store.db.execute(
            "INSERT OR REPLACE INTO candidate_events (id, race, key, action, recorded_at,"
            " actor_platform, actor_id, actor_name)"
            " VALUES (1, ?, 'rutte', 'withdraw', '', '', '', '')",
            (race,),
        )
    assert await store.event(5) == before
    assert (await service.tally()).candidates[0].count == tally.candidates[0].count


async def test_200_concurrent_recordings_lose_nothing(tmp_path):
    service = await make_service(tmp_path / "c.db")
    members = service.race.members
    candidates = list(service.roster.candidate_list)
    rng = random.Random(7)

    async def one(i: int):
        position = rng.choice(list(Position))
        candidate = None if position is Position.UNDECIDED else rng.choice(candidates)
        day = date(2024, 4, 3) - timedelta(days=rng.randrange(27))  # out of order on purpose
        return await service.record(EDITOR, members[i % 32], position, candidate, day)

    acknowledged = await asyncio.gather(*(one(i) for i in range(200)))
    events = await service.store.events(service.race.id)
    assert len(events) == 32 + 200
    assert {r.event.id for r in acknowledged} <= {e.id for e in events}
    # The maintained table equals a replay of the whole log.
    current = await service.store.current(service.race.id)
    assert {m: e.id for m, e in current.items()} == {m: e.id for m, e in replay(events).items()}
    tally = await service.tally()
    await service.store.close()

    # Closing and reopening loses nothing.
    reopened = await make_service(tmp_path / "c.db")
    assert len(await reopened.store.events(reopened.race.id)) == 232
    assert (await reopened.tally()).candidates == tally.candidates
    await reopened.store.close()


async def test_as_of_equals_a_replay_at_every_day(service):
    rng = random.Random(3)
    for _ in range(60):
        member = rng.choice(service.race.members)
        day = date(2024, 2, 1) + timedelta(days=rng.randrange(60))
        await service.record(
            EDITOR, member, Position.OPPOSES, service.roster.candidate("Rutte"), day
        )
        if rng.random() < 0.2:
            await service.undo(EDITOR)
    events = await service.store.events(service.race.id)
    members = list(service.race.members_by_code)
    for offset in range(0, 64, 3):
        day = date(2024, 2, 1) + timedelta(days=offset)
        stored = await service.store.as_of(service.race.id, day, members)
        assert {m: e.id for m, e in stored.items()} == {
            m: e.id for m, e in replay(events, day).items()
        }
        # Bounded by what had been recorded by then, as a digest is.
        bound = events[len(events) // 2].id
        stored = await service.store.as_of(service.race.id, day, members, up_to_id=bound)
        assert {m: e.id for m, e in stored.items()} == {
            m: e.id for m, e in replay([e for e in events if e.id <= bound], day).items()
        }


async def test_undo_restores_the_previous_position_and_keeps_both_events(service):
    estonia, rutte = service.roster.member("Estonia"), service.roster.candidate("Rutte")
    await service.record(EDITOR, estonia, Position.OPPOSES, rutte)
    assert (await service.store.position_of(service.race.id, "EE")).position == "opposes"
    done = await service.undo(EDITOR)
    assert done.now.position == "supports" and done.reverted.position == "opposes"
    assert len(await service.store.events(service.race.id)) == 34
    other = Actor("test", "other", "Other", is_editor=True)
    with pytest.raises(TallyError, match="nothing left to undo"):
        await service.undo(other)  # one cannot undo someone else's recording


async def test_two_connections_on_one_file_see_each_others_writes(tmp_path):
    first = await make_service(tmp_path / "shared.db")
    second = await make_service(tmp_path / "shared.db")  # seeding again adds nothing
    await asyncio.gather(
        *(
            first.record(EDITOR, m, Position.UNDECIDED, source=SOURCE)
            for m in first.race.members[:10]
        ),
        *(
            second.record(EDITOR, m, Position.UNDECIDED, source=SOURCE)
            for m in second.race.members[10:20]
        ),
    )
    assert len(await first.store.events(first.race.id)) == 52
    assert (await second.tally()).candidates[
        0
    ].count == 28 - 19  # 19 of Rutte's backers now undecided
    await first.store.close()
    await second.store.close()


async def test_a_version_3_database_keeps_its_candidates_when_migrated(tmp_path):
    """Before version 4, candidates were a plain table; migrating turns them into the log."""

    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:3]:
            for statement in split_statements(step):
                db.execute(statement)
        db.execute("PRAGMA user_version = 3")
        db.executemany(
            "INSERT INTO candidates (race, key, name, member, aliases, added_at, withdrawn_on)"
            " VALUES ('r', ?, ?, ?, '', ?, ?)",
            [
                ("rutte", "Mark Rutte", "NL", "2024-01-01T00:00:00", None),
                ("iohannis", "Klaus Iohannis", "RO", "2024-01-02T00:00:00", "2024-06-20"),
            ],
        )
    store = await Store.open(path)
    assert await user_version(store) == len(MIGRATIONS)
    rutte, iohannis = await store.candidates("r")
    assert (rutte.name, rutte.withdrawn_on) == ("Mark Rutte", None)
    assert (iohannis.member, iohannis.withdrawn_on) == ("RO", date(2024, 6, 20))
    assert (await store.candidates("r", date(2024, 6, 1)))[1].withdrawn_on is None
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await store.db.execute("DELETE FROM candidate_events")
    await store.close()


async def test_look_backs_see_the_candidates_of_that_day(service):
    kallas = (await service.add_candidate(EDITOR, "Kaja Kallas", None)).candidate
    iohannis = service.roster.candidate("Iohannis")
    await service.withdraw_candidate(EDITOR, iohannis)
    names = [t.candidate.name for t in (await service.tally()).candidates]
    assert names == ["Mark Rutte", "Kaja Kallas"]
    earlier = [t.candidate.name for t in (await service.tally(as_of=date(2024, 4, 2))).candidates]
    assert earlier == ["Mark Rutte", "Klaus Iohannis"]  # Kallas came later; Iohannis was in
    await service.add_candidate(EDITOR, "Klaus Iohannis", None)  # back in the race
    assert [c.withdrawn_on for c in await service.store.candidates(service.race.id)] == [
        None, None, None,
    ]  # fmt: skip
    assert kallas.key == "kaja-kallas"


async def test_a_candidate_key_is_letters_digits_and_hyphens_whatever_the_name(service):
    """The key is stored in every event and export: the name's punctuation stays out of it."""
    added = await service.add_candidate(EDITOR, r"Jean-Luc O'Dupont $\foo$", None)
    assert added.candidate.key == "jean-luc-o-dupont-foo"
    assert (await service.add_candidate(EDITOR, "Åsa Ørsted", None)).candidate.key == "asa-ørsted"
    with pytest.raises(TallyError, match="full name"):
        await service.add_candidate(EDITOR, "$ $", None)


async def test_concurrent_recordings_each_see_the_position_they_replace(service):
    estonia, rutte = service.roster.member("Estonia"), service.roster.candidate("Rutte")
    done = await asyncio.gather(
        *(service.record(EDITOR, estonia, Position.OPPOSES, rutte) for _ in range(10))
    )
    # A chain: each replaced the one recorded just before it, none replaced the same twice.
    previous = sorted(d.previous.id for d in done)
    assert previous == sorted([d.event.id for d in done][:-1] + [done[0].previous.id])
    assert len(set(previous)) == 10 and done[0].previous.position == "supports"


async def test_a_version_7_log_keeps_every_event_and_id_and_can_record_abstentions(tmp_path):
    """Version 8 copies the log to a table that allows 'abstains': nothing is lost or
    renumbered, undos still point at what they reverted, and the log stays append-only."""
    path = tmp_path / "v7.db"
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:7]:
            for statement in split_statements(step):
                db.execute(statement)
        db.execute("PRAGMA user_version = 7")
        row = "INSERT INTO events (id, race, member, position, candidate, happened_on,"
        row += " recorded_at, actor_platform, actor_id, actor_name, reverts)"
        row += " VALUES (?, 'r', ?, ?, ?, ?, '2024-04-02T10:00:00', 't', 'ed', 'Ed', ?)"
        db.executemany(
            row,
            [
                (3, "EE", "supports", "rutte", "2024-04-01", None),
                (7, "HU", "opposes", "rutte", "2024-04-01", None),
                (9, "HU", "undo", "rutte", "2024-04-01", 7),
            ],
        )
    store = await Store.open(path)
    assert await user_version(store) == len(MIGRATIONS)
    assert [(e.id, e.member, e.reverts) for e in await store.events("r")] == [
        (3, "EE", None), (7, "HU", None), (9, "HU", 7),
    ]  # fmt: skip
    assert set(await store.current("r")) == {"EE"}  # HU's opposition stays undone
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await store.db.execute("DELETE FROM events")
    await store.add_candidate("r", Candidate("rutte", "Mark Rutte"), None, EDITOR)
    event, *_ = await store.append(
        NewEvent("r", "IT", "abstains", "rutte", date(2024, 4, 2), EDITOR)
    )
    assert event.position is Position.ABSTAINS and event.id == 10
    assert (await store.current("r"))["IT"].id == 10
    await store.close()
