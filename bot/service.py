"""Use cases every adapter calls; validation and permissions live here so no adapter skips them."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date

from bot.config import Clock
from bot.domain import (
    Actor,
    Candidate,
    Event,
    Member,
    Position,
    Race,
    Tally,
    TallyError,
    compute_tally,
    countdown,
    format_date,
    met_on,
)
from bot.roster import Roster, fold
from bot.storage import NewEvent, Store

MAX_NOTE = 500
MAX_SOURCE = 2_000
MAX_HISTORY = 100
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Recorded:
    event: Event
    previous: Event | None  # the member's position before this one


@dataclass(frozen=True)
class Undone:
    undo: Event
    reverted: Event
    now: Event | None  # the member's position after the undo


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    data: bytes
    events: int


def check_source(source: str | None) -> str | None:
    if source is None or source == "":
        return None
    source = source.strip().strip("<>")
    if len(source) > MAX_SOURCE or not _URL.match(source):
        raise TallyError(
            f"Source '{source[:80]}' is not a web address; give an http(s) URL, "
            "e.g. source:https://www.reuters.com/..."
        )
    return source


def check_note(note: str | None) -> str | None:
    if not note:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise TallyError(f"The note has {len(note)} characters; keep it to {MAX_NOTE}.")
    return note


def check_date(day: date, today: date, what: str = "date") -> date:
    if day > today:
        raise TallyError(
            f"The {what} {day.isoformat()} is after today ({today.isoformat()}); "
            "record events once they have happened."
        )
    return day


class Service:
    def __init__(self, store: Store, race: Race, clock: Clock) -> None:
        self.store = store
        self.race = race
        self.clock = clock
        self.roster = Roster(race)

    async def start(self, demo: bool = False) -> int:
        """Prepare the database for the race; with `demo`, load its seed events once."""
        await self.store.ensure_candidates(self.race.id, self.race.candidates)
        await self._reload_candidates()
        if not demo:
            return 0
        seeder = Actor("seed", "race-file", "race file")
        return await self.store.seed(
            self.race.id,
            (
                NewEvent(
                    self.race.id, s.member, s.position, s.candidate, s.on, seeder, s.source, s.note
                )
                for s in self.race.seed
            ),
        )

    async def _reload_candidates(self) -> None:
        self.roster.set_candidates(await self.store.candidates(self.race.id))

    def today(self) -> date:
        return self.clock.today()

    # --- recording ----------------------------------------------------------------------

    async def record(
        self,
        actor: Actor,
        member: Member,
        position: Position,
        candidate: Candidate | None = None,
        on: date | None = None,
        source: str | None = None,
        note: str | None = None,
    ) -> Recorded:
        actor.require_editor("record positions")
        if position is Position.UNDECIDED:
            candidate = None
        elif candidate is None:
            raise TallyError(f"Say which candidate {member.name} {position.value}.")
        if candidate is not None and candidate.withdrawn_on is not None:
            raise TallyError(
                f"{candidate.name} withdrew on {format_date(candidate.withdrawn_on)}; "
                "record positions on an active candidate (see /candidates)."
            )
        new = NewEvent(
            race=self.race.id,
            member=member.code,
            position=position.value,
            candidate=candidate.key if candidate else None,
            happened_on=check_date(on or self.today(), self.today()),
            actor=actor,
            source=check_source(source),
            note=check_note(note),
        )
        previous = await self.store.position_of(self.race.id, member.code)
        return Recorded(await self.store.append(new), previous)

    async def undo(self, actor: Actor) -> Undone:
        actor.require_editor("undo recordings")
        undo = await self.store.undo_last(self.race.id, actor)
        if undo is None:
            raise TallyError("You have nothing left to undo; /history shows the log.")
        reverted = await self.store.event(undo.reverts)
        now = await self.store.position_of(self.race.id, undo.member)
        return Undone(undo, reverted, now)

    async def add_candidate(self, actor: Actor, name: str, member: Member | None) -> Candidate:
        actor.require_editor("add candidates")
        name = " ".join(name.split())
        if not name or len(name) > 100:
            raise TallyError("Give the candidate's full name, e.g. /candidate add Klaus Iohannis.")
        key = fold(name).replace(" ", "-")
        existing = self.roster.candidates.find(name)
        if existing is not None:
            raise TallyError(f"{self.roster.candidates.display[existing]} is already a candidate.")
        candidate = Candidate(key=key, name=name, member=member.code if member else None)
        if not await self.store.add_candidate(self.race.id, candidate):
            raise TallyError(f"A candidate with the key '{key}' exists already.")
        await self._reload_candidates()
        return candidate

    async def withdraw_candidate(self, actor: Actor, candidate: Candidate) -> Candidate:
        actor.require_editor("withdraw candidates")
        if candidate.withdrawn_on is not None:
            raise TallyError(
                f"{candidate.name} withdrew already, on {format_date(candidate.withdrawn_on)}."
            )
        await self.store.withdraw_candidate(self.race.id, candidate.key, self.today())
        await self._reload_candidates()
        return next(c for c in self.roster.candidate_list if c.key == candidate.key)

    # --- reading ------------------------------------------------------------------------

    def active_candidates(self) -> list[Candidate]:
        return [c for c in self.roster.candidate_list if c.withdrawn_on is None]

    async def tally(self, candidate: Candidate | None = None, as_of: date | None = None) -> Tally:
        if as_of is None:
            latest = await self.store.current(self.race.id)
        else:
            latest = await self.store.as_of(self.race.id, check_date(as_of, self.today(), "as_of"))
        candidates = [candidate] if candidate else self.active_candidates()
        return compute_tally(
            self.race, candidates, latest, as_of or self.today(), self.candidate_names()
        )

    def candidate_names(self) -> dict[str, str]:
        return {
            c.key: f"{c.name} (withdrawn)" if c.withdrawn_on else c.name
            for c in self.roster.candidate_list
        }

    async def countdown(self, tally: Tally | None = None) -> str:
        """The countdown line; once a candidate meets the rule, the day it did."""
        tally = tally or await self.tally()
        for t in tally.candidates:
            if t.met:
                events = await self.store.events(self.race.id)
                day = met_on(events, t.candidate.key, t.required)
                if day is not None and day <= tally.as_of:
                    return countdown(self.race, tally.as_of, (t.candidate.name, day))
        return countdown(self.race, tally.as_of)

    def leader(self, tally: Tally) -> Candidate:
        return max(tally.candidates, key=lambda t: t.count).candidate

    async def history(self, member: Member | None = None, limit: int = 10) -> list[Event]:
        if not 1 <= limit <= MAX_HISTORY:
            raise TallyError(f"limit:{limit} is out of range; use 1 to {MAX_HISTORY}.")
        return await self.store.history(self.race.id, member.code if member else None, limit)

    async def event(self, event_id: int) -> Event | None:
        return await self.store.event(event_id)

    async def export(self, fmt: str = "csv") -> Export:
        events = await self.store.events(self.race.id)
        rows = [
            {
                "id": e.id,
                "race": e.race,
                "member": e.member,
                "member_name": self.race.member(e.member).name,
                "position": e.position,
                "candidate": e.candidate or "",
                "happened_on": e.happened_on.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "recorded_by_platform": e.actor.platform,
                "recorded_by_id": e.actor.id,
                "recorded_by_name": e.actor.name,
                "source": e.source or "",
                "note": e.note or "",
                "reverts": e.reverts or "",
            }
            for e in events
        ]
        stem = f"{self.race.id}-events-{self.today().isoformat()}"
        if fmt == "json":
            data = json.dumps(rows, ensure_ascii=False, indent=2).encode()
            return Export(f"{stem}.json", "application/json", data, len(rows))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        return Export(f"{stem}.csv", "text/csv", buffer.getvalue().encode(), len(rows))
