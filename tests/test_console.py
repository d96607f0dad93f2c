"""Conversations through the console adapter, as a user would type them."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import make_service

from bot.adapters.console import Console
from bot.domain import Actor


async def test_tally_shows_the_articles_situation(chat):
    reply = await chat("/tally")
    assert "28/32\n  Needs 4 more for unanimity." in reply
    assert "Opposes (1): Hungary" in reply
    assert "Backs Klaus Iohannis (1): Romania" in reply
    assert "No public position (2): Slovakia, Türkiye" in reply
    assert "97 days until the Washington summit on 9 July 2024." in reply


async def test_endorse_then_tally_counts_the_new_backer(chat):
    reply = await chat("/endorse Türkiye Rutte source:https://example.org/tr note:Erdogan agrees")
    assert reply.startswith("Recorded #33: Türkiye supports Mark Rutte on 3 April 2024")
    assert "It replaces #32: Türkiye has no public position." in reply
    assert "Mark Rutte: 29/32; needs 3 more for unanimity." in reply
    assert "29/32\n  Needs" in await chat("/tally Rutte")
    repeat = await chat("/endorse Turkey Mark Rutte")
    assert "No change: it already did, since 3 April 2024 (example.org)." in repeat


async def test_typo_in_member_gets_a_suggestion_and_writes_nothing(chat, service):
    before = len(await service.store.events(service.race.id))
    reply = await chat("/endorse Estonai Rutte")
    assert reply == "Error: Unknown member 'Estonai'. Did you mean Estonia?"
    assert len(await service.store.events(service.race.id)) == before


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("/endorse Estonia Rute", "Unknown candidate 'Rute'. Did you mean Mark Rutte?"),
        ("/endorse Estonia Rutte on:2024-02-30", "on:2024-02-30 is not a date; use YYYY-MM-DD"),
        ("/endorse Estonia Rutte on:2024-05-01", "on:2024-05-01 is after today (2024-04-03)"),
        ("/endorse Estonia Rutte on:0001-01-01", "is too far back; this race's events are dated"),
        ("/endorse Estonia Rutte on:20240402", "on:20240402 is not a date; use YYYY-MM-DD"),
        ("/tally as_of:2024-04-04", "as_of:2024-04-04 is after today (2024-04-03); the tally"),
        ("/tally as_of:0001-01-01", "as_of:0001-01-01 is too far back"),
        ("/chart timeline as_of:1900-01-01", "as_of:1900-01-01 is too far back"),
        ("/endorse Estonia Rutte source:ftp://x", "is not a web address; give an http(s) URL"),
        ("/endorse Estonia Rutte note:" + "x" * 501, "keep it to 500"),
        ("/endorse Estonia Rutte date:2024-04-01", "Unknown option 'date:'; /endorse takes on:"),
        ("/endorse Estonia", "/endorse needs candidate"),
        ("/oppose Hungary", "/oppose needs candidate"),
        ("/tallly", "Unknown command '/tallly'. Did you mean /tally?"),
        ("/history limit:500", "limit:500 is out of range; use 1 to 100."),
        ("/export pdf", "'pdf' is not one of csv, json, csv.gz, json.gz."),
        ("/export since:2024-04-02 until:2024-03-01", "since:2024-04-02 is after until:2024-03-01"),
        ("/endorse Estonia Rutte on:", "on: needs a value, e.g. on:2024-04-02"),
        ("/endorse Estonia Rutte note:a note:b", "note: is given twice; give it once."),
        ("/endorse Hungary Rutte https://x.org/a", "looks like a source; write source:https://x"),
        ("/undecided Hungary Rutte", "'Rutte' is one argument too many: /undecided <member>"),
        ("/export csv json", "'json' is one argument too many"),
        ("/endorse Hungary Mark Rutte on:2024-02-30", "on:2024-02-30 is not a date"),
        ("/endorse Hungary Iohannis extra", "'extra' is one argument too many: /endorse"),
        ("/endorse North Macedonai Mark Rutte", "Unknown member 'North Macedonai'. Did you mean"),
        ("/chart board Jan Rutte", "Unknown candidate 'Jan Rutte'. Did you mean Mark Rutte?"),
        ("/tally " + "x" * 2000, "keep it to 2000"),
        ("/countdown now", "/countdown takes no arguments"),
    ],
)
async def test_bad_input_gets_one_clear_line_and_writes_nothing(chat, service, line, error):
    before = len(await service.store.events(service.race.id))
    reply = await chat(line)
    assert reply.startswith("Error: ") and error in reply
    assert "\n" not in reply
    assert len(await service.store.events(service.race.id)) == before


async def test_member_names_with_spaces_quotes_and_aliases(chat):
    assert "North Macedonia opposes Mark Rutte" in await chat("/oppose North Macedonia Mark Rutte")
    assert "North Macedonia supports Mark Rutte" in await chat('/endorse "north macedonia" rutte')
    assert "Czechia opposes Mark Rutte" in await chat("/oppose Czech Republic Rutte")
    assert "United Kingdom opposes Klaus Iohannis" in await chat("/oppose UK Iohannis")
    assert "Türkiye supports Klaus Iohannis" in await chat("/endorse TÜRKİYE Klaus Iohannis")
    assert "Netherlands supports Mark Rutte" in await chat("/endorse holland rutte")


async def test_control_characters_are_taken_out_of_notes(chat, service):
    await chat("/endorse Estonia Rutte note:\x1b[31mred\u202etxt.exe")
    (event,) = await service.history(limit=1)
    assert event.note == "[31mredtxt.exe"


async def test_a_note_is_kept_as_typed(chat, service):
    await chat('/endorse Estonia Rutte Note:He said "we agree"  on a 5" screen')
    (event,) = await service.history(limit=1)
    assert event.note == 'He said "we agree"  on a 5" screen'
    await chat('/endorse "North Macedonia" Rutte note:"quoted whole"')  # quotes group words
    (event,) = await service.history(limit=1)
    assert (event.member, event.note) == ("MK", "quoted whole")


async def test_a_note_runs_over_several_words(chat, service):
    await chat(
        "/undecided Slovakia note:Fico wants Iohannis out first source:https://example.org/sk"
    )
    (event,) = await service.history(limit=1)
    assert event.note == "Fico wants Iohannis out first"
    assert event.source == "https://example.org/sk"


async def test_as_of_replays_by_the_day_events_happened(chat):
    # Recorded today, but it happened in February: it counts from then on.
    await chat("/endorse Poland Rutte on:2024-02-23 source:https://example.org/pl")
    earlier = await chat("/tally Rutte as_of:2024-02-22")
    # Sweden joined on 7 March 2024: before that day there were 31 allies, not 32
    assert "as of 22 February 2024" in earlier and "4/31\n  Needs" in earlier
    assert "5/31\n  Needs" in await chat("/tally Rutte as_of:2024-02-23")
    assert "5/32\n  Needs" in await chat("/tally Rutte as_of:2024-03-07")
    assert "28/32\n  Needs" in await chat("/tally Rutte")


async def test_backfilling_an_older_position_does_not_replace_a_newer_one(chat):
    reply = await chat("/undecided Estonia on:2024-01-10")
    assert "later position of 2 April 2024 still stands" in reply
    assert "replaces" not in reply and "No change" not in reply
    assert "28/32\n  Needs" in await chat("/tally")
    assert "Estonia" not in (await chat("/tally as_of:2024-03-01")).split("The rest")[0]


async def test_undo_reverts_the_callers_last_event_by_appending(chat, service):
    await chat("/endorse Hungary Rutte source:https://example.org/hu")
    assert "29/32" in await chat("/tally Rutte")
    reply = await chat("/undo")
    assert "Undid #33 (Hungary supports Mark Rutte) by recording #34." in reply
    assert "Hungary now: opposes Mark Rutte." in reply
    assert "28/32" in await chat("/tally Rutte")
    history = await chat("/history Hungary")
    assert "#34 3 April 2024: undo of #33 (Hungary supports Mark Rutte)" in history
    assert "#33 3 April 2024: Hungary supports Mark Rutte" in history
    assert "You have nothing left to undo" in await chat("/undo")


async def test_history_is_newest_first_with_outlet_and_recorder(chat):
    await chat("/endorse Slovakia Rutte source:https://www.example.org/sk")
    history = await chat("/history limit:2")
    lines = [line for line in history.splitlines() if line.startswith("#")]
    assert lines[0] == (
        "#33 3 April 2024: Slovakia supports Mark Rutte · example.org, reported · recorded by "
        "console user"
    )
    assert lines[1].startswith("#32 2 April 2024: Türkiye has no public position")
    assert len(lines) == 2


async def test_holdouts_list_position_and_latest_source(chat):
    reply = await chat("/holdouts")
    assert reply.startswith("Holdouts on Mark Rutte: 4 of 32")
    assert "Hungary: opposes since 2 April 2024 (politico.eu, on record)" in reply
    assert "https://" not in reply and reply.endswith("Mark Rutte needs 4 more for unanimity.")
    assert "Romania: backs Klaus Iohannis" in reply


async def test_countdown_after_the_deadline_and_when_the_rule_is_met(service, tmp_path):
    chat = Console(service, tmp_path).handle
    for member, day in (
        ("Türkiye", "2024-04-29"),
        ("Slovakia", "2024-06-18"),
        ("Hungary", "2024-06-18"),
        ("Romania", "2024-06-20"),
    ):
        service.clock.pinned_today = service.race.deadline.on
        await chat(f"/endorse {member} Rutte on:{day} source:https://example.org/{day}")
    reply = await chat("/countdown")
    assert reply == (
        "Mark Rutte reached unanimity on 20 June 2024, 19 days before the Washington summit "
        "on 9 July 2024."
    )
    assert "Has unanimity." in await chat("/tally Rutte")
    service.clock.pinned_today = None  # today, long after the summit
    await chat("/undecided Romania source:https://example.org/ro")
    assert "The Washington summit on 9 July 2024 was" in await chat("/countdown")


async def test_candidates_add_and_withdraw(chat):
    assert "Added candidate Kaja Kallas" in await chat("/candidate add Kaja Kallas Estonia")
    assert "Kaja Kallas (Estonia): 0/32 backers" in await chat("/candidates")
    assert "Estonia supports Kaja Kallas" in await chat("/endorse Estonia Kallas")
    assert await chat("/endorse Poland Kallas on:2024-03-01") == (
        "Error: Kaja Kallas was not a candidate on 1 March 2024; date the position on a day "
        "they were."
    )
    assert "already a candidate" in await chat("/candidate add kaja kallas")
    assert "Klaus Iohannis withdrew on 3 April 2024" in await chat("/candidate withdraw Iohannis")
    tally = await chat("/tally")
    assert "Klaus Iohannis (Romania)\n" not in tally  # no section of its own
    assert "Backs Klaus Iohannis (withdrawn) (1): Romania" in tally
    assert "withdrew on 3 April 2024; record positions on an active candidate" in await chat(
        "/endorse Romania Iohannis"
    )
    assert "/candidate needs a subcommand" in await chat("/candidate")
    # Looking back, a candidate is in the race until the day it withdrew.
    assert "Klaus Iohannis (Romania)" in await chat("/tally as_of:2024-04-02")
    assert "date the return on or after that day" in await chat(
        "/candidate add Klaus Iohannis on:2024-04-01"
    )
    assert "Klaus Iohannis is back in the race" in await chat("/candidate add Klaus Iohannis")
    assert "1/32\n  Needs 31 more" in await chat("/tally")


async def test_non_editor_may_query_but_not_record(service, tmp_path):
    reader = Console(service, tmp_path, actor=Actor("console", "r", "reader")).handle
    assert "28/32" in await reader("/tally")
    for line in ("/undo", "/candidate add Jens Stoltenberg"):
        reply = await reader(line)
        assert reply.startswith("Error: Only editors can use /"), reply
    # a reader's recording is a proposal an editor reviews: nothing goes into the log
    assert await reader("/endorse Estonia Rutte") == "Proposed #1; an editor will review it."
    assert len(await service.store.events(service.race.id)) == 32


async def test_export_writes_the_whole_log(chat, tmp_path):
    await chat('/endorse Slovakia Rutte note:=HYPERLINK("http://evil.example","x")')
    reply = await chat("/export json")
    path = Path(reply.rsplit("Saved to ", 1)[1])
    rows = json.loads(path.read_text())
    assert len(rows) == 33 and rows[-1]["member"] == "SK"
    assert rows[-1]["recorded_by_name"] == "console user"
    assert rows[-1]["note"].startswith("=HYPERLINK")  # JSON keeps the text as typed
    assert (rows[-1]["candidate_name"], rows[0]["reverts"]) == ("Mark Rutte", None)
    csv_reply = await chat("/export")
    raw = Path(csv_reply.rsplit("Saved to ", 1)[1]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 33 and rows[31]["member_name"] == "Türkiye"
    assert rows[-1]["note"].startswith("'=HYPERLINK")  # not run as a formula


async def test_export_a_date_range_gzipped(chat):
    reply = await chat("/export json.gz since:2024-02-01 until:2024-03-31")
    assert reply.startswith("The event log from 1 February 2024 to 31 March 2024: 4 events.")
    path = Path(reply.rsplit("Saved to ", 1)[1])
    assert path.name.endswith(".json.gz")
    rows = json.loads(gzip.decompress(path.read_bytes()))
    assert {r["happened_on"] for r in rows} == {"2024-02-22"} and len(rows) == 4


async def test_help_lists_every_command(chat):
    from bot.commands.spec import COMMANDS

    reply = await chat("/help")
    for command in COMMANDS.values():
        assert command.usage in reply
    assert "e.g. /history Hungary limit:5" in await chat("/help history")


async def test_piped_console_prints_each_reply_and_survives_errors(service, tmp_path):
    out = io.StringIO()
    stdin = io.StringIO("/countdown\n\n# a comment\n/endorse Nowhere Rutte\n/candidates\n")
    await Console(service, tmp_path, stdin=stdin, stdout=out).run()
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "97 days until the Washington summit on 9 July 2024. The target moved on 2 April 2024"
        " from the NATO foreign ministers' meeting (3 April 2024)."
    )
    assert lines[1].startswith("Error: Unknown member 'Nowhere'")
    assert "Mark Rutte (Netherlands): 28/32 backers" in out.getvalue()


def test_cli_console_demo_then_restart_keeps_everything(tmp_path):
    """`python -m bot console` as a script drives it; a second run sees the first's writes."""
    db = tmp_path / "cli.db"
    args = [sys.executable, "-m", "bot", "console", "--demo", "--today", "2024-04-03", "--db", db]
    first = subprocess.run(
        args,
        input="/endorse Slovakia Rutte confidence:reported\n/bogus\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    # the ids are the log's, over every race: the four races' seeds hold 74 events
    assert "Recorded #75: Slovakia supports Mark Rutte" in first.stdout
    assert "Unknown command '/bogus'" in first.stdout
    second = subprocess.run(args, input="/tally Rutte\n", capture_output=True, text=True)
    assert second.returncode == 0
    assert "29/32\n  Needs" in second.stdout  # demo data was not loaded twice


def test_cli_reports_a_bad_config_in_one_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('timezone = "Europe/Brusels"\n')
    run = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--config", config],
        capture_output=True,
        text=True,
        input="",
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "tallybot: timezone = 'Europe/Brusels' is not an IANA time zone; "
        "use a name like 'Europe/Brussels'."
    )


