"""Anonymous rounds (UN straw polls): an editor records one, /tally shows the latest beside the
known positions, a mistake writes nothing, and /undo reverts it."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import Console
from bot.clock import Clock
from bot.domain import Actor
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store


@pytest.fixture
async def un(tmp_path):
    race = load_race("unsg-2016")
    clock = Clock(ZoneInfo(race.timezone), date(2016, 10, 6))
    service = Service(await Store.open(tmp_path / "un.db", clock.now), race, clock)
    await service.start()
    yield service
    await service.store.close()


@pytest.fixture
def chat(un, tmp_path):
    return Console(un, tmp_path).handle


ROUND = (
    "/round Guterres 12-0-3, Türk 11-2-2 on:2016-10-06 source:https://example.org/poll"
    " name:an extra straw poll veto:Guterres 5-0-0"
)


async def test_a_recorded_round_is_the_latest_in_the_tally(chat):
    recorded = await chat(ROUND)
    assert recorded.startswith("Recorded an extra straw poll, 6 October 2016")
    tally = await chat("/tally")
    assert "An extra straw poll, 6 October 2016" in tally
    assert (
        "António Guterres: 12 encourage, 0 discourage, 3 no opinion; permanent members 5-0-0: "
        "no permanent member against"
    ) in tally
    earlier = await chat("/tally as_of:2016-10-05")  # the race file's sixth poll then
    assert "6 October" not in earlier and "5 October 2016" in earlier


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("/round Guterres 12-0 source:https://e.org/", "give each candidate's counts as"),
        ("/round Guterres 12-4-3 source:https://e.org/", "more ballots than the 15 members"),
        ("/round Guterres 9-0-0 veto:Guterres 4-0-2 source:https://e.org/",
         "more ballots than the 5 veto members"),
        ("/round Guterres 9-0-0, Guterres 8-1-0 source:https://e.org/", "is given twice"),
        ("/round Gutteres 9-0-0 source:https://e.org/", "Did you mean António Guterres"),
        ("/round Guterres 9-0-0", "A round needs its source"),
    ],
)  # fmt: skip
async def test_a_mistaken_round_writes_nothing(un, chat, line, error):
    reply = await chat(line)
    assert reply.startswith("Error:") and error in reply
    assert await un.store.rounds(un.race.id, date(2016, 12, 31)) == []


async def test_only_editors_record_rounds(un, tmp_path):
    reader = Console(un, tmp_path, actor=Actor("console", "r", "reader")).handle
    assert "Only editors can" in await reader(ROUND)


async def test_undo_reverts_the_round_when_it_came_last_then_the_event_before(chat):
    await chat("/endorse Japan Guterres on:2016-10-06 source:https://example.org/jp")
    await chat(ROUND)
    assert (await chat("/undo")).startswith("Undid an extra straw poll, 6 October 2016")
    tally = await chat("/tally")
    assert "extra straw poll" not in tally and "Sixth straw poll" in tally  # a round undone
    assert (await chat("/undo")).startswith("Undid #")  # then Japan's endorsement
    assert "nothing left to undo" in await chat("/undo")


async def test_history_lists_the_rounds_held_latest_first(chat):
    await chat(ROUND)
    history = await chat("/history")
    rounds = history.split("Rounds (encourage-discourage-no opinion)")[1]
    assert rounds.index("an extra straw poll, 6 October 2016") < rounds.index("5 October 2016")
    assert "António Guterres 12-0-3, Danilo Türk 11-2-2 · example.org" in rounds
    assert "Rounds" not in await chat("/history Japan")  # no member is named in a round


async def test_the_timeline_draws_a_recorded_round(un, chat):
    from bot.charts import _timeline

    await chat(ROUND)
    picture = await _timeline(un, None, None)
    assert [r.name for r in picture.rounds][-1] == "an extra straw poll"


async def test_export_of_rounds_has_a_row_per_round_and_candidate(chat, tmp_path):
    import csv

    await chat(ROUND)
    reply = await chat("/export csv of:rounds since:2016-10-05")
    assert reply.startswith("The rounds from 5 October 2016 to today: 8 rows")
    path = reply.rsplit("Saved to ", 1)[1].strip()
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    extra = [r for r in rows if r["round"] == "an extra straw poll"]
    assert [(r["candidate_name"], r["encourage"], r["veto_encourage"]) for r in extra] == [
        ("António Guterres", "12", "5"),
        ("Danilo Türk", "11", ""),
    ]
    assert {r["happened_on"] for r in rows} == {"2016-10-05", "2016-10-06"}
