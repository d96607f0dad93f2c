"""/chart: the data behind the board and the timeline, the PNGs, and /chart in conversation."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot import charts, drawing
from bot.charts import Tile, board, board_data, timeline_data
from bot.clock import Clock
from bot.domain import Actor, Change, Confidence, Position, Stance
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

EDITOR = Actor("console", "ed", "editor", is_editor=True)
SOURCE = "https://www.reuters.com/world/nato"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150_000


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def pixels(data: bytes) -> dict[str, int]:
    """How many pixels of each colour, by hex code."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return {"#{:02X}{:02X}{:02X}".format(*rgb): n for n, rgb in image.getcolors(1 << 20)}


async def tiles_of(
    service: Service, candidate: str = "Rutte", as_of: date | None = None
) -> dict[str, Tile]:
    tally = await service.tally(service.roster.candidate(candidate), as_of)
    tiles = board_data(tally.candidates[0], service.race, service.roster.candidate_list)
    return {t.member: t for t in tiles}


async def series(
    service: Service, today: date = date(2024, 4, 3)
) -> dict[str, list[tuple[date, int]]]:
    """Backers per candidate: (day, count) each day the count or the electorate changed."""
    changes = await service.changes(today)
    data = timeline_data(changes, service.race, service.roster.candidate_list, today)
    return {key: [(day, ms[0].count) for day, ms in points] for key, points in data.items()}


# --- the data -------------------------------------------------------------------------------


async def test_board_tiles_match_the_seeded_log(service):
    tiles = await tiles_of(service)
    assert list(tiles) == [m.code for m in service.race.members]  # the race's order, stable
    statuses = {code: t.status for code, t in tiles.items()}
    assert sum(s is Stance.BACKS for s in statuses.values()) == 28
    assert tiles["HU"].status is Stance.OPPOSES and tiles["HU"].detail == "opposes"
    assert tiles["RO"].status is Stance.BACKS_ANOTHER and tiles["RO"].detail == "backs Iohannis"
    assert statuses["SK"] is statuses["TR"] is Stance.NO_POSITION
    assert tiles["TR"].label == "Türkiye"
    # a position only reported is the lighter shade of its colour, one on record the colour
    for t in tiles.values():
        full = drawing.COLOURS[t.status]
        assert t.colour == (drawing.lighter(full) if t.reported else full), t.member
    held = [t for t in tiles.values() if t.status is not Stance.NO_POSITION]
    assert {t.reported for t in held} == {True, False}  # the race file has some of each
    assert drawing.HATCHES[Stance.OPPOSES]  # opposing never relies on colour alone


async def test_a_position_on_record_is_its_full_colour_and_a_reported_one_lighter(service):
    """The board tells a member's own public statement from what outlets report, by shade,
    with a legend entry, and drops the entry once every position is on record."""
    rutte = service.roster.candidate("Rutte")
    latvia = service.roster.member("Latvia")
    light = drawing.lighter(drawing.BLUE)
    assert (await tiles_of(service))["LV"].reported
    before = pixels((await charts.chart_reply(service, "board")).attachment.data)
    await service.record(EDITOR, latvia, Position.SUPPORTS, rutte, confidence=Confidence.ON_RECORD)
    tiles = await tiles_of(service)
    assert (tiles["LV"].colour, tiles["LV"].reported) == (drawing.BLUE, False)
    assert (tiles["PL"].colour, tiles["PL"].reported) == (light, True)
    after = pixels((await charts.chart_reply(service, "board")).attachment.data)
    tile = 100 * 100  # a tile is 100 px or more a side
    assert after[drawing.BLUE] > before[drawing.BLUE] + tile and after[light] < before[light]
    b = board((await service.tally()).shown(rutte), service.race, [rutte], date(2024, 4, 3))
    on_record = [replace(t, colour=drawing.COLOURS[t.status], reported=False) for t in b.tiles]
    plain = pixels(drawing.draw_board(replace(b, tiles=tuple(on_record))))
    assert drawing.lighter(drawing.BLUE) not in plain  # no lighter tile, no legend swatch


