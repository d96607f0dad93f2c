"""/tally and /holdouts as a reader reads them: the count said once, a trailing candidate's
own backers and opponents with the rest as counts, sources as outlets, a one-line summary."""

from __future__ import annotations

from bot.commands.run import Context, run_line
from bot.domain import Actor
from bot.service import Service


async def test_each_candidate_says_its_count_once(chat) -> None:
    reply = await chat("/tally")
    assert reply.count("28/32") == 1 and reply.count("1/32") == 1
    assert "  ██████████████░░ 28/32\n  Needs 4 more for unanimity.\n" in reply


async def test_a_trailing_candidate_lists_its_own_side_and_counts_the_rest(chat) -> None:
    await chat("/oppose Canada Iohannis source:https://example.org/ca")
    reply = await chat("/tally")
    iohannis = reply.split("Klaus Iohannis (Romania)\n")[1]
    assert iohannis.startswith(
        "  █░░░░░░░░░░░░░░░ 1/32\n"
        "  Needs 31 more for unanimity.\n"
        "  Backs (1): Romania\n"
        "  Opposes (1): Canada\n"
        "  The rest: 27 back Mark Rutte, 1 opposes Mark Rutte, 2 have no public position.\n"
    )
    assert "Albania" not in iohannis


async def test_holdouts_name_the_outlet_and_say_what_is_needed(chat) -> None:
    reply = await chat("/holdouts")
    assert reply.splitlines()[2:] == [
        "🇭🇺 Hungary: opposes since 2 April 2024 (politico.eu, on record)",
        "🇷🇴 Romania: backs Klaus Iohannis since 2 April 2024 (belgium.postsen.com, on record)",
        "🇸🇰 Slovakia: no public position since 2 April 2024 (belgium.postsen.com, reported)",
        "🇹🇷 Türkiye: no public position since 2 April 2024 (belgium.postsen.com, reported)",
        "",
        "Mark Rutte needs 4 more for unanimity.",
    ]


async def test_tally_and_holdouts_each_have_a_one_line_summary(
    service: Service, editor: Actor
) -> None:
    """The line a notification, a screen reader or a fallback gets."""
    tally = await run_line(Context(service, editor), "/tally")
    assert tally.summary == (
        "Mark Rutte 28/32 (23 only reported), needs 4 more for unanimity · "
        "97 days until the Washington summit on 9 July 2024."
    )
    holdouts = await run_line(Context(service, editor), "/holdouts")
    assert (
        holdouts.summary == "Holdouts on Mark Rutte: 4 of 32: Hungary, Romania, Slovakia, Türkiye"
    )
