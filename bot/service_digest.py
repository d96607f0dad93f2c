"""The service's use cases for the daily digest: subscribing a channel, and the door through
which the scheduler and the digest read and write the digest's records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime, time

from bot.clock import Clock, time_of_day, zone_named
from bot.config import DigestConfig
from bot.digest_records import DigestKey, DigestSend, DigestStatus, SentDigest, Subscription
from bot.domain import Actor, Event, Race, TallyError
from bot.store.store import Store


def _time(text: str) -> time:
    try:
        return time_of_day(text)
    except ValueError:
        raise TallyError(f"time:{text} is not a time; use HH:MM like 09:00.") from None


def _zone(text: str) -> str:
    try:
        return zone_named(text)
    except ValueError as exc:
        raise TallyError(str(exc)) from None


class DigestUseCases:
    """Part of the Service (which sets these attributes up); one module per group of use cases
    keeps each small."""

    store: Store
    race: Race
    clock: Clock
    digest: DigestConfig
    # Called after /subscribe and /unsubscribe: the digest scheduler learns of it at once.
    subscription_listeners: list[Callable[[], Awaitable[None]]]

    async def subscribe(
        self,
        actor: Actor,
        platform: str,
        channel: str,
        at: str | None = None,
        timezone: str | None = None,
    ) -> Subscription:
        """Subscribe a channel to the daily digest (default: the configured time and zone)."""
        actor.require_editor("subscribe a channel to the digest")
        self._check_channel(platform, channel)
        sub = Subscription(
            race=self.race.id,
            platform=platform,
            channel=channel,
            time=_time(at) if at else self.digest.time,
            timezone=_zone(timezone) if timezone else self.clock.tz.key,
            since=self.clock.now(),
        )
        await self.store.subscribe(sub, actor)
        for listener in self.subscription_listeners:
            await listener()
        return sub

    async def unsubscribe(self, actor: Actor, platform: str, channel: str) -> None:
        actor.require_editor("unsubscribe a channel from the digest")
        self._check_channel(platform, channel)
        if not await self.store.unsubscribe(self.race.id, platform, channel):
            raise TallyError("This channel is not subscribed; /subscribe starts the daily digest.")
        for listener in self.subscription_listeners:
            await listener()

    def _check_channel(self, platform: str, channel: str) -> None:
        if not channel:
            raise TallyError(
                "The digest goes to a Slack or Discord channel, and the console has none; "
                "list channels under [[digest.channels]] in the config instead."
            )
        if any(c.platform == platform and c.channel == channel for c in self.digest.channels):
            raise TallyError(
                "This channel's digest is set in the config file ([[digest.channels]]); "
                "change it there."
            )

    async def sync_digest_channels(self) -> None:
        """Store the config file's digest channels as subscriptions, due from when first seen."""
        configured = [
            Subscription(
                self.race.id, c.platform, c.channel, c.time, c.timezone or self.clock.tz.key
            )
            for c in self.digest.channels
        ]
        await self.store.sync_config_subscriptions(self.race.id, configured, self.clock.now())

    # --- the digest's records: the scheduler and the digest reach the store only here

    async def subscriptions(self) -> list[Subscription]:
        return await self.store.subscriptions(self.race.id)

    async def digest_sends(self, days: Iterable[date]) -> dict[DigestKey, DigestSend]:
        """The send records of the race's channels on those (local) days."""
        return await self.store.digest_sends(self.race.id, days)

    async def claim_digest(
        self,
        key: DigestKey,
        now: datetime,
        stale_before: datetime,
        status: DigestStatus = DigestStatus.SENDING,
        error: str | None = None,
    ) -> bool:
        """True if this caller now owns the channel's digest of that day (see Store)."""
        return await self.store.claim_digest(key, now, stale_before, status, error)

    async def digest_result(
        self,
        key: DigestKey,
        now: datetime,
        status: DigestStatus,
        error: str | None = None,
        covered_to: int | None = None,
    ) -> None:
        await self.store.digest_result(key, now, status, error, covered_to)

    async def digest_posted(self, key: DigestKey, now: datetime, posted: int) -> None:
        """The first `posted` messages of the channel's digest that day are out."""
        await self.store.digest_posted(key, now, posted)

    async def digest_covers(self, fire: datetime) -> int:
        """The last event the digest that fired at `fire` covers, fixed by its first build in
        any process, so a retry or a second process posts the same digest."""
        last_event = await self.store.last_event_id(self.race.id)
        return await self.store.digest_build(self.race.id, fire, last_event, self.clock.now())

    async def previous_digests(self, keys: Sequence[DigestKey]) -> dict[DigestKey, SentDigest]:
        """For each channel and day, the channel's latest digest sent before that day."""
        return await self.store.previous_sends(keys)

    async def positions(self, day: date, up_to_id: int) -> dict[str, Event]:
        """Each member's position at the end of `day`, counting what was recorded up to
        `up_to_id`: what a digest's "what changed" compares."""
        if up_to_id == 0:
            return {}  # before the first event (the store reads an id of 0 as "all")
        members = [m.code for m in self.race.members]
        return await self.store.as_of(self.race.id, day, members, up_to_id)

    async def recorded_before(self, instant: datetime, up_to_id: int) -> int:
        """The last event up to `up_to_id` recorded before `instant` (0 if none): where a
        channel's first digest starts."""
        return await self.store.recorded_before(self.race.id, instant, up_to_id)

    async def latest_events(self, count: int, up_to_id: int) -> list[int]:
        """The ids of the latest `count` events up to `up_to_id`, in recording order."""
        return await self.store.latest_event_ids(self.race.id, count, up_to_id)

    async def latest_digest(self, before: date) -> SentDigest | None:
        """The race's latest digest sent, to any channel, before the day `before`."""
        return await self.store.latest_send(self.race.id, before)