async def test_board_title_has_the_count_the_rule_and_the_deadline(service):
    tally = await service.tally(service.roster.candidate("Rutte"))
    b = board(tally.candidates[0], service.race, service.roster.candidate_list, tally.as_of)
    assert b.title == "28/32 back Mark Rutte"
    assert b.subtitle == (
        "NATO Secretary-General 2024 · unanimity (32/32) needed by the Washington summit, "
        "9 July 2024"
    )
    assert b.day == "3 April 2024"
    assert [label for _, label in b.legend] == [
        "Backs Rutte (28)",
        "Opposes Rutte (1)",
        "Backs another candidate (1)",
        "No position (2)",
    ]


async def test_board_as_of_an_earlier_day_shows_that_day(service):
    tiles = await tiles_of(service, as_of=date(2024, 3, 1))
    backers = {code for code, t in tiles.items() if t.status is Stance.BACKS}
    assert backers == {"US", "GB", "FR", "DE"}
    assert tiles["HU"].status is Stance.NO_POSITION
    assert tiles["RO"].status is Stance.NO_POSITION


async def test_opposing_another_candidate_is_no_position_on_this_one(service):
    await service.record(
        EDITOR,
        service.roster.member("SK"),
        Position.OPPOSES,
        service.roster.candidate("Iohannis"),
        source=SOURCE,
    )
    rutte = await tiles_of(service, "Rutte")
    iohannis = await tiles_of(service, "Iohannis")
    assert (rutte["SK"].status, rutte["SK"].detail) == (Stance.NO_POSITION, "opposes Iohannis")
    assert iohannis["SK"].status is Stance.OPPOSES
    assert (iohannis["NL"].status, iohannis["NL"].detail) == (Stance.BACKS_ANOTHER, "backs Rutte")


async def test_timeline_series_follow_the_log(service):
    assert await series(service) == {
        # Sweden joins on 7 March: 4 of 31, then 4 of 32
        "rutte": [
            (date(2024, 2, 22), 4),
            (date(2024, 3, 7), 4),
            (date(2024, 4, 2), 28),
            (date(2024, 4, 3), 28),
        ],
        "iohannis": [
            (date(2024, 2, 22), 0),
            (date(2024, 3, 7), 0),
            (date(2024, 4, 2), 1),
            (date(2024, 4, 3), 1),
        ],
    }
    assert (await series(service, date(2024, 3, 1)))["rutte"] == [
        (date(2024, 2, 22), 4),
        (date(2024, 3, 1), 4),
    ]


async def test_back_filled_event_changes_the_timeline_on_the_day_it_happened(service):
    # Recorded today, happened in March; Türkiye's later "no position" of 2 April still stands.
    await service.record(
        EDITOR,
        service.roster.member("Türkiye"),
        Position.SUPPORTS,
        service.roster.candidate("Rutte"),
        on=date(2024, 3, 15),
        source=SOURCE,
    )
    assert (await series(service))["rutte"] == [
        (date(2024, 2, 22), 4),
        (date(2024, 3, 7), 4),
        (date(2024, 3, 15), 5),
        (date(2024, 4, 2), 28),
        (date(2024, 4, 3), 28),
    ]


async def test_an_undone_event_is_left_out_of_the_timeline(service):
    before = await series(service)
    await service.record(
        EDITOR,
        service.roster.member("Hungary"),
        Position.SUPPORTS,
        service.roster.candidate("Rutte"),
        source=SOURCE,
    )
    assert (await series(service))["rutte"][-1] == (date(2024, 4, 3), 29)
    await service.undo(EDITOR)
    assert await series(service) == before


async def test_empty_log_gives_flat_series_ending_today(empty_service):
    assert await series(empty_service) == {
        "rutte": [(date(2024, 4, 3), 0)],
        "iohannis": [(date(2024, 4, 3), 0)],
    }
    assert (
        png_size(((await charts.chart_reply(empty_service, "timeline")).attachment).data)
        == drawing.TIMELINE_SIZE
    )


# --- the pictures ---------------------------------------------------------------------------


async def test_board_is_a_png_of_the_expected_size_in_the_palette(service):
    attachment = (await charts.chart_reply(service, "board")).attachment
    assert attachment.filename == "nato-sg-2024-board-rutte-2024-04-03.png"
    assert attachment.content_type == "image/png"
    assert png_size(attachment.data) == drawing.BOARD_SIZE
    assert len(attachment.data) < MAX_BYTES
    shown = {s for s in drawing.COLOURS if s is not Stance.ABSTAINS}  # no one abstains here
    drawn = set(pixels(attachment.data))
    # each position in its colour, or the lighter shade of it where only reported
    assert all({drawing.COLOURS[s], drawing.lighter(drawing.COLOURS[s])} & drawn for s in shown)


