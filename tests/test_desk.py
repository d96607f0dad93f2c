"""Several races in one instance: each command is about the race it names (race:), else its
channel's (/race use), else the first; names resolve within that race."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.adapters.console import Console
from bot.app import open_desk
from bot.config import Config
from bot.domain import Actor


@pytest.fixture
async def desk(tmp_path):
    config = replace(Config(), database=tmp_path / "t.db")  # every shipped race, today's date
    async with open_desk(config, demo=True) as desk:
        yield desk


@pytest.fixture
def chat(desk, tmp_path):
    return Console(desk, tmp_path / "files").handle


async def test_the_issues_console_run(chat):
    eu = await chat("/tally race:eu-commission-2024 as_of:2024-06-27")
    assert "25/27 states" in eu and "% of the population" in eu
    assert "Has a qualified majority." in eu
    nato = await chat("/tally race:nato-sg-2024 as_of:2024-02-22")
    assert "4/31\n  Needs 27 more for unanimity." in nato
    un = await chat("/tally race:unsg-2016 as_of:2016-10-05")
    assert "sixth straw poll" in un.lower() or "5 October 2016" in un
    assert "no permanent member against" in un


async def test_a_channels_race_is_used_until_an_editor_changes_it(desk, chat):
    assert (await chat("/tally")).startswith("NATO Secretary-General 2024")
    assert "now about UN Secretary-General 2016" in await chat("/race use unsg-2016")
    assert "António Guterres" in await chat("/tally")
    assert "Mark Rutte" in await chat("/tally race:nato-sg-2024")  # race: still wins
    again = Console(desk, desk.default.store.path.parent).handle  # kept in the database
    assert "António Guterres" in await again("/tally")


async def test_a_reader_cannot_change_a_channels_race(desk, tmp_path):
    reader = Console(desk, tmp_path, actor=Actor("console", "r", "reader")).handle
    assert "Only editors can" in await reader("/race use unsg-2016")
    assert (await reader("/tally")).startswith("NATO Secretary-General 2024")


async def test_a_name_only_in_another_race_names_that_race(chat):
    reply = await chat("/endorse Russia Rutte")
    assert reply == (
        "Error: Russia is not a member of NATO Secretary-General 2024, but of unsg-2016 and "
        "unsg-2026: add race:unsg-2016, or /races lists them."
    )
    assert "von der Leyen" in await chat("/holdouts race:eu-commission-2024 Leyen")
    assert "add race:eu-commission-2024" in await chat("/tally von der Leyen")


async def test_unknown_race_says_which_there_are(chat):
    reply = await chat("/tally race:nato-2024")
    assert reply.startswith("Error: Unknown race 'nato-2024'.")
    assert "nato-sg-2024" in reply


async def test_race_may_follow_a_note_without_joining_it(desk, chat):
    reply = await chat(
        "/abstain Italy Leyen note:Meloni abstains race:eu-commission-2024 on:2024-06-27"
    )
    assert reply.startswith("Recorded #"), reply
    (event,) = await desk.services["eu-commission-2024"].history(limit=1)
    assert event.note == "Meloni abstains" and event.race == "eu-commission-2024"


async def test_races_lists_each_race_with_its_rule_deadline_and_leader(chat):
    reply = await chat("/races")
    for race in ("nato-sg-2024", "eu-commission-2024", "unsg-2016", "unsg-2026"):
        assert race in reply
    assert "nato-sg-2024 (this channel's)" in reply
    assert "a qualified majority by the European Council of 27–28 June, 27 June 2024" in reply


async def test_a_recording_says_where_the_candidate_stands_in_the_rules_own_terms(chat):
    reply = await chat(
        "/endorse Italy Leyen race:eu-commission-2024 on:2024-06-28 source:https://example.org/it"
    )
    assert "Ursula von der Leyen: 26/27 states (96%, needs 72%) and 9" in reply
    assert reply.endswith("of the population (needs 65%): qualified majority reached.")
