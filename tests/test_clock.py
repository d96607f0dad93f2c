"""The Clock, and the one reading of a time zone's name and of a time of day."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock, time_of_day, zone_named
from bot.config import parse_config
from bot.config_schema import ConfigError
from bot.domain import Actor, TallyError

BRUSSELS = ZoneInfo("Europe/Brussels")
EDITOR = Actor("slack", "UED", "Editor", is_editor=True)


def test_a_clock_pinned_to_an_instant_stands_still_there():
    moment = datetime(2024, 4, 3, 8, 59, 30, tzinfo=BRUSSELS)
    clock = Clock(BRUSSELS, at=moment)
    assert clock.now() == moment and clock.now() == moment
    assert (clock.today(), clock.tz) == (date(2024, 4, 3), BRUSSELS)
    clock.pinned_at = datetime(2024, 4, 3, 7, 0, tzinfo=ZoneInfo("UTC"))
    assert clock.now().isoformat() == "2024-04-03T09:00:00+02:00"  # told in its own zone


def test_a_clock_pinned_to_a_day_keeps_the_day_and_runs_the_time_of_day():
    clock = Clock(BRUSSELS, date(2024, 4, 3))
    first = clock.now()
    assert (first.date(), first.tzinfo) == (date(2024, 4, 3), BRUSSELS)
    assert clock.now() >= first and clock.today() == date(2024, 4, 3)


def test_a_zone_is_named_whatever_its_case_and_a_near_miss_gets_a_suggestion():
    assert zone_named(" europe/brussels ") == "Europe/Brussels"
    with pytest.raises(ValueError, match=r"Unknown time zone 'Europe/Brusels'\. Did you mean"):
        zone_named("Europe/Brusels")
    with pytest.raises(ValueError, match="Use a name like Europe/Brussels"):
        zone_named("Mars/Olympus")


@pytest.mark.parametrize("text", ["09:00:30", "24:00", "9h", "09:60", ""])
def test_a_time_of_day_is_hh_mm_and_nothing_else(text):
    with pytest.raises(ValueError):
        time_of_day(text)


def test_config_and_commands_read_times_and_zones_the_same_way():
    assert time_of_day("9:05") == time(9, 5)
    with pytest.raises(ConfigError, match="is not a time; use HH:MM"):
        parse_config({"digest": {"time": "09:00:30"}})
    config = parse_config({"timezone": "europe/brussels"})
    assert config.timezone == "Europe/Brussels"


async def test_subscribe_refuses_seconds_as_the_config_does(service):
    with pytest.raises(TallyError, match=r"time:09:00:30 is not a time; use HH:MM"):
        await service.subscribe(EDITOR, "slack", "C0NEWS", at="09:00:30")
    with pytest.raises(TallyError, match="Did you mean Europe/Brussels"):
        await service.subscribe(EDITOR, "slack", "C0NEWS", timezone="Europe/Brusels")
