"""Pictures of the race: the members as a board of tiles, and the backers over time.

The data behind each picture (`board`, `timeline` and their parts) is plain Python that tests
can read; `bot/drawing.py` turns it into a PNG, off the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.domain import (
    Candidate,
    CandidateTally,
    Change,
    Position,
    Race,
    Stance,
    Tally,
    format_date,
    plural,
    stance_words,
)
from bot.drawing import COLOURS, draw_board, draw_timeline, line_style
from bot.replies import Attachment, Reply, Section, backing_line
from bot.service import Service
from bot.text import safe_filename

KINDS = ("board", "timeline")


@dataclass(frozen=True)
class Tile:
    member: str  # the member's code
    label: str  # the member's name
    status: Stance
    colour: str
    detail: str = ""  # a few words under a holdout's name: "opposes", "backs Iohannis"


@dataclass(frozen=True)
class Board:
    title: str  # "28/32 back Mark Rutte"
    day: str  # "3 April 2024", beside the title
    subtitle: str  # the race, the rule, the deadline
    tiles: tuple[Tile, ...]
    legend: tuple[tuple[Stance, str], ...]  # "Backs Rutte (28)"


@dataclass(frozen=True)
class Line:
    name: str
    points: tuple[tuple[date, int], ...]
    colour: str
    marker: str


@dataclass(frozen=True)
class Timeline:
    title: str
    subtitle: str
    lines: tuple[Line, ...]
    total: int  # members
    rule_lines: tuple[tuple[int, str], ...]  # (32, "Unanimity (32/32)"): backers the rule needs
    deadline: date
    deadline_label: str  # "The Washington summit\n9 July 2024"
    as_of: date
    as_of_label: str  # "Today\n3 April 2024"
    time_left: str  # "97 days left", or "" once the deadline has come


# --- the data -----------------------------------------------------------------------------


def board_data(tally: CandidateTally, race: Race, candidates: Iterable[Candidate]) -> list[Tile]:
    """One tile per member of the tally's day, in the race's order, so each keeps its place
    from day to day (one that had not joined yet has none)."""
    last_names = {c.key: c.last_name for c in candidates}
    holdouts = {h.member.code: h for h in tally.holdouts}
    backers = {m.code for m in tally.backers}
    tiles = []
    for member in race.members:
        status, detail = Stance.BACKS, ""
        if (h := holdouts.get(member.code)) is not None:
            status, detail = h.stance, stance_words(h.stance, h.event, last_names, "no position")
        elif member.code not in backers:
            continue
        tiles.append(Tile(member.code, member.name, status, COLOURS[status], detail))
    return tiles


def board(tally: CandidateTally, race: Race, candidates: Iterable[Candidate], as_of: date) -> Board:
    """Everything the board shows: the tiles, the title with the count, the rule, the legend."""
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
    return Board(
        title=f"{tally.count}/{tally.total} back {tally.candidate.name}",
        day=format_date(as_of),
        subtitle=f"{race.title} · {_rule_and_deadline(race)}",
        tiles=tuple(tiles),
        # abstaining is rare (most races have no such position), so it is listed when seen
        legend=tuple(
            (s, f"{labels[s]} ({counts[s]})")
            for s in Stance
            if counts[s] or s is not Stance.ABSTAINS
        ),
    )


def timeline_data(
    changes: Iterable[Change], candidates: Iterable[Candidate], today: date
) -> dict[str, list[tuple[date, int]]]:
    """Backers per candidate key: (day, count at the end of that day) each time it changed.

    `changes` are the position events up to `today` in the order they happened, undone ones
    left out (`Store.changes`), so an event counts from the day it happened, however late it
    was recorded. Each series starts on the log's first day and ends on `today`.
    """
    series: dict[str, list[tuple[date, int]]] = {c.key: [] for c in candidates}
    backing: dict[str, str | None] = {}  # member code -> the candidate it backs
    for day, group in itertools.groupby(changes, key=lambda change: change.happened_on):
        for change in group:
            supports = change.position == Position.SUPPORTS
            backing[change.member] = change.candidate if supports else None
        counts = Counter(backing.values())
        for key, points in series.items():
            if not points or points[-1][1] != counts[key]:
                points.append((day, counts[key]))
    for points in series.values():
        if not points or points[-1][0] < today:
            points.append((today, points[-1][1] if points else 0))
    return series


def timeline(
    changes: Iterable[Change],
    race: Race,
    candidates: Iterable[Candidate],
    today: date,
    as_of_asked: bool = False,
) -> Timeline:
    """Everything the timeline shows: a line per candidate, the rule, the deadline, today."""
    candidates = tuple(candidates)
    series = timeline_data(changes, candidates, today)
    lines = tuple(
        Line(_candidate_name(c, today), tuple(series[c.key]), colour, marker)
        for c, (colour, marker) in ((c, line_style(i)) for i, c in enumerate(candidates))
    )
    deadline = race.deadline
    days_left = (deadline.on - today).days
    return Timeline(
        title=f"{race.title}: backers over time",
        subtitle=_capitalized(_rule_and_deadline(race)),
        lines=lines,
        total=len(race.members),
        rule_lines=tuple(
            (m.needed, _capitalized(f"{race.rule.describe()} ({m.target})"))
            for m in race.rule.goal()
            if m.counts_members
        ),
        deadline=deadline.on,
        deadline_label=f"{_capitalized(deadline.label)}\n{format_date(deadline.on)}",
        as_of=today,
        as_of_label=f"{'As of' if as_of_asked else 'Today'}\n{format_date(today)}",
        time_left=f"{plural(days_left, 'day')} left" if days_left > 0 else "",
    )


def _rule_and_deadline(race: Race) -> str:
    goal = ", ".join(m.target for m in race.rule.goal())
    return (
        f"{race.rule.describe()} ({goal}) needed by "
        f"{race.deadline.label}, {format_date(race.deadline.on)}"
    )


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
        line = backing_line(tally.shown(candidate))
        attachment = await tally_board(service, tally, candidate)
    else:
        picture = await _timeline(service, candidate, as_of)
        counts = ", ".join(f"{x.name} {x.points[-1][1]}/{picture.total}" for x in picture.lines)
        line = f"Backers over time: {counts}."
        attachment = await _draw_timeline(service, picture, candidate)
    return Reply(sections=(Section(lines=(line,)),), attachment=attachment)


async def _timeline(service: Service, candidate: Candidate | None, as_of: date | None) -> Timeline:
    today = service.check_day(as_of, "as_of") if as_of else service.today()
    candidates = [candidate] if candidate else service.roster.candidate_list
    changes = await service.changes(today)
    return timeline(changes, service.race, candidates, today, as_of is not None)


async def _draw_timeline(
    service: Service, picture: Timeline, candidate: Candidate | None
) -> Attachment:
    data = await asyncio.to_thread(draw_timeline, picture)
    who = f"-{candidate.key}" if candidate else ""
    name = f"{service.race.id}-timeline{who}-{picture.as_of.isoformat()}.png"
    return Attachment(safe_filename(name), "image/png", data)
