"""The day the rule was met, from kept checkpoints, equals a replay of the whole log on every
day: over random recordings on a few members under a rule they meet and lose again and again
(back-filled across Sweden's accession, undone, some by a second process), from the replays
that mend what each change touched, and from new ones starting from the checkpoints kept in
the file. Readable checkpoints that do not fit the file are not used."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from conftest import ARTICLES_DAY

from bot import replays
from bot.clock import Clock
from bot.domain import Actor, Position, TallyError, counting
from bot.racefile import load_race
from bot.replays import Replays
from bot.rules import RuleReplay, Threshold
from bot.service import Service
from bot.store.store import Store

EDITOR = Actor("test", "ed", "Editor", is_editor=True)
NEWS = "https://www.reuters.com/world/nato"
FIRST_DAY = date(2024, 2, 20)  # before Sweden joined on 7 March 2024
DAYS = [FIRST_DAY + timedelta(days=d) for d in range((ARTICLES_DAY - FIRST_DAY).days + 1)]
# Three backers among five members who change their minds: met, lost and met again.
RACE = replace(
    load_race("nato-sg-2024"),
    rule=Threshold(32, backers=3),
    rule_over=lambda members: Threshold(len(members), backers=3),
)
FEW = ["SE", "EE", "HU", "SK", "RO"]
CLOCK = Clock(ZoneInfo(RACE.timezone), ARTICLES_DAY)


async def open_service(path) -> Service:
    service = Service(await Store.open(path, CLOCK.now), RACE, CLOCK)
    await service.start()
    return service


async def three_backers(service: Service, kept: bool = False) -> None:
    """Estonia, Hungary and Slovakia back Rutte on 11, 12 and 13 March: met on the 13th; with
    `kept`, that replay's checkpoints are then written to the file."""
    rutte = service.roster.candidate("Rutte")
    for code, day in zip(FEW[1:4], DAYS[20:23], strict=True):
        await service.record(EDITOR, RACE.member(code), Position.SUPPORTS, rutte, day, NEWS)
    if kept:
        await service.countdown()
        await service.replays_kept()


async def replayed(
    store: Store, candidate: str, day: date, strict: bool, up_to_id: int | None = None
) -> date | None:
    """The day the rule was met by the end of `day`, from a replay of the whole log (of its
    events up to `up_to_id`)."""
    changes = await store.changes(RACE.id, day, up_to_id, counting=counting(strict))
    return RuleReplay(candidate, RACE).fold(changes, until=day).reached


