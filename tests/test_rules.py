"""Rules, countdown lines and the day a rule was met."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.domain import UNDO, Actor, Event, Rule, RuleKind, countdown, met_on
from bot.racefile import load_race

RACE = load_race("nato-sg-2024")


@pytest.mark.parametrize(
    ("rule", "required", "words"),
    [
        (Rule(RuleKind.UNANIMITY), 32, "unanimity"),
        (Rule(RuleKind.MAJORITY), 17, "a majority"),
        (Rule(RuleKind.THRESHOLD, 24), 24, "24 backers"),
    ],
)
def test_rules(rule, required, words):
    assert rule.required(32) == required and rule.describe() == words


@pytest.mark.parametrize(
    ("today", "line"),
    [
        (date(2024, 4, 3), "97 days until the Washington summit on 9 July 2024."),
        (date(2024, 7, 8), "1 day until the Washington summit on 9 July 2024."),
        (date(2024, 7, 9), "Today is the Washington summit on 9 July 2024."),
        (date(2024, 7, 10), "The Washington summit on 9 July 2024 was 1 day ago."),
    ],
)
def test_countdown(today, line):
    assert countdown(RACE, today) == line


def test_countdown_once_met():
    assert countdown(RACE, date(2024, 7, 1), ("Mark Rutte", date(2024, 6, 26))) == (
        "Mark Rutte reached unanimity on 26 June 2024, 13 days before the Washington summit "
        "on 9 July 2024."
    )


def _event(i: int, member: str, position: str, day: date, reverts: int | None = None) -> Event:
    return Event(
        i,
        RACE.id,
        member,
        position,
        "rutte",
        day,
        datetime.now(UTC),
        Actor("t", "t", "t"),
        reverts=reverts,
    )


def test_met_on_is_the_last_day_the_rule_was_reached():
    events = [
        _event(1, "A", "supports", date(2024, 1, 1)),
        _event(2, "B", "supports", date(2024, 1, 5)),  # met (2 of 2)
        _event(3, "B", "opposes", date(2024, 2, 1)),  # lost
        _event(4, "B", "supports", date(2024, 3, 1)),  # met again
    ]
    assert met_on(events, "rutte", 2) == date(2024, 3, 1)
    undo = replace(_event(5, "B", UNDO, date(2024, 3, 1), reverts=4))
    assert met_on([*events, undo], "rutte", 2) is None
