"""Platform-neutral replies, and how each use case's result becomes one.

A reply is a title, sections of plain-text lines (user text unescaped: each renderer escapes
for its platform), an optional rule's progress per section (a bar per measure), a footer and
an optional file.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from bot.domain import (
    COUNTED,
    NO_CANDIDATES,
    Actor,
    Candidate,
    CandidateTally,
    Confidence,
    Event,
    EventKind,
    Member,
    Position,
    Race,
    Round,
    Stance,
    Standing,
    Tally,
    TallyError,
    format_date,
)
from bot.rules import Progress
from bot.text import check_source, one_line


@dataclass(frozen=True)
class Section:
    title: str = ""
    lines: tuple[str, ...] = ()
    progress: Progress | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to send: a small one (a chart) in `data`, a large one (an export) on disk at
    `path`, a temporary file that whoever sends it removes with `discard`, sent or not."""

    filename: str
    content_type: str
    data: bytes = b""
    path: Path | None = None
    alt: str = ""  # what an image shows, for screen readers: "Board: 30 of 32 back ..."

    @property
    def size(self) -> int:
        """In bytes."""
        return self.path.stat().st_size if self.path is not None else len(self.data)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def too_big(attachment: Attachment, limit_bytes: int, platform: str) -> Reply | None:
    """The refusal for a file over a platform's upload limit, saying what would fit; None
    when it fits."""
    if attachment.size <= limit_bytes:
        return None
    return Reply.refusal(
        f"{attachment.filename} is {_readable_size(attachment.size)}, over {platform}'s upload "
        f"limit of {_readable_size(limit_bytes)}; ask for less: /export csv.gz (compressed), or "
        "a date range, e.g. /export since:2024-03-01 until:2024-03-31."
    )


def _readable_size(size: int) -> str:
    """A file size as people read one: 38.2 MB, or 900 KB below a megabyte."""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, size // 1_000)} KB"


@dataclass(frozen=True)
class Reply:
    title: str = ""
    sections: tuple[Section, ...] = field(default_factory=tuple)
    footer: str = ""
    attachment: Attachment | None = None
    error: bool = False  # a refusal
    private: bool = False  # for the caller's eyes, like a preview
    # One line of plain text for push notifications, screen readers and fallbacks, e.g.
    # "Mark Rutte 28 → 30 (+2) since yesterday · 2 holdouts · 12 days to the summit".
    summary: str = ""

    @property
    def caller_only(self) -> bool:
        """Shown to the caller alone where the platform can (ephemeral)."""
        return self.error or self.private

    @classmethod
    def text(cls, line: str, *, title: str = "") -> Reply:
        return cls(title=title, sections=(Section(lines=(line,)),))

    @classmethod
    def refusal(cls, line: str) -> Reply:
        return cls(sections=(Section(lines=(line,)),), error=True)


def progress_bar(count: int, total: int, width: int = 16) -> str:
    filled = round(width * count / total) if total else 0
    if 0 < count < total:
        filled = min(max(filled, 1), width - 1)  # never look empty or full when it is not
    return "█" * filled + "░" * (width - filled)


# A link inside a line: LINK_START label LINK_URL url LINK_END, which each renderer turns into
# its platform's link (or the label alone, in plain text). User text cannot carry the markers:
# text.one_line drops private-use characters.
LINK_START, LINK_URL, LINK_END = "\ue000", "\ue001", "\ue002"
LINK = re.compile(
    f"{LINK_START}([^{LINK_START}-{LINK_END}]*){LINK_URL}([^{LINK_START}-{LINK_END}]*){LINK_END}"
)


def outlet(source: str | None, race: Race) -> str:
    """A source as its outlet, linked to it: the race file's short name for its host (or a
    host above it), else the host without www.; "no source" when there is none. Only an
    address that passes the source check becomes a link."""
    if not source:
        return "no source"
    try:
        url = check_source(source)
    except TallyError:  # stored before sources were checked: neither shown nor linked
        return "unchecked source"
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    names = dict(race.outlets)
    parts = host.split(".")
    above = (".".join(parts[i:]) for i in range(len(parts)))
    label = next((names[h] for h in above if h in names), host)
    return f"{LINK_START}{one_line(label)}{LINK_URL}{url}{LINK_END}"


