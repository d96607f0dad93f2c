"""What /tally counts by how sure each position is: on record and reported, never a rumour (a
rumour leaves a member where its surer position had it), and strictly, on record alone."""

from __future__ import annotations

from datetime import date

from conftest import make_service

from bot.adapters.console import Console
from bot.domain import Actor, Confidence, Position

EDITOR = Actor("console", "ed", "Edna", is_editor=True)
NEWS = "source:https://www.reuters.com/world/nato"


def section(reply: str, title: str) -> str:
    """The lines of a reply's section, from its title to the next blank line."""
    return reply.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]


async def test_a_rumour_is_listed_apart_and_leaves_the_member_where_it_was(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    before = await say("/tally")
    assert "28/32" in before and "Rumoured, not counted" not in before

    recorded = await say("/endorse Estonia Iohannis")  # no source: a rumour
    assert "Estonia supports Klaus Iohannis on 3 April 2024 (no source, rumoured)." in recorded
    assert ": Estonia supports Mark Rutte still counts." in recorded  # its surer position
    assert "it is not counted: record it again with source:URL" in recorded
    assert "Klaus Iohannis: 1/32; needs 31 more" in recorded  # Romania alone: not moved

    tally = await say("/tally")
    assert "██████████████░░ 28/32" in tally and "1/32" in tally  # Estonia still backs Rutte
    assert section(tally, "Rumoured, not counted") == (
        "  Estonia supports Klaus Iohannis (3 April 2024)"
    )
    # the same, read as of today rather than from what is kept between writes
    assert (await say("/tally as_of:2024-04-03")).split("\n", 1)[1] == tally.split("\n", 1)[1]
    assert "Estonia" not in await say("/holdouts")
    history = await say("/history Estonia limit:1")
    assert "Estonia supports Klaus Iohannis · no source, rumoured · recorded by Edna" in history

    await say(f"/endorse Estonia Iohannis {NEWS}")  # the same news, now sourced: it counts
    tally = await say("/tally")
    assert "27/32" in tally and "2/32" in tally and "Rumoured, not counted" not in tally
    assert "Estonia: backs Klaus Iohannis since 3 April 2024 (reuters.com, reported)" in (
        await say("/holdouts")
    )


async def test_a_rumour_never_meets_the_rule_nor_moves_the_day_it_was_met(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    for member in ("Türkiye", "Slovakia", "Hungary"):
        await say(f"/endorse {member} Rutte {NEWS}")
    await say("/endorse Romania Rutte")  # the last holdout, only rumoured
    assert (await say("/countdown")).startswith("97 days until the Washington summit")
    assert "Needs 1 more for unanimity." in await say("/tally")

    await say(f"/endorse Romania Rutte {NEWS}")
    met = "Mark Rutte reached unanimity on 3 April 2024, 97 days before the Washington summit"
    assert (await say("/countdown")).startswith(met)
    await say("/oppose Romania Rutte")  # a rumour of a change: still met, on the same day
    assert (await say("/countdown")).startswith(met)
    assert "Has unanimity." in await say("/tally")


async def test_the_tally_says_how_many_backers_are_only_reported(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    rutte = (await service.tally()).shown()
    on_record = rutte.count - len(rutte.reported)
    assert rutte.reported and on_record  # the race file has some of each
    tally = await service.tally()
    await say(f"/endorse Türkiye Rutte {NEWS} confidence:on-record")
    line = f"{len(rutte.reported)} of the 29 only reported; /tally strict:yes counts the "
    assert f"{line}{on_record + 1} on record." in await say("/tally")
    summary = (await service.tally()).shown()
    assert (summary.count, len(summary.reported)) == (29, len(tally.shown().reported))


async def test_a_strict_tally_counts_positions_on_record_only(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    counted = (await service.tally()).shown()
    on_record = counted.count - len(counted.reported)
    strict = await say("/tally strict:yes")
    assert strict.startswith("NATO Secretary-General 2024, on record only\n")
    assert f"{on_record}/32" in strict
    assert "only reported" not in strict  # every backer it counts is on record
    assert "have no position on record" in strict  # the reported ones, uncounted here
    assert "Not on record, so not counted here: " in strict

    await say(f"/endorse Latvia Rutte {NEWS} confidence:on-record")
    assert f"{on_record + 1}/32" in await say("/tally strict:yes")
    assert "28/32" in await say("/tally")  # Latvia backed Rutte already, as reported

    # strictly, the rule is not met while a backer is only reported
    for member in ("Türkiye", "Slovakia", "Hungary", "Romania"):
        await say(f"/endorse {member} Rutte {NEWS}")
    assert "Has unanimity." in await say("/tally")
    strict = await say("/tally strict:yes")
    assert "Has unanimity." not in strict and "reached unanimity" not in strict
    assert await say("/tally strict:sure") == "Error: 'sure' is not one of yes, no."


async def test_strict_and_counted_replays_keep_apart_across_processes(tmp_path):
    """Two services on one file: what one records, the other's strict and counted countdowns
    read at once, each from its own replay."""
    first = await make_service(tmp_path / "t.db")
    second = await make_service(tmp_path / "t.db")
    try:
        rutte = first.roster.candidate("Rutte")
        shown = (await first.tally()).shown()
        on_record = {m.code for m in shown.backers} - shown.reported
        assert await second.countdown(await second.tally(strict=True)) == (
            "97 days until the Washington summit on 9 July 2024."
        )
        for member in first.race.members:
            if member.code in on_record:
                continue
            await first.record(
                EDITOR, member, Position.SUPPORTS, rutte, confidence=Confidence.ON_RECORD
            )
        strict = await second.tally(strict=True)
        assert strict.shown().count == 32 and strict.shown().met
        assert (await second.countdown(strict)).startswith("Mark Rutte reached unanimity on 3")
        await first.undo(EDITOR)  # the last one: 31 on record
        assert not (await second.tally(strict=True)).shown().met
        assert not (await second.countdown(await second.tally(strict=True))).startswith("Mark")
        # counted, it depends on the undone member's earlier position; the line agrees
        counted = await second.tally(as_of=date(2024, 4, 3))
        line = await second.countdown(counted)
        assert line.startswith("Mark Rutte reached") is counted.shown().met
    finally:
        await first.store.close()
        await second.store.close()
