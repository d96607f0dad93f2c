"""Pictures of the race: the members as a board of tiles, and the support over time.

The data behind each picture (`board`, `timeline` and their parts) is plain Python that tests
can read; `bot/drawing.py` turns it into a PNG, off the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.domain import (
    Candidate,
    CandidateTally,
    Change,
    Confidence,
    Position,
    Race,
    Round,
    Stance,
    Tally,
    format_date,
    plural,
    stance_words,
)
from bot.drawing import COLOURS, draw_board, draw_timeline, lighter, line_style
from bot.replies import Attachment, Reply, Section, backing_line
from bot.rules import Measure, QualifiedMajority, Rule, SecurityCouncil
from bot.service import Service
from bot.text import safe_filename

KINDS = ("board", "timeline")
VETO_LABEL = "Permanent member (veto)"


@dataclass(frozen=True)
class Tile:
    member: str  # the member's code
    label: str  # the member's name
    status: Stance
    colour: str
    detail: str = ""  # a few words under a holdout's name: "opposes", "backs Iohannis"
    weight: str = ""  # its share of the rule's weight, "18.6%", where the rule weighs members
    veto: bool = False  # its opposition blocks whatever the counts
    reported: bool = False  # its position is only reported, not on record: a lighter shade


@dataclass(frozen=True)
class Board:
    title: str  # "28/32 back Mark Rutte"
    day: str  # "3 April 2024", beside the title
    subtitle: str  # the race, the rule, the deadline
    tiles: tuple[Tile, ...]
    legend: tuple[tuple[Stance, str], ...]  # "Backs Rutte (28)"
    weight_note: str = ""  # what a tile's percentage is: "%: share of the population"
    veto_note: str = ""  # the legend entry of the marked tiles: VETO_LABEL


@dataclass(frozen=True)
class Line:
    name: str  # in the legend, with where it ends: "Mark Rutte: 28/32"
    points: tuple[tuple[date, float], ...]
    colour: str
    marker: str
    dashed: bool = False  # a candidate's second measure (the weight) beside its first


@dataclass(frozen=True)
class Goal:
    """A line the rule needs: from each point's day on, the value on the chart's axis."""

    label: str  # "Unanimity (32/32)", as of the chart's day
    points: tuple[tuple[date, float], ...]


@dataclass(frozen=True)
class RoundMarks:
    """A published round drawn as a marker per candidate at its 'encourage' count."""

    on: date
    name: str  # "sixth straw poll (colour-coded)"
    marks: tuple[tuple[str, float, str, str], ...]  # (candidate key, value, colour, marker)


@dataclass(frozen=True)
class Timeline:
    title: str
    subtitle: str
    lines: tuple[Line, ...]
    standings: tuple[str, ...]  # where each candidate ends: "Mark Rutte 28/32"
    goals: tuple[Goal, ...]
    rounds: tuple[RoundMarks, ...]
    axis: str  # "Backers", or "% in favour" when the rule weighs members
    top: float  # the most the axis counts: the members, or 100%
    percent: bool
    deadline: date
    deadline_label: str  # "The Washington summit\n9 July 2024"
    as_of: date
    as_of_label: str  # "Today\n3 April 2024"
    time_left: str  # "97 days left", or "" once the deadline has come
    earlier_deadline: date | None = None  # the target this deadline replaced, drawn faintly
    earlier_label: str = ""  # "Earlier target: the NATO foreign ministers' meeting"


# --- the data -----------------------------------------------------------------------------


def board_data(tally: CandidateTally, race: Race, candidates: Iterable[Candidate]) -> list[Tile]:
    """One tile per member of the tally's day, in the race's order, so each keeps its place
    from day to day (one that had not joined yet has none), with its share of the weight and
    its veto where the tally's rule has them."""
    last_names = {c.key: c.last_name for c in candidates}
    holdouts = {h.member.code: h for h in tally.holdouts}
    backers = {m.code for m in tally.backers}
    weights, veto = _weights(tally.rule), _veto(tally.rule)
    total = sum(weights.values())
    tiles = []
    for member in race.members:
        status, detail, reported = Stance.BACKS, "", member.code in tally.reported
        if (h := holdouts.get(member.code)) is not None:
            status, detail = h.stance, stance_words(h.stance, h.event, last_names, "no position")
            reported = (
                status is not Stance.NO_POSITION
                and h.event is not None
                and h.event.confidence is Confidence.REPORTED
            )
        elif member.code not in backers:
            continue
        weight = weights.get(member.code)
        share = f"{100 * weight / total:.1f}%" if weight else ""
        colour = lighter(COLOURS[status]) if reported else COLOURS[status]
        tiles.append(
            Tile(
                member.code,
                member.name,
                status,
                colour,
                detail,
                share,
                member.code in veto,
                reported,
            )
        )
    return tiles


