"""The digest's cost does not grow with the log: a first digest ("the last 24 hours", or "the
latest changes" when nothing moved in that time) reads O(members) rows, counted, not timed."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock
from bot.digest import DigestBuilder
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

TODAY = date(2024, 7, 1)
EVENTS = 4_000  # far more than the rows a digest may read (the race has 32 members)


def _fill(path: Path, race_id: str, members: list[str], recorded_at: str) -> None:
    rng = random.Random(1)
    rows = []
    for _ in range(EVENTS):
        position = rng.choice(["supports", "opposes", "undecided"])
        candidate = None if position == "undecided" else rng.choice(["rutte", "iohannis"])
        day = (TODAY - timedelta(days=rng.randrange(400))).isoformat()
        rows.append((race_id, rng.choice(members), position, candidate, day, recorded_at))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source)"
            " VALUES (?, ?, ?, ?, ?, ?, 'test', 'filler', 'filler', 'https://example.org/n')",
            rows,
        )


@pytest.mark.parametrize(
    ("recorded", "title"),
    [(timedelta(hours=1), "In the last 24 hours"), (timedelta(days=3), "The latest changes")],
)
async def test_first_digest_reads_rows_by_members_not_by_events(
    tmp_path: Path, recorded: timedelta, title: str
) -> None:
    race = load_race("nato-sg-2024")
    clock = Clock(ZoneInfo(race.timezone), TODAY)
    path = tmp_path / "long.db"
    await (await Store.open(path)).close()
    when = (clock.now() - recorded).astimezone(UTC)
    _fill(path, race.id, [m.code for m in race.members], when.isoformat(timespec="microseconds"))
    store = await Store.open(path)
    try:
        service = Service(store, race, clock)
        await service.start()
        read = 0
        fetch = store.reader.execute_fetchall

        async def counting(*args, **kwargs):
            nonlocal read
            rows = await fetch(*args, **kwargs)
            read += len(rows)
            return rows

        store.reader.execute_fetchall = counting  # type: ignore[method-assign]
        reply = await DigestBuilder(service).preview(TODAY)
        assert reply.sections[1].title == title
        assert read < 20 * len(race.members) < EVENTS  # the slow code read the log twice
    finally:
        await store.close()