def link_labels(text: str) -> str:
    """`text` with each link as its label alone, as plain text shows it."""
    return LINK.sub(r"\1", text)


def describe(event: Event, names: dict[str, str]) -> str:
    """What a member does: 'supports Mark Rutte', 'has no public position'."""
    if event.position == Position.UNDECIDED:
        what = "has no public position"
    else:
        on = " on" if event.position == Position.ABSTAINS else ""  # abstains on, supports
        what = f"{event.position}{on} {names.get(event.candidate or '', event.candidate)}"
    if event.condition:  # one line even if stored unchecked
        what += f", on condition: {one_line(event.condition)}"
    return what


def candidate_label(candidate: Candidate, race: Race) -> str:
    if candidate.member and candidate.member in race.members_by_code:
        return f"{candidate.name} ({race.member(candidate.member).name})"
    return candidate.name


def backing_line(t: CandidateTally) -> str:
    """'28/32 back Mark Rutte; needs 4 more for unanimity.'"""
    return f"{t.count}/{t.total} back {t.candidate.name}; {t.needs()}."


def tally_section(t: CandidateTally, race: Race) -> Section:
    """The candidate's bars (the count), what it needs, and who stands where: a candidate
    backed by half or more names its holdouts; one backed by fewer names its own backers and
    opponents, and counts the rest ('The rest: 28 back Mark Rutte, ...')."""
    needs = t.needs()
    lines = [f"{needs[0].upper()}{needs[1:]}."]
    groups: dict[str, list[str]] = defaultdict(list)
    if t.count * 2 >= t.total:
        for h in t.holdouts:
            groups[h.reason].append(h.member.name)
    else:
        if t.backers:
            groups["backs"] = [m.name for m in t.backers]
        rest: dict[str, int] = defaultdict(int)
        for h in t.holdouts:
            if h.stance is Stance.OPPOSES:
                groups[h.reason].append(h.member.name)
            else:
                rest[h.reason] += 1
    for reason, names in groups.items():
        lines.append(f"{reason[0].upper()}{reason[1:]} ({len(names)}): {', '.join(names)}")
    if t.count * 2 < t.total and rest:
        counted = ", ".join(f"{n} {_plural_verb(reason, n)}" for reason, n in rest.items())
        lines.append(f"The rest: {counted}.")
    if t.reported:
        lines.append(reported_line(t))
    if t.candidate.withdrawn_on:
        lines.append(f"Withdrew on {format_date(t.candidate.withdrawn_on)}.")
    return Section(
        title=candidate_label(t.candidate, race),
        lines=tuple(lines),
        progress=t.progress,
    )


def reported_line(t: CandidateTally) -> str:
    """How many backers are only reported: '24 of the 28 only reported; /tally strict:yes
    counts the 4 on record.'"""
    on_record = t.count - len(t.reported)
    if not on_record:
        return (
            f"All {t.count} only reported, none on record."
            if t.count > 1
            else ("Only reported, not on record.")
        )
    return (
        f"{len(t.reported)} of the {t.count} only reported; /tally strict:yes counts the "
        f"{on_record} on record."
    )


def unsure_section(tally: Tally, names: dict[str, str]) -> Section | None:
    """What the count leaves out: each rumour (a member's latest report, less sure than the
    position it is counted by), or, counting strictly, how many are only reported."""
    if not tally.unsure:
        return None
    if tally.strict:
        sure = Counter(e.confidence for _, e in tally.unsure)
        said = ", ".join(f"{n} {c.words}" for c, n in sorted(sure.items()))
        return Section(
            lines=(f"Not on record, so not counted here: {said}; /tally counts the reported.",)
        )
    lines = tuple(
        f"{member.name} {describe(event, names)} ({format_date(event.happened_on)})"
        for member, event in tally.unsure
    )
    return Section(title="Rumoured, not counted", lines=lines)


def _plural_verb(reason: str, n: int) -> str:
    """A holdout's reason said of `n` members: 'back Mark Rutte', 'have no public position'."""
    if reason.startswith(("backs ", "opposes ")):
        verb, _, rest = reason.partition(" ")
        return reason if n == 1 else f"{verb[:-1]} {rest}"
    return f"{'has' if n == 1 else 'have'} {reason}"