async def test_timeline_is_a_png_of_the_expected_size(service):
    attachment = (await charts.chart_reply(service, "timeline")).attachment
    assert attachment.filename == "nato-sg-2024-timeline-2024-04-03.png"
    assert png_size(attachment.data) == drawing.TIMELINE_SIZE
    assert len(attachment.data) < MAX_BYTES
    assert {drawing.BLUE, drawing.ORANGE} <= set(pixels(attachment.data))  # the two lines


async def test_the_board_as_of_an_earlier_day_is_another_picture(service):
    today = (await charts.chart_reply(service, "board")).attachment
    march = (await charts.chart_reply(service, "board", as_of=date(2024, 3, 1))).attachment
    assert march.filename.endswith("-2024-03-01.png")
    now, then = pixels(today.data), pixels(march.data)
    light_blue = drawing.lighter(drawing.BLUE)  # the seeds are only reported
    assert then[light_blue] < now[light_blue] / 4  # 4 backing tiles, not 28
    assert then[drawing.GREY] > now[drawing.GREY] * 8  # 28 without a position, not 2


async def test_the_digest_can_attach_the_board_of_its_own_tally(service):
    attach_board = partial(charts.tally_board, service)  # the digest's BoardMaker
    attachment = await attach_board(await service.tally())
    assert attachment.filename == "nato-sg-2024-board-rutte-2024-04-03.png"
    assert png_size(attachment.data) == drawing.BOARD_SIZE


async def test_drawing_runs_off_the_event_loop(service, monkeypatch):
    threads = []
    draw = charts.draw_board

    def spy(picture):
        threads.append(threading.get_ident())
        return draw(picture)

    monkeypatch.setattr(charts, "draw_board", spy)
    await charts.chart_reply(service, "board")
    assert threads and threads[0] != threading.get_ident()


async def test_the_timeline_is_worked_out_and_drawn_off_the_event_loop(service, monkeypatch):
    threads = {}
    for name in ("timeline", "draw_timeline"):
        work = getattr(charts, name)

        def spy(*args, name=name, work=work):
            threads[name] = threading.get_ident()
            return work(*args)

        monkeypatch.setattr(charts, name, spy)
    await charts.chart_reply(service, "timeline")
    assert set(threads) == {"timeline", "draw_timeline"}
    assert threading.get_ident() not in threads.values()


def test_importing_the_bot_does_not_import_matplotlib():
    code = "import sys, bot.commands.run, bot.app; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


# --- in conversation ------------------------------------------------------------------------


async def test_chart_in_the_console_saves_the_picture_and_prints_its_path(chat, tmp_path):
    reply = await chat("/chart")
    first, saved = reply.splitlines()
    assert first == "28/32 back Mark Rutte; needs 4 more for unanimity."
    path = Path(saved.removeprefix("Saved to "))
    assert path == (tmp_path / "files" / "nato-sg-2024-board-rutte-2024-04-03.png").resolve()
    assert png_size(path.read_bytes()) == drawing.BOARD_SIZE


async def test_chart_timeline_for_one_candidate_in_the_console(chat, tmp_path):
    reply = await chat("/chart timeline Rutte as_of:2024-04-02")
    assert reply.splitlines()[0] == "Backers over time: Mark Rutte 28/32."
    path = tmp_path / "files" / "nato-sg-2024-timeline-rutte-2024-04-02.png"
    assert f"Saved to {path.resolve()}" in reply
    assert png_size(path.read_bytes()) == drawing.TIMELINE_SIZE


async def test_chart_without_active_candidates_says_what_to_do(chat, service):
    for name in ("Rutte", "Iohannis"):
        await service.withdraw_candidate(EDITOR, service.roster.candidate(name))
    assert await chat("/chart") == "Error: No active candidates; an editor can /candidate add one."


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("/chart pie", "Error: 'pie' is not one of board, timeline."),
        (
            "/chart board as_of:2024-05-01",
            "Error: as_of:2024-05-01 is after today (2024-04-03); the tally cannot look ahead.",
        ),
        (
            "/chart timeline as_of:2024-13-01",
            "Error: as_of:2024-13-01 is not a date; use YYYY-MM-DD, e.g. as_of:2024-04-02.",
        ),
    ],
)
async def test_bad_chart_input_gets_one_clear_line_and_no_file(chat, tmp_path, line, error):
    assert await chat(line) == error
    assert not (tmp_path / "files").exists()


