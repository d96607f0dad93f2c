"""Time: the injected Clock, and the one way to read a time zone's name and a time of day."""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


class Clock:
    """The current time in the configured zone.

    Pinned to a day (`today`: demos, rehearsals), the date stands still and the time of day
    runs on; pinned to an instant (`at`: tests), all of it stands still until set again.
    """

    def __init__(
        self, tz: ZoneInfo, today: date | None = None, *, at: datetime | None = None
    ) -> None:
        self.tz = tz
        self.pinned_today = today
        self.pinned_at = at  # an aware datetime

    def now(self) -> datetime:
        if self.pinned_at is not None:
            return self.pinned_at.astimezone(self.tz)
        now = datetime.now(self.tz)
        if self.pinned_today is None:
            return now
        return datetime.combine(self.pinned_today, now.timetz())

    def today(self) -> date:
        return self.now().date()


@cache
def _zones() -> dict[str, str]:
    """Every IANA time zone name, keyed by its lower-case form."""
    return {name.lower(): name for name in available_timezones()}


def zone_named(text: str) -> str:
    """The IANA time zone `text` names, whatever its case; ValueError, with a suggestion for
    a near miss, if there is none."""
    name = text.strip()
    if name.lower() in _zones():
        return _zones()[name.lower()]
    close = difflib.get_close_matches(name.lower(), _zones(), n=1, cutoff=0.8)
    hint = f"Did you mean {_zones()[close[0]]}?" if close else "Use a name like Europe/Brussels."
    raise ValueError(f"Unknown time zone '{name}'. {hint}")


def time_of_day(text: str) -> time:
    """HH:MM (or H:MM), to the minute as digests are scheduled; ValueError if it is not."""
    match = _HH_MM.match(text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    return time(int(match[1]), int(match[2]))
