"""Each channel's settings that outlive a process: which race its commands are about."""

from __future__ import annotations

from bot.domain import Actor
from bot.store.database import Database, utc


class ChannelRows(Database):
    async def channel_race(self, platform: str, channel: str) -> str | None:
        """The race an editor chose for the channel (`/race use`), if any."""
        rows = await self.reader.execute_fetchall(
            "SELECT race FROM channel_races WHERE platform = ? AND channel = ?",
            (platform, channel),
        )
        return rows[0][0] if rows else None

    async def set_channel_race(self, platform: str, channel: str, race: str, actor: Actor) -> None:
        await self._write(
            lambda: self.db.execute(
                "INSERT INTO channel_races (platform, channel, race, set_at, actor_platform,"
                "   actor_id) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, channel) DO UPDATE SET race = excluded.race,"
                "   set_at = excluded.set_at, actor_platform = excluded.actor_platform,"
                "   actor_id = excluded.actor_id",
                (platform, channel, race, utc(self.clock()), actor.platform, actor.id),
            )
        )