async def test_a_bug_is_one_line_and_the_console_goes_on(chat, monkeypatch, caplog):
    from bot.commands.handlers import HANDLERS
    from bot.commands.run import FAILED

    async def broken(ctx, args):
        raise KeyError("a bug")

    monkeypatch.setitem(HANDLERS, "countdown", broken)
    assert await chat("/countdown") == f"Error: {FAILED}"
    assert "a bug" in caplog.text  # the traceback is in the log
    assert "28/32" in await chat("/tally")


@pytest.mark.parametrize("kind", ["not a database", "a folder"])
def test_cli_refuses_an_unusable_database_in_one_line(tmp_path, kind):
    db = tmp_path / "junk.db"
    if kind == "a folder":
        db.mkdir()
    else:
        db.write_text("garbage, not SQLite")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", db],
        input="/tally\n", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.startswith(
        f"tallybot: Cannot use the database {db}"
    ) or run.stderr.startswith(f"tallybot: Cannot open the database {db}")
    assert len(run.stderr.strip().splitlines()) == 1


async def test_candidate_changes_can_be_dated(chat):
    reply = await chat("/candidate add Kaja Kallas Estonia on:2024-03-12")
    assert reply.startswith("Added candidate Kaja Kallas, nominated by Estonia.")
    assert "Estonia supports Kaja Kallas" in await chat("/endorse Estonia Kallas on:2024-03-20")
    assert "withdrew on 25 March 2024" in await chat("/candidate withdraw Kallas on:2024-03-25")
    assert "Kaja Kallas (Estonia)" in await chat("/tally as_of:2024-03-24")
    assert "Kaja Kallas (Estonia)" not in await chat("/tally as_of:2024-03-25")
    assert "Kaja Kallas (Estonia)" not in await chat("/tally as_of:2024-03-11")


async def test_an_undo_is_dated_by_the_local_day_it_was_recorded(tmp_path):
    """Recorded at 00:30 in Brussels, which is still the day before in UTC: /history says the
    Brussels day, whatever the hour the test runs at."""
    service = await make_service(tmp_path / "t.db")
    brussels = ZoneInfo("Europe/Brussels")
    service.store.clock = lambda: datetime(2024, 4, 3, 0, 30, tzinfo=brussels).astimezone(UTC)
    chat = Console(service, tmp_path / "files").handle
    await chat("/endorse Hungary Rutte")
    await chat("/undo")
    assert "#34 3 April 2024: undo of #33" in await chat("/history Hungary")
    await service.store.close()