async def test_kept_and_mended_checkpoints_answer_as_a_whole_replay_on_every_day(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "tally.db"
    one, two = await open_service(path), await open_service(path)  # two processes
    rutte = one.roster.candidate("Rutte")
    kept = {s: Replays(one.store, RACE, counting(s)) for s in (False, True)}
    try:
        for step in range(150):
            service = two if rng.random() < 0.25 else one
            try:
                if rng.random() < 0.15:
                    await service.undo(EDITOR)
                else:
                    await service.record(
                        EDITOR,
                        RACE.member(rng.choice(FEW)),
                        rng.choice([Position.SUPPORTS] * 3 + [Position.OPPOSES]),
                        rutte,
                        on=rng.choice(DAYS[-3:] if rng.random() < 0.5 else DAYS),
                        source=NEWS if rng.random() < 0.8 else None,  # else a rumour
                    )
            except TallyError:
                continue  # nothing to undo, or not a member yet on that day
            strict = rng.random() < 0.3
            days = rng.sample(DAYS, 4) + [ARTICLES_DAY]
            if step % 5 == 0:  # a new process, starting from what the file keeps
                await kept[strict].written()
                kept[strict] = Replays(one.store, RACE, counting(strict))
            for day in days:
                got = await kept[strict].met_on(rutte.key, day)
                want = await replayed(one.store, rutte.key, day, strict)
                assert got == want, f"step {step}, {day}, strict={strict}"
            # a digest counting the events up to the one recorded a few before the last
            behind = await one.store.last_event_id(RACE.id) - rng.randrange(1, 6)
            got = await kept[strict].met_on(rutte.key, days[0], behind)
            want = await replayed(one.store, rutte.key, days[0], strict, behind)
            assert got == want, f"step {step}, {days[0]}, up to #{behind}"
        met_days = [await replayed(one.store, rutte.key, d, False) for d in DAYS]
        assert len({d for d in met_days if d}) > 1  # met on more than one day, and lost
        assert None in met_days
    finally:
        await two.store.close()
        await one.store.close()


async def test_a_new_process_starts_from_the_kept_checkpoints(tmp_path, monkeypatch):
    path = tmp_path / "tally.db"
    service = await open_service(path)
    rutte = service.roster.candidate("Rutte")
    try:
        await three_backers(service)
        met = DAYS[22]
        assert await service.countdown() == await service.countdown()  # replayed once
        await service.replays_kept()
        read: list[date | None] = []
        changes = Store.changes

        async def noting(self, race, as_of, up_to_id=None, since=None, counting=None):
            read.append(since)
            return await changes(self, race, as_of, up_to_id, since, counting)

        monkeypatch.setattr(Store, "changes", noting)
        fresh = await open_service(path)
        try:
            assert f"reached 3 backers on {met.day} March" in await fresh.countdown()
            assert read == []  # no replay: the checkpoints were read
            await fresh.record(EDITOR, RACE.member("SE"), Position.SUPPORTS, rutte, DAYS[17])
            assert f"on {met.day} March" in await fresh.countdown()  # SE is a rumour: same day
            await fresh.record(EDITOR, RACE.member("SE"), Position.SUPPORTS, rutte, DAYS[21], NEWS)
            assert f"on {DAYS[21].day} March" in await fresh.countdown()  # SE made three earlier
            assert read and all(since is not None and since >= DAYS[17] for since in read)
        finally:
            await fresh.store.close()
    finally:
        await service.store.close()


async def test_checkpoints_of_another_rule_or_an_unreadable_file_are_not_used(tmp_path):
    path = tmp_path / "tally.db"
    service = await open_service(path)
    rutte = service.roster.candidate("Rutte")
    try:
        await three_backers(service, kept=True)
    finally:
        await service.store.close()
    # The race file now asks four backers: the three do not meet it, whatever was kept.
    four = replace(RACE, rule=Threshold(32, backers=4), rule_over=lambda m: Threshold(len(m), 4))
    store = await Store.open(path, CLOCK.now)
    try:
        by_four = Replays(store, four, counting(False))
        assert await by_four.met_on(rutte.key, ARTICLES_DAY) is None
        await by_four.written()  # in place of the old rule's
        with closing(sqlite3.connect(path)) as db:
            kept = db.execute("SELECT replay FROM replay_checkpoints ORDER BY replay").fetchall()
        assert [k.partition(":")[0] for (k,) in kept] == ["on-record+reported"]
        assert kept[0][0] == replays.replays_key(four, counting(False))
        back = Replays(store, RACE, counting(False))  # the race file's rule back again
        assert await back.met_on(rutte.key, ARTICLES_DAY) == DAYS[22]
        await back.written()
        for column, text in (("stances", '{"rutte": [1]}'), ("head", '{"rutte": 1}')):
            with closing(sqlite3.connect(path)) as db, db:
                db.execute(f"UPDATE replay_checkpoints SET {column} = ?", (text,))
            same = Replays(store, RACE, counting(False))
            assert await same.met_on(rutte.key, DAYS[21]) is None, column
            # the day after needs the stances of the last checkpoint to fold on from
            tomorrow = ARTICLES_DAY + timedelta(days=1)
            assert await same.met_on(rutte.key, tomorrow) == DAYS[22], column
    finally:
        await store.close()


def test_the_key_is_the_same_in_every_process_and_changes_with_the_rule():
    # The Security Council's vetoes are a set, whose order differs between processes.
    script = (
        "from bot.domain import counting; from bot.racefile import load_race;"
        "from bot.replays import replays_key;"
        "print(replays_key(load_race('unsg-2016'), counting(False)))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1
    key = replays.replays_key(RACE, counting(False))
    assert key != replays.replays_key(RACE, counting(True))
    four = replace(RACE, rule=Threshold(32, backers=4), rule_over=lambda m: Threshold(len(m), 4))
    assert key != replays.replays_key(four, counting(False))


async def test_stances_rewritten_by_another_process_after_the_heads_were_read_are_not_mixed_in(
    tmp_path, caplog
):
    path = tmp_path / "tally.db"
    first = await open_service(path)
    rutte = first.roster.candidate("Rutte")
    try:
        await three_backers(first, kept=True)
        reader = Replays(first.store, RACE, counting(False))
        assert await reader.met_on(rutte.key, ARTICLES_DAY) == DAYS[22]  # the heads alone
        other = await open_service(path)  # another process moves the met day and keeps that
        try:
            await other.record(EDITOR, RACE.member("SE"), Position.SUPPORTS, rutte, DAYS[21], NEWS)
            await other.countdown()
            await other.replays_kept()
        finally:
            await other.store.close()
        # the reader folds the new event from the checkpoints it read: their stances are gone
        assert await reader.met_on(rutte.key, ARTICLES_DAY) == DAYS[21]
        assert await replayed(first.store, rutte.key, ARTICLES_DAY, False) == DAYS[21]
        assert "replaying" in caplog.text
    finally:
        await first.store.close()


async def test_a_write_is_answered_with_the_tally_brought_up_to_date_or_without_it(
    tmp_path, monkeypatch, caplog
):
    service = await open_service(tmp_path / "tally.db")
    rutte = service.roster.candidate("Rutte")
    try:
        await three_backers(service)
        read: list[date | None] = []
        changes = Store.changes

        async def noting(self, race, as_of, up_to_id=None, since=None, counting=None):
            read.append(since)
            return await changes(self, race, as_of, up_to_id, since, counting)

        await service.record(EDITOR, RACE.member("SE"), Position.SUPPORTS, rutte, DAYS[19], NEWS)
        assert f"3 backers on {DAYS[21].day} March" in await service.countdown()
        monkeypatch.setattr(Store, "changes", noting)
        await service.undo(EDITOR)  # Sweden's: met a day later again
        assert read[:1] == [DAYS[19]]  # mended from Sweden's day while the undo was made
        read.clear()
        assert f"3 backers on {DAYS[22].day} March" in await service.countdown()
        assert read == []  # the reader after it is answered from what the undo brought

        async def failing(self, *args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(Store, "changes", failing)
        recorded = await service.record(
            EDITOR, RACE.member("SK"), Position.SUPPORTS, rutte, DAYS[22], NEWS
        )
        assert recorded.event.id == await service.last_event_id()  # the write stands
        assert "Could not bring the tally up to date" in caplog.text
    finally:
        await service.store.close()
