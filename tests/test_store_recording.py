"""Recordings written together (one transaction for those queued meanwhile): each lands with
the position it replaced and the standing it continues, as a read of the log says; one that
fails writes nothing and fails no other; a run kept between repeats follows what another
process or an undo changed."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import date, timedelta

import pytest
from conftest import ARTICLES_DAY, make_service

from bot.domain import Actor, Confidence, Position
from bot.service import Recorded, Service
from bot.store.store import NewEvent, Store

EDITOR = Actor("test", "ed", "Editor", is_editor=True)
OTHER = Actor("test", "other", "Other editor", is_editor=True)
SOURCE = "https://www.reuters.com/world/nato"
LATER_SOURCE = "https://apnews.com/article/nato"


async def expected(store: Store, race: str, done: Recorded) -> Recorded:
    """What a read of the log says the recording replaced, and the standing of a repeat, as
    things stood right after it was recorded."""
    event = done.event
    before = await store.as_of(race, date.max, [event.member], event.id - 1)
    previous = before.get(event.member)
    repeat = previous is not None and previous.happened_on <= event.happened_on
    if not repeat or (previous.position, previous.candidate) != (event.position, event.candidate):
        return Recorded(event, previous)
    standings = await store.standings(race, [event.member], event.happened_on, event.id)
    return Recorded(event, previous, standings[event.member])


async def recorded_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the batches written together from now on."""
    sizes, commit = [], store._commit_together

    def counted(batch):
        sizes.append(len(batch))
        return commit(batch)

    monkeypatch.setattr(store, "_commit_together", counted)
    return sizes


async def test_100_concurrent_recordings_each_say_what_they_replaced_and_since_when(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    race, store, rng = service.race.id, service.store, random.Random(5)
    members = [service.roster.member(m) for m in ("Estonia", "Hungary", "Slovakia", "Turkey")]
    rutte = service.roster.candidate("Rutte")
    sizes = await recorded_batches(store, monkeypatch)

    async def one() -> Recorded:
        position = rng.choice([Position.SUPPORTS, Position.SUPPORTS, Position.OPPOSES])
        day = ARTICLES_DAY - timedelta(days=rng.choice([0, 0, 0, 1, 5]))  # some back-filled
        source = rng.choice([None, SOURCE, LATER_SOURCE])
        return await service.record(
            EDITOR, rng.choice(members), position, rutte, day, source, None, Confidence.REPORTED
        )

    async def undo() -> None:
        await asyncio.sleep(0)  # among the recordings
        await service.undo(OTHER)

    await service.record(OTHER, members[0], Position.OPPOSES, rutte, source=SOURCE)
    done = await asyncio.gather(*(one() for _ in range(50)), undo(), *(one() for _ in range(50)))
    recorded = [d for d in done if d is not None]

    assert max(sizes) > 10, "the recordings should have been written together"
    events = {e.id for e in await store.events(race)}
    assert len(recorded) == 100 and {d.event.id for d in recorded} <= events
    assert sum(d.standing is not None for d in recorded) > 20, "repeats should be among them"
    for d in recorded:
        assert d == await expected(store, race, d)


async def test_a_recording_that_fails_writes_nothing_and_fails_no_other(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    race, store = service.race.id, service.store
    hungary, rutte = service.roster.member("Hungary"), service.roster.candidate("Rutte")
    before, held = await store.events(race), (await store.current(race)).get(hungary.code)
    sizes = await recorded_batches(store, monkeypatch)
    standing = store._standing

    def failing(db: sqlite3.Connection, row: tuple, previous: list | None):
        if row[2] == hungary.code:  # after its INSERT, in the same transaction
            raise sqlite3.OperationalError("disk I/O error")
        return standing(db, row, previous)

    monkeypatch.setattr(store, "_standing", failing)
    invalid = NewEvent(race, "EE", "maybe", None, ARTICLES_DAY, EDITOR)  # refused by its CHECK
    members = service.race.members[:16]
    done = await asyncio.gather(
        *(service.record(EDITOR, m, Position.SUPPORTS, rutte, source=SOURCE) for m in members),
        store.append(invalid),
        return_exceptions=True,
    )

    assert max(sizes) == len(members), "all but the first should share one transaction"
    assert isinstance(done[-1], sqlite3.IntegrityError)
    assert isinstance(done[members.index(hungary)], sqlite3.OperationalError)
    written = [d for d in done if isinstance(d, Recorded)]
    assert [d.event.member for d in written] == [m.code for m in members if m != hungary]
    after = await store.events(race)
    assert after[len(before) :] == [d.event for d in written]
    assert (await store.current(race)).get(hungary.code) == held
    assert [e for e in after if e.member == hungary.code] == [
        e for e in before if e.member == hungary.code
    ]


async def test_a_kept_run_follows_another_process_and_an_undo(tmp_path) -> None:
    """Estonia's run of oppositions is broken by a back-filled support from another process,
    then joined again when that support is undone: each repeat says since when, as the log does."""
    path = tmp_path / "runs.db"
    later = date(2024, 5, 1)
    here, there = await make_service(path, later), await make_service(path, later)
    try:
        estonia, rutte = here.roster.member("Estonia"), here.roster.candidate("Rutte")
        race, day = here.race.id, date(2024, 4, 10)

        async def oppose(on: int, service: Service = here) -> Recorded:
            return await service.record(
                EDITOR, estonia, Position.OPPOSES, rutte, day + timedelta(days=on), SOURCE
            )

        await oppose(0)
        assert (await oppose(5)).standing.since == day
        await there.record(OTHER, estonia, Position.SUPPORTS, rutte, day + timedelta(days=2))
        broken = await oppose(6)
        assert broken.standing.since == day + timedelta(days=5)
        await there.undo(OTHER)
        joined = await oppose(7)
        assert joined.standing.since == day
        for done in (broken, joined):
            assert done == await expected(here.store, race, done)
    finally:
        await here.store.close()
        await there.store.close()
