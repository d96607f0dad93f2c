"""Rules, countdown lines and the day a rule was met."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date

import pytest

from bot.domain import Actor, Change, Position, countdown
from bot.racefile import load_race
from bot.rules import Majority, Measure, Progress, Rule, RuleReplay, Threshold, Unanimity

RACE = load_race("nato-sg-2024")


MEMBERS = [m.code for m in RACE.members]


@pytest.mark.parametrize(
    ("rule", "required", "words"),
    [
        (Unanimity(32), 32, "unanimity"),
        (Majority(32), 17, "a majority"),
        (Threshold(32, 24), 24, "24 backers"),
    ],
)
def test_rules(rule, required, words):
    assert rule.goal() == (Measure(0, 32, required),) and rule.describe() == words
    assert rule.met(MEMBERS[:required]) and not rule.met(MEMBERS[: required - 1])
    assert rule.progress(MEMBERS[:28]).measures == (Measure(28, 32, required),)


@pytest.mark.parametrize(
    ("rule", "backers", "words"),
    [
        (Unanimity(32), 28, "needs 4 more for unanimity"),
        (Unanimity(32), 32, "has unanimity"),
        (Majority(32), 16, "needs 1 more for a majority"),
        (Majority(32), 17, "has a majority"),
        (Threshold(32, 24), 20, "needs 4 more to reach 24"),
        (Threshold(32, 24), 25, "has the 24 backers it needs"),
    ],
)
def test_what_a_rule_still_needs(rule, backers, words):
    assert rule.needs(MEMBERS[:backers]) == words


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
        Change("A", Position.SUPPORTS, "rutte", date(2024, 1, 1)),
        Change("B", Position.SUPPORTS, "rutte", date(2024, 1, 5)),  # met (2 of 2)
        Change("B", Position.OPPOSES, "rutte", date(2024, 2, 1)),  # lost
        Change("B", Position.SUPPORTS, "rutte", date(2024, 3, 1)),  # met again
    ]
    two = Unanimity(2)
    assert RuleReplay("rutte", two).fold(changes).reached == date(2024, 3, 1)
    assert RuleReplay("rutte", two).fold(changes[:3]).reached is None
    assert RuleReplay("iohannis", Threshold(2, 1)).fold(changes).reached is None
    folded = RuleReplay("rutte", two).fold(changes[:2]).fold(changes[2:])  # in two goes
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


@dataclass(frozen=True)
class TwoThirdsNoVeto(Rule):
    """The test's own rule of the kind races to come need (a qualified majority, a veto): two
    thirds of the members and of their weight, and no permanent member opposing."""

    weights: Mapping[str, int]
    permanent: frozenset[str]

    def progress(self, backers: Collection[str], opposers: Collection[str] = ()) -> Progress:
        members, weight = len(self.weights), sum(self.weights.values())
        return Progress(
            (
                Measure(len(backers), members, -(-2 * members // 3)),
                Measure(
                    sum(self.weights[m] for m in backers), weight, -(-2 * weight // 3), "weight"
                ),
            ),
            blocked_by=tuple(sorted(self.permanent & set(opposers))),
        )

    def needs(self, backers: Collection[str], opposers: Collection[str] = ()) -> str:
        progress = self.progress(backers, opposers)
        if progress.blocked_by:
            return f"is vetoed by {', '.join(progress.blocked_by)}"
        return "has two thirds" if progress.met else "needs two thirds"

    def describe(self) -> str:
        return "two thirds"


async def test_a_weighted_rule_with_a_veto_needs_no_change_outside_its_class(service, editor):
    """The tally, the replies, the charts and the replay read a rule that is not a head count
    (two measures, a veto) through met, progress and needs alone."""
    from bot.charts import board, timeline
    from bot.render import to_text
    from bot.replies import tally_reply
    from bot.service import Service

    weights = {m.code: 10 if m.code == "US" else 1 for m in RACE.members}  # 41 in all
    rule = TwoThirdsNoVeto(weights, frozenset({"HU"}))
    vetoed = Service(service.store, replace(RACE, rule=rule), service.clock)
    await vetoed.start()
    tally = await vetoed.tally()
    rutte = tally.shown()
    assert not rutte.met and rutte.progress.blocked_by == ("HU",)
    assert rutte.needs() == "is vetoed by HU"  # 28 of 32 and 37 of 41 would do, but Hungary
    text = to_text(tally_reply(tally, await vetoed.countdown(tally), as_of_asked=False))
    assert "28/32\n" in text and "37/41 weight\n" in text  # a bar for each measure
    assert "37/41 weight\n  Is vetoed by HU." in text
    assert "97 days until the Washington summit" in text
    candidates = vetoed.roster.candidate_list
    assert (
        "two thirds (22/32, 28/41 weight) needed by"
        in board(rutte, vetoed.race, candidates, tally.as_of).subtitle
    )
    changes = await vetoed.changes(tally.as_of)
    picture = timeline(changes, vetoed.race, candidates, tally.as_of)
    assert picture.rule_lines == ((22, "Two thirds (22/32)"),)  # a line for what counts members

    await vetoed.record(editor, vetoed.roster.member("Hungary"), Position.SUPPORTS, rutte.candidate)
    assert (await vetoed.tally()).shown().needs() == "has two thirds"
    assert await vetoed.countdown() == (  # the day the veto was lifted, by the replay
        "Mark Rutte reached two thirds on 3 April 2024, 97 days before the Washington summit "
        "on 9 July 2024."
    )
