"""The service's use cases for readers' proposals: a reader's recording is kept as a proposal,
and an editor approves it (recorded through the same path as an editor's recording, every check
with it) or rejects it with a reason. Each platform that reviews proposals says so with
`review_on`; without it a reader's recording is refused with a line saying how to set one up.

Each review message posted is kept in the database. However a proposal is decided (a click,
a typed /approve on any platform, the console), this process shows the decision on each of its
review messages in place of the buttons; what another process decided, a sweep each minute
(`sweep_reviews`) shows. A message is claimed before it is edited, so it is edited once."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn, TypeVar

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
SWEEP_EVERY = 60.0  # seconds between sweeps for decisions another process made
SWEEP_BATCH = 20  # review messages a sweep edits at most, well within the platforms' limits
SETTLE_LEASE = timedelta(minutes=2)  # a claim older than this was cut short: edit it again
SETTLE_ATTEMPTS = 5  # failed edits of a review message (deleted, say) before it is left
SETTLE_WAIT = 10.0  # seconds an edit may take (a platform's rate limit, say) before it failed
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


@dataclass(frozen=True)
class ReviewMessage:
    """Where a review message of a proposal is, to show the decision there later."""

    platform: str
    channel: str
    message: str  # Discord's message id, Slack's ts


@dataclass(frozen=True)
class ClaimedReview:
    id: int
    proposal: int
    where: ReviewMessage
    failures: int  # its edits that failed before


Notify = Callable[[Proposal], Awaitable[None]]
Show = Callable[[Proposal], Awaitable[ReviewMessage | None]]
Settle = Callable[[Proposal, ReviewMessage], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class Reviewer:
    """How one platform reviews its readers' proposals."""

    max_open: int = MAX_OPEN
    proposed: Show | None = None  # shows a new proposal to the editors; says where it did
    decided: Notify | None = None  # tells its proposer how it was decided
    settle: Settle | None = None  # a review message shows the decision in place of its buttons


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
        if reviewer.proposed is not None:
            await _logged(self._show(reviewer.proposed, proposal), f"show proposal #{proposal.id}")
        return proposal

    async def _show(self, show: Show, proposal: Proposal) -> None:
        where = await show(proposal)
        if where is not None:
            await self.store.add_review(proposal.id, where)

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
        await self._settle(proposal.id)
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
        await self._settle(proposal.id)
        return decided

    async def proposers(self, event_ids: Collection[int]) -> dict[int, Actor]:
        """Who proposed each of these events that an approved proposal recorded."""
        return await self.store.proposers(event_ids) if event_ids else {}

    async def settle_reviews(
        self, number: int | None = None, platforms: Collection[str] | None = None
    ) -> int:
        """The review messages still showing the buttons of a decided proposal (`number`, or
        any) show its decision instead, on the platforms (all, or `platforms`) this process
        can edit; at most SWEEP_BATCH at once. Returns how many it claimed."""
        settlers = {
            name: r.settle
            for name, r in self.reviewers.items()
            if r.settle is not None and (platforms is None or name in platforms)
        }
        if not settlers:
            return 0
        claimed = await self.store.claim_reviews(settlers, SETTLE_LEASE, SWEEP_BATCH, number)
        decided: dict[int, Proposal | None] = {}
        for review in claimed:
            if review.proposal not in decided:
                decided[review.proposal] = await self.store.proposal(review.proposal)
            proposal, where = decided[review.proposal], review.where
            try:
                assert proposal is not None  # the foreign key keeps it
                async with asyncio.timeout(SETTLE_WAIT):  # the decider's answer waits on it
                    await settlers[where.platform](proposal, where)
            except Exception as exc:  # decided all the same; a sweep tries again
                last = review.failures + 1 >= SETTLE_ATTEMPTS
                log.warning(
                    "%s: could not update the review of proposal #%d (%s)%s",
                    where.platform.capitalize(),
                    review.proposal,
                    exc,
                    "; it is left as it is" if last else "",
                )
                await self.store.review_settled(review, False, SETTLE_ATTEMPTS)
            else:
                await self.store.review_settled(review, True, SETTLE_ATTEMPTS)
        return len(claimed)

    async def _settle(self, number: int) -> None:
        await _logged(self.settle_reviews(number), f"update the reviews of proposal #{number}")

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
    desk: Desk,
    actor: Actor,
    number: int,
    verb: str,
    where: ReviewMessage | None = None,
    reason: str | None = None,
) -> tuple[Service, Proposal]:
    """A review button's click, on any platform: 'approve', 'confirm' (approve over a newer
    recording of the member) or 'reject' (with the reason asked for). Approving over a newer
    one raises NeedsConfirm. The review message clicked on, `where`, is kept (one posted before
    they were kept, say), and a click on one decided already updates it."""
    service, proposal = await find_proposal(desk, number)
    if where is not None and actor.is_editor:
        await service.store.add_review(number, where)
    try:
        if verb == "reject":
            return service, await service.reject(actor, proposal, reason)
        return service, (await service.approve(actor, proposal, verb == "confirm")).proposal
    except NeedsConfirm:
        raise
    except TallyError:
        await service._settle(number)  # a stale button, decided elsewhere meanwhile
        raise


async def open_proposal(desk: Desk, actor: Actor, number: int) -> None:
    """Before asking an editor why they reject proposal `number`: refused, in one line, to a
    reader, and for a proposal decided already. Reads only, so the form opens within the
    platform's few seconds."""
    actor.require_editor("reject proposals")
    service, _ = await find_proposal(desk, number)
    await service._still_open(number)


async def stale_click(desk: Desk, number: int, where: ReviewMessage | None) -> None:
    """A click refused before deciding anything: if proposal `number` is decided, the message
    clicked on (`where`, kept if it was not) and its others show how."""
    proposal = await desk.default.proposal(number)
    if proposal is None or proposal.race not in desk.services:
        return
    if proposal.status is not ProposalStatus.OPEN:
        service = desk.services[proposal.race]
        if where is not None:
            await _logged(service.store.add_review(number, where), f"keep review #{number}")
        await service._settle(number)


async def sweep_reviews(service: Service, platform: str, every: float = SWEEP_EVERY) -> None:
    """Until cancelled: every `every` seconds, the review messages on `platform` of proposals
    decided by another process (on the same database) show their decision."""
    while True:
        await asyncio.sleep(every)
        await _logged(service.settle_reviews(platforms=(platform,)), f"{platform}: review sweep")


async def find_proposal(desk: Desk, number: int) -> tuple[Service, Proposal]:
    """Proposal `number`, of one of the desk's races, and that race's service."""
    proposal = await desk.default.proposal(number)
    if proposal is None or proposal.race not in desk.services:
        raise TallyError(f"There is no proposal #{number}; /proposals lists the open ones.")
    return desk.services[proposal.race], proposal


async def _tell(notify: Notify | None, proposal: Proposal, what: str) -> None:
    if notify is not None:
        await _logged(notify(proposal), f"{what} #{proposal.id}")


async def _logged(work: Awaitable[T], what: str) -> T | None:
    """A notice the platform sends (or an edit); its failure is logged, and the proposal and
    its decision stand."""
    try:
        return await work
    except Exception:
        log.exception("%s failed", what)
        return None
