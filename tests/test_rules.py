"""Rules, countdown lines and the day a rule was met."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain import Actor, Position, Rule, RuleKind, RuleReplay, countdown
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


def test_the_rule_was_met_on_the_last_day_it_was_reached():
    changes = [
        ("A", "supports", "rutte", date(2024, 1, 1)),
        ("B", "supports", "rutte", date(2024, 1, 5)),  # met (2 of 2)
        ("B", "opposes", "rutte", date(2024, 2, 1)),  # lost
        ("B", "supports", "rutte", date(2024, 3, 1)),  # met again
    ]
    assert RuleReplay("rutte", 2).fold(changes).reached == date(2024, 3, 1)
    assert RuleReplay("rutte", 2).fold(changes[:3]).reached is None
    assert RuleReplay("iohannis", 1).fold(changes).reached is None
    folded = RuleReplay("rutte", 2).fold(changes[:2]).fold(changes[2:])  # in two goes
    assert folded.reached == date(2024, 3, 1)


async def test_an_undone_backing_no_longer_meets_the_rule(service):
    editor = Actor("t", "t", "t", is_editor=True)
    rutte = service.roster.candidate("Rutte")
    for name in ("Hungary", "Slovakia", "Türkiye", "Romania"):
        await service.record(editor, service.roster.member(name), Position.SUPPORTS, rutte)
    assert (await service.countdown()).startswith("Mark Rutte reached unanimity on 3 April 2024")
    await service.undo(editor)
    assert await service.countdown() == "97 days until the Washington summit on 9 July 2024."


async def test_the_kept_replay_agrees_with_a_full_one_as_the_log_grows(service):
    """After each recording (today's, back-filled or undone), the countdown, which keeps its
    replay of the log between commands, equals a fresh replay's."""
    from bot.clock import Clock
    from bot.service import Service

    editor = Actor("t", "t", "t", is_editor=True)
    rutte = service.roster.candidate("Rutte")
    hungary = service.roster.member("Hungary")

    async def fresh_countdown() -> str:
        fresh = Service(service.store, service.race, Clock(service.clock.tz, date(2024, 4, 3)))
        await fresh.start()
        return await fresh.countdown()

    for name in ("Hungary", "Slovakia", "Türkiye", "Romania"):
        await service.record(editor, service.roster.member(name), Position.SUPPORTS, rutte)
    steps = [
        lambda: service.record(editor, hungary, Position.OPPOSES, rutte),  # today: unmet
        lambda: service.undo(editor),  # met again
        lambda: service.record(editor, hungary, Position.OPPOSES, rutte, date(2024, 4, 2)),
        lambda: service.record(editor, hungary, Position.SUPPORTS, rutte, date(2024, 3, 1)),
        lambda: service.record(editor, hungary, Position.OPPOSES, rutte, date(2024, 4, 3)),
    ]
    expected = ["97 days", "Mark Rutte reached", "Mark Rutte reached", "Mark Rutte reached",
                "97 days"]  # fmt: skip
    assert (await service.countdown()).startswith("Mark Rutte reached unanimity on 3 April")
    for step, start in zip(steps, expected, strict=True):
        await step()
        assert (await service.countdown()).startswith(start)
        assert await service.countdown() == await fresh_countdown()
