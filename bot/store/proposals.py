"""Readers' proposals: kept until an editor approves one (then it points at its event) or
rejects it (with the reason). A proposal is decided by one conditional UPDATE, so two editors
deciding at once decide it once. Each review message posted for a proposal is kept, and
claimed by one process at a time to show the decision in place of its buttons."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

from bot.domain import Actor, Confidence, Position
from bot.service_proposals import (
    ClaimedReview,
    NewProposal,
    Proposal,
    ProposalStatus,
    ReviewMessage,
)
from bot.store.database import Database, utc

_COLUMNS = (
    "id, race, member, position, candidate, happened_on, source, note, platform, channel,"
    " proposer_id, proposer_name, proposed_at, status, decider_platform, decider_id,"
    " decider_name, decided_at, reason, event_id, confidence, condition"
)


def _proposal(row: Sequence) -> Proposal:
    decider = Actor(row[14], row[15], row[16], is_editor=True) if row[14] else None
    return Proposal(
        id=row[0],
        race=row[1],
        member=row[2],
        position=Position(row[3]),
        candidate=row[4],
        on=date.fromisoformat(row[5]),
        source=row[6],
        note=row[7],
        proposer=Actor(row[8], row[10], row[11]),
        channel=row[9],
        proposed_at=datetime.fromisoformat(row[12]),
        status=ProposalStatus(row[13]),
        decider=decider,
        decided_at=datetime.fromisoformat(row[17]) if row[17] else None,
        reason=row[18],
        event_id=row[19],
        confidence=Confidence(row[20]) if row[20] else None,
        condition=row[21],
    )


class ProposalRows(Database):
    async def add_proposal(self, new: NewProposal, max_open: int) -> Proposal | None:
        """Store a proposal, or None (and nothing stored) when its proposer has `max_open`
        open already: counted and added in one statement, so two at once cannot both pass."""
        p = new.proposer
        rows = await self._write(
            lambda: self.db.execute_fetchall(
                "INSERT INTO proposals (race, member, position, candidate, happened_on, source,"
                "   note, platform, channel, proposer_id, proposer_name, proposed_at,"
                "   confidence, condition)"
                " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                " WHERE (SELECT count(*) FROM proposals"
                "   WHERE platform = ? AND proposer_id = ? AND status = 'open') < ?"
                f" RETURNING {_COLUMNS}",
                (
                    new.race,
                    new.member,
                    new.position.value,
                    new.candidate,
                    new.on.isoformat(),
                    new.source,
                    new.note,
                    p.platform,
                    new.channel,
                    p.id,
                    p.name,
                    self._now(),
                    new.confidence.value if new.confidence else None,
                    new.condition,
                    *(p.platform, p.id, max_open),
                ),
            )
        )
        return _proposal(rows[0]) if rows else None

    async def proposal(self, number: int) -> Proposal | None:
        rows = await self.reader.execute_fetchall(
            f"SELECT {_COLUMNS} FROM proposals WHERE id = ?", (number,)
        )
        return _proposal(rows[0]) if rows else None

    async def open_proposals(self, race: str, limit: int) -> list[Proposal]:
        """The race's open proposals, oldest first."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_COLUMNS} FROM proposals WHERE status = 'open' AND race = ?"
            " ORDER BY id LIMIT ?",
            (race, limit),
        )
        return [_proposal(r) for r in rows]

    async def proposals_of(self, proposer: Actor, limit: int) -> list[Proposal]:
        """A proposer's proposals, latest first, in every race."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_COLUMNS} FROM proposals WHERE platform = ? AND proposer_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (proposer.platform, proposer.id, limit),
        )
        return [_proposal(r) for r in rows]

    async def decide_proposal(
        self, number: int, status: ProposalStatus, decider: Actor, reason: str | None = None
    ) -> bool:
        """Mark an open proposal approved or rejected; False if it was decided already."""
        cursor = await self._write(
            lambda: self.db.execute(
                "UPDATE proposals SET status = ?, decider_platform = ?, decider_id = ?,"
                "   decider_name = ?, decided_at = ?, reason = ?"
                " WHERE id = ? AND status = 'open'",
                (
                    status.value,
                    decider.platform,
                    decider.id,
                    decider.name,
                    utc(self.clock()),
                    reason,
                    number,
                ),
            )
        )
        return cursor.rowcount == 1

    async def approved_as(self, number: int, event_id: int) -> None:
        """The event an approval recorded."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE proposals SET event_id = ? WHERE id = ?", (event_id, number)
            )
        )

    async def reopen_proposal(self, number: int, decider: Actor) -> None:
        """Undo `decider`'s approval whose recording was refused: the proposal is open again."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE proposals SET status = 'open', decider_platform = NULL,"
                "   decider_id = NULL, decider_name = NULL, decided_at = NULL"
                " WHERE id = ? AND status = 'approved' AND event_id IS NULL"
                "   AND decider_platform = ? AND decider_id = ?",
                (number, decider.platform, decider.id),
            )
        )

    async def proposers(self, event_ids: Collection[int]) -> dict[int, Actor]:
        """Who proposed each of these events that an approved proposal recorded."""
        rows = await self.reader.execute_fetchall(
            "SELECT event_id, platform, proposer_id, proposer_name FROM proposals"
            " WHERE event_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(event_ids)),),
        )
        return {event: Actor(platform, id_, name) for event, platform, id_, name in rows}

    async def add_review(self, proposal: int, where: ReviewMessage) -> None:
        """Keep where a review message of `proposal` is; one kept already stays as it is."""
        await self._write(
            lambda: self.db.execute(
                "INSERT INTO review_messages (proposal, platform, channel, message)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (proposal, where.platform, where.channel, where.message),
            )
        )

    async def claim_reviews(
        self, platforms: Collection[str], lease: timedelta, limit: int, proposal: int | None = None
    ) -> list[ClaimedReview]:
        """Review messages on `platforms` still showing the buttons of a decided proposal (of
        `proposal`, or any), claimed for this process to edit, in one statement so two
        processes never both take one. A claim older than `lease` (its process stopped
        mid-edit) is anyone's again."""
        which = "r.proposal = :proposal" if proposal is not None else "1"
        rows = await self._write(
            lambda: self.db.execute_fetchall(
                "UPDATE review_messages SET claimed_at = :now WHERE id IN ("
                "   SELECT r.id FROM review_messages AS r JOIN proposals AS p ON p.id = r.proposal"
                "   WHERE r.done_at IS NULL AND (r.claimed_at IS NULL OR r.claimed_at < :stale)"
                f"    AND r.platform IN (SELECT value FROM json_each(:platforms)) AND {which}"
                "     AND (p.status = 'rejected' OR p.event_id IS NOT NULL)"  # not mid-approval
                "   ORDER BY r.id LIMIT :limit)"
                " RETURNING id, proposal, platform, channel, message, failures",
                {
                    "now": self._now(),
                    "stale": utc(self.clock() - lease),
                    "platforms": json.dumps(list(platforms)),
                    "proposal": proposal,
                    "limit": limit,
                },
            )
        )
        return [
            ClaimedReview(row[0], row[1], ReviewMessage(row[2], row[3], row[4]), row[5])
            for row in sorted(rows)
        ]

    async def review_settled(self, claimed: ClaimedReview, shown: bool, attempts: int) -> None:
        """The claimed message shows the decision now; or its edit failed, to be tried again
        until it has failed `attempts` times."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE review_messages SET claimed_at = NULL, failures = failures + :failed,"
                "   done_at = CASE WHEN :shown OR failures + 1 >= :attempts THEN :now END"
                " WHERE id = :id",
                {
                    "failed": 0 if shown else 1,
                    "shown": shown,
                    "attempts": attempts,
                    "now": self._now(),
                    "id": claimed.id,
                },
            )
        )
