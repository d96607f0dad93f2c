"""Rules, countdown lines and the day a rule was met."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain import Actor, Position, Rule, RuleKind, countdown, met_on
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


def test_met_on_is_the_last_day_the_rule_was_reached():
    changes = [
        ("A", "supports", "rutte", date(2024, 1, 1)),
        ("B", "supports", "rutte", date(2024, 1, 5)),  # met (2 of 2)
        ("B", "opposes", "rutte", date(2024, 2, 1)),  # lost
        ("B", "supports", "rutte", date(2024, 3, 1)),  # met again
    ]
    assert met_on(changes, "rutte", 2) == date(2024, 3, 1)
    assert met_on(changes[:3], "rutte", 2) is None
    assert met_on(changes, "iohannis", 1) is None


async def test_an_undone_backing_no_longer_meets_the_rule(service):
    editor = Actor("t", "t", "t", is_editor=True)
    rutte = service.roster.candidate("Rutte")
    for name in ("Hungary", "Slovakia", "Türkiye", "Romania"):
        await service.record(editor, service.roster.member(name), Position.SUPPORTS, rutte)
    assert (await service.countdown()).startswith("Mark Rutte reached unanimity on 3 April 2024")
    await service.undo(editor)
    assert await service.countdown() == "97 days until the Washington summit on 9 July 2024."
