"""What a replay and a timeline read of the log: each member's last position of each day that
still counts (not undone, nor an undo), bounded by the days and the event id asked, the same
as reading every event and keeping the last one of each member and day."""

from __future__ import annotations

import random
from datetime import date, timedelta

from bot.domain import Actor, Change, Position
from bot.store.store import NewEvent, Store

RACE = "nato-sg-2024"
FIRST = date(2024, 3, 1)
ACTORS = [Actor("test", f"ed{i}", f"Editor {i}") for i in range(3)]


def by_reading_every_event(events, as_of: date, up_to_id: int, since: date) -> list[Change]:
    undone = {e.reverts for e in events if e.reverts is not None and e.id <= up_to_id}
    last: dict[tuple[str, date], object] = {}
    for e in events:
        if e.id <= up_to_id and e.position is not None and e.id not in undone:
            if since <= e.happened_on <= as_of:
                last[e.member, e.happened_on] = e  # in id order: the day's last one wins
    kept = sorted(last.values(), key=lambda e: (e.happened_on, e.id))
    return [Change(e.member, e.position, e.candidate, e.happened_on) for e in kept]


async def test_changes_are_each_members_last_counting_position_of_each_day(tmp_path):
    rng = random.Random(3)
    store = await Store.open(tmp_path / "log.db")
    try:
        for _ in range(600):
            actor = rng.choice(ACTORS)
            if rng.random() < 0.2:
                await store.undo_last(RACE, actor)
                continue
            position = rng.choice(list(Position))
            await store.append(
                NewEvent(
                    RACE,
                    rng.choice(["EE", "HU", "SK", "TR"]),  # few members: many events a day
                    position.value,
                    None if position is Position.UNDECIDED else rng.choice(["rutte", "x"]),
                    FIRST + timedelta(days=rng.randrange(10)),
                    actor,
                )
            )
        events = await store.events(RACE)
        assert sum(e.reverts is not None for e in events) > 50  # undos of undone-day's last ones
        for _ in range(40):
            as_of = FIRST + timedelta(days=rng.randrange(12))
            since = FIRST + timedelta(days=rng.randrange(-1, 10))
            up_to_id = rng.randrange(1, len(events) + 1)
            expected = by_reading_every_event(events, as_of, up_to_id, since)
            assert await store.changes(RACE, as_of, up_to_id, since) == expected
        assert await store.changes(RACE, FIRST + timedelta(days=9)) == by_reading_every_event(
            events, FIRST + timedelta(days=9), len(events), FIRST
        )
    finally:
        await store.close()
