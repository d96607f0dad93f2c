"""The service's use cases for readers' proposals: a reader's recording is kept as a proposal,
and an editor approves it (recorded through the same path as an editor's recording, every check
with it) or rejects it with a reason. Each platform that reviews proposals says so with
`review_on`; without it a reader's recording is refused with a line saying how to set one up."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, NoReturn

from bot.domain import (
    Actor,
    Candidate,
    Confidence,
    Event,
    Member,
    Position,
    Race,
    TallyError,
    format_date,
)
from bot.roster import Roster
from bot.text import check_note, check_source

if TYPE_CHECKING:  # the store's rows read these records; the service holds both
    from bot.desk import Desk
    from bot.service import Recorded, Service
    from bot.store.store import Store

log = logging.getLogger(__name__)

MAX_OPEN = 5  # open proposals per person, unless the platform's config says otherwise
MAX_LISTED = 20  # proposals /proposals shows
_COMMANDS = {
    Position.SUPPORTS: "endorse",
    Position.OPPOSES: "oppose",
    Position.ABSTAINS: "abstain",
    Position.UNDECIDED: "undecided",
}


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class NewProposal:
    race: str
    member: str  # a member's code
    position: Position
    candidate: str | None  # a candidate's key
    on: date
    proposer: Actor
    channel: str  # where it was proposed (the console's is "")
    source: str | None = None
    note: str | None = None
    confidence: Confidence | None = None  # None: by its source, when approved
    condition: str | None = None


@dataclass(frozen=True)
class Proposal:
    id: int
    race: str
    member: str
    position: Position
    candidate: str | None
    on: date
    proposer: Actor
    channel: str
    proposed_at: datetime
    status: ProposalStatus = ProposalStatus.OPEN
    source: str | None = None
    note: str | None = None
    decider: Actor | None = None
    decided_at: datetime | None = None
    reason: str | None = None  # a rejection's
    event_id: int | None = None  # what an approval recorded
    confidence: Confidence | None = None
    condition: str | None = None


Notify = Callable[[Proposal], Awaitable[None]]


@dataclass(frozen=True)
class Reviewer:
    """How one platform reviews its readers' proposals."""

    max_open: int = MAX_OPEN
    proposed: Notify | None = None  # shows a new proposal to the editors (a review channel)
    decided: Notify | None = None  # tells its proposer how it was decided


class NeedsConfirm(TallyError):
    """The member has a newer recording than the proposal: approve only when confirmed."""

    def __init__(self, proposal: Proposal, conflict: str) -> None:
        super().__init__(
            f"{conflict} Approve it anyway with /approve {proposal.id} confirm:yes, "
            f"or /reject {proposal.id}."
        )
        self.conflict = conflict


@dataclass(frozen=True)
class Approved:
    proposal: Proposal
    recorded: Recorded