def round_section(held: Round, names: dict[str, str], race: Race) -> Section:
    """The latest anonymous round beside the known positions: each candidate's counts, and
    the veto members' apart when the ballots were coloured."""
    vetoes = {b.candidate: b for b in held.veto_counts}
    lines = []
    for b in sorted(held.counts, key=lambda b: (-b.encourage, b.discourage)):
        line = (
            f"{names.get(b.candidate, b.candidate)}: {b.encourage} encourage, "
            f"{b.discourage} discourage, {b.no_opinion} no opinion"
        )
        if (v := vetoes.get(b.candidate)) is not None:
            against = (
                "no permanent member against"
                if v.discourage == 0
                else f"{v.discourage} permanent {'member' if v.discourage == 1 else 'members'} "
                "against"
            )
            line += f"; permanent members {v.encourage}-{v.discourage}-{v.no_opinion}: {against}"
        lines.append(line)
    title = round_title(held)
    return Section(
        title=title[:1].upper() + title[1:], lines=(*lines, f"Source: {outlet(held.source, race)}")
    )


def round_title(held: Round) -> str:
    """'the sixth straw poll, 5 October 2016'."""
    return f"{held.name}, {format_date(held.on)}"


def round_recorded_reply(held: Round, names: dict[str, str], race: Race) -> Reply:
    return Reply(
        title=f"Recorded {round_title(held)}",
        sections=(round_section(held, names, race),),
        footer="/tally shows it beside the known positions; /undo reverts it.",
    )


def tally_reply(
    tally: Tally,
    countdown_line: str,
    as_of_asked: bool,
    names: dict[str, str] | None = None,
    held: Round | None = None,
) -> Reply:
    """The tally, with `held`, the latest anonymous round, beside it."""
    title = tally.race.title
    if as_of_asked:
        title += f", as of {format_date(tally.as_of)}"
    if tally.strict:
        title += ", on record only"
    unsure = unsure_section(tally, names or {})
    rounds = (round_section(held, names or {}, tally.race),) if held is not None else ()
    # Candidates no member has taken a position on are names in one line, not a section each.
    silent = [t for t in tally.candidates if all(h.stance is Stance.NO_POSITION for h in t.holdouts)
              and not t.count]  # fmt: skip
    silent = silent if len(silent) > 1 else []
    unknown = ", ".join(t.candidate.name for t in silent)
    known = "on record" if tally.strict else "known"
    sections = (
        *rounds,
        *(tally_section(t, tally.race) for t in tally.candidates if t not in silent),
        *([Section(lines=(f"No member's position {known} yet on: {unknown}.",))] if silent else []),
        *([unsure] if unsure else []),
    )
    if not tally.candidates:
        return Reply(
            title=title, sections=(Section(lines=(NO_CANDIDATES,)),), summary=NO_CANDIDATES
        )
    leader = tally.shown()
    only = f" ({len(leader.reported)} only reported)" if leader.reported else ""
    summary = f"{leader.candidate.name} {leader.count}/{leader.total}{only}, {leader.needs()}"
    return Reply(
        title=title,
        sections=sections,
        footer=countdown_line,
        summary=f"{summary} · {countdown_line}",
    )


def races_reply(races: list[tuple[Race, Tally]], here: str) -> Reply:
    """/races: each race's rule and deadline, and where its leader stands."""
    lines = []
    for race, tally in races:
        deadline = race.deadline_on(tally.as_of)
        default = " (this channel's)" if race.id == here and len(races) > 1 else ""
        lines.append(
            f"{race.id}{default}: {race.title}; {race.rule_on(tally.as_of).describe()} by "
            f"{deadline.label}, {format_date(deadline.on)}."
        )
        if tally.candidates:
            leader = tally.shown()
            lines.append(f"  {leader.candidate.name}: {leader.status()}.")
    return Reply(
        title="Races followed here",
        sections=(Section(lines=tuple(lines)),),
        footer="Add race:ID to any command, or /race use ID to change this channel's.",
    )


