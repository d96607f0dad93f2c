"""Use cases every adapter calls; validation and permissions live here so no adapter skips them."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from datetime import date

from bot.clock import Clock
from bot.config import DigestConfig
from bot.domain import (
    COUNTED,
    SEED_ACTOR,
    Actor,
    Candidate,
    CandidateAction,
    CandidateTally,
    Change,
    Confidence,
    Event,
    Member,
    Position,
    Race,
    Round,
    Standing,
    Tally,
    TallyError,
    compute_tally,
    countdown,
    counting,
    format_date,
    moved,
)
from bot.export import Export, content_type, write_export
from bot.replays import Replays
from bot.roster import Roster, fold
from bot.service_alerts import AlertUseCases
from bot.service_digest import DigestUseCases
from bot.service_proposals import ProposalUseCases, Reviewer
from bot.service_rounds import RoundUseCases
from bot.store.store import NewEvent, Store
from bot.text import check_note, check_source, one_line, skeleton

log = logging.getLogger(__name__)

MAX_HISTORY = 100
YEARS_BACK = 10  # how far before its deadline a race's events may be dated
EXPORT_WAIT = 30.0  # seconds an export waits for the one before it to finish
WARM_WAIT = 0.2  # seconds start waits for the replay's warm-up before going on without it
_NOT_IN_KEY = re.compile(r"[\W_]+")  # a candidate's key keeps letters and digits only


@dataclass(frozen=True)
class Recorded:
    event: Event
    previous: Event | None  # the member's position before this one
    standing: Standing | None = None  # a repeat: since when, and the latest source


@dataclass(frozen=True)
class Undone:
    undo: Event
    reverted: Event
    now: Event | None  # the member's position after the undo


@dataclass(frozen=True)
class Added:
    candidate: Candidate
    had_withdrawn_on: date | None = None  # set when a withdrawn candidate came back


class Service(DigestUseCases, RoundUseCases, AlertUseCases, ProposalUseCases):
    """The use cases every adapter calls; the digest's, the rounds', the alerts' and the
    proposals' are in their own modules (service_digest, service_rounds, ...)."""

    def __init__(
        self, store: Store, race: Race, clock: Clock, digest: DigestConfig | None = None
    ) -> None:
        self.store = store
        self.race = race
        self.clock = clock
        self.digest = digest or DigestConfig()
        self.subscription_listeners = []
        self.reviewers: dict[str, Reviewer] = {}  # see ProposalUseCases
        self.roster = Roster(race)
        # the replays of what /tally counts, and of what it counts strictly (on record)
        self._replays = {s: Replays(store, race, counting(s)) for s in (False, True)}
        # the candidate log's version and the day the roster was read for; none yet
        self._candidates_version: tuple[int, date] | None = None
        self._refreshed_on: date | None = None
        # What was read at the file's last data version: it holds until anything is committed.
        self.data_version = -1
        self.rounds_kept: dict[tuple[int, date], list[Round]] = {}  # see RoundUseCases
        self._now: tuple[tuple[int, date], Tally] | None = None  # today's tally of everyone
        self._countdowns: dict[tuple[int, date], tuple[str, bool]] = {}  # its countdown
        self._export_lock = asyncio.Lock()

    async def start(self, demo: bool = False) -> int:
        """Prepare the database for the race; with `demo`, load its seed events once. The
        replay that finds the day the rule was met is warmed: from the checkpoints kept in the
        file that takes a few milliseconds, and the first command answers warm; a long replay
        (no checkpoints kept yet) goes on in the background after WARM_WAIT."""
        await self._enter_candidates()
        await self.refresh()
        added = (
            0
            if not demo
            else await self.store.seed(
                self.race.id,
                (
                    NewEvent(
                        self.race.id,
                        s.member,
                        s.position,
                        s.candidate,
                        s.on,
                        SEED_ACTOR,
                        s.source,
                        s.note,
                        s.confidence,
                        s.condition,
                    )
                    for s in self.race.seed
                ),
            )
        )
        warm = self.store.background(self._warm())
        await asyncio.wait({warm}, timeout=WARM_WAIT)
        return added

    async def _enter_candidates(self) -> None:
        """Add the race file's candidates the database does not know yet, on the days they
        entered, with the withdrawals it dates. Only a candidate added now gets them, so an
        editor's later change (a return) is never undone by a restart."""
        entries = {(e.candidate, e.action): e.on for e in self.race.entries}
        for candidate in self.race.candidates:
            entered = entries.get((candidate.key, CandidateAction.ADD))
            if not await self.store.add_candidate(self.race.id, candidate, entered, SEED_ACTOR):
                continue
            withdrew = entries.get((candidate.key, CandidateAction.WITHDRAW))
            if withdrew is not None:
                await self.store.candidate_change(
                    self.race.id, candidate.key, CandidateAction.WITHDRAW, withdrew, SEED_ACTOR
                )

    async def refresh(self, data_version: int | None = None) -> None:
        """Follow what any process changed: the candidates are kept in the roster, so they are
        read again when the candidate log has changed, and what is kept of today's tally holds
        until anything is committed (one cheap step when nothing was; call it per command).
        `data_version`, the store's, read since the caller's command began (Desk.data_version
        shares one read between commands), saves reading it here."""
        if data_version is None:
            data_version = await self.store.data_version()
        today = self.today()
        if (data_version, today) == (self.data_version, self._refreshed_on):
            return
        self.data_version, self._refreshed_on = data_version, today
        self._now, self._countdowns = None, {}
        self.rounds_kept.clear()
        version = (await self.store.candidates_version(), today)
        if version != self._candidates_version:
            # as of today: a race file's candidate who enters later is not one yet
            self.roster.set_candidates(await self.store.candidates(self.race.id, today))
            self._candidates_version = version

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
        confidence: Confidence | None = None,
        condition: str | None = None,
    ) -> Recorded:
        """Record a position; `confidence` defaults by its source (Confidence.default)."""
        actor.require_editor("record positions")
        candidate, day = self.checked_position(member, position, candidate, on)
        new = NewEvent(
            race=self.race.id,
            member=member.code,
            position=position.value,
            candidate=candidate.key if candidate else None,
            happened_on=day,
            actor=actor,
            source=check_source(source),
            note=check_note(note),
            confidence=confidence,
            condition=check_note(condition, "condition"),
        )
        appended = await self.store.append(new)
        if appended is None:  # the candidate was not in the race that day: the log decides
            assert candidate is not None
            raise TallyError(await self._not_in_race(candidate, day))
        event, previous, standing = appended  # a repeat's standing, read as it was written
        if previous is not None and previous.happened_on > self.today():
            # a race file's event dated after a pinned demo day: not yet, so not what it replaces
            before = await self.store.as_of(self.race.id, day, [member.code], event.id - 1)
            previous = before.get(member.code)
            standing = await self._standing_of_repeat(event, previous)
        await self._read_model_after_write()
        return Recorded(event, previous, standing)

    async def _warm(self) -> None:
        """What /tally shows of today, kept until anything is committed: the tally, its
        countdown (the day the rule was met) and the round held today."""
        tally = await self.tally()
        await self.countdown(tally)
        await self.round_on(tally.as_of)

    async def _read_model_after_write(self) -> None:
        """Bring what /tally shows of today (`_warm`: the day the rule was met mended from
        the day the write touched) up to date before the write is answered, so the readers who
        ask next are answered at once; readers far outnumber editors. A burst of writes does
        it once, after its last; a failure here does not fail the write."""
        if self.store.writes_waiting():
            return
        try:
            await self._warm()
        except Exception:  # the write stands; the next reader computes it instead
            log.warning("Could not bring the tally up to date after a write", exc_info=True)

    async def _standing_of_repeat(self, event: Event, previous: Event | None) -> Standing | None:
        """Since when, and the latest source, of a recording that repeats `previous` (the same
        position, on a day not before it); None for one that does not."""
        if previous is None or previous.happened_on > event.happened_on:
            return None
        if (previous.position, previous.candidate) != (event.position, event.candidate):
            return None
        standings = await self.store.standings(self.race.id, [event.member], event.happened_on)
        return standings.get(event.member)

    def checked_position(
        self, member: Member, position: Position, candidate: Candidate | None, on: date | None
    ) -> tuple[Candidate | None, date]:
        """What a recording (or a reader's proposal of one) is about, checked: its candidate
        (none for undecided) and its day, on which the member must be a member."""
        if position is Position.UNDECIDED:
            candidate = None
        elif candidate is None:
            raise TallyError(f"Say which candidate {member.name} {position.value}.")
        day = self.check_day(on or self.today())
        self._check_member_on(member, day)
        return candidate, day

    def _check_member_on(self, member: Member, day: date) -> None:
        """A position is a member's: refused on a day it was not one (before it joined)."""
        if member.code in self.race.codes_on(day):
            return
        tenure = self.race.tenure(member.code)
        assert tenure is not None, "only a member with a tenure is ever out"
        if tenure.joined is not None and day < tenure.joined:
            when = f"it joined on {format_date(tenure.joined)}; date the position from then on"
        else:
            assert tenure.left is not None
            when = f"it left on {format_date(tenure.left)}; date the position before then"
        raise TallyError(
            f"{member.name} was not a member of {self.race.title} on {format_date(day)}: {when}."
        )

    async def _not_in_race(self, candidate: Candidate, day: date) -> str:
        await self.refresh()
        then = {c.key: c for c in await self.candidates_on(day)}.get(candidate.key)
        if then is not None and then.withdrawn_on is not None:
            return (
                f"{candidate.name} withdrew on {format_date(then.withdrawn_on)}; "
                "record positions on an active candidate (see /candidates)."
            )
        return (
            f"{candidate.name} was not a candidate on {format_date(day)}; "
            "date the position on a day they were."
        )

    def check_day(self, day: date, option: str = "on") -> date:
        """An `on:` or `as_of:` day: not in the future, and not before the race could begin
        (a mistyped year, 0024 or 1924, would stretch every timeline over centuries)."""
        today = self.today()
        if day > today:
            why = (
                "the tally cannot look ahead"
                if option == "as_of"
                else "record events once they happen"
            )
            raise TallyError(
                f"{option}:{day.isoformat()} is after today ({today.isoformat()}); {why}."
            )
        earliest = date(self.race.deadline.on.year - YEARS_BACK, 1, 1)
        if day < earliest:
            raise TallyError(
                f"{option}:{day} is too far back; this race's events are dated from {earliest} on."
            )
        return day

    async def undo(self, actor: Actor) -> Undone:
        actor.require_editor("undo recordings")
        undo = await self.store.undo_last(self.race.id, actor)
        if undo is None:
            raise TallyError("You have nothing left to undo; /history shows the log.")
        reverted = await self.store.event(undo.reverts)
        now = await self.store.position_of(self.race.id, undo.member)
        await self._read_model_after_write()
        return Undone(undo, reverted, now)

    async def add_candidate(
        self, actor: Actor, name: str, member: Member | None, on: date | None = None
    ) -> Added:
        """A new candidate, or one who withdrew back in the race (their key, so positions
        recorded on them count again), from the day `on` (default today)."""
        actor.require_editor("add candidates")
        day = self.check_day(on or self.today())
        await self.refresh()  # another process may have added or withdrawn them
        name = " ".join(one_line(name).split())  # no line break, NUL or invisible character
        key = _NOT_IN_KEY.sub("-", fold(name)).strip("-")  # stored in every event: plain
        if not key or len(name) > 100:
            raise TallyError("Give the candidate's full name, e.g. /candidate add Klaus Iohannis.")
        existing = next((c for c in self.roster.candidate_list if fold(c.name) == fold(name)), None)
        look_alike = next(
            (c for c in self.roster.candidate_list if skeleton(c.name) == skeleton(name)), None
        )
        if existing is None and look_alike is not None:
            raise TallyError(
                f"'{name}' looks like {look_alike.name}, already a candidate (only look-alike "
                "letters, accents or punctuation differ); type the name in plain letters."
            )
        if existing is not None and existing.withdrawn_on is not None:
            latest = await self.store.candidate_change(
                self.race.id, existing.key, CandidateAction.RETURN, day, actor
            )
            if latest is not None and latest.action is CandidateAction.WITHDRAW:
                raise TallyError(
                    f"{existing.name} withdrew on {format_date(latest.on)}; "
                    "date the return on or after that day."
                )
            if latest is not None:
                raise TallyError(f"{existing.name} is already a candidate.")
            await self.refresh()
            return Added(replace(existing, withdrawn_on=None), existing.withdrawn_on)
        if existing is not None:
            raise TallyError(f"{existing.name} is already a candidate.")
        candidate = Candidate(key=key, name=name, member=member.code if member else None)
        taken = self.roster.candidates.find(name) or key
        if taken in {c.key for c in self.roster.candidate_list}:
            other = self.roster.candidates.display.get(taken, taken)
            raise TallyError(f"'{name}' is taken by {other}; give the new candidate's full name.")
        if not await self.store.add_candidate(self.race.id, candidate, day, actor):
            raise TallyError(f"A candidate with the key '{key}' exists already.")
        await self.refresh()
        return Added(candidate)

    async def withdraw_candidate(
        self, actor: Actor, candidate: Candidate, on: date | None = None
    ) -> Candidate:
        """The candidate withdraws on the day `on` (default today)."""
        actor.require_editor("withdraw candidates")
        day = self.check_day(on or self.today())
        latest = await self.store.candidate_change(
            self.race.id, candidate.key, CandidateAction.WITHDRAW, day, actor
        )
        if latest is not None and latest.action is CandidateAction.WITHDRAW:
            raise TallyError(f"{candidate.name} withdrew already, on {format_date(latest.on)}.")
        if latest is not None:
            entered = "came back" if latest.action is CandidateAction.RETURN else "entered the race"
            raise TallyError(
                f"{candidate.name} {entered} on {format_date(latest.on)}; "
                "date the withdrawal on or after that day."
            )
        await self.refresh()
        return next(c for c in self.roster.candidate_list if c.key == candidate.key)

    # --- reading ------------------------------------------------------------------------

    async def candidates_on(self, day: date | None = None) -> list[Candidate]:
        """Every candidate, withdrawn ones too, as they stood at the end of `day` (default
        today: the roster, as of the last `refresh`)."""
        if day is None or day >= self.today():
            return self.roster.candidate_list
        return await self.store.candidates(self.race.id, day)

    async def active_candidates(self, as_of: date | None = None) -> list[Candidate]:
        """The candidates in the race (at the end of `as_of`, for a look back)."""
        return [c for c in await self.candidates_on(as_of) if c.withdrawn_on is None]

    async def tally(
        self, candidate: Candidate | None = None, as_of: date | None = None, strict: bool = False
    ) -> Tally:
        """Per candidate (or one), now or at the end of `as_of` (a day not after today),
        counting positions on record and reported (with `strict`, on record only)."""
        if as_of is not None or strict:
            day = self.check_day(as_of, "as_of") if as_of else self.today()
            return await self._tally_on(day, candidate, strict=strict)
        await self.refresh()
        key = (self.data_version, self.today())
        if candidate is None and self._now is not None and self._now[0] == key:
            return self._now[1]
        latest = await self.store.current(self.race.id)
        if any(e.happened_on > key[1] for e in latest.values()):
            # a race file's event dated after today (a demo on a pinned day): as of today
            return await self._tally_on(key[1], candidate)
        unsure = {code: e for code, e in latest.items() if e.confidence not in COUNTED}
        if unsure:  # a rumour leaves the member where its surer position had it
            surer = await self.store.as_of(self.race.id, key[1], list(unsure), None, COUNTED)
            latest = {code: e for code, e in latest.items() if code not in unsure} | surer
        candidates = [candidate] if candidate else await self.active_candidates()
        names = self.candidate_names()
        tally = compute_tally(self.race, candidates, latest, key[1], names, unsure)
        if candidate is None:
            if self._now is None or self._now[0] != key:  # else a concurrent read kept one
                self._now = (key, tally)
            return self._now[1]
        return tally

    async def digest_tally(self, day: date, up_to_id: int) -> Tally:
        """A digest's tally: the end of its channel's local `day`, which may be after today
        here (Auckland is ahead of Brussels), counting what was recorded up to `up_to_id`.
        Only the scheduler asks, for a digest whose time has come; no one types this day."""
        return await self.confirmed(await self._tally_on(day, up_to_id=up_to_id), up_to_id)

    async def _tally_on(
        self,
        day: date,
        candidate: Candidate | None = None,
        up_to_id: int | None = None,
        strict: bool = False,
    ) -> Tally:
        members = list(self.race.members_by_code)
        latest, counted, _ = await asyncio.gather(
            self.store.as_of(self.race.id, day, members, up_to_id),
            self.store.as_of(self.race.id, day, members, up_to_id, counting(strict)),
            self.refresh(),
        )
        unsure = {c: e for c, e in latest.items() if c not in counted or counted[c].id != e.id}
        candidates = [candidate] if candidate else await self.active_candidates(day)
        names = self.candidate_names()
        return compute_tally(self.race, candidates, counted, day, names, unsure, strict)

    async def confirmed(self, tally: Tally, up_to_id: int | None = None) -> Tally:
        """The tally with each holdout's standing: a repeated position keeps its first day
        and shows the latest source there is. Reads the holdouts' logs, so /tally skips it."""
        codes = {h.member.code for t in tally.candidates for h in t.holdouts}
        confirm = await self.store.standings(
            self.race.id, sorted(codes), tally.as_of, up_to_id, counting(tally.strict)
        )
        return replace(
            tally,
            candidates=tuple(
                replace(
                    t,
                    holdouts=tuple(
                        replace(h, confirmed=confirm.get(h.member.code)) for h in t.holdouts
                    ),
                )
                for t in tally.candidates
            ),
        )

    def candidate_names(self) -> dict[str, str]:
        return {
            c.key: f"{c.name} (withdrawn)" if c.withdrawn_on else c.name
            for c in self.roster.candidate_list
        }

    async def countdown(
        self, tally: Tally | None = None, up_to_id: int | None = None, moves: bool = False
    ) -> str:
        """The countdown line; once a candidate meets the rule, the day it did; with `moves`,
        until then, when the deadline moved (if it did).

        `up_to_id` bounds the log to the events a tally was computed from (a digest's).
        """
        tally = tally or await self.tally()
        # Today's tally of everyone, as kept: its line is kept beside it.
        kept = self._now is not None and tally is self._now[1] and up_to_id is None
        key = (self.data_version, tally.as_of)
        if kept and key in self._countdowns:
            line, reached = self._countdowns[key]
        else:
            line, reached = await self._countdown(tally, up_to_id)
            if kept:
                self._countdowns[key] = line, reached
        if moves and not reached:
            return line + moved(self.race, self.race.deadline_on(tally.as_of))
        return line

    async def _countdown(self, tally: Tally, up_to_id: int | None) -> tuple[str, bool]:
        """The countdown line, and whether it says who met the rule."""
        for t in tally.candidates:
            if t.met:
                day = await self._met_on(t, tally.as_of, up_to_id, tally.strict)
                if day is not None:
                    return countdown(self.race, tally.as_of, (t.candidate.name, day)), True
        return countdown(self.race, tally.as_of), False

    async def _met_on(
        self, t: CandidateTally, as_of: date, up_to_id: int | None, strict: bool
    ) -> date | None:
        """The day the rule was met, from the replay checkpointed per day (see Replays)."""
        return await self._replays[strict].met_on(t.candidate.key, as_of, up_to_id)

    async def replays_kept(self) -> None:
        """Wait until the replays' checkpoints are written to the file (see Replays), so a
        process started next begins from them."""
        for replays in self._replays.values():
            await replays.written()

    async def history(self, member: Member | None = None, limit: int = 10) -> list[Event]:
        if not 1 <= limit <= MAX_HISTORY:
            raise TallyError(f"limit:{limit} is out of range; use 1 to {MAX_HISTORY}.")
        return await self.store.history(self.race.id, member.code if member else None, limit)

    async def event(self, event_id: int) -> Event | None:
        return await self.store.event(event_id)

    async def last_event_id(self) -> int:
        return await self.store.last_event_id(self.race.id)

    async def events_recorded(self, after_id: int, up_to_id: int) -> list[Event]:
        """The events recorded after `after_id` up to `up_to_id`, in recording order."""
        return await self.store.events(self.race.id, after_id=after_id, up_to_id=up_to_id)

    async def changes(self, as_of: date) -> list[Change]:
        """The active position changes that count (no rumour) up to the end of `as_of`, in
        the order they happened."""
        return await self.store.changes(self.race.id, as_of, counting=COUNTED)

    async def export(
        self, fmt: str = "csv", since: date | None = None, until: date | None = None
    ) -> Export:
        """The log, or the events that happened from `since` to `until`, as a file (CSV or
        JSON, gzipped for `.gz`). A thread streams it from its own connection to a temporary
        file, so memory stays bounded and the event loop keeps answering everyone else; one
        export runs at a time, and one that waits longer than EXPORT_WAIT is told to retry."""
        if since is not None and until is not None and since > until:
            raise TallyError(f"since:{since} is after until:{until}; give the earlier day first.")
        await self.refresh()
        members = {m.code: m.name for m in self.race.members}
        candidates = {c.key: c.name for c in self.roster.candidate_list}
        rows = self.store.event_rows(self.race.id, since, until)
        try:
            await asyncio.wait_for(self._export_lock.acquire(), EXPORT_WAIT)
        except TimeoutError:
            raise TallyError("Another export is being written; try again in a minute.") from None
        try:
            path, count = await asyncio.to_thread(write_export, rows, fmt, members, candidates)
        finally:
            self._export_lock.release()
        stem = f"{self.race.id}-events-{self.clock.now():%Y-%m-%d-%H%M%S}"
        return Export(f"{stem}.{fmt}", content_type(fmt), path, count)