class ProposalUseCases:
    """Part of the Service (which sets these attributes up)."""

    reviewers: dict[str, Reviewer]  # each platform that reviews proposals, by name
    store: Store
    race: Race
    roster: Roster
    checked_position: Callable[..., tuple[Candidate | None, date]]
    record: Callable[..., Awaitable[Recorded]]
    refresh: Callable[[], Awaitable[None]]
    candidate_names: Callable[[], dict[str, str]]

    def review_on(self, platform: str, reviewer: Reviewer) -> None:
        self.reviewers[platform] = reviewer

    async def propose(
        self,
        actor: Actor,
        channel: str,
        member: Member,
        position: Position,
        candidate: Candidate | None = None,
        on: date | None = None,
        source: str | None = None,
        note: str | None = None,
        confidence: Confidence | None = None,
        condition: str | None = None,
    ) -> Proposal:
        """A reader's recording, checked as a recording is, kept for an editor to review."""
        reviewer = self.reviewers.get(actor.platform)
        if reviewer is None:
            raise TallyError(
                f"Only editors can use /{_COMMANDS[position]}. Readers could propose it if a "
                f"review channel were set up: whoever runs the bot can set [{actor.platform}] "
                "review_channel in the config."
            )
        candidate, day = self.checked_position(member, position, candidate, on)
        new = NewProposal(
            race=self.race.id,
            member=member.code,
            position=position,
            candidate=candidate.key if candidate else None,
            on=day,
            proposer=actor,
            channel=channel,
            source=check_source(source),
            note=check_note(note),
            confidence=confidence,
            condition=check_note(condition, "condition"),
        )
        proposal = await self.store.add_proposal(new, reviewer.max_open)
        if proposal is None:
            raise TallyError(
                f"You have {reviewer.max_open} proposals waiting for an editor already; propose "
                "more once one is decided (/proposals lists yours)."
            )
        await _tell(reviewer.proposed, proposal, "show proposal")
        return proposal

    async def approve(self, actor: Actor, proposal: Proposal, confirm: bool = False) -> Approved:
        """Record the proposal as the editor `actor` would, and keep who approved it and the
        event. Decided once: a second approval, even at the same moment, is refused with who
        decided it. A member recorded again since the proposal asks for `confirm`."""
        actor.require_editor("approve proposals")
        await self._still_open(proposal.id)
        member = self.race.members_by_code[proposal.member]
        if not confirm:
            newer = await self.store.history(self.race.id, member.code, 1)
            if newer and newer[0].recorded_at > proposal.proposed_at:
                await self._still_open(proposal.id)  # the newer one may be its own approval
                raise NeedsConfirm(proposal, self._conflict(proposal, newer[0]))
        if not await self.store.decide_proposal(proposal.id, ProposalStatus.APPROVED, actor):
            await self._lost(proposal.id)
        await self.refresh()
        candidates = {c.key: c for c in self.roster.candidate_list}
        try:
            recorded = await self.record(
                actor,
                member,
                proposal.position,
                candidates.get(proposal.candidate or ""),
                proposal.on,
                proposal.source,
                proposal.note,
                proposal.confidence,
                proposal.condition,
            )
        except BaseException:  # refused (the candidate withdrew since): open for another try
            await self.store.reopen_proposal(proposal.id, actor)
            raise
        await self.store.approved_as(proposal.id, recorded.event.id)
        decided = replace(
            proposal, status=ProposalStatus.APPROVED, decider=actor, event_id=recorded.event.id
        )
        await self._told(decided)
        return Approved(decided, recorded)

    async def reject(self, actor: Actor, proposal: Proposal, reason: str | None = None) -> Proposal:
        actor.require_editor("reject proposals")
        reason = check_note(reason)
        if not await self.store.decide_proposal(
            proposal.id, ProposalStatus.REJECTED, actor, reason
        ):
            await self._lost(proposal.id)
        decided = replace(proposal, status=ProposalStatus.REJECTED, decider=actor, reason=reason)
        await self._told(decided)
        return decided

    async def open_proposals(self) -> list[Proposal]:
        return await self.store.open_proposals(self.race.id, MAX_LISTED)

    async def proposal(self, number: int) -> Proposal | None:
        return await self.store.proposal(number)

    async def proposals_of(self, actor: Actor) -> list[Proposal]:
        """What `actor` proposed, in every race, latest first."""
        return await self.store.proposals_of(actor, MAX_LISTED)

    async def _still_open(self, number: int) -> None:
        """Refuse a proposal decided already, saying how and by whom."""
        found = await self.store.proposal(number)
        if found is None or found.status is ProposalStatus.OPEN:
            return
        assert found.decider is not None
        raise TallyError(f"Proposal #{number} was {found.status} already, by {found.decider.name}.")

    async def _lost(self, number: int) -> NoReturn:
        """Another decision came first: say whose (it may have been undone since, when its
        recording was refused)."""
        await self._still_open(number)
        raise TallyError(f"Proposal #{number} was being decided by another editor; try again.")

    def _conflict(self, proposal: Proposal, newer: Event) -> str:
        member = self.race.members_by_code[proposal.member].name
        return (
            f"{member} was recorded again (#{newer.id}, by {newer.actor.name}) after proposal "
            f"#{proposal.id}: {self.describe(proposal)}."
        )

    async def _told(self, proposal: Proposal) -> None:
        reviewer = self.reviewers.get(proposal.proposer.platform)
        await _tell(reviewer.decided if reviewer else None, proposal, "tell proposer")

    def describe(self, proposal: Proposal) -> str:
        """ "Türkiye supports Mark Rutte on 3 April 2024" """
        member = self.race.members_by_code[proposal.member].name
        what = {
            Position.SUPPORTS: "supports",
            Position.OPPOSES: "opposes",
            Position.ABSTAINS: "abstains on",
            Position.UNDECIDED: "has no public position",
        }[proposal.position]
        names = self.candidate_names()
        whom = f" {names.get(proposal.candidate, proposal.candidate)}" if proposal.candidate else ""
        return f"{member} {what}{whom} on {format_date(proposal.on)}"

    def review_lines(self, proposal: Proposal) -> tuple[str, ...]:
        """A proposal as editors review it: what, its source and note, who proposed it, and
        how it was decided."""
        lines = [f"#{proposal.id}: {self.describe(proposal)}"]
        lines.append(f"Source: {proposal.source}" if proposal.source else "No source given.")
        if proposal.note:
            lines.append(f"Note: {proposal.note}")
        if proposal.condition:
            lines.append(f"On condition: {proposal.condition}")
        confidence = proposal.confidence or Confidence.default(proposal.source)
        lines.append(f"Confidence: {confidence}.")
        lines.append(f"Proposed by {proposal.proposer.name}.")
        if proposal.decider is not None:
            lines.append(decision(proposal))
        return tuple(lines)


def decision(proposal: Proposal, what: str = "") -> str:
    """How a decided proposal was decided, as its proposer is told; `what` says what it was."""
    assert proposal.decider is not None
    which = f"Proposal #{proposal.id}" + (f" ({what})" if what else "")
    if proposal.status is ProposalStatus.APPROVED:
        event = f" as #{proposal.event_id}" if proposal.event_id else ""
        return f"{which} was approved by {proposal.decider.name}: recorded{event}."
    why = f": {proposal.reason}" if proposal.reason else "."
    return f"{which} was rejected by {proposal.decider.name}{why}"


async def decide_click(
    desk: Desk, actor: Actor, number: int, verb: str
) -> tuple[Service, Proposal]:
    """A review button's click, on any platform: 'approve', 'confirm' (approve over a newer
    recording of the member) or 'reject'. Approving over a newer one raises NeedsConfirm."""
    service, proposal = await find_proposal(desk, number)
    if verb == "reject":
        return service, await service.reject(actor, proposal)
    return service, (await service.approve(actor, proposal, verb == "confirm")).proposal


async def find_proposal(desk: Desk, number: int) -> tuple[Service, Proposal]:
    """Proposal `number`, of one of the desk's races, and that race's service."""
    proposal = await desk.default.proposal(number)
    if proposal is None or proposal.race not in desk.services:
        raise TallyError(f"There is no proposal #{number}; /proposals lists the open ones.")
    return desk.services[proposal.race], proposal


async def _tell(notify: Notify | None, proposal: Proposal, what: str) -> None:
    """A notice the platform sends; its failure is logged, and the proposal stands."""
    if notify is None:
        return
    try:
        await notify(proposal)
    except Exception:
        log.exception("%s #%d failed", what, proposal.id)