def holdouts_reply(t: CandidateTally, race: Race) -> Reply:
    names = ", ".join(h.member.name for h in t.holdouts[:5])
    more = f" and {len(t.holdouts) - 5} more" if len(t.holdouts) > 5 else ""
    summary = f"{holdouts_title(t)}" + (f": {names}{more}" if names else "")
    return Reply(
        title=holdouts_title(t),
        sections=(Section(lines=holdout_lines(t, race)),),
        footer=f"{t.candidate.name} {t.needs()}.",
        summary=summary,
    )


def holdouts_title(t: CandidateTally) -> str:
    return f"Holdouts on {t.candidate.name}: {len(t.holdouts)} of {t.total}"


def holdout_lines(t: CandidateTally, race: Race) -> tuple[str, ...]:
    """Each member not backing the candidate, with its position and latest source's outlet."""
    lines = []
    for h in t.holdouts:
        line = f"{h.member.flag} {h.member.name}: {h.reason}".lstrip()
        if h.standing is not None:
            since, source = h.standing
            sure = f", {h.event.confidence.words}" if h.event is not None else ""
            line += f" since {format_date(since)} ({outlet(source, race)}{sure})"
        lines.append(line)
    if not lines:
        lines.append(f"None: all {t.total} members back {t.candidate.name}.")
    return tuple(lines)


def history_line(
    event: Event,
    race: Race,
    names: dict[str, str],
    reverted: Event | None,
    zone: tzinfo,
    proposer: Actor | None = None,
) -> str:
    """One entry of the log; an undo is dated by the day it was recorded in `zone` (the
    configured time zone), as "today" is; a reader's approved proposal names both."""
    member = race.member(event.member).name
    if event.kind is EventKind.UNDO:
        what = f"undo of #{event.reverts}"
        if reverted is not None:
            what += f" ({member} {describe(reverted, names)})"
        undone_on = format_date(event.recorded_at.astimezone(zone).date())
        return f"#{event.id} {undone_on}: {what}, by {one_line(event.actor.name)}"
    parts = [f"#{event.id} {format_date(event.happened_on)}: {member} {describe(event, names)}"]
    if event.note:  # one line even if it was stored before notes were checked
        parts.append(f"“{one_line(event.note)}”")
    parts.append(f"{outlet(event.source, race)}, {event.confidence.words}")
    if proposer is not None:
        parts.append(
            f"proposed by {one_line(proposer.name)}, approved by {one_line(event.actor.name)}"
        )
    else:
        parts.append(f"recorded by {one_line(event.actor.name)}")
    return " · ".join(parts)


def candidates_reply(candidates: list[Candidate], tally: Tally, race: Race) -> Reply:
    counts = {t.candidate.key: t.count for t in tally.candidates}
    lines = []
    for c in candidates:
        if c.withdrawn_on:
            status = f"withdrew on {format_date(c.withdrawn_on)}"
        else:
            status = f"{counts.get(c.key, 0)}/{len(race.members)} backers"
        lines.append(f"{candidate_label(c, race)}: {status}")
    return Reply(title=f"Candidates in {race.title}", sections=(Section(lines=tuple(lines)),))


# --- the other commands' replies ---------------------------------------------------------------


def recorded_reply(
    event: Event,
    previous: Event | None,
    race: Race,
    names: dict[str, str],
    tally: Tally,
    standing: Standing | None = None,
) -> Reply:
    """What /endorse, /oppose and /undecided say: the event, what it replaces (or that it
    fills in the history behind a later position), and the candidate's count now."""
    member = race.member(event.member)
    line = (
        f"Recorded #{event.id}: {member.name} {describe(event, names)} "
        f"on {format_date(event.happened_on)} "
        f"({outlet(event.source, race)}, {event.confidence.words})."
    )
    backfill = previous is not None and previous.happened_on > event.happened_on
    if previous is not None and not backfill:
        if standing is not None:  # a repeat confirms the position
            line += (
                f" No change: it already did, since {format_date(standing.since)} "
                f"({outlet(standing.source, race)})."
            )
        else:
            was = f"#{previous.id}: {member.name} {describe(previous, names)}"
            counts = event.confidence is Confidence.RUMOURED and previous.confidence in COUNTED
            line += f" {was} still counts." if counts else f" It replaces {was}."
    lines = [line]
    if event.confidence is Confidence.RUMOURED:
        why = "without a source" if not event.source else "as a rumour"
        lines.append(
            f"Recorded {why}, it is not counted: record it again with source:URL "
            "(or confidence:reported) to count it."
        )
    if backfill:
        lines.append(
            f"{member.name}'s later position of {format_date(previous.happened_on)} "
            "still stands; this one fills in the history."
        )
    for t in tally.candidates:
        if t.candidate.key == event.candidate or (
            event.candidate is None and t is tally.candidates[0]
        ):
            lines.append(f"{t.candidate.name}: {t.status()}.")
    return Reply(sections=(Section(lines=tuple(lines)),))