def test_every_candidate_line_has_its_own_colour_and_marker():
    styles = [drawing.line_style(i) for i in range(36)]
    assert len(set(styles)) == 36


async def test_a_name_with_dollar_signs_is_drawn_as_plain_text_in_every_chart(service):
    """matplotlib reads `$...$` as maths; a candidate's name must never be."""
    hungary, rutte = service.roster.member("Hungary"), service.roster.candidate("Rutte")
    await service.add_candidate(EDITOR, r"Jean Dupont $\foo$", None)
    dupont = service.roster.candidate(r"Jean Dupont $\foo$")
    await service.record(EDITOR, hungary, Position.SUPPORTS, dupont)  # a tile: "backs $\foo$"
    drawn = [
        (await charts.chart_reply(service, "timeline")).attachment,
        (await charts.chart_reply(service, "timeline", dupont)).attachment,
        (await charts.chart_reply(service, "board", rutte)).attachment,
        (await charts.chart_reply(service, "board", dupont)).attachment,
        await charts.tally_board(service, await service.tally()),  # the digest's board
    ]
    sizes = [
        drawing.TIMELINE_SIZE,
        drawing.TIMELINE_SIZE,
        drawing.BOARD_SIZE,
        drawing.BOARD_SIZE,
        drawing.BOARD_SIZE,
    ]
    assert [png_size(a.data) for a in drawn] == sizes


# --- weighted and vetoed races, electorates and rounds ----------------------------------------


async def race_service(tmp_path: Path, race_id: str, today: date) -> Service:
    race = load_race(race_id)
    clock = Clock(ZoneInfo(race.timezone), today)
    service = Service(await Store.open(tmp_path / f"{race_id}.db", clock.now), race, clock)
    await service.start(demo=True)
    return service


@pytest.fixture
async def eu(tmp_path: Path) -> AsyncIterator[Service]:
    """The European Council's vote on von der Leyen, the day after (27 June 2024)."""
    service = await race_service(tmp_path, "eu-commission-2024", date(2024, 6, 28))
    yield service
    await service.store.close()


@pytest.fixture
async def unsg(tmp_path: Path) -> AsyncIterator[Service]:
    """The Security Council's choice of 2016, the day of the recommendation."""
    service = await race_service(tmp_path, "unsg-2016", date(2016, 10, 6))
    yield service
    await service.store.close()


async def test_a_qualified_majority_board_shows_each_share_of_the_population(eu):
    tally = await eu.tally()
    b = board(tally.shown(), eu.race, eu.roster.candidate_list, tally.as_of)
    tiles = {t.member: t for t in b.tiles}
    assert len(tiles) == 27
    shares = [tiles[code].weight for code in ("DE", "FR", "MT")]
    assert shares == ["18.6%", "15.2%", "0.1%"]
    assert (tiles["IT"].status, tiles["IT"].weight) == (Stance.ABSTAINS, "13.1%")
    assert tiles["HU"].status is Stance.OPPOSES
    assert b.weight_note == "%: share of the population"
    assert not b.veto_note and not any(t.veto for t in tiles.values())
    # the rule's two measures, not a head count
    assert b.title == "25/27 states and 84.7% of the population back Ursula von der Leyen"
    assert "a qualified majority (20/27 states, 65% of the population) needed by" in b.subtitle
    reply = await charts.chart_reply(eu, "board")
    assert reply.sections[0].lines == (
        "Ursula von der Leyen: 25/27 states (93%, needs 72%) and 84.7% of the population "
        "(needs 65%): qualified majority reached.",
    )
    data = reply.attachment.data
    assert png_size(data) == drawing.BOARD_SIZE and len(data) < MAX_BYTES
    colours = pixels(data)
    assert {drawing.BLUE, drawing.VERMILLION, drawing.SKY} <= set(colours)


