"""/export: streamed to a temporary file in bounded memory, one at a time, in the same format
as ever, optionally gzipped or cut to a date range; the file is gone once sent."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import sqlite3
import tempfile
import threading
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from fakes.slack_fake import FakeSlack
from test_slack import slack_bot, slash

from bot import service as service_module
from bot.adapters.console import Console
from bot.adapters.discord.adapter import message_kwargs
from bot.domain import Actor, Position, TallyError
from bot.export import EXPORT_COLUMNS, ExportQuery, write_export
from bot.replies import Attachment, Reply, too_big

EDITOR = Actor("test", "ed", "Editor", is_editor=True)


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where exports are written while they wait to be sent."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def test_formats_are_as_before_and_gzip_holds_the_same(service, temp_dir):
    await service.record(
        EDITOR,
        service.race.member("SK"),
        Position.SUPPORTS,
        service.roster.candidate("Rutte"),
        note='=HYPERLINK("http://evil.example","x") «Fico»',
    )
    plain = {}
    for fmt in ("csv", "json"):
        export = await service.export(fmt)
        plain[fmt] = export.path.read_bytes()
        assert export.events == 33 and export.filename.endswith(f".{fmt}")
        zipped = await service.export(f"{fmt}.gz")
        assert zipped.content_type == "application/gzip"
        assert gzip.decompress(zipped.path.read_bytes()) == plain[fmt]

    text = plain["json"].decode()
    records = json.loads(text)
    assert text == json.dumps(records, ensure_ascii=False, indent=2)  # the layout of before
    assert records[-1]["note"].startswith("=HYPERLINK") and records[-1]["member_name"] == "Slovakia"

    assert plain["csv"].startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(plain["csv"].decode("utf-8-sig"))))
    assert rows[-1]["note"].startswith("'=HYPERLINK")  # not run as a formula
    again = io.StringIO()
    writer = csv.DictWriter(again, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    assert again.getvalue().encode("utf-8-sig") == plain["csv"]


ODD_TEXT = [
    "=SUM(A1)", "+1", "-1", "@me", "\tTab", "\rCR", '"quoted", and, commas', "two\nlines",
    "crlf\r\nend", "line\u2028sep", " leading space", "«Fico»", "", "plain",
]  # fmt: skip


def _by_hand(db_path: Path, race: str, members: dict, candidates: dict, fmt: str) -> bytes:
    """The export as it was written before it moved to SQLite and a worker process: each
    event's row mapped and quoted in Python, written by csv.writer or json.dumps."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT id, race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source, note, reverts, confidence, condition"
            " FROM events WHERE race = ? ORDER BY id",
            (race,),
        ).fetchall()
    named = [
        (i, r, m, members.get(m, m), p, c, candidates.get(c or ""), *rest, reverts,
         None if p == "undo" else conf or ("reported" if src else "rumoured"), cond)
        for (i, r, m, p, c, *rest, reverts, conf, cond) in rows
        for src in [rest[-2]]
    ]  # fmt: skip
    if fmt == "json":
        records = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in named]
        return json.dumps(records, ensure_ascii=False, indent=2).encode()
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in named:
        writer.writerow(
            "" if v is None else "'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" and v else v
            for v in row
        )
    return out.getvalue().encode("utf-8-sig")


