"""The kept replays answer as a fresh one would: over a few hundred random operations (records
dated today or back-filled across Sweden's accession, undos, writes by a second process,
a candidate withdrawing and coming back), the countdown of a service that kept its replays,
now, as of a past day and in a digest, equals that of a new service on the same file (which
starts from the checkpoints kept in it) and that of one replaying the log from nothing."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from conftest import ARTICLES_DAY, forget_kept_replays

from bot.clock import Clock
from bot.domain import Actor, Position, TallyError
from bot.racefile import load_race
from bot.rules import TwoThirds
from bot.service import Service
from bot.store.store import Store

EDITORS = [Actor("test", f"ed{i}", f"Editor {i}", is_editor=True) for i in range(3)]
FIRST_DAY = date(2024, 2, 20)  # before Sweden joined on 7 March 2024
# The NATO race by two thirds of its members of each day: met and lost again and again.
RACE = replace(
    load_race("nato-sg-2024"),
    rule=TwoThirds(32),
    rule_over=lambda members: TwoThirds(len(members)),
)
CLOCK = Clock(ZoneInfo(RACE.timezone), ARTICLES_DAY)


async def open_service(path, demo: bool = False) -> Service:
    service = Service(await Store.open(path, CLOCK.now), RACE, CLOCK)
    await service.start(demo=demo)
    return service


async def countdowns(service: Service, days: list[date], up_to_id: int) -> list[str]:
    """What a reader sees of the met day: /countdown, /tally as_of each day, and a digest's
    countdown counting what was recorded by `up_to_id`."""
    lines = [await service.countdown(moves=True)]
    for day in days:
        lines.append(await service.countdown(await service.tally(as_of=day)))
    digest = await service.digest_tally(ARTICLES_DAY, up_to_id)
    lines.append(await service.countdown(digest, up_to_id))
    return lines


async def fresh(path, days: list[date], up_to_id: int, last: int) -> tuple[list[str], list[str]]:
    """The same from new services: one on the file, starting from the checkpoints kept there,
    and one on a copy without them; for a digest behind the log, the latter is on a copy of
    the log as it was when event `up_to_id` was recorded."""
    service = await open_service(path)
    try:
        reopened = await countdowns(service, days, up_to_id)
    finally:
        await service.store.close()
    copy = path.with_name("replayed.db")
    copy.unlink(missing_ok=True)
    if up_to_id == last:
        with closing(sqlite3.connect(path)) as db, closing(sqlite3.connect(copy)) as to:
            db.backup(to)
    else:
        await (await Store.open(copy)).close()
        with closing(sqlite3.connect(copy)) as db, db:
            db.execute("ATTACH ? AS full", (str(path),))
            db.execute("INSERT INTO events SELECT * FROM full.events WHERE id <= ?", (up_to_id,))
            db.execute("INSERT INTO candidate_events SELECT * FROM full.candidate_events")
    forget_kept_replays(copy)
    then = await open_service(copy)
    try:
        replayed = await countdowns(then, days, up_to_id)
    finally:
        await then.store.close()
    if up_to_id != last:  # that copy's tallies count fewer events: only its digest compares
        replayed = [*reopened[:-1], replayed[-1]]
    return reopened, replayed


async def test_kept_replays_equal_a_fresh_replay_after_every_kind_of_change(tmp_path):
    rng = random.Random(1)
    path = tmp_path / "tally.db"
    kept = await open_service(path, demo=True)
    other = await open_service(path)  # a second process on the same file
    rutte, iohannis = kept.roster.candidate("Rutte"), kept.roster.candidate("Iohannis")
    members = kept.race.members
    span = (ARTICLES_DAY - FIRST_DAY).days
    met = 0
    try:
        for step in range(300):
            service = other if rng.random() < 0.2 else kept  # a second process writes too
            actor = rng.choice(EDITORS)
            roll = rng.random()
            try:
                if roll < 0.12:
                    await service.undo(actor)
                elif roll < 0.15:
                    if iohannis.key in {c.key for c in await kept.active_candidates()}:
                        await service.withdraw_candidate(actor, iohannis)
                    else:
                        await service.add_candidate(actor, "Klaus Iohannis", None)
                else:
                    back = 0 if rng.random() < 0.5 else rng.randrange(span + 1)
                    position = rng.choice(
                        [Position.SUPPORTS] * 6 + [Position.OPPOSES, Position.UNDECIDED]
                    )
                    candidate = rutte if rng.random() < 0.85 else iohannis
                    await service.record(
                        actor,
                        rng.choice(members),
                        position,
                        candidate,
                        on=ARTICLES_DAY - timedelta(days=back),
                    )
            except TallyError:
                continue  # refused (nothing to undo, not a member yet, withdrawn): nothing written
            await kept.refresh()
            days = [FIRST_DAY + timedelta(days=rng.randrange(span + 1)) for _ in range(2)]
            last = await kept.last_event_id()
            up_to_id = last if step % 4 else last - rng.randrange(1, 4)  # a digest behind
            seen = await countdowns(kept, days, up_to_id)
            if step % 2:  # else the file may keep checkpoints from before these countdowns
                await kept.replays_kept()
                await other.replays_kept()
            reopened, replayed = await fresh(path, days, up_to_id, last)
            assert seen == reopened == replayed, f"step {step}"
            met += any("reached" in line for line in seen)
        assert met > 30  # the rule was met often enough for the met day to be compared
    finally:
        await other.store.close()
        await kept.store.close()
