"""The service's use cases for alerts as it happens: following a channel (/follow), and the
door through which the alerts reach their rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from bot.clock import Clock
from bot.domain import Actor, Race, TallyError

if TYPE_CHECKING:  # the store's rows read these records
    from bot.store.store import Store


class AlertStatus(enum.StrEnum):
    """Where a channel's alert of one minute stands."""

    SENDING = "sending"  # claimed; being posted (or its process stopped mid-post)
    SENT = "sent"
    FAILED = "failed"  # every attempt failed: not tried again
    SKIPPED = "skipped"  # nothing changed (undone within the minute), or too far behind
    REJECTED = "rejected"  # the platform refused the channel: its alerts stopped


@dataclass(frozen=True)
class Follow:
    """A channel that gets the race's alerts, for what is recorded from `since`."""

    race: str
    platform: str
    channel: str
    since: datetime


CHANGES = ""  # an alert's part: the minute's changes (claimed last, so the minute is done)
RULE_MET = "rule-met"  # the part of the change that met the rule: a post of its own, first


@dataclass(frozen=True)
class AlertKey:
    race: str
    platform: str
    channel: str
    minute: str  # UTC 'YYYY-MM-DDTHH:MM': when the alert's events were recorded
    part: str = CHANGES  # or RULE_MET: each post of a minute is claimed on its own


@dataclass(frozen=True)
class AlertSend:
    status: AlertStatus
    events: tuple[int, ...]  # the ids of the events it covers
    attempts: int
    updated_at: datetime


class Minute(NamedTuple):
    """A minute (UTC 'YYYY-MM-DDTHH:MM') and the ids of the race's events recorded in it."""

    minute: str
    events: tuple[int, ...]


class AlertUseCases:
    """Part of the Service (which sets these attributes up)."""

    store: Store
    race: Race
    clock: Clock

    async def follow(self, actor: Actor, platform: str, channel: str) -> bool:
        """The channel gets an alert within a minute of each change; False if it did already."""
        actor.require_editor("make a channel follow the race")
        _check_channel(channel)
        return await self.store.follow(
            Follow(self.race.id, platform, channel, self.clock.now()), actor
        )

    async def unfollow(self, actor: Actor, platform: str, channel: str) -> None:
        actor.require_editor("stop a channel's alerts")
        _check_channel(channel)
        if not await self.store.unfollow(self.race.id, platform, channel):
            raise TallyError("This channel does not follow the race; /follow starts its alerts.")

    # --- the alerts' records: the alerts reach the store only here

    async def follows(self) -> list[Follow]:
        return await self.store.follows(self.race.id)

    async def stop_alerts(self, platform: str, channel: str, reason: str) -> None:
        """The platform refused the channel for good: no more alerts until /follow again."""
        await self.store.stop_alerts(self.race.id, platform, channel, reason)

    async def alert_minutes(self, after_id: int, up_to_id: int) -> list[Minute]:
        return await self.store.alert_minutes(self.race.id, after_id, up_to_id)

    async def alert_sends(self, from_minute: str) -> dict[AlertKey, AlertSend]:
        return await self.store.alert_sends(self.race.id, from_minute)

    async def claim_alert(
        self,
        key: AlertKey,
        events: tuple[int, ...],
        now: datetime,
        stale_before: datetime,
        status: AlertStatus = AlertStatus.SENDING,
        error: str | None = None,
    ) -> bool:
        """True if this caller now owns the channel's alert of that minute (see Store)."""
        return await self.store.claim_alert(key, events, now, stale_before, status, error)

    async def alert_result(
        self, key: AlertKey, now: datetime, status: AlertStatus, error: str | None = None
    ) -> None:
        await self.store.alert_result(key, now, status, error)


def _check_channel(channel: str) -> None:
    if not channel:
        raise TallyError(
            "Alerts go to a Slack or Discord channel, and the console has none; "
            "/follow there, or /history here."
        )
