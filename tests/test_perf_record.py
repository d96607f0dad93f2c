"""A repeated recording and /holdouts find the unbroken position's first day and latest source
with work bounded by the run itself, not by the member's whole log: counted in events built and
SQLite steps on the reading connection, never timed."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import make_service

import bot.store.store as store_module
from bot.domain import Actor, Confidence, Position, Standing
from bot.service import Service

DAY = date(2024, 4, 3)
SOURCE = "https://www.reuters.com/sk"
REPORTED = Confidence.REPORTED  # no source, said to be sure enough to count


async def _work_of_a_repeat(service: Service, editor: Actor, history: int, monkeypatch) -> tuple:
    """Slovakia alternates `history` times, then holds 'no public position' (once with a
    source); the work of one more repeat and of the holdouts' standings."""
    slovakia = service.roster.member("Slovakia")
    rutte = service.roster.candidate("rutte")
    for i in range(history):
        position = Position.OPPOSES if i % 2 == 0 else Position.UNDECIDED
        await service.record(editor, slovakia, position, rutte, on=DAY, confidence=REPORTED)
    await service.record(editor, slovakia, Position.OPPOSES, rutte, on=DAY, confidence=REPORTED)
    await service.record(editor, slovakia, Position.UNDECIDED, on=DAY, source=SOURCE)
    tally = await service.tally()

    built = 0
    real_event = store_module._event

    def counting_event(row):
        nonlocal built
        built += 1
        return real_event(row)

    steps = 0

    def count_step() -> int:
        nonlocal steps
        steps += 1
        return 0

    monkeypatch.setattr(store_module, "_event", counting_event)
    await service.store.reader.set_progress_handler(count_step, 10)
    recorded = await service.record(
        editor, slovakia, Position.UNDECIDED, on=DAY, confidence=REPORTED
    )
    confirmed = await service.confirmed(tally)
    await service.store.reader.set_progress_handler(None, 10)
    monkeypatch.setattr(store_module, "_event", real_event)

    holdouts = [h for t in confirmed.candidates for h in t.holdouts if h.member == slovakia]
    assert recorded.standing == Standing(DAY, SOURCE)
    assert holdouts and all(h.standing == Standing(DAY, SOURCE) for h in holdouts)
    return built, steps


async def test_a_repeat_and_the_holdouts_cost_the_same_on_a_long_log(
    empty_service: Service, editor: Actor, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    short = await _work_of_a_repeat(empty_service, editor, 4, monkeypatch)
    other = await make_service(tmp_path / "long.db", demo=False)
    try:
        long = await _work_of_a_repeat(other, editor, 400, monkeypatch)
    finally:
        await other.store.close()
    built, steps = long
    assert built == short[0], f"events built: {short[0]} with 4 earlier events, {built} with 400"
    assert steps <= short[1] + 5, f"SQLite steps/10: {short[1]} with 4 earlier, {steps} with 400"


async def test_an_undone_change_does_not_break_the_run(chat) -> None:
    await chat("/oppose Slovakia Rutte")
    await chat("/undo")
    reply = await chat("/undecided Slovakia")
    assert "No change: it already did, since 2 April 2024 (belgium.postsen.com)." in reply
    assert (
        "Slovakia: no public position since 2 April 2024 (belgium.postsen.com, reported)"
        in await chat("/holdouts")
    )
