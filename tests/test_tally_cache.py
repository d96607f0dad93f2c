"""Today's tally and countdown are kept between writes: what a kept answer says must equal a
fresh read after any write, here or in another process (another Store on the same file)."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.desk import Desk
from bot.domain import Actor, Position, TallyError
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

TODAY = date(2024, 4, 3)
EDITOR = Actor("test", "ed", "Editor", is_editor=True)
SOURCE = "https://example.org/estonia-backs-rutte"


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


async def test_a_typed_tally_is_kept_until_any_process_writes(tmp_path):
    race = load_race("nato-sg-2024")
    here = await open_service(tmp_path / "t.db", race)
    there = await open_service(tmp_path / "t.db", race)  # another process
    ctx = Context(Desk.of(here), EDITOR)
    first = await run_line(ctx, "/tally")
    assert await run_line(ctx, "/tally") is first  # nothing committed: the kept answer
    rutte = there.roster.candidate("Rutte")
    await there.record(EDITOR, race.member("EE"), Position.SUPPORTS, rutte, source=SOURCE)
    after = await run_line(ctx, "/tally")
    fresh = await open_service(tmp_path / "t.db", race)
    assert after == await run_line(Context(Desk.of(fresh), EDITOR), "/tally") != first
    assert "1/32" in after.summary
    for service in (here, there, fresh):
        await service.store.close()


async def test_commands_share_a_data_version_read_only_if_it_began_after_they_asked(
    tmp_path, monkeypatch
):
    """A read on its way may predate a commit: whoever asks then waits for the next read."""
    race = load_race("nato-sg-2024")
    clock = Clock(ZoneInfo(race.timezone), TODAY)
    service = Service(await Store.open(tmp_path / "t.db", clock.now), race, clock)  # no warm-up
    desk = Desk.of(service)
    commits, began, started, release = [0], [], asyncio.Event(), asyncio.Event()

    async def data_version() -> int:
        seen = commits[0]  # a read sees the commits made before it began
        began.append(seen)
        started.set()
        await release.wait()
        return seen

    monkeypatch.setattr(service.store, "data_version", data_version)
    first, second = (asyncio.ensure_future(desk.data_version()) for _ in range(2))
    await started.wait()
    commits[0] = 1  # committed while the first read is on its way
    late = asyncio.ensure_future(desk.data_version())
    release.set()
    assert (await first, await second, await late) == (0, 0, 1)
    assert began == [0, 1]  # the first two asked before the read began: one read for both
    await service.store.close()
