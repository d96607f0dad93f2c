"""Readers propose, editors decide: conversations through the console, and the rules behind
them (decided once, a newer recording asks to confirm, at most N open per reader)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import make_service

from bot.adapters.console import Console
from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.domain import Actor, TallyError
from bot.service_proposals import Reviewer, ReviewMessage, find_proposal

READER = Actor("console", "rita", "Rita")
EDITOR = Actor("console", "ed", "Edna", is_editor=True)
OTHER_EDITOR = Actor("console", "eve", "Eve", is_editor=True)


@pytest.fixture
def reader(service, tmp_path: Path):
    return Console(service, tmp_path / "files", actor=READER).handle


@pytest.fixture
def editor(service, tmp_path: Path):
    return Console(service, tmp_path / "files", actor=EDITOR).handle


async def test_a_reader_proposes_and_an_editor_approves_it(service, reader, editor):
    before = len(await service.store.events(service.race.id))
    proposed = await reader("/endorse Türkiye Rutte source:https://example.org/tr note:Erdogan")
    assert proposed == "Proposed #1; an editor will review it."
    assert len(await service.store.events(service.race.id)) == before  # nothing in the log
    assert "28/32" in await editor("/tally Rutte")

    waiting = await editor("/proposals")
    assert "#1: Türkiye supports Mark Rutte on 3 April 2024" in waiting
    assert "Source: https://example.org/tr" in waiting
    assert "Proposed by Rita." in waiting

    approved = await editor("/approve 1")
    assert approved.startswith("Recorded #33: Türkiye supports Mark Rutte on 3 April 2024")
    assert "Approved proposal #1, by Rita." in approved
    assert "29/32" in await reader("/tally Rutte")
    (event,) = await service.history(None, 1)
    assert (event.actor.name, event.source, event.note) == (
        "Edna",
        "https://example.org/tr",
        "Erdogan",
    )
    assert "No proposals wait for review" in await editor("/proposals")
    mine = await reader("/proposals")
    assert (
        "Proposal #1 (Türkiye supports Mark Rutte on 3 April 2024) was approved by Edna: "
        "recorded as #33." in mine
    )


async def test_a_rejection_keeps_its_reason_and_a_decided_proposal_says_by_whom(reader, editor):
    await reader("/undecided Estonia")
    rejected = await editor("/reject 1 note:Estonia backs Rutte on record")
    assert rejected == ("Proposal #1 was rejected by Edna: Estonia backs Rutte on record")
    assert "was rejected by Edna: Estonia backs Rutte on record" in await reader("/proposals")
    again = await editor("/approve 1")
    assert again == "Error: Proposal #1 was rejected already, by Edna."
    assert "28/32" in await editor("/tally Rutte")


async def test_a_reader_cannot_decide_nor_use_other_editor_commands(reader):
    await reader("/endorse Türkiye Rutte")
    assert (await reader("/approve 1")).startswith("Error: Only editors can use /approve.")
    assert (await reader("/reject 1")).startswith("Error: Only editors can use /reject.")
    assert (await reader("/undo")).startswith("Error: Only editors can use /undo.")


async def test_a_readers_recording_is_checked_as_an_editors_is(reader, service):
    assert await reader("/endorse Estonai Rutte") == (
        "Error: Unknown member 'Estonai'. Did you mean Estonia?"
    )
    assert "is after today" in await reader("/endorse Estonia Rutte on:2024-05-01")
    assert "is not a web address" in await reader("/endorse Estonia Rutte source:ftp://x")
    assert await service.proposals_of(READER) == []


async def test_two_editors_approving_at_once_record_it_once(tmp_path: Path):
    """Two processes on one database, each an editor approving proposal #1 at once."""
    first = await make_service(tmp_path / "tally.db")
    second = await make_service(tmp_path / "tally.db", demo=False)
    try:
        first.review_on("console", Reviewer())
        await run_line(Context(first, READER), "/endorse Türkiye Rutte")
        before = len(await first.store.events(first.race.id))
        (_, one), (_, two) = [
            await find_proposal(Context(s, EDITOR).desk, 1) for s in (first, second)
        ]
        results = await asyncio.gather(
            first.approve(EDITOR, one),
            second.approve(OTHER_EDITOR, two),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1
        (winner,) = won
        assert isinstance(lost[0], TallyError)
        assert str(lost[0]) == (
            f"Proposal #1 was approved already, by {winner.proposal.decider.name}."
        )
        assert len(await first.store.events(first.race.id)) == before + 1
        stored = await second.proposal(1)
        assert stored.event_id == winner.recorded.event.id
    finally:
        await first.store.close()
        await second.store.close()


async def test_a_newer_recording_of_the_member_asks_to_confirm(reader, editor):
    await reader("/endorse Türkiye Rutte source:https://example.org/tr")
    await editor("/oppose Türkiye Rutte source:https://example.org/no")
    asked = await editor("/approve 1")
    assert asked == (
        "Error: Türkiye was recorded again (#33, by Edna) after proposal #1: Türkiye supports "
        "Mark Rutte on 3 April 2024. Approve it anyway with /approve 1 confirm:yes, or /reject 1."
    )
    assert "28/32" in await editor("/tally Rutte")
    confirmed = await editor("/approve 1 confirm:yes")
    assert confirmed.startswith("Recorded #34: Türkiye supports Mark Rutte")
    assert "29/32" in await editor("/tally Rutte")


async def test_a_refused_approval_leaves_the_proposal_open(reader, editor):
    await reader("/endorse Estonia Iohannis")
    await editor("/candidate withdraw Iohannis")
    refused = await editor("/approve 1")
    assert refused.startswith("Error: Klaus Iohannis withdrew on 3 April 2024")
    assert "#1: Estonia supports Klaus Iohannis (withdrawn)" in await editor("/proposals")
    assert (await editor("/reject 1 note:he withdrew")).startswith("Proposal #1 was rejected")


async def test_a_reader_has_at_most_five_open_proposals(reader, editor):
    for member in ("Estonia", "Latvia", "Lithuania", "Poland", "Finland"):
        assert (await reader(f"/endorse {member} Iohannis")).startswith("Proposed #")
    refused = await reader("/endorse Sweden Iohannis")
    assert refused == (
        "Error: You have 5 proposals waiting for an editor already; propose more once one is "
        "decided (/proposals lists yours)."
    )
    await editor("/reject 1")
    assert (await reader("/endorse Sweden Iohannis")) == "Proposed #6; an editor will review it."


async def test_without_a_review_channel_a_reader_is_told_how_to_set_one_up(service):
    slack_reader = Actor("slack", "U1", "Rita")
    reply = await run_line(Context(service, slack_reader, "C1"), "/endorse Türkiye Rutte")
    assert reply.error
    assert reply.sections[0].lines == (
        "Only editors can use /endorse. Readers could propose it if a review channel were set "
        "up: whoever runs the bot can set [slack] review_channel in the config.",
    )
    assert await service.proposals_of(slack_reader) == []


async def test_an_unknown_proposal_is_named(editor):
    assert await editor("/approve 9") == (
        "Error: There is no proposal #9; /proposals lists the open ones."
    )


async def test_help_says_a_readers_recording_is_a_proposal(reader):
    assert "(editors; a reader's is a proposal)" in await reader("/help endorse")
    assert "/approve <number> [confirm:yes]: Approve a reader's proposal" in await reader("/help")


async def test_a_decision_lost_to_one_undone_meanwhile_says_to_try_again(
    reader, editor, service, monkeypatch
):
    """Another editor's approval claimed it first, then was refused (and so undone) before
    this one looked: nothing is recorded twice, and this editor is told to try again."""
    await reader("/endorse Türkiye Rutte")
    store = service.store

    async def claimed_by_someone_else(*args, **kwargs) -> bool:
        return False

    monkeypatch.setattr(store, "decide_proposal", claimed_by_someone_else)
    assert await editor("/approve 1") == (
        "Error: Proposal #1 was being decided by another editor; try again."
    )
    assert "28/32" in await editor("/tally Rutte")
    monkeypatch.undo()
    assert (await editor("/approve 1")).startswith("Recorded #33: Türkiye supports")


async def test_an_approved_proposal_keeps_who_proposed_it(service, reader, editor):
    await reader("/endorse Türkiye Rutte source:https://www.reuters.com/tr")
    await editor("/approve 1")
    await editor("/oppose Türkiye Rutte source:https://www.reuters.com/no")
    (typed, approved, *_) = await service.history(None, 3)
    proposers = await service.proposers([typed.id, approved.id, 1])
    assert proposers == {approved.id: READER}  # the editor's own recordings had no proposer
    assert await service.proposers([]) == {}


async def test_two_processes_sweeping_at_once_edit_a_review_message_once(tmp_path: Path):
    """Proposal #1's review message, kept in the database; a third process rejects it; the
    two bots' sweeps run at the same moment, and the message is edited once."""
    bots = [await make_service(tmp_path / "tally.db", demo=demo) for demo in (True, False)]
    console = await make_service(tmp_path / "tally.db", demo=False)
    edits: list[tuple[str, ReviewMessage]] = []

    async def show(proposal) -> ReviewMessage:
        return ReviewMessage("slack", "CREVIEW", "1.1")

    async def settle(proposal, where: ReviewMessage) -> None:
        await asyncio.sleep(0)  # let the other sweep run here
        edits.append((proposal.status, where))

    try:
        for bot in bots:
            bot.review_on("slack", Reviewer(proposed=show, settle=settle))
        slack_reader = Actor("slack", "UR", "Rita")
        await run_line(Context(bots[0], slack_reader, "CNEWS"), "/undecided Estonia")
        await console.reject(EDITOR, await console.proposal(1))
        assert edits == []  # no bot made the decision
        claimed = await asyncio.gather(*(bot.settle_reviews(platforms=("slack",)) for bot in bots))
        assert sorted(claimed) == [0, 1]
        assert edits == [("rejected", ReviewMessage("slack", "CREVIEW", "1.1"))]
        assert [await bot.settle_reviews() for bot in bots] == [0, 0]  # done for good
    finally:
        for service in (*bots, console):
            await service.store.close()
