"""User text is kept and shown as one line of visible text; sources as plain web addresses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.adapters.console import Console
from bot.domain import Candidate, TallyError
from bot.render import to_slack
from bot.text import check_source, one_line, safe_filename, skeleton

INVISIBLE = "\u2028\u2029\u200b\u200c\u200d\u200e\u200f\u061c\ufeff\u202e\u2066\x00\x1b\u00ad"


async def events(service) -> int:
    return len(await service.store.events(service.race.id))


async def test_a_note_cannot_forge_a_history_line(chat, service):
    forged = "fine\n#99 2024-04-03: Hungary supports Mark Rutte\r\nand\u2028more"
    assert (await chat(f"/endorse Hungary Rutte note:{forged}")).startswith("Recorded #")
    [latest] = await service.history(limit=1)
    assert latest.note == "fine #99 2024-04-03: Hungary supports Mark Rutte and more"
    history = await chat("/history limit:1")
    assert len(history.splitlines()) == 3  # the title, a blank line, one entry


@pytest.mark.parametrize("char", list(INVISIBLE))
async def test_invisible_characters_are_dropped_from_notes(chat, service, char):
    await chat(f"/endorse Hungary Rutte note:Or{char}bán agrees")
    [latest] = await service.history(limit=1)
    assert latest.note in ("Orbán agrees", "Or bán agrees")  # a line break becomes a space
    assert one_line(f"a{char}b") in ("ab", "a b")


async def test_a_look_alike_host_is_shown_in_punycode(chat, service):
    reply = await chat("/endorse Hungary Rutte source:https://rеuters.com/world/\u202eabc")
    assert "(xn--ruters-3of.com, reported)" in reply  # the label under the link shows the real host
    [latest] = await service.history(limit=1)
    assert latest.source == "https://xn--ruters-3of.com/world/abc"


async def test_a_source_with_a_login_is_refused_and_nothing_is_written(chat, service):
    before = await events(service)
    reply = await chat("/endorse Hungary Rutte source:https://editor:s3cret@example.org/a")
    assert reply == (
        "Error: The source has a login in it (the part before @), which every reader would "
        "see; give the address without it: source:https://example.org/a"
    )
    assert "s3cret" not in reply
    assert await events(service) == before


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("https://a.example/x?y=1", "https://a.example/x?y=1"),
        ("HTTPS://WWW.Example.org:8080/A#b", "https://www.example.org:8080/A#b"),
        ("<https://a.example/\u200bx>", "https://a.example/x"),
        ("https://bücher.example/ü", "https://xn--bcher-kva.example/ü"),
    ],
)
def test_sources_become_plain_http_addresses(typed, kept):
    assert check_source(typed) == kept


@pytest.mark.parametrize(
    "typed", ["ftp://a.example", "https://", "https://a.example:port/", "javascript:alert(1)"]
)
def test_what_is_not_a_web_address_is_refused(typed):
    with pytest.raises(TallyError, match="is not a web address; give an http"):
        check_source(typed)


def test_three_backticks_in_a_note_open_no_code_block_in_slack():
    from bot.replies import Reply, Section

    reply = Reply(sections=(Section("History", ("#1 “```rest of it”", "#2 next line")),))
    fallback, blocks = to_slack(reply)
    assert "```" not in blocks[0]["text"]["text"] and "```" not in fallback
    assert "#2 next line" in blocks[0]["text"]["text"]


async def test_look_alike_candidates_are_refused_naming_the_existing_one(chat, service):
    assert await chat("/candidate add Mark Rutte\u200b") == (
        "Error: Mark Rutte is already a candidate."
    )
    assert await chat("/candidate add Mаrk Rutte") == (  # a Cyrillic а
        "Error: 'Mаrk Rutte' looks like Mark Rutte, already a candidate (only look-alike "
        "letters, accents or punctuation differ); type the name in plain letters."
    )
    assert await chat("/candidate add Klaus Ιohannis.") == (  # a Greek Ι, a full stop
        "Error: 'Klaus Ιohannis.' looks like Klaus Iohannis, already a candidate (only "
        "look-alike letters, accents or punctuation differ); type the name in plain letters."
    )
    assert [c.name for c in service.roster.candidate_list] == ["Mark Rutte", "Klaus Iohannis"]
    assert (await chat("/endorse Estonia Rutte")).startswith("Recorded")  # not ambiguous


def test_skeletons_tell_look_alikes_and_only_them():
    assert skeleton("Mаrk Rutte") == skeleton("MARK  RUTTE\u200b") == skeleton("Mark Rütte")
    assert skeleton("Mark Rutte") != skeleton("Mark Ruttel")


async def test_a_nul_in_a_name_does_not_stop_the_piped_console(service, tmp_path):
    stdin = io.StringIO("/candidate add Jean\x00 Dupont\n/chart board Dupont\n/tally\n")
    stdout = io.StringIO()
    await Console(service, tmp_path / "files", stdin, stdout).run()
    out = stdout.getvalue()
    assert "Added candidate Jean Dupont." in out
    assert "Saved to" in out and "back Mark Rutte" in out  # the chart, then /tally
    assert "\x00" not in out


async def test_chart_file_names_are_made_of_safe_characters(service, tmp_path):
    """Even for a candidate whose stored key came from elsewhere (an older version)."""
    from bot import charts
    from bot.domain import Actor

    editor = Actor("console", "ed", "editor", is_editor=True)
    odd = Candidate(key="../x\x00y z", name="Odd Name")
    await service.store.add_candidate(service.race.id, odd, service.today(), editor)
    await service.start()  # reads the candidates again
    attachment = (await charts.chart_reply(service, "board", odd)).attachment
    assert attachment.filename == "nato-sg-2024-board-..-x-y-z-2024-04-03.png"
    saved = Path(Console(service, tmp_path / "files").save(attachment_reply(attachment)))
    assert saved.parent == (tmp_path / "files").resolve()


def attachment_reply(attachment):
    from bot.replies import Reply

    return Reply(attachment=attachment)


@pytest.mark.parametrize(
    ("name", "safe"),
    [("a/../../etc/passwd", "a-..-..-etc-passwd"), (".hidden", "hidden"), ("\x00", "file")],
)
def test_safe_filenames(name, safe):
    assert safe_filename(name) == safe
