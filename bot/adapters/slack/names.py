"""Slack users' display names, as the log records who recorded what: each looked up (by the
adapter, with users.info) once an hour at most, a bounded number kept; when a lookup fails,
the name it had, else the command's user_name (deprecated by Slack, but sent) or the user id."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

NAMES_KEPT = 1_000  # users whose display name is cached; the least recently used goes first
NAME_TTL = 3_600.0  # seconds a display name is trusted
NAME_RETRY = 60.0  # seconds before a failed lookup is tried again


class DisplayNames:
    def __init__(self, lookup: Callable[[str], Awaitable[str | None]]) -> None:
        """`lookup`: a user id to its display name, None when it cannot say."""
        self.lookup = lookup
        self._names: OrderedDict[str, tuple[str, float]] = OrderedDict()  # name, read at

    async def name(self, user: str, fallback: str, now: float) -> str:
        kept = self._names.get(user)
        if kept is not None and now - kept[1] < NAME_TTL:
            self._names.move_to_end(user)
            return kept[0]
        found = await self.lookup(user)
        if found:
            self._keep(user, found, now)
            return found
        name = kept[0] if kept is not None else fallback
        self._keep(user, name, now - NAME_TTL + NAME_RETRY)  # asked again a minute on
        return name

    def _keep(self, user: str, name: str, read_at: float) -> None:
        self._names[user] = (name, read_at)
        self._names.move_to_end(user)
        while len(self._names) > NAMES_KEPT:
            self._names.popitem(last=False)
