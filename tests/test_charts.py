"""/chart: the data behind the board and the timeline, the PNGs, and /chart in conversation."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
from datetime import date
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from bot import charts, drawing
from bot.charts import Tile, board, board_data, timeline_data
from bot.domain import Actor, Position, Stance
from bot.service import Service

EDITOR = Actor("console", "ed", "editor", is_editor=True)
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
    changes = await service.store.changes(service.race.id, today)
    return timeline_data(changes, service.roster.candidate_list, today)


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
    assert {t.status: t.colour for t in tiles.values()}.items() <= drawing.COLOURS.items()
    assert drawing.HATCHES[Stance.OPPOSES]  # opposing never relies on colour alone


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
        EDITOR, service.roster.member("SK"), Position.OPPOSES, service.roster.candidate("Iohannis")
    )
    rutte = await tiles_of(service, "Rutte")
    iohannis = await tiles_of(service, "Iohannis")
    assert (rutte["SK"].status, rutte["SK"].detail) == (Stance.NO_POSITION, "opposes Iohannis")
    assert iohannis["SK"].status is Stance.OPPOSES
    assert (iohannis["NL"].status, iohannis["NL"].detail) == (Stance.BACKS_ANOTHER, "backs Rutte")


async def test_timeline_series_follow_the_log(service):
    assert await series(service) == {
        "rutte": [(date(2024, 2, 22), 4), (date(2024, 4, 2), 28), (date(2024, 4, 3), 28)],
        "iohannis": [(date(2024, 2, 22), 0), (date(2024, 4, 2), 1), (date(2024, 4, 3), 1)],
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
    )
    assert (await series(service))["rutte"] == [
        (date(2024, 2, 22), 4),
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
    assert {drawing.COLOURS[s] for s in shown} <= set(pixels(attachment.data))


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
    assert then[drawing.BLUE] < now[drawing.BLUE] / 4  # 4 backing tiles, not 28
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
