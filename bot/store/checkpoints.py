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
        """(the last event id they count, their JSON) of the replays `key` of `race`."""
        rows = await self.reader.execute_fetchall(
            "SELECT seen, body FROM replay_checkpoints WHERE race = ? AND replay = ?", (race, key)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def keep_replays(self, race: str, key: str, seen: int, body: str) -> None:
        """Keep the checkpoints counting the events up to `seen`, unless the file already
        keeps some counting more (another process's). A failure is logged, not raised: the
        checkpoints are then replayed again by the next process."""
        try:
            await self._write(
                lambda: self.db.execute(
                    "INSERT INTO replay_checkpoints (race, replay, seen, body) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (race, replay) DO UPDATE SET seen = excluded.seen,"
                    "   body = excluded.body WHERE excluded.seen >= replay_checkpoints.seen",
                    (race, key, seen, body),
                )
            )
        except (sqlite3.Error, TallyError) as exc:  # TallyError: the file stayed busy
            log.warning("Could not keep the replay checkpoints of %s: %s", race, exc)
