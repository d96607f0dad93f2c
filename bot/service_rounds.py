"""The service's use cases for anonymous rounds (UN straw polls): recording one, undoing it,
and reading the rounds of a day, the race file's and those editors recorded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date

from bot.domain import Actor, Ballots, Race, Round, TallyError, format_date
from bot.export import ROUND_COLUMNS, Export, content_type, round_rows, write_rows
from bot.roster import Roster
from bot.store.store import Store
from bot.text import check_source, one_line

MAX_ROUND_NAME = 80
_COUNTS = re.compile(r"^(?P<name>.+?)\s+(?P<e>\d{1,3})-(?P<d>\d{1,3})-(?P<n>\d{1,3})$")
EXAMPLE = "Guterres 12-0-3, Türk 11-2-2"


class RoundUseCases:
    """Part of the Service (which sets these attributes up)."""

    store: Store
    race: Race
    roster: Roster
    check_day: Callable[[date], date]
    today: Callable[[], date]
    data_version: int  # the file's, at the service's last refresh
    rounds_kept: dict[tuple[int, date], list[Round]]

    async def record_round(
        self,
        actor: Actor,
        counts: str,
        on: date | None = None,
        source: str | None = None,
        name: str | None = None,
        veto: str | None = None,
    ) -> Round:
        """A published round: `counts` as typed ("Guterres 12-0-3, Türk 11-2-2": encourage,
        discourage, no opinion), and the veto members' coloured ballots apart in `veto`."""
        actor.require_editor("record rounds")
        day = self.check_day(on or self.today())
        seats = len(self.race.members_on(day))
        vetoes = len(getattr(self.race.rule_on(day), "veto", ()))
        if veto and not vetoes:
            raise TallyError(f"No member of {self.race.title} has a veto; leave out veto:.")
        held = Round(
            on=day,
            name=one_line(name or "").strip()[:MAX_ROUND_NAME] or f"round of {format_date(day)}",
            source=check_source(source) or "",
            counts=self._ballots(counts, seats, "members"),
            veto_counts=self._ballots(veto, vetoes, "veto members") if veto else (),
        )
        if not held.source:
            raise TallyError("A round needs its source: add source:https://... to the report.")
        await self.store.add_round(self.race.id, held, actor)
        self.rounds_kept.clear()  # they were read before this round was recorded
        return held

    def _ballots(self, typed: str, seats: int, who: str) -> tuple[Ballots, ...]:
        ballots: dict[str, Ballots] = {}
        for part in filter(None, (p.strip() for p in typed.split(","))):
            match = _COUNTS.match(part)
            if match is None:
                raise TallyError(
                    f"'{part[:60]}': give each candidate's counts as encourage-discourage-"
                    f"no opinion, e.g. {EXAMPLE}."
                )
            candidate = self.roster.candidate(match["name"])
            numbers = int(match["e"]), int(match["d"]), int(match["n"])
            if sum(numbers) > seats:
                raise TallyError(
                    f"{candidate.name}: {'-'.join(map(str, numbers))} is more ballots than the "
                    f"{seats} {who} who vote."
                )
            if candidate.key in ballots:
                raise TallyError(f"{candidate.name} is given twice; give each candidate once.")
            ballots[candidate.key] = Ballots(candidate.key, *numbers)
        if not ballots:
            raise TallyError(f"Give each candidate's counts, e.g. /round {EXAMPLE} source:...")
        return tuple(ballots.values())

    async def rounds_on(self, day: date) -> list[Round]:
        """Every round held by the end of `day`, the race file's and those recorded, by date;
        read once per day asked while nothing is committed (see Service.refresh)."""
        key = (self.data_version, day)
        if key not in self.rounds_kept:
            recorded = await self.store.rounds(self.race.id, day)
            held = [r for r in self.race.rounds if r.on <= day]
            if len(self.rounds_kept) >= 16:
                self.rounds_kept.clear()
            self.rounds_kept[key] = sorted((*held, *recorded), key=lambda r: r.on)
        return self.rounds_kept[key]

    async def round_on(self, day: date) -> Round | None:
        """The latest round held by the end of `day`."""
        rounds = await self.rounds_on(day)
        return rounds[-1] if rounds else None

    async def export_rounds(
        self, fmt: str = "csv", since: date | None = None, until: date | None = None
    ) -> Export:
        """The rounds held from `since` to `until`, a row per candidate, as a file (CSV or
        JSON, gzipped for `.gz`); rounds are few, so they are read at once."""
        if since is not None and until is not None and since > until:
            raise TallyError(f"since:{since} is after until:{until}; give the earlier day first.")
        held = [
            r for r in await self.rounds_on(until or self.today()) if not since or r.on >= since
        ]
        names = {c.key: c.name for c in self.roster.candidate_list}
        rows = list(round_rows(self.race.id, held, names))
        path, count = await asyncio.to_thread(write_rows, ROUND_COLUMNS, rows, fmt)
        stem = f"{self.race.id}-rounds-{self.today().isoformat()}"
        return Export(f"{stem}.{fmt}", content_type(fmt), path, count)

    async def undo_round(self, actor: Actor) -> Round | None:
        """Revert the actor's latest round if it came after their latest undoable event (what
        /undo would otherwise revert); the round undone, or None."""
        last = await self.store.last_round_of(self.race.id, actor)
        if last is None:
            return None
        round_id, recorded_at = last
        event_at = await self.store.last_event_recorded_by(self.race.id, actor)
        if event_at is not None and event_at > recorded_at:
            return None
        if not await self.store.undo_round(self.race.id, round_id, actor):
            return None  # another command undid it first
        return next(iter(await self.store.round(round_id)), None)
