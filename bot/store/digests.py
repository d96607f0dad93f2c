"""The daily digest's rows: subscriptions, one send record per channel and day, and what each
fire instant's digest covers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from bot.digest_records import DigestKey, DigestSend, DigestStatus, SentDigest, Subscription
from bot.domain import Actor
from bot.store.alerts import AlertRows
from bot.store.channels import ChannelRows
from bot.store.database import utc
from bot.store.proposals import ProposalRows
from bot.store.rounds import RoundRows


class DigestRows(AlertRows, ChannelRows, RoundRows, ProposalRows):
    """The digest's rows, written and read through the Database's discipline (and, through
    its bases, a channel's race, the rounds and readers' proposals, so the Store has them all)."""

    async def subscribe(self, sub: Subscription, actor: Actor) -> None:
        """Add a channel's subscription, or change its time and zone."""
        assert sub.since is not None
        await self._write(
            lambda: self.db.execute(
                "INSERT INTO digest_subscriptions"
                " (race, platform, channel, at, timezone, since, actor_platform, actor_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel) DO UPDATE SET at = excluded.at,"
                "   timezone = excluded.timezone, since = excluded.since,"
                "   actor_platform = excluded.actor_platform, actor_id = excluded.actor_id",
                (
                    sub.race,
                    sub.platform,
                    sub.channel,
                    f"{sub.time:%H:%M}",
                    sub.timezone,
                    utc(sub.since),
                    actor.platform,
                    actor.id,
                ),
            )
        )

    async def sync_config_subscriptions(
        self, race: str, subs: Sequence[Subscription], now: datetime
    ) -> None:
        """Make the config file's channels (stored with actor 'config') exactly `subs`.

        A channel new to the config is due from `now`; one that stays keeps its `since`.
        """
        keep = {(s.platform, s.channel) for s in subs}

        async def sync() -> None:
            rows = await self.db.execute_fetchall(
                "SELECT platform, channel FROM digest_subscriptions"
                " WHERE race = ? AND actor_platform = 'config'",
                (race,),
            )
            await self.db.executemany(
                "DELETE FROM digest_subscriptions WHERE race = ? AND platform = ? AND channel = ?",
                [(race, p, c) for p, c in rows if (p, c) not in keep],
            )
            await self.db.executemany(
                "INSERT INTO digest_subscriptions"
                " (race, platform, channel, at, timezone, since, actor_platform, actor_id)"
                " VALUES (?, ?, ?, ?, ?, ?, 'config', '')"
                " ON CONFLICT (race, platform, channel) DO UPDATE SET at = excluded.at,"
                "   timezone = excluded.timezone, actor_platform = 'config', actor_id = ''",
                [
                    (race, s.platform, s.channel, f"{s.time:%H:%M}", s.timezone, utc(now))
                    for s in subs
                ],
            )

        await self._transaction(sync)

    async def unsubscribe(self, race: str, platform: str, channel: str) -> bool:
        """False if the channel was not subscribed."""
        cursor = await self._write(
            lambda: self.db.execute(
                "DELETE FROM digest_subscriptions WHERE race = ? AND platform = ? AND channel = ?",
                (race, platform, channel),
            )
        )
        return cursor.rowcount == 1

    async def subscriptions(self, race: str) -> list[Subscription]:
        rows = await self.reader.execute_fetchall(
            "SELECT race, platform, channel, at, timezone, since FROM digest_subscriptions"
            " WHERE race = ? ORDER BY platform, channel",
            (race,),
        )
        return [
            Subscription(
                r[0], r[1], r[2], time.fromisoformat(r[3]), r[4], datetime.fromisoformat(r[5])
            )
            for r in rows
        ]

    async def claim_digest(
        self,
        key: DigestKey,
        now: datetime,
        stale_before: datetime,
        status: DigestStatus = DigestStatus.SENDING,
        error: str | None = None,
    ) -> bool:
        """Claim a digest in one statement: True if this caller now owns it.

        A new row is claimed with `status`; an existing one only if it is 'sending' or 'failed'
        and was last touched before `stale_before` (its process stopped mid-send, or its last
        attempts failed). Every other caller, in this process or another, gets False.
        """
        cursor = await self._write(
            lambda: self.db.execute(
                "INSERT INTO digest_sends"
                " (race, platform, channel, day, status, last_error, claimed_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (race, platform, channel, day) DO UPDATE"
                "   SET status = excluded.status,"
                "     last_error = coalesce(excluded.last_error, last_error),"
                "     updated_at = excluded.updated_at"
                "   WHERE status IN ('sending', 'failed') AND updated_at < ?",
                (*_key(key), status, error, utc(now), utc(now), utc(stale_before)),
            )
        )
        return cursor.rowcount == 1

    async def digest_result(
        self,
        key: DigestKey,
        now: datetime,
        status: DigestStatus,
        error: str | None = None,
        covered_to: int | None = None,
    ) -> None:
        """Count one attempt: 'sent' with the last event the digest covered; or its error and
        'sending' (to retry), 'failed' (tried again later) or 'rejected' (not this day)."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE digest_sends SET status = ?, attempts = attempts + 1,"
                "   last_error = coalesce(?, last_error), covered_to = ?,"
                "   updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? END"
                " WHERE race = ? AND platform = ? AND channel = ? AND day = ?",
                (status, error, covered_to, utc(now), status, utc(now), *_key(key)),
            )
        )

    async def digest_posted(self, key: DigestKey, now: datetime, posted: int) -> None:
        """The platform accepted the digest's first `posted` messages; the claim is fresh."""
        await self._write(
            lambda: self.db.execute(
                "UPDATE digest_sends SET posted = ?, updated_at = ?"
                " WHERE race = ? AND platform = ? AND channel = ? AND day = ?",
                (posted, utc(now), *_key(key)),
            )
        )

    async def digest_sends(self, race: str, days: Iterable[date]) -> dict[DigestKey, DigestSend]:
        days = sorted({d.isoformat() for d in days})
        if not days:
            return {}
        rows = await self.reader.execute_fetchall(
            "SELECT race, platform, channel, day, status, attempts, last_error, claimed_at,"
            " updated_at, sent_at, covered_to, posted FROM digest_sends"
            f" WHERE race = ? AND day IN ({', '.join('?' * len(days))})",
            (race, *days),
        )
        sends = (
            DigestSend(
                DigestKey(r[0], r[1], r[2], date.fromisoformat(r[3])),
                DigestStatus(r[4]),
                r[5],
                r[6],
                datetime.fromisoformat(r[7]),
                datetime.fromisoformat(r[8]),
                datetime.fromisoformat(r[9]) if r[9] else None,
                r[10],
                r[11],
            )
            for r in rows
        )
        return {s.key: s for s in sends}

    async def digest_build(self, race: str, fire: datetime, last_event: int, now: datetime) -> int:
        """The last event the digest that fired at `fire` covers: `last_event` if this is the
        first build for that instant, else what the first build stored (here or in another
        process), so a retry or a second process posts the same digest."""
        ((covered,),) = await self._write(
            lambda: self.db.execute_fetchall(
                "INSERT INTO digest_builds (race, fire_at, last_event, built_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (race, fire_at) DO UPDATE SET last_event = last_event"
                " RETURNING last_event",
                (race, utc(fire), last_event, utc(now)),
            )
        )
        return covered

    async def previous_sends(self, keys: Sequence[DigestKey]) -> dict[DigestKey, SentDigest]:
        """For each key, the channel's latest digest sent before that day, if any: one index
        seek per channel, so a fan-out to a thousand channels asks once."""
        if not keys:
            return {}
        rows = await self.reader.execute_fetchall(
            "WITH k (i, race, platform, channel, day) AS (SELECT key,"
            "   json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            "   json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?))"
            " SELECT k.i, s.day, s.covered_to FROM k JOIN digest_sends AS s ON s.rowid = ("
            "   SELECT x.rowid FROM digest_sends AS x"
            "   WHERE x.race = k.race AND x.platform = k.platform AND x.channel = k.channel"
            "     AND x.day < k.day AND x.status = 'sent' AND x.covered_to IS NOT NULL"
            "   ORDER BY x.day DESC LIMIT 1)",
            (json.dumps([_key(k) for k in keys]),),
        )
        return {keys[i]: SentDigest(date.fromisoformat(d), c) for i, d, c in rows}

    async def latest_send(self, race: str, before: date) -> SentDigest | None:
        """The race's latest digest sent, to any channel, before the day `before`."""
        rows = await self.reader.execute_fetchall(
            "SELECT day, covered_to FROM digest_sends"
            " WHERE race = ? AND day < ? AND status = 'sent' AND covered_to IS NOT NULL"
            " ORDER BY day DESC, covered_to DESC LIMIT 1",
            (race, before.isoformat()),
        )
        return SentDigest(date.fromisoformat(rows[0][0]), rows[0][1]) if rows else None

    async def recorded_before(self, race: str, instant: datetime, up_to_id: int) -> int:
        """The last event up to `up_to_id` recorded before `instant` (0 if none): ids grow
        with recording, so a binary search over ids finds it in some 120 index seeks, however
        many events the last 24 hours hold."""
        at = (
            "(SELECT recorded_at FROM events WHERE race = :race AND id <= (lo + hi + 1) / 2"
            " ORDER BY id DESC LIMIT 1)"
        )
        ok = f"coalesce({at} < :instant, 1)"  # no event of the race that early: still before
        rows = await self.reader.execute_fetchall(
            "WITH RECURSIVE b (lo, hi) AS (SELECT 0, :up_to UNION ALL"
            f"   SELECT CASE WHEN {ok} THEN (lo + hi + 1) / 2 ELSE lo END,"
            f"     CASE WHEN {ok} THEN hi ELSE (lo + hi + 1) / 2 - 1 END"
            "   FROM b WHERE lo < hi)"
            " SELECT coalesce((SELECT id FROM events WHERE race = :race AND id <= b.lo"
            "   ORDER BY id DESC LIMIT 1), 0) FROM b WHERE b.lo >= b.hi",
            {"race": race, "instant": utc(instant), "up_to": up_to_id},
        )
        return rows[0][0] if rows else 0

    async def latest_event_ids(self, race: str, count: int, up_to_id: int) -> list[int]:
        """The ids of the latest `count` events up to `up_to_id`, in recording order: one
        LIMIT query."""
        rows = await self.reader.execute_fetchall(
            "SELECT id FROM events WHERE race = ? AND id <= ? ORDER BY id DESC LIMIT ?",
            (race, up_to_id, count),
        )
        return [r[0] for r in reversed(rows)]


def _key(key: DigestKey) -> tuple[str, str, str, str]:
    return (key.race, key.platform, key.channel, key.day.isoformat())
