"""Rules, countdown lines and the day a rule was met."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date

import pytest

from bot.domain import Actor, Change, Position, countdown
from bot.racefile import load_race
from bot.render import progress_line
from bot.rules import (
    FixedElectorate,
    Majority,
    Measure,
    Progress,
    QualifiedMajority,
    Rule,
    RuleReplay,
    SecurityCouncil,
    Threshold,
    TwoThirds,
    Unanimity,
)

RACE = load_race("nato-sg-2024")
SOURCE = "https://www.reuters.com/world/nato"


MEMBERS = [m.code for m in RACE.members]


@pytest.mark.parametrize(
    ("rule", "required", "words"),
    [
        (Unanimity(32), 32, "unanimity"),
        (Majority(32), 17, "a majority"),
        (Threshold(32, 24), 24, "24 backers"),
        (TwoThirds(32), 22, "two-thirds"),  # 21 is 65.6%
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
        (TwoThirds(31), 20, "needs 1 more for two-thirds"),  # 21 of 31: 67.7%
    ],
)
def test_what_a_rule_still_needs(rule, backers, words):
    assert rule.needs(MEMBERS[:backers]) == words


@pytest.mark.parametrize(
    ("rule", "backers", "line"),
    [
        (Unanimity(32), 28, "28/32; needs 4 more for unanimity"),
        (Unanimity(32), 32, "32/32: unanimity reached"),
        (Majority(32), 16, "16/32; needs 1 more for a majority"),
        (Majority(32), 17, "17/32: a majority reached"),
        (TwoThirds(32), 21, "21/32; needs 1 more for two-thirds"),
        (Threshold(32, 24), 20, "20/32; needs 4 more to reach 24"),
        (Threshold(32, 24), 24, "24/32: 24 backers reached"),
    ],
)
def test_a_head_counts_status_line(rule, backers, line):
    assert rule.status(MEMBERS[:backers], MEMBERS[backers:]) == line


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
        await service.record(
            editor, service.roster.member(name), Position.SUPPORTS, rutte, source=SOURCE
        )
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
        await service.record(
            editor, service.roster.member(name), Position.SUPPORTS, rutte, source=SOURCE
        )
    steps = [
        lambda: service.record(
            editor, hungary, Position.OPPOSES, rutte, source=SOURCE
        ),  # today: unmet
        lambda: service.undo(editor),  # met again
        lambda: service.record(editor, hungary, Position.OPPOSES, rutte, date(2024, 4, 2), SOURCE),
        lambda: service.record(editor, hungary, Position.SUPPORTS, rutte, date(2024, 3, 1), SOURCE),
        lambda: service.record(editor, hungary, Position.OPPOSES, rutte, date(2024, 4, 3), SOURCE),
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

    def progress(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> Progress:
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

    def needs(
        self,
        backers: Collection[str],
        opposers: Collection[str] = (),
        abstainers: Collection[str] = (),
    ) -> str:
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
    vetoed = Service(service.store, replace(RACE, rule=rule, rule_over=None), service.clock)
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
    assert [(g.label, round(g.points[-1][1], 1)) for g in picture.goals] == [
        ("Two thirds (22/32)", 68.8),
        ("Two thirds (28/41 weight)", 68.3),
    ]  # a goal line for each measure

    hungary = vetoed.roster.member("Hungary")
    await vetoed.record(editor, hungary, Position.SUPPORTS, rutte.candidate, source=SOURCE)
    assert (await vetoed.tally()).shown().needs() == "has two thirds"
    assert await vetoed.countdown() == (  # the day the veto was lifted, by the replay
        "Mark Rutte reached two thirds on 3 April 2024, 97 days before the Washington summit "
        "on 9 July 2024."
    )


# The 27 EU members' populations on 1 January 2024 (Eurostat), as the EU race file has them.
EU = (
    ("DE", 83445000), ("FR", 68402000), ("IT", 58989700), ("ES", 48610500), ("PL", 36621000),
    ("RO", 19064400), ("NL", 17942900), ("BE", 11832000), ("CZ", 10900600), ("PT", 10639700),
    ("SE", 10551700), ("GR", 10397200), ("HU", 9584600), ("AT", 9158800), ("BG", 6445500),
    ("DK", 5961200), ("FI", 5603900), ("SK", 5424700), ("IE", 5343800), ("HR", 3862000),
    ("LT", 2885900), ("SI", 2123900), ("LV", 1871900), ("EE", 1374700), ("CY", 933500),
    ("LU", 672100), ("MT", 563000),
)  # fmt: skip
EU_CODES = [code for code, _ in EU]
COUNCIL = QualifiedMajority(EU)  # 55% of the states (15 of 27), 65% of the population


def _all_but(*codes: str) -> list[str]:
    return [c for c in EU_CODES if c not in codes]


def test_the_european_council_proposing_von_der_leyen():
    """27 June 2024: Hungary against, Italy abstaining, the 25 others in favour."""
    backers = _all_but("HU", "IT")
    assert COUNCIL.met(backers, ["HU"], ["IT"])
    assert COUNCIL.status(backers, ["HU"], ["IT"]) == (
        "25/27 states (93%, needs 55%) and 84.7% of the population (needs 65%): "
        "qualified majority reached"
    )
    assert COUNCIL.needs(backers, ["HU"], ["IT"]) == "has a qualified majority"
    reinforced = QualifiedMajority(EU, member_share=0.72)  # the European Council's own vote
    assert reinforced.status(backers).startswith("25/27 states (93%, needs 72%) and")
    assert COUNCIL.describe() == "a qualified majority"


def test_a_qualified_majority_is_two_measures_a_bar_each():
    favour = COUNCIL.progress(_all_but("HU", "IT"), ["HU"], ["IT"])
    states, people = favour.measures
    assert (states.count, states.total, states.needed) == (25, 27, 15)
    assert states.counts_members and not people.counts_members  # a chart draws 15's line
    assert (people.total, people.count) == (449206200, 449206200 - 9584600 - 58989700)
    assert progress_line(people).endswith(" 84.7% of the population")
    assert progress_line(states).endswith(" 25/27 states")
    assert [m.target for m in COUNCIL.goal()] == ["15/27 states", "65% of the population"]


def test_three_members_against_cannot_block_whatever_their_weight():
    """Germany, France and Italy hold 46.9% of the population, more than the 35% a blocking
    minority needs, but a blocking minority takes four members."""
    big = ("DE", "FR", "IT")
    backers = _all_but(*big)
    assert COUNCIL.met(backers, big)
    assert COUNCIL.progress(backers, big).met
    assert COUNCIL.status(backers, big) == (
        "24/27 states (89%, needs 55%) and 53.0% of the population (needs 65%): qualified "
        "majority reached, as no blocking minority can form (3 states not in favour, 4 needed "
        "to block)"
    )
    assert not QualifiedMajority(EU, blocking_minority=None).met(backers, big)


@pytest.mark.parametrize(
    ("against", "abstaining", "silent"),
    [
        (("DE", "FR", "IT", "MT"), (), ()),
        (("DE", "FR"), ("IT",), ("MT",)),  # abstaining and silent are not in favour either
    ],
)
def test_four_members_not_in_favour_with_the_weight_block(against, abstaining, silent):
    backers = _all_but(*against, *abstaining, *silent)
    assert not COUNCIL.met(backers, against, abstaining)
    assert not COUNCIL.progress(backers, against, abstaining).met
    assert COUNCIL.status(backers, against, abstaining) == (
        "23/27 states (85%, needs 55%) and 52.9% of the population (needs 65%): "
        "needs 12.1 points of the population"
    )
    assert COUNCIL.needs(backers, against, abstaining) == "needs 12.1 points of the population"


def _even(members: int, heavy: int) -> tuple[tuple[str, int], ...]:
    """`members` made-up members, the first `heavy` of weight 2 and the rest of weight 1."""
    return tuple((f"M{i:03d}", 2 if i < heavy else 1) for i in range(members))


@pytest.mark.parametrize("members", [20, 100])  # 0.55 * 100 is 55.00000000000001 in floats
def test_exactly_55_percent_of_the_members_is_enough(members):
    exactly = members * 55 // 100
    rule = QualifiedMajority(_even(members, exactly))  # the backers hold over 65% of the weight
    codes = [c for c, _ in rule.weights]
    assert rule.met(codes[:exactly])
    assert rule.status(codes[:exactly]).startswith(f"{exactly}/{members} states (55%, needs 55%)")
    assert not rule.met(codes[: exactly - 1])
    assert rule.needs(codes[: exactly - 1]).startswith("needs 1 more state")


# 20 made-up members of weight 5, but for one of 4 and one of 6: 100 in all.
FIVES = (("A", 4), ("B", 6), *((f"M{i:02d}", 5) for i in range(18)))


@pytest.mark.parametrize(
    ("backers", "line"),
    [
        (
            [f"M{i:02d}" for i in range(13)],  # 65
            "13/20 states (65%, needs 55%) and 65.0% of the population (needs 65%): "
            "qualified majority reached",
        ),
        (
            ["A", *(f"M{i:02d}" for i in range(12))],  # 64
            "13/20 states (65%, needs 55%) and 64.0% of the population (needs 65%): "
            "needs 1.0 points of the population",
        ),
        (
            ["B", *(f"M{i:02d}" for i in range(12))],  # 66
            "13/20 states (65%, needs 55%) and 66.0% of the population (needs 65%): "
            "qualified majority reached",
        ),
    ],
)
def test_exactly_65_percent_of_the_weight_is_enough(backers, line):
    rule = QualifiedMajority(FIVES)
    assert rule.status(backers) == line
    assert rule.met(backers) is line.endswith("reached")


def test_a_share_just_short_never_reads_as_reached():
    rule = QualifiedMajority((("A", 6499), ("B", 3501)), blocking_minority=None)
    assert rule.status(["A"]) == (
        "1/2 states (50%, needs 55%) and 64.9% of the population (needs 65%): needs 1 more "
        "state and 0.1 points of the population"
    )


def test_a_member_a_rule_does_not_know_is_not_counted():
    assert not COUNCIL.met([*_all_but("DE", "FR", "IT", "ES"), "XX", "YY", "ZZ"])
    assert COUNCIL.progress(["XX", "DE"]).measures[0].count == 1


@pytest.mark.parametrize(
    "table",
    [
        {"weights": ()},
        {"weights": (("A", 1), ("A", 2))},
        {"weights": (("A", 0),)},
        {"weights": (("A", 1.5),)},
        {"weights": (("A", 1),), "weight_share": "65%"},
        {"weights": (("A", 1),), "member_share": 1.2},
        {"weights": (("A", 1),), "blocking_minority": 0},
    ],
)
def test_a_qualified_majority_refuses_weights_or_shares_that_cannot_be(table):
    with pytest.raises(ValueError):
        QualifiedMajority(**table)


# The Security Council of 2016: the five permanent members, then the ten elected (named by
# code, but for those the tests name).
UNSC = tuple(
    (code, {"CN": "China", "RU": "Russia"}.get(code, code))
    for code in "CN FR RU GB US AO EG JP MY NZ SN ES UA UY VE".split()
)
SC = SecurityCouncil(UNSC, 9, frozenset({"CN", "FR", "RU", "GB", "US"}))
ELECTED = [c for c, _ in UNSC[5:]]


def test_a_permanent_member_abstaining_does_not_veto():
    backers = ["CN", "FR", "GB", "US", *ELECTED[:7]]  # 11
    assert SC.met(backers, (), ["RU"])
    assert SC.progress(backers, (), ["RU"]).blocked_by == ()
    assert SC.status(backers, (), ["RU"]) == (
        "11 in favour; no permanent member against: would pass"
    )


def test_a_permanent_member_opposing_vetoes():
    backers = ["CN", "FR", "GB", "US", *ELECTED[:7]]
    assert not SC.met(backers, ["RU", "UY"])
    assert SC.progress(backers, ["RU", "UY"]).blocked_by == ("RU",)
    assert SC.status(backers, ["RU", "UY"]) == "11 in favour (needs 9); vetoed by Russia"
    assert SC.needs(backers, ["RU"]) == "is vetoed by Russia"
    assert SC.status(ELECTED, ["RU", "CN"]) == "10 in favour (needs 9); vetoed by China and Russia"


def test_nine_in_favour_are_enough_and_eight_are_not():
    assert SC.met(ELECTED[:9], ELECTED[9:])  # elected members against veto nothing
    assert SC.status(ELECTED[:9]) == "9 in favour; no permanent member against: would pass"
    assert not SC.met(ELECTED[:8])
    assert SC.status(ELECTED[:7]) == "7 in favour; needs 2 more"
    assert SC.needs(ELECTED[:7]) == "needs 2 more in favour"
    assert SC.goal() == (Measure(0, 15, 9),)
    assert SC.describe() == "a Security Council recommendation"
    assert not SC.met([*ELECTED[:8], "XX"])  # not a Council member


def test_a_security_council_refuses_a_veto_outside_it():
    with pytest.raises(ValueError, match="XX"):
        SecurityCouncil(UNSC, 9, frozenset({"XX"}))


@dataclass(frozen=True)
class Joining:
    """A test electorate: A, B and C, and D from `joins` on (or C leaving on `leaves`)."""

    joins: date | None = None
    leaves: date | None = None

    @property
    def turns(self) -> tuple[date, ...]:
        return tuple(d for d in (self.joins, self.leaves) if d)

    def codes_on(self, day: date) -> frozenset[str]:
        codes = {"A", "B", "C"}
        if self.joins and day >= self.joins:
            codes.add("D")
        if self.leaves and day >= self.leaves:
            codes.discard("C")
        return frozenset(codes)

    def rule_on(self, day: date) -> Rule:
        return Unanimity(len(self.codes_on(day)))


def _day(n: int) -> date:
    return date(2024, 3, n)


def _backs(member: str, day: int) -> Change:
    return Change(member, Position.SUPPORTS, "rutte", _day(day))


def test_a_member_joining_unmeets_unanimity_until_it_backs_too():
    joining = Joining(joins=_day(7))  # as Sweden joined NATO on 7 March 2024
    before = [_backs("A", 1), _backs("B", 2), _backs("C", 3)]
    assert RuleReplay("rutte", joining).fold(before).reached == _day(3)
    assert RuleReplay("rutte", joining).fold(before, until=_day(6)).reached == _day(3)
    replay = RuleReplay("rutte", joining).fold(before, until=_day(7))
    assert replay.reached is None and replay.last_day == _day(7)
    assert replay.fold([_backs("D", 9)]).reached == _day(9)
    in_one_go = RuleReplay("rutte", joining).fold([*before, _backs("D", 9)])
    assert in_one_go.reached == _day(9)
    # A change on the day it joins counts among the new members: unmet, then met again.
    on_the_day = RuleReplay("rutte", joining).fold([*before, _backs("D", 7)])
    assert on_the_day.reached == _day(7) and on_the_day.backers == {"A", "B", "C", "D"}


def test_a_member_backing_before_it_joins_counts_from_the_day_it_joins():
    joining = Joining(joins=_day(7))
    early = [_backs("A", 1), _backs("B", 2), _backs("D", 3)]  # D is not a member yet
    assert RuleReplay("rutte", joining).fold(early, until=_day(8)).reached is None
    replay = RuleReplay("rutte", joining).fold([*early, _backs("C", 9)])
    assert replay.reached == _day(9) and replay.backers == {"A", "B", "C", "D"}


def test_a_member_leaving_can_meet_unanimity():
    leaving = Joining(leaves=_day(5))
    changes = [_backs("A", 1), _backs("B", 2), Change("C", Position.OPPOSES, "rutte", _day(3))]
    assert RuleReplay("rutte", leaving).fold(changes).reached is None
    assert RuleReplay("rutte", leaving).fold(changes, until=_day(5)).reached == _day(5)
    again = RuleReplay("rutte", leaving).fold(
        [*changes, Change("A", Position.ABSTAINS, "rutte", _day(5))]
    )
    assert again.reached is None and again.abstainers == {"A"}


def test_a_fixed_electorate_counts_only_its_members():
    fixed = FixedElectorate(Threshold(3, 2), frozenset({"A", "B", "C"}))
    assert RuleReplay("rutte", fixed).fold([_backs("A", 1), _backs("Z", 2)]).reached is None
    assert RuleReplay("rutte", fixed).fold([_backs("A", 1), _backs("C", 2)]).reached == _day(2)


def test_the_replay_asks_a_veto_rule_after_each_change():
    changes = [
        *(Change(c, Position.SUPPORTS, "g", _day(1)) for c in ELECTED[:9]),  # 9: would pass
        Change("RU", Position.OPPOSES, "g", _day(2)),  # vetoed
        Change("RU", Position.ABSTAINS, "g", _day(4)),  # no longer
    ]
    assert RuleReplay("g", SC).fold(changes[:9]).reached == _day(1)
    assert RuleReplay("g", SC).fold(changes[:10]).reached is None
    assert RuleReplay("g", SC).fold(changes).reached == _day(4)
