"""The daily digest's records: who gets it, and each (channel, day) send with its status."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time


class DigestStatus(enum.StrEnum):
    """Where a channel's digest of one day stands."""

    SENDING = "sending"  # claimed; being posted (or its process stopped mid-post)
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; tried again while within the grace
    SKIPPED = "skipped"  # found too late, or nothing new once the race ended: not sent
    REJECTED = "rejected"  # the platform refused the channel: not tried again that day


@dataclass(frozen=True)
class Subscription:
    """A channel that gets the daily digest at a local time in an IANA time zone."""

    race: str
    platform: str
    channel: str
    time: time
    timezone: str
    since: datetime | None = None  # fire times before this are not due; None: any


@dataclass(frozen=True)
class DigestKey:
    race: str
    platform: str
    channel: str
    day: date  # the local date in the subscription's time zone


@dataclass(frozen=True)
class DigestSend:
    key: DigestKey
    status: DigestStatus
    attempts: int
    last_error: str | None
    claimed_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    covered_to: int | None = None  # once sent: the last event the digest covered
    posted: int = 0  # messages of it the platform accepted: a retry resumes after them


@dataclass(frozen=True)
class SentDigest:
    """A channel's digest that went out: what the next one's "what changed" starts after."""

    day: date
    covered_to: int  # the last event it covered