def board(tally: CandidateTally, race: Race, candidates: Iterable[Candidate], as_of: date) -> Board:
    """Everything the board shows: the tiles, the title in the rule's terms, the rule, the
    legend."""
    tiles = board_data(tally, race, candidates)
    counts = Counter(t.status for t in tiles)
    name = tally.candidate.last_name
    labels = {
        Stance.BACKS: f"Backs {name}",
        Stance.OPPOSES: f"Opposes {name}",
        Stance.ABSTAINS: "Abstains",
        Stance.BACKS_ANOTHER: "Backs another candidate",
        Stance.NO_POSITION: "No position",
    }
    weighed = isinstance(tally.rule, QualifiedMajority)
    return Board(
        title=_board_title(tally),
        day=format_date(as_of),
        subtitle=f"{race.title} · {_rule_and_deadline(race, as_of)}",
        tiles=tuple(tiles),
        # abstaining is rare (most races have no such position), so it is listed when seen
        legend=tuple(
            (s, f"{labels[s]} ({counts[s]})")
            for s in Stance
            if counts[s] or s is not Stance.ABSTAINS
        ),
        weight_note=f"%: share of the {tally.rule.weight}" if weighed else "",
        veto_note=VETO_LABEL if any(t.veto for t in tiles) else "",
    )


def _board_title(tally: CandidateTally) -> str:
    """'28/32 back Mark Rutte' for a head count; the rule's own terms for any other:
    '25/27 states and 84.7% of the population back Ursula von der Leyen' (the subtitle has
    what the rule needs), 'António Guterres: 13 in favour; no permanent member against: would
    pass'."""
    name = tally.candidate.name
    if isinstance(tally.rule, QualifiedMajority):
        return f"{' and '.join(m.shown for m in tally.progress.measures)} back {name}"
    if _veto(tally.rule):
        return f"{name}: {tally.status()}"
    return f"{tally.count}/{tally.total} back {name}"


def _head_count(rule: Rule) -> bool:
    """Whether 'N/total back X' says it all: no member weighs more and none has a veto."""
    return not _weights(rule) and not _veto(rule)


def _weights(rule: Rule) -> dict[str, int]:
    return dict(rule.weights) if isinstance(rule, QualifiedMajority) else {}


def _veto(rule: Rule) -> frozenset[str]:
    return rule.veto if isinstance(rule, SecurityCouncil) else frozenset()


# Which side of a candidate a member's position puts it on: backers, opposers, abstainers.
_SIDES = {Position.SUPPORTS: 0, Position.OPPOSES: 1, Position.ABSTAINS: 2}


