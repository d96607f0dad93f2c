"""Every race an instance follows, one Service each over one store, and which race a command
is about: the one it names (race:), else its channel's (/race use), else the first listed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

from bot.domain import Actor
from bot.replies import Reply
from bot.roster import Index
from bot.service import Service

KEEP = 32  # answers kept (see run_line); a commit makes every one kept before it unreachable


class Desk:
    def __init__(self, services: Sequence[Service]) -> None:
        if not services:
            raise ValueError("a desk follows at least one race")
        self.services = {s.race.id: s for s in services}
        self.default = services[0]
        self.store = self.default.store
        self.names = Index("race", ((s.race.id, s.race.id, (s.race.title,)) for s in services))
        self.kept: dict[tuple[Any, ...], Reply] = {}  # see run_line
        self._version: asyncio.Task[int] | None = None  # the read the next askers share
        if self.several:
            for service in services:
                service.roster.elsewhere = partial(self.elsewhere, current=service)

    @classmethod
    def of(cls, followed: Desk | Service) -> Desk:
        """A desk as given, or the desk of one race."""
        return followed if isinstance(followed, Desk) else cls([followed])

    async def data_version(self) -> int:
        """The store's data version (see Service.refresh), one read shared by the commands
        asking before it begins: none of them misses a commit made before it asked."""
        if self._version is None:
            self._version = asyncio.ensure_future(self._read_version())
        return await asyncio.shield(self._version)

    async def _read_version(self) -> int:
        self._version = None  # whoever asks from now on may have asked too late for this read
        return await self.store.data_version()

    def keep(self, key: tuple[Any, ...], reply: Reply) -> None:
        """Keep an answer that holds while its key does (a file is sent once: never kept)."""
        if reply.attachment is not None or reply.error:
            return
        if len(self.kept) >= KEEP:
            self.kept.clear()
        self.kept[key] = reply

    @property
    def several(self) -> bool:
        return len(self.services) > 1

    def named(self, text: str) -> Service:
        """The race `text` names, by id or title ("Unknown race 'nato'. Did you mean ...?")."""
        return self.services[self.names.resolve(text)]

    def suggest(self, text: str) -> list[str]:
        """Race ids completing a partly typed one, for autocomplete."""
        return self.names.suggest(text)

    async def service_for(self, platform: str, channel: str, named: str | None) -> Service:
        """The service of the race a command is about."""
        if named:
            return self.named(named)
        if not self.several:
            return self.default  # one race: no read to make
        chosen = await self.store.channel_race(platform, channel)
        return self.services.get(chosen or "", self.default)

    async def use(self, actor: Actor, platform: str, channel: str, service: Service) -> None:
        """Make `service`'s race the channel's default (editors only)."""
        actor.require_editor("choose a channel's race")
        await self.store.set_channel_race(platform, channel, service.race.id, actor)

    def elsewhere(self, kind: str, text: str, current: Service) -> str | None:
        """For a member or candidate name unknown in `current`'s race, the line naming the
        races that have it, or None when none does."""
        found = []
        for service in self.services.values():
            if service is current:
                continue
            index = service.roster.members if kind == "member" else service.roster.candidates
            key = index.find(text)
            if key is not None:
                found.append((service.race.id, index.display[key]))
        if not found:
            return None
        races = " and ".join(race for race, _ in found[:3])
        return (
            f"{found[0][1]} is not a {kind} of {current.race.title}, but of {races}: "
            f"add race:{found[0][0]}, or /races lists them."
        )