async def test_a_security_council_board_marks_the_veto_members(unsg):
    tally = await unsg.tally()
    b = board(tally.shown(), unsg.race, unsg.roster.candidate_list, tally.as_of)
    assert [t.member for t in b.tiles if t.veto] == ["CN", "FR", "RU", "GB", "US"]
    assert b.veto_note == "Permanent member (veto)"
    assert not any(t.weight for t in b.tiles) and not b.weight_note
    assert b.title == "António Guterres: 15 in favour; no permanent member against: would pass"
    reply = await charts.chart_reply(unsg, "board")
    assert reply.sections[0].lines == (f"{b.title}.",)  # the rule's words, as /tally has them
    data = reply.attachment.data
    assert png_size(data) == drawing.BOARD_SIZE and len(data) < MAX_BYTES
    unmarked = replace(b, tiles=tuple(replace(t, veto=False) for t in b.tiles), veto_note="")
    borders = pixels(data)[drawing.INK] - pixels(drawing.draw_board(unmarked))[drawing.INK]
    assert borders > 5 * 4 * 100 * 3  # five tiles, four sides of 100 px or more, 3 px thick


async def test_a_veto_member_opposing_shows_in_the_board_title(unsg, editor):
    guterres = unsg.roster.candidate("Guterres")
    await unsg.record(
        editor, unsg.roster.member("Russia"), Position.OPPOSES, guterres, source=SOURCE
    )
    tally = await unsg.tally()
    b = board(tally.shown(guterres), unsg.race, unsg.roster.candidate_list, tally.as_of)
    assert b.title == "António Guterres: 14 in favour (needs 9); vetoed by Russia"
    assert {t.member: t for t in b.tiles}["RU"].veto


async def test_a_qualified_majority_timeline_draws_both_shares_and_both_goals(eu):
    picture = charts.timeline(
        await eu.changes(eu.today()), eu.race, eu.roster.candidate_list, eu.today()
    )
    assert picture.percent and picture.axis == "% in favour" and picture.top == 100
    states, population = picture.lines
    assert states.name == "Ursula von der Leyen: 25/27 states"
    assert population.name == "Ursula von der Leyen: 84.7% of the population"
    assert population.dashed and not states.dashed
    assert states.points[0] == (date(2024, 6, 27), pytest.approx(100 * 25 / 27))
    assert population.points[0] == (date(2024, 6, 27), pytest.approx(84.73, abs=0.01))
    assert [(g.label, g.points) for g in picture.goals] == [
        ("A qualified majority (20/27 states)", ((date(2024, 6, 27), pytest.approx(74.07, 0.01)),)),
        ("A qualified majority (65% of the population)", ((date(2024, 6, 27), pytest.approx(65)),)),
    ]
    reply = await charts.chart_reply(eu, "timeline")
    assert reply.sections[0].lines == (
        "Support over time: Ursula von der Leyen 25/27 states and 84.7% of the population.",
    )
    assert png_size(reply.attachment.data) == drawing.TIMELINE_SIZE
    assert len(reply.attachment.data) < MAX_BYTES


async def test_the_security_council_timeline_has_its_goal_and_the_straw_polls(unsg):
    today = date(2016, 10, 6)
    picture = charts.timeline(
        await unsg.changes(today), unsg.race, unsg.roster.candidate_list, today
    )
    assert [(g.label, g.points) for g in picture.goals] == [  # from the first round on
        ("9 in favour, no permanent member against", ((date(2016, 7, 21), 9),))
    ]
    assert [r.name for r in picture.rounds] == [
        "first straw poll",
        "second straw poll",
        "third straw poll",
        "fourth straw poll",
        "fifth straw poll",
        "sixth straw poll (colour-coded)",
    ]
    guterres = [
        (r.on, value) for r in picture.rounds for key, value, *_ in r.marks if key == "guterres"
    ]
    assert [value for _, value in guterres] == [12, 11, 11, 12, 12, 13]
    assert guterres[0][0] == date(2016, 7, 21)
    colour, marker = next((x.colour, x.marker) for x in picture.lines if "Guterres" in x.name)
    assert {tuple(m[2:]) for r in picture.rounds for m in r.marks if m[0] == "guterres"} == {
        (colour, marker)  # in the candidate's own colour and marker
    }
    # A round held after the chart's day is not drawn.
    earlier = charts.timeline([], unsg.race, unsg.roster.candidate_list, date(2016, 8, 10))
    assert [r.name for r in earlier.rounds] == ["first straw poll", "second straw poll"]
    data = (await charts.chart_reply(unsg, "timeline")).attachment.data
    assert png_size(data) == drawing.TIMELINE_SIZE and len(data) < MAX_BYTES
    assert {drawing.BLUE, drawing.ORANGE, drawing.GREEN} <= set(pixels(data))


