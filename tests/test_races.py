"""The shipped races: each loads with its sources, and counts under its own rule, members of
the day and deadline of the day."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock
from bot.domain import Actor, Position, TallyError
from bot.racefile import RaceFileError, builtin_races, load_race, parse_race
from bot.service import Service
from bot.store.store import Store

EDITOR_ACTOR = Actor("console", "ed", "Edna", is_editor=True)


async def open_race(tmp_path, race_id: str, today: date) -> Service:
    race = load_race(race_id)
    clock = Clock(ZoneInfo(race.timezone), today)
    service = Service(await Store.open(tmp_path / f"{race_id}.db", clock.now), race, clock)
    await service.start(demo=True)
    return service


@pytest.mark.parametrize("race_id", builtin_races())
def test_every_shipped_fact_carries_a_web_address(race_id):
    race = load_race(race_id)
    dated = [*race.seed, *race.tenures, *race.rounds]
    assert all(x.source.startswith(("https://", "http://")) for x in dated)
    for deadline in (race.deadline, *race.earlier_deadlines):
        assert deadline.source is None or deadline.source.startswith(("https://", "http://"))


def test_the_four_races_ship():
    assert {"nato-sg-2024", "eu-commission-2024", "unsg-2016", "unsg-2026"} <= set(builtin_races())


async def test_sweden_counts_from_the_day_it_joined(tmp_path):
    nato = await open_race(tmp_path, "nato-sg-2024", date(2024, 4, 3))
    sweden = nato.roster.member("Sweden")
    rutte = nato.roster.candidate("Rutte")
    before = (await nato.tally(rutte, as_of=date(2024, 2, 22))).shown()
    assert (before.count, before.total) == (4, 31)
    assert "SE" not in {h.member.code for h in before.holdouts}
    with pytest.raises(TallyError, match="Sweden was not a member .* on 22 February 2024: it "
                       "joined on 7 March 2024"):  # fmt: skip
        await nato.record(EDITOR_ACTOR, sweden, Position.SUPPORTS, rutte, date(2024, 2, 22))
    assert len(await nato.store.events(nato.race.id)) == 32  # nothing written
    done = await nato.record(EDITOR_ACTOR, sweden, Position.SUPPORTS, rutte, date(2024, 3, 7))
    assert done.event.happened_on == date(2024, 3, 7)
    await nato.store.close()


async def test_the_countdown_follows_the_deadline_of_the_day_and_says_when_it_moved(tmp_path):
    nato = await open_race(tmp_path, "nato-sg-2024", date(2024, 3, 1))
    assert await nato.countdown(moves=True) == (
        "33 days until the NATO foreign ministers' meeting on 3 April 2024."
    )
    await nato.store.close()
    nato = await open_race(tmp_path, "nato-sg-2024", date(2024, 4, 3))
    assert await nato.countdown(moves=True) == (
        "97 days until the Washington summit on 9 July 2024. The target moved on 2 April 2024"
        " from the NATO foreign ministers' meeting (3 April 2024)."
    )
    await nato.store.close()


async def test_the_european_council_proposed_von_der_leyen_by_qualified_majority(tmp_path):
    eu = await open_race(tmp_path, "eu-commission-2024", date(2024, 6, 27))
    vdl = (await eu.tally()).shown()
    assert (vdl.count, vdl.total, vdl.met) == (25, 27, True)
    assert vdl.status().startswith("25/27 states (93%, needs 72%) and 84.")
    assert vdl.status().endswith("of the population (needs 65%): qualified majority reached")
    stands = {h.member.code: h.reason for h in vdl.holdouts}
    assert stands == {"HU": "opposes", "IT": "abstains"}
    await eu.store.close()


async def test_candidates_enter_and_withdraw_on_the_days_the_race_file_gives(tmp_path):
    un = await open_race(tmp_path, "unsg-2016", date(2016, 10, 6))
    names = lambda cs: {c.name for c in cs}  # noqa: E731
    on_1_june = names(await un.active_candidates(date(2016, 6, 1)))
    assert "António Guterres" in on_1_june and "Kristalina Georgieva" not in on_1_june
    in_october = names(await un.active_candidates(date(2016, 10, 5)))
    assert "Kristalina Georgieva" in in_october and "Vesna Pusić" not in in_october
    guterres = (await un.tally()).shown(un.roster.candidate("Guterres"))
    assert guterres.met and guterres.status().startswith("15 in favour")
    await un.store.close()
    again = await open_race(tmp_path, "unsg-2016", date(2016, 10, 6))  # a restart adds nothing
    assert len(await again.store.candidates("unsg-2016")) == len(again.race.candidates)
    await again.store.close()


def race_data(**extra) -> dict:
    data = {
        "id": "x",
        "title": "X",
        "members": ["FR", "DE", "IT"],
        "deadline": {"on": date(2024, 7, 1), "label": "the summit"},
        "candidates": [{"key": "a", "name": "Ann A"}],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"membership": {"ES": {"joined": date(2024, 1, 1), "source": "https://a.b/"}}},
         "'ES' is not in members"),
        ({"membership": {"FR": {"source": "https://a.b/"}}}, "needs joined = or left ="),
        ({"membership": {"FR": {"joined": date(2024, 1, 1)}}}, "needs source = "),
        ({"rule": {"kind": "qualified-majority"}, "weights": {"FR": 68, "DE": 84}},
         "needs a weight for IT"),
        ({"rule": {"kind": "security-council", "needed": 2, "veto": ["ES"]}},
         "are not members"),
        ({"rule": {"kind": "plurality"}}, "kind must be"),
        ({"rounds": [{"on": date(2024, 1, 1), "source": "https://a.b/",
                      "counts": {"a": {"encourage": 3, "discourage": 1, "no_opinion": 0}}}]},
         "add up to at most 3"),
        ({"rounds": [{"on": date(2024, 1, 1), "source": "https://a.b/",
                      "counts": {"b": {"encourage": 1, "discourage": 1, "no_opinion": 0}}}]},
         "unknown candidate 'b'"),
    ],
)  # fmt: skip
def test_new_keys_name_their_mistake(extra, message):
    with pytest.raises((ValueError, RaceFileError), match=message):
        parse_race(race_data(**extra))


def test_a_member_that_is_no_country_has_no_flag():
    race = parse_race(race_data(members=["FR", "NORTH"], names={"NORTH": "The North"}))
    assert race.member("FR").flag == "🇫🇷" and race.member("NORTH").flag == ""


def test_a_surname_keeps_its_particles():
    from bot.domain import Candidate

    assert Candidate("v", "Ursula von der Leyen").last_name == "von der Leyen"
    assert Candidate("r", "Mark Rutte").last_name == "Rutte"
    assert Candidate("x", "Leyen").last_name == "Leyen"


async def test_a_demo_on_a_day_before_the_race_file_s_events_counts_as_of_that_day(tmp_path):
    """The quick start pins 3 April 2024: the EU vote of 27 June and the candidates of 2026
    are not counted, nor candidates, before their days."""
    eu = await open_race(tmp_path, "eu-commission-2024", date(2024, 4, 3))
    assert (await eu.tally()).shown().count == 0
    await eu.store.close()
    un = await open_race(tmp_path, "unsg-2026", date(2024, 4, 3))
    assert (await un.tally()).candidates == ()
    await un.store.close()