def undone_reply(
    reverted: Event, undo: Event, now: Event | None, race: Race, names: dict[str, str]
) -> Reply:
    member = race.member(undo.member).name
    line = f"Undid #{reverted.id} ({member} {describe(reverted, names)})"
    position = describe(now, names) if now else "has no public position"
    return Reply.text(f"{line} by recording #{undo.id}. {member} now: {position}.")


def history_reply(
    entries: list[tuple[Event, Event | None]],
    race: Race,
    names: dict[str, str],
    zone: tzinfo,
    member: Member | None,
    rounds: Sequence[Round] = (),
    proposers: Mapping[int, Actor] | None = None,
) -> Reply:
    """The log, last recorded first: each event with the one it reverts, if any, and who
    proposed it (`proposers`, by event id) when a reader did; and the anonymous rounds held,
    latest first (no member is named in one)."""
    proposers = proposers or {}
    lines = [
        history_line(e, race, names, reverted, zone, proposers.get(e.id)) for e, reverted in entries
    ]
    if not lines:
        lines.append("Nothing recorded yet; an editor can /endorse <member> <candidate>.")
    title = f"History: {member.name if member else race.title}, last recorded first"
    sections = [Section(lines=tuple(lines))]
    if rounds:
        held = [
            f"{round_title(r)}: "
            + ", ".join(
                f"{names.get(b.candidate, b.candidate)} {b.encourage}-{b.discourage}-{b.no_opinion}"
                for b in r.counts
            )
            + f" · {outlet(r.source, race)}"
            for r in reversed(rounds)
        ]
        sections.append(
            Section(title="Rounds (encourage-discourage-no opinion)", lines=tuple(held))
        )
    return Reply(title=title, sections=tuple(sections))


def subscribed_reply(at: time, zone: str, first: date) -> Reply:
    return Reply.text(
        f"Subscribed: this channel gets the daily digest at {at:%H:%M} ({zone}), "
        f"from {format_date(first)}. /digest shows today's now; /unsubscribe stops it."
    )


def candidate_added_reply(
    candidate: Candidate, nominated_by: Member | None, had_withdrawn_on: date | None
) -> Reply:
    if had_withdrawn_on is not None:
        return Reply.text(
            f"{candidate.name} is back in the race (withdrew on "
            f"{format_date(had_withdrawn_on)}); positions on them count again."
        )
    by = f", nominated by {nominated_by.name}" if nominated_by else ""
    return Reply.text(
        f"Added candidate {candidate.name}{by}. Record positions with "
        f"/endorse <member> {candidate.name}"
    )


def withdrawn_reply(candidate: Candidate) -> Reply:
    return Reply.text(
        f"{candidate.name} withdrew on {format_date(candidate.withdrawn_on)}; "
        "positions on them stay in the log."
    )


def export_reply(
    rows: int,
    attachment: Attachment,
    since: date | None,
    until: date | None,
    rounds: bool = False,
) -> Reply:
    what = "The rounds" if rounds else "The event log"
    if since or until:
        start = format_date(since) if since else "the start"
        what += f" from {start} to {format_date(until) if until else 'today'}"
    counted = f"{rows} {'rows, one per round and candidate' if rounds else 'events'}"
    return Reply(sections=(Section(lines=(f"{what}: {counted}.",)),), attachment=attachment)