async def test_the_unanimity_goal_steps_from_31_to_32_when_sweden_joins(service):
    picture = charts.timeline(
        await service.changes(service.today()),
        service.race,
        service.roster.candidate_list,
        service.today(),
    )
    (unanimity,) = picture.goals
    assert unanimity.label == "Unanimity (32/32)"
    assert unanimity.points == ((date(2024, 2, 22), 31), (date(2024, 3, 7), 32))
    assert picture.top == 32
    assert [x.name for x in picture.lines] == ["Mark Rutte: 28/32", "Klaus Iohannis: 1/32"]
    before = charts.timeline(
        await service.changes(date(2024, 3, 1)),
        service.race,
        service.roster.candidate_list,
        date(2024, 3, 1),
    )
    assert before.goals[0].points == ((date(2024, 2, 22), 31),)
    assert before.goals[0].label == "Unanimity (31/31)"
    assert before.lines[0].name == "Mark Rutte: 4/31"


async def test_the_timeline_draws_the_deadline_of_its_day(service):
    changes = await service.changes(service.today())
    candidates = service.roster.candidate_list
    now = charts.timeline(changes, service.race, candidates, date(2024, 4, 3))
    assert now.deadline == date(2024, 7, 9)
    assert now.earlier_deadline == date(2024, 4, 3)  # the April target it replaced, faintly
    assert now.earlier_label == "Earlier target: the NATO foreign ministers' meeting"
    march = charts.timeline(changes, service.race, candidates, date(2024, 3, 1), True)
    assert (march.deadline, march.earlier_deadline) == (date(2024, 4, 3), None)
    assert march.deadline_label == "The NATO foreign ministers' meeting\n3 April 2024"
    assert "needed by the NATO foreign ministers' meeting, 3 April 2024" in march.subtitle


def compacted(changes: list[Change]) -> list[Change]:
    """What the store may hand a chart: each member's last change of each day, in order."""
    last = {(c.happened_on, c.member): (i, c) for i, c in enumerate(changes)}
    return [c for _, c in sorted(last.values())]


@pytest.mark.parametrize("race_id", ["nato-sg-2024", "eu-commission-2024", "unsg-2016"])
def test_the_timeline_is_the_same_from_each_members_last_change_of_each_day(race_id):
    race = load_race(race_id)
    rng = random.Random(race_id)
    candidates = race.candidates[:3]
    first = race.turns[0] - timedelta(days=10) if race.turns else date(2016, 7, 1)
    changes = []
    for day in sorted(first + timedelta(days=rng.randrange(12)) for _ in range(300)):
        member = rng.choice(race.members_on(day)).code
        position = rng.choice(list(Position))
        pick = None if position is Position.UNDECIDED else rng.choice(candidates).key
        changes.append(Change(member, position, pick, day))
    today = first + timedelta(days=20)
    short = compacted(changes)
    assert len(short) < len(changes) * 3 / 4  # many changes of a day are dropped
    raw = timeline_data(changes, race, candidates, today)
    assert timeline_data(short, race, candidates, today) == raw
    assert charts.timeline(short, race, candidates, today) == charts.timeline(
        changes, race, candidates, today
    )
    assert all(len(points) > 5 for points in raw.values())  # the series did move


def test_round_names_are_users_text_drawn_plain_and_fitted():
    """A round's name comes from a race file or /round: `$...$` is not maths, and a long one
    is shrunk to the chart, not cut off."""
    race = load_race("unsg-2016")
    odd = r"$\foo$ poll " + "with a long name " * 5
    race = replace(race, rounds=tuple(replace(r, name=odd) for r in race.rounds))
    candidates = race.candidates[:5]  # beside a row of candidates, and beside a column
    for shown in (candidates[:2], candidates):
        picture = charts.timeline([], race, shown, date(2016, 10, 6))
        assert {r.name for r in picture.rounds} == {odd}
        data = drawing.draw_timeline(picture)
        assert png_size(data) == drawing.TIMELINE_SIZE and len(data) < MAX_BYTES
