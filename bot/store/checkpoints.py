"""The replays' checkpoints kept in the file (see bot.replays), so a new process starts from
them rather than replaying the whole log. Only a cache: losing it costs one replay."""

from __future__ import annotations

import logging
import sqlite3

from bot.domain import TallyError
from bot.store.database import Database

log = logging.getLogger(__name__)


class CheckpointRows(Database):
    async def kept_replays(self, race: str, key: str) -> tuple[int, str] | None:
        """(the last event id they count, their heads) of the replays `key` of `race`; the
        heads a JSON text, as bot.replays writes it."""
        rows = await self.reader.execute_fetchall(
            "SELECT seen, head FROM replay_checkpoints WHERE race = ? AND replay = ?", (race, key)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def kept_replay_stances(self, race: str, key: str, head: str) -> str | None:
        """The stances of the replays `key` of `race` kept with `head` (read before); None if
        the file now keeps others."""
        rows = await self.reader.execute_fetchall(
            "SELECT stances FROM replay_checkpoints WHERE race = ? AND replay = ? AND head = ?",
            (race, key, head),
        )
        return rows[0][0] if rows else None

    async def keep_replays(self, race: str, key: str, seen: int, head: str, stances: str) -> None:
        """Keep the checkpoints counting the events up to `seen`, unless the file already
        keeps some counting more (another process's), in place of those of an older rule that
        count the same way (`key` is "counting:hash"). A failure is logged, not raised: the
        checkpoints are then replayed again by the next process."""
        counted = key.partition(":")[0]

        async def keep() -> None:
            await self.db.execute(
                "DELETE FROM replay_checkpoints WHERE race = ? AND replay != ?"
                " AND substr(replay, 1, ?) = ?",
                (race, key, len(counted) + 1, f"{counted}:"),
            )
            await self.db.execute(
                "INSERT INTO replay_checkpoints (race, replay, seen, head, stances)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (race, replay) DO UPDATE SET"
                "   seen = excluded.seen, head = excluded.head, stances = excluded.stances"
                " WHERE excluded.seen >= replay_checkpoints.seen",
                (race, key, seen, head, stances),
            )

        try:
            await self._transaction(keep)
        except (sqlite3.Error, TallyError) as exc:  # TallyError: the file stayed busy
            log.warning("Could not keep the replay checkpoints of %s: %s", race, exc)
