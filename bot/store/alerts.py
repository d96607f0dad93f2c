"""The alerts' rows: the channels following a race (/follow), and one claim per channel,
minute of recordings and part, so each post of a minute's alert is posted once, whatever the
processes. A part other than the minute's changes (the change that met the rule) is kept in
the minute column after a space, 'YYYY-MM-DDTHH:MM rule-met': it sorts with its minute, and
rows from before parts read as the changes' part."""

from __future__ import annotations

import json
from datetime import datetime

from bot.domain import Actor
from bot.service_alerts import AlertKey, AlertSend, AlertStatus, Follow, Minute
from bot.store.database import Database, utc


class AlertRows(Database):
    async def follow(self, follow: Follow, actor: Actor) -> bool:
        """Follow a channel, or take up a stopped one again from `follow.since`; False if it
        followed already (it keeps its `since`)."""
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO alert_follows (race, platform, channel, since, actor_platform,"
                "   actor_id) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel) DO UPDATE SET since = excluded.since,"
                "   actor_platform = excluded.actor_platform, actor_id = excluded.actor_id,"
                "   stopped = NULL"
                " WHERE stopped IS NOT NULL",
                (
                    follow.race,
                    follow.platform,
                    follow.channel,
                    utc(follow.since),
                    actor.platform,
                    actor.id,
                ),
            )
        )
        return cursor.rowcount == 1

    async def unfollow(self, race: str, platform: str, channel: str) -> bool:
        """False if the channel did not follow the race."""
        cursor = await self._write(
            lambda: self.db.execute(
                "DELETE FROM alert_follows WHERE race = ? AND platform = ? AND channel = ?",
                (race, platform, channel),
            )
        )
        return cursor.rowcount == 1

    async def follows(self, race: str) -> list[Follow]:
        """The channels whose alerts go out (not stopped by their platform)."""
        rows = await self.reader.execute_fetchall(
            "SELECT race, platform, channel, since FROM alert_follows"
            " WHERE race = ? AND stopped IS NULL ORDER BY platform, channel",
            (race,),
        )
        return [Follow(r[0], r[1], r[2], datetime.fromisoformat(r[3])) for r in rows]

    async def stop_alerts(self, race: str, platform: str, channel: str, reason: str) -> None:
        await self._write(
            lambda: self.db.execute(
                "UPDATE alert_follows SET stopped = ?"
                " WHERE race = ? AND platform = ? AND channel = ?",
                (reason, race, platform, channel),
            )
        )

    async def alert_minutes(self, race: str, after_id: int, up_to_id: int) -> list[Minute]:
        """The minutes (UTC) in which the race's events with ids in (after_id, up_to_id] were
        recorded, in order, each with its events' ids: a range of the events_by_race index."""
        rows = await self.reader.execute_fetchall(
            "SELECT substr(recorded_at, 1, 16), json_group_array(id) FROM events"
            " WHERE race = ? AND id > ? AND id <= ? GROUP BY 1 ORDER BY 1",
            (race, after_id, up_to_id),
        )
        return [Minute(m, tuple(sorted(json.loads(ids)))) for m, ids in rows]

    async def alert_sends(self, race: str, from_minute: str) -> dict[AlertKey, AlertSend]:
        """The race's alert rows of `from_minute` (UTC 'YYYY-MM-DDTHH:MM') and after."""
        rows = await self.reader.execute_fetchall(
            "SELECT platform, channel, minute, status, events, attempts, updated_at"
            " FROM alert_sends WHERE race = ? AND minute >= ?",
            (race, from_minute),
        )
        return {
            AlertKey(race, p, c, *m.split(" ", 1)): AlertSend(
                AlertStatus(s), tuple(json.loads(e)), n, datetime.fromisoformat(u)
            )
            for p, c, m, s, e, n, u in rows
        }

    async def claim_alert(
        self,
        key: AlertKey,
        events: tuple[int, ...],
        now: datetime,
        stale_before: datetime,
        status: AlertStatus = AlertStatus.SENDING,
        error: str | None = None,
    ) -> bool:
        """Claim a channel's alert of a minute in one statement: True if this caller owns it.

        A new row is claimed with `status`; an existing one only if it is 'sending' and was
        last touched before `stale_before` (its process stopped mid-send). Every other caller,
        in this process or another, gets False."""
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO alert_sends (race, platform, channel, minute, status, events,"
                "   last_error, claimed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel, minute) DO UPDATE"
                "   SET status = excluded.status, updated_at = excluded.updated_at"
                "   WHERE status = 'sending' AND updated_at < ?",
                (
                    *_key(key),
                    status,
                    json.dumps(list(events)),
                    error,
                    utc(now),
                    utc(now),
                    utc(stale_before),
                ),
            )
        )
        return cursor.rowcount == 1

    async def alert_result(
        self, key: AlertKey, now: datetime, status: AlertStatus, error: str | None = None
    ) -> None:
        """Count one attempt: 'sent', or its error and 'sending' (to retry: the claim stays
        fresh), 'failed' or 'rejected'."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE alert_sends SET status = ?, attempts = attempts + 1,"
                "   last_error = coalesce(?, last_error), updated_at = ?,"
                "   sent_at = CASE WHEN ? = 'sent' THEN ? END"
                " WHERE race = ? AND platform = ? AND channel = ? AND minute = ?",
                (status, error, utc(now), status, utc(now), *_key(key)),
            )
        )


def _key(key: AlertKey) -> tuple[str, str, str, str]:
    minute = f"{key.minute} {key.part}" if key.part else key.minute
    return (key.race, key.platform, key.channel, minute)