def timeline_data(
    changes: Iterable[Change], race: Race, candidates: Iterable[Candidate], today: date
) -> dict[str, list[tuple[date, tuple[Measure, ...]]]]:
    """Per candidate key, the rule's measures (`Rule.progress`) at the end of each day they
    changed, over the members of that day: a day a member joins or leaves counts too.

    `changes` are the position events up to `today` in the order they happened, undone ones
    left out (`Service.changes`), so an event counts from the day it happened, however late it
    was recorded. Only how each day ends is read, so a log compacted to each member's last
    change of each day gives the same series. Each series starts on the log's first day and
    ends on `today`.
    """
    keys = [c.key for c in candidates]
    series: dict[str, list[tuple[date, tuple[Measure, ...]]]] = {k: [] for k in keys}
    latest: dict[str, tuple[Position, str | None]] = {}  # member code -> its position

    def end_of(day: date) -> None:
        codes, rule = race.codes_on(day), race.rule_on(day)
        sides: dict[str | None, tuple[list[str], ...]] = {k: ([], [], []) for k in keys}
        for member, (position, candidate) in latest.items():
            side, held = sides.get(candidate), _SIDES.get(position)
            if side is not None and held is not None and member in codes:
                side[held].append(member)
        for key, points in series.items():
            measures = rule.progress(*sides[key]).measures
            if not points or points[-1][1] != measures:
                points.append((day, measures))

    turns = [t for t in race.turns if t <= today]  # the days the electorate changes
    for day, group in itertools.groupby(changes, key=lambda change: change.happened_on):
        while turns and turns[0] <= day:
            turn = turns.pop(0)
            if latest and turn < day:  # between two days of the log (its own is in its end)
                end_of(turn)
        for change in group:
            latest[change.member] = (change.position, change.candidate)
        end_of(day)
    for turn in turns if latest else ():
        end_of(turn)
    end_of(today)
    for points in series.values():
        if points[-1][0] < today:
            points.append((today, points[-1][1]))
    return series


def timeline(
    changes: Iterable[Change],
    race: Race,
    candidates: Iterable[Candidate],
    today: date,
    as_of_asked: bool = False,
    rounds: Sequence[Round] | None = None,
) -> Timeline:
    """Everything the timeline shows: a line per candidate and measure the rule counts (a
    qualified majority counts two, drawn as shares on one axis), each line the rule needs on
    each day, the published rounds (default: the race file's), the deadline of the day and
    today."""
    candidates = tuple(candidates)
    rounds = [r for r in (race.rounds if rounds is None else rounds) if r.on <= today]
    series = timeline_data(changes, race, candidates, today)
    held = [r.on for r in rounds]
    first = min([*(points[0][0] for points in series.values()), *held], default=today)
    # the rule's goal from the chart's first day, and again each day the electorate changes
    goal_days = [(day, race.rule_on(day).goal())
                 for day in (first, *(t for t in race.turns if first < t <= today))]  # fmt: skip
    percent = any(not m.counts_members for m in goal_days[-1][1])  # a weight: all as shares

    def value(count: int, total: int) -> float:
        return 100 * count / total if percent else count

    styles = {c.key: line_style(i) for i, c in enumerate(candidates)}
    lines, standings = [], []
    for c in candidates:
        colour, marker = styles[c.key]
        name, last = _candidate_name(c, today), series[c.key][-1][1]
        standings.append(f"{name} {' and '.join(m.shown for m in last)}")
        for i, m in enumerate(last):
            points = tuple((day, value(ms[i].count, ms[i].total)) for day, ms in series[c.key])
            lines.append(Line(f"{name}: {m.shown}", points, colour, marker, dashed=i > 0))
    deadline = race.deadline_on(today)
    earlier = race.deadline_before(deadline)
    days_left = (deadline.on - today).days
    return Timeline(
        title=f"{race.title}: {'support' if percent else 'backers'} over time",
        subtitle=_capitalized(_rule_and_deadline(race, today)),
        lines=tuple(lines),
        standings=tuple(standings),
        goals=_goals(race, goal_days, value),
        rounds=_rounds(race, rounds, styles, value),
        axis="% in favour" if percent else "Backers",
        top=100 if percent else max(len(race.members_on(day)) for day, _ in goal_days),
        percent=percent,
        deadline=deadline.on,
        deadline_label=f"{_capitalized(deadline.label)}\n{format_date(deadline.on)}",
        as_of=today,
        as_of_label=f"{'As of' if as_of_asked else 'Today'}\n{format_date(today)}",
        time_left=f"{plural(days_left, 'day')} left" if days_left > 0 else "",
        earlier_deadline=earlier.on if earlier is not None else None,
        earlier_label=f"Earlier target: {earlier.label}" if earlier is not None else "",
    )


