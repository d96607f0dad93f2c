"""Recording a position a member already holds confirms it: its "since" stays at the first day
of the unbroken position, the reply and the holdouts show the latest source there is, and the
event is still logged."""

from __future__ import annotations


async def test_a_repeat_without_a_source_keeps_the_day_and_the_source(chat) -> None:
    reply = await chat("/undecided Slovakia")
    assert reply.startswith(
        "Recorded #33: Slovakia has no public position on 3 April 2024 (no source, rumoured). "
        "No change: it already did, since 2 April 2024 (belgium.postsen.com)."
    )
    assert "Slovakia: no public position since 2 April 2024 (belgium.postsen.com, reported)" in (
        await chat("/holdouts")
    )
    assert "#33 3 April 2024: Slovakia has no public position" in await chat("/history limit:1")
    digest = await chat("/digest")
    assert "Slovakia: no public position since 2 April 2024 (belgium.postsen.com, reported)" in (
        digest
    )


async def test_a_repeat_with_a_source_shows_the_newer_source(chat) -> None:
    await chat("/undecided Slovakia source:https://www.reuters.com/sk")
    holdouts = await chat("/holdouts")
    assert "Slovakia: no public position since 2 April 2024 (reuters.com, reported)" in holdouts
    # a later repeat without one keeps the newer source
    await chat("/undecided Slovakia confidence:reported")
    assert "Slovakia: no public position since 2 April 2024 (reuters.com, reported)" in (
        await chat("/holdouts")
    )


async def test_a_change_of_position_starts_a_new_since(chat) -> None:
    await chat("/oppose Slovakia Rutte on:2024-04-03 confidence:reported")
    await chat("/undecided Slovakia on:2024-04-03 confidence:reported")
    assert "Slovakia: no public position since 3 April 2024 (no source, reported)" in (
        await chat("/holdouts")
    )
