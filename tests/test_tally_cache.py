"""Today's tally and countdown are kept between writes: what a kept answer says must equal a
fresh read after any write, here or in another process (another Store on the same file)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain import Actor, Position, TallyError
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

TODAY = date(2024, 4, 3)
EDITOR = Actor("test", "ed", "Editor", is_editor=True)


async def open_service(path, race) -> Service:
    clock = Clock(ZoneInfo(race.timezone), TODAY)
    service = Service(await Store.open(path, clock.now), race, clock)
    await service.start()
    return service


def seen(tally) -> list:
    return [(t.candidate.key, [m.code for m in t.backers], t.needs()) for t in tally.candidates]


async def test_a_kept_tally_equals_a_fresh_one_after_every_kind_of_write(tmp_path):
    race = load_race("nato-sg-2024")
    here = await open_service(tmp_path / "t.db", race)
    there = await open_service(tmp_path / "t.db", race)  # another process
    rng = random.Random(12)
    members = list(race.members)
    for step in range(150):
        writer = rng.choice([here, there])
        roll = rng.random()
        try:
            if roll < 0.15:
                await writer.undo(EDITOR)
            elif roll < 0.2:
                name = f"Candidate {step}"
                await writer.add_candidate(EDITOR, name, None, TODAY - timedelta(days=30))
            else:
                candidates = writer.roster.candidate_list
                position = rng.choice([Position.SUPPORTS, Position.OPPOSES, Position.UNDECIDED])
                await writer.record(
                    EDITOR,
                    rng.choice(members),
                    position,
                    None if position is Position.UNDECIDED else rng.choice(candidates),
                    TODAY - timedelta(days=rng.randrange(40)),  # back-fills too
                )
        except TallyError:
            pass  # nothing to undo, or a candidate not yet in the race that day
        kept = await here.tally()
        fresh = await open_service(tmp_path / "t.db", race)
        assert seen(kept) == seen(await fresh.tally()), step
        assert await here.countdown(kept) == await fresh.countdown(), step
        as_of = TODAY - timedelta(days=rng.randrange(40))
        assert seen(await here.tally(as_of=as_of)) == seen(await fresh.tally(as_of=as_of)), step
        await fresh.store.close()
    await here.store.close()
    await there.store.close()


async def test_nothing_written_means_the_kept_tally_is_answered(tmp_path):
    race = load_race("nato-sg-2024")
    service = await open_service(tmp_path / "t.db", race)
    first = await service.tally()
    assert await service.tally() is first  # no write: the same answer, not read again
    await service.record(EDITOR, race.member("EE"), Position.UNDECIDED)
    assert await service.tally() is not first
    await service.store.close()