def _goals(
    race: Race,
    goal_days: list[tuple[date, tuple[Measure, ...]]],
    value: Callable[[int, int], float],
) -> tuple[Goal, ...]:
    """Each measure's line, a step where the electorate changes (Sweden joining NATO moves
    unanimity from 31 to 32), labelled as of the last day."""
    rule = race.rule_on(goal_days[-1][0])
    return tuple(
        Goal(
            _goal_label(rule, m),
            tuple((day, value(ms[i].needed, ms[i].total)) for day, ms in goal_days),
        )
        for i, m in enumerate(goal_days[-1][1])
    )


def _rounds(
    race: Race,
    rounds: Sequence[Round],
    styles: dict[str, tuple[str, str]],
    value: Callable[[int, int], float],
) -> tuple[RoundMarks, ...]:
    """The rounds, each charted candidate's 'encourage' count as a marker in its colour."""
    return tuple(
        RoundMarks(
            r.on,
            r.name,
            tuple(
                (b.candidate, value(b.encourage, len(race.members_on(r.on))), *styles[b.candidate])
                for b in r.counts
                if b.candidate in styles
            ),
        )
        for r in rounds
    )


def _goal_label(rule: Rule, m: Measure) -> str:
    if isinstance(rule, SecurityCouncil):
        return f"{m.needed} in favour, no permanent member against"
    return _capitalized(f"{rule.describe()} ({m.target})")


def _rule_and_deadline(race: Race, day: date) -> str:
    """The rule over the members of `day` and the deadline that was the target then."""
    rule, deadline = race.rule_on(day), race.deadline_on(day)
    goal = ", ".join(m.target for m in rule.goal())
    return f"{rule.describe()} ({goal}) needed by {deadline.label}, {format_date(deadline.on)}"


def _candidate_name(candidate: Candidate, today: date) -> str:
    if candidate.withdrawn_on and candidate.withdrawn_on <= today:
        return f"{candidate.name} (withdrawn)"
    return candidate.name


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- asking the service, drawing off the event loop ---------------------------------------


async def tally_board(
    service: Service, tally: Tally, candidate: Candidate | None = None
) -> Attachment:
    """The board of a tally already in hand, such as the digest's: `candidate`'s or the leader's.

    `functools.partial(tally_board, service)` is the digest's `attach_board`.
    """
    shown = tally.shown(candidate)
    picture = board(shown, service.race, service.roster.candidate_list, tally.as_of)
    data = await asyncio.to_thread(draw_board, picture)
    name = f"{service.race.id}-board-{shown.candidate.key}-{tally.as_of.isoformat()}.png"
    return Attachment(safe_filename(name), "image/png", data)


async def chart_reply(
    service: Service, kind: str, candidate: Candidate | None = None, as_of: date | None = None
) -> Reply:
    """What /chart answers: one line saying what the picture shows, and the picture."""
    if kind == "board":
        tally = await service.tally(candidate, as_of)
        shown = tally.shown(candidate)
        line = (
            backing_line(shown)
            if _head_count(shown.rule)
            else f"{shown.candidate.name}: {shown.status()}."
        )
        attachment = await tally_board(service, tally, candidate)
    else:
        picture = await _timeline(service, candidate, as_of)
        what = "Support" if picture.percent else "Backers"
        line = f"{what} over time: {', '.join(picture.standings)}."
        attachment = await _draw_timeline(service, picture, candidate)
    return Reply(sections=(Section(lines=(line,)),), attachment=attachment)


async def _timeline(service: Service, candidate: Candidate | None, as_of: date | None) -> Timeline:
    today = service.check_day(as_of, "as_of") if as_of else service.today()
    candidates = [candidate] if candidate else service.roster.candidate_list
    changes = await service.changes(today)
    rounds = await service.rounds_on(today)  # the race file's and those recorded
    # a pass over the changes, in a thread like the drawing, so the loop keeps answering
    return await asyncio.to_thread(
        timeline, changes, service.race, candidates, today, as_of is not None, rounds
    )


async def _draw_timeline(
    service: Service, picture: Timeline, candidate: Candidate | None
) -> Attachment:
    data = await asyncio.to_thread(draw_timeline, picture)
    who = f"-{candidate.key}" if candidate else ""
    name = f"{service.race.id}-timeline{who}-{picture.as_of.isoformat()}.png"
    return Attachment(safe_filename(name), "image/png", data)