async def test_every_odd_value_is_written_as_csv_writer_and_json_dumps_would(service, temp_dir):
    """Names, confidences, formulas, quotes, line breaks and NULLs in every text column, an
    unknown member and candidate, an undo and events from before confidences: the same bytes
    as mapping each row in Python."""
    now = datetime.now(UTC).isoformat()
    rows = []
    for n, odd in enumerate(ODD_TEXT):
        maybe = None if n % 3 == 0 else odd
        rows.append(
            (service.race.id, ["EE", "SK", "XX", odd][n % 4], ["supports", "opposes"][n % 2],
             [None, "rutte", "nobody", odd][n % 4], "2024-03-01", now, odd, odd, odd,
             [None, "", odd, "https://www.reuters.com/world/"][n % 4], maybe,
             [None, "on-record", "reported", "rumoured"][n // 4], maybe)
        )  # fmt: skip
    with sqlite3.connect(service.store.path) as db:
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source, note, confidence, condition)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    sk, rutte = service.race.member("SK"), service.roster.candidate("Rutte")
    await service.record(EDITOR, sk, Position.OPPOSES, rutte, source="https://www.reuters.com/")
    await service.undo(EDITOR)
    members = {m.code: m.name for m in service.race.members}
    candidates = {c.key: c.name for c in service.roster.candidate_list}
    for fmt in ("csv", "json"):
        export = await service.export(fmt)
        expected = _by_hand(service.store.path, service.race.id, members, candidates, fmt)
        assert export.path.read_bytes() == expected
        assert export.events == 32 + len(ODD_TEXT) + 2


async def test_json_keeps_text_with_unusual_line_breaks_as_it_was(service, temp_dir):
    """Only json.dumps's own newlines are indented: a U+2028 or U+0085 in a display name is
    data, not a line to indent."""
    odd = Actor("test", "odd", "Ed\u2028i\x85tor\u2029", is_editor=True)
    await service.record(odd, service.race.member("SK"), Position.UNDECIDED)
    text = (await service.export("json")).path.read_text()
    records = json.loads(text)
    assert records[-1]["recorded_by_name"] == "Ed\u2028i\x85tor\u2029"
    assert text == json.dumps(records, ensure_ascii=False, indent=2)


async def test_a_date_range_keeps_the_events_that_happened_in_it(service, temp_dir):
    export = await service.export("json", date(2024, 2, 1), date(2024, 3, 31))
    days = [r["happened_on"] for r in json.loads(export.path.read_text())]
    assert days and all("2024-02-01" <= d <= "2024-03-31" for d in days)
    everything = json.loads((await service.export("json")).path.read_text())
    assert len(days) == sum("2024-02-01" <= r["happened_on"] <= "2024-03-31" for r in everything)
    assert len(days) < len(everything)
    empty = await service.export("json", date(2020, 1, 1), date(2020, 1, 2))
    assert (empty.events, empty.path.read_text()) == (0, "[]")
    with pytest.raises(TallyError) as refused:
        await service.export("csv", date(2024, 4, 1), date(2024, 3, 1))
    assert (
        str(refused.value)
        == "since:2024-04-01 is after until:2024-03-01; give the earlier day first."
    )


async def test_an_export_is_streamed_in_bounded_memory(service, temp_dir):
    """20,000 events with 500-character notes: the whole log would be tens of megabytes."""
    now = datetime.now(UTC).isoformat()
    with sqlite3.connect(service.store.path) as db:
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source, note)"
            " VALUES (?, 'EE', 'supports', 'rutte', '2024-03-01', ?, 'x', 'x', 'x', ?, ?)",
            ((service.race.id, now, "https://example.org/a", "n" * 500) for _ in range(20_000)),
        )
    tracemalloc.start()
    try:
        export = await service.export("csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert export.events == 20_032 and export.path.stat().st_size > 10_000_000
    assert peak < 3_000_000


async def test_one_export_at_a_time_and_reads_go_on_meanwhile(service, temp_dir, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    write = service_module.write_export

    def held_write(*args):
        entered.set()
        release.wait(10)
        return write(*args)

    monkeypatch.setattr(service_module, "write_export", held_write)
    monkeypatch.setattr(service_module, "EXPORT_WAIT", 0.05)
    first = asyncio.create_task(service.export("csv"))
    await asyncio.to_thread(entered.wait, 10)
    assert (await asyncio.wait_for(service.tally(), 1.0)).candidates[0].count == 28
    with pytest.raises(TallyError, match="Another export is being written; try again in a minute"):
        await service.export("json")
    release.set()
    assert (await first).events == 32
    assert list(temp_dir.iterdir()) == [(await first).path]  # the refused one left nothing


def test_a_failed_export_says_why_and_leaves_no_file(tmp_path, temp_dir):
    """The worker process's error comes back in one exception; its half-written file goes."""
    broken = ExportQuery(tmp_path / "tally.db", "SELECT * FROM no_such_table", {})
    with pytest.raises(RuntimeError, match="The export's worker failed: .*no such table"):
        write_export(broken, "csv", {}, {})
    assert list(temp_dir.iterdir()) == []


async def test_the_console_saves_the_file_and_leaves_no_temporary_copy(service, tmp_path, temp_dir):
    chat = Console(service, tmp_path / "files").handle
    reply = await chat("/export")
    saved = Path(reply.rsplit("Saved to ", 1)[1])
    assert saved.parent == (tmp_path / "files").resolve() and saved.read_bytes().startswith(b"\xef")
    assert list(temp_dir.iterdir()) == []


async def test_discord_sends_the_file_from_disk_and_removes_it(service, temp_dir):
    export = await service.export("json")
    attachment = Attachment(export.filename, export.content_type, path=export.path)
    reply = Reply(sections=Reply.text("The event log").sections, attachment=attachment)
    [message] = message_kwargs(reply)
    assert not export.path.exists()  # unlinked at once: the open file keeps the bytes
    assert len(json.loads(message["file"].fp.read())) == 32
    message["file"].close()


async def test_slack_uploads_the_file_from_disk_and_removes_it(service, temp_dir):
    async with (
        aiohttp.ClientSession() as http,
        FakeSlack() as fake,
        slack_bot(service, fake) as bot,
    ):
        _, ack = await slash(http, bot, fake, "/export json", channel_id="C42")
        assert "The event log: 32 events." in json.dumps(ack)
        await fake.wait_for_call("files.completeUploadExternal")
        (upload,) = fake.uploads.values()
        assert len(json.loads(upload.data)) == 32
    assert list(temp_dir.iterdir()) == []


def test_a_file_over_the_upload_limit_gets_one_line_saying_what_fits(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"x" * 3_200_000)
    big = Attachment("log.csv", "text/csv", path=path)
    assert big.size == 3_200_000
    refusal = too_big(big, 2_000_000, "Slack")
    assert refusal is not None and refusal.error
    (line,) = refusal.sections[0].lines
    assert line == (
        "log.csv is 3.2 MB, over Slack's upload limit of 2.0 MB; ask for less: /export csv.gz "
        "(compressed), or a date range, e.g. /export since:2024-03-01 until:2024-03-31."
    )
    assert too_big(Attachment("board.png", "image/png", b"png"), 2_000_000, "Slack") is None
