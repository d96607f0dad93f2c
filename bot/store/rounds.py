"""The anonymous rounds editors record (/round), append-only: an undo is a row reverting one."""

from __future__ import annotations

import json
from datetime import date

from bot.domain import Actor, Ballots, Round
from bot.store.database import Database


class RoundRows(Database):
    async def add_round(self, race: str, held: Round, actor: Actor) -> int:
        """Store a round; its id."""

        def ballots(counts: tuple[Ballots, ...]) -> str:
            return json.dumps([list(b) for b in counts])

        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO rounds (race, happened_on, name, counts, veto_counts, source,"
                "   recorded_at, actor_platform, actor_id, actor_name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    race,
                    held.on.isoformat(),
                    held.name,
                    ballots(held.counts),
                    ballots(held.veto_counts),
                    held.source,
                    self._now(),
                    actor.platform,
                    actor.id,
                    actor.name,
                ),
            )
        )
        return cursor.lastrowid or 0

    async def rounds(self, race: str, as_of: date) -> list[Round]:
        """The rounds recorded and not undone that were held by the end of `as_of`, by date."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_ROUND} FROM rounds AS r"
            " WHERE race = ? AND reverts IS NULL AND happened_on <= ?"
            "   AND NOT EXISTS (SELECT 1 FROM rounds AS u WHERE u.reverts = r.id)"
            " ORDER BY happened_on, id",
            (race, as_of.isoformat()),
        )
        return [_round(row) for row in rows]

    async def round(self, round_id: int) -> list[Round]:
        """The round with that id, if any (a list of at most one)."""
        rows = await self.reader.execute_fetchall(
            f"SELECT {_ROUND} FROM rounds WHERE id = ?", (round_id,)
        )
        return [_round(row) for row in rows]

    async def last_event_recorded_by(self, race: str, actor: Actor) -> str | None:
        """When the actor's latest event that an undo would revert was recorded: /undo
        reverts that or the actor's latest round, whichever came last."""
        rows = await self.reader.execute_fetchall(
            "SELECT recorded_at FROM events AS e"
            " WHERE e.actor_platform = ? AND e.actor_id = ? AND e.race = ?"
            "   AND e.position != 'undo'"
            "   AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)"
            " ORDER BY e.id DESC LIMIT 1",
            (actor.platform, actor.id, race),
        )
        return rows[0][0] if rows else None

    async def last_round_of(self, race: str, actor: Actor) -> tuple[int, str] | None:
        """The actor's latest round not undone: its id and when it was recorded."""
        rows = await self.reader.execute_fetchall(
            "SELECT id, recorded_at FROM rounds AS r"
            " WHERE actor_platform = ? AND actor_id = ? AND race = ? AND reverts IS NULL"
            "   AND NOT EXISTS (SELECT 1 FROM rounds AS u WHERE u.reverts = r.id)"
            " ORDER BY id DESC LIMIT 1",
            (actor.platform, actor.id, race),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def undo_round(self, race: str, round_id: int, actor: Actor) -> bool:
        """Revert a round (once: a second undo of it is refused by the unique `reverts`)."""
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT OR IGNORE INTO rounds (race, happened_on, name, counts, veto_counts,"
                "   source, recorded_at, actor_platform, actor_id, actor_name, reverts)"
                " SELECT race, happened_on, name, '[]', '[]', NULL, ?, ?, ?, ?, id"
                " FROM rounds WHERE id = ? AND race = ?",
                (self._now(), actor.platform, actor.id, actor.name, round_id, race),
            )
        )
        return cursor.rowcount == 1


_ROUND = "happened_on, name, counts, veto_counts, source"


def _round(row: tuple) -> Round:
    on, name, counts, vetoes, source = row
    return Round(
        date.fromisoformat(on),
        name,
        source or "",
        tuple(Ballots(*b) for b in json.loads(counts)),
        tuple(Ballots(*b) for b in json.loads(vetoes)),
    )
