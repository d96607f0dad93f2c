"""The one list of commands, and the text grammar the console and Slack share.

Every platform reads COMMANDS: the console and Slack parse a typed line with `parse_line`,
Discord builds its command tree from the same parameters, and all of them call `execute`.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.charts import KINDS, chart_reply
from bot.domain import Actor, Position, TallyError, format_date
from bot.replies import (
    Attachment,
    Reply,
    Section,
    candidates_reply,
    describe,
    history_line,
    holdouts_reply,
    source_label,
    tally_reply,
)
from bot.roster import Index
from bot.scheduling import DigestBuilder, first_digest_day
from bot.service import EXPORT_FORMATS, Service

log = logging.getLogger(__name__)

MAX_COMMAND = 2_000
FAILED = "Something went wrong on tallybot's side; it is logged. Try again in a moment."


class Kind(enum.StrEnum):
    MEMBER = "member"
    CANDIDATE = "candidate"
    DATE = "date"
    URL = "url"
    TEXT = "text"
    INT = "int"
    CHOICE = "choice"


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    help: str
    required: bool = False
    keyword: bool = False  # typed as name:value
    choices: tuple[str, ...] = ()
    placeholder: str = ""  # what usage shows after name: (default: by kind)

    @property
    def usage(self) -> str:
        inner = (
            f"{self.name}:{self.placeholder or _PLACEHOLDER.get(self.kind, self.name)}"
            if self.keyword
            else ("|".join(self.choices) if self.choices else self.name)
        )
        return f"<{inner}>" if self.required else f"[{inner}]"


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLACEHOLDER = {Kind.DATE: "YYYY-MM-DD", Kind.URL: "URL", Kind.TEXT: "TEXT", Kind.INT: "N"}


@dataclass(frozen=True)
class Context:
    """Who asked, where, and the service to ask."""

    service: Service
    actor: Actor
    channel: str = ""  # the platform's channel id; empty in the console


Handler = Callable[[Context, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str  # "endorse", or "candidate add" for a subcommand
    help: str
    params: tuple[Param, ...]
    handler: Handler
    editor_only: bool = False
    example: str = ""

    @property
    def usage(self) -> str:
        return " ".join([f"/{self.name}", *(p.usage for p in self.params)])

    @property
    def positional(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.keyword)

    @property
    def keywords(self) -> dict[str, Param]:
        return {p.name: p for p in self.params if p.keyword}


# --- converting typed values ----------------------------------------------------------------


def convert(service: Service, param: Param, raw: Any) -> Any:
    """One argument, as typed or as a platform sent it, to the value the handler uses."""
    if param.kind is Kind.MEMBER:
        return service.roster.member(str(raw))
    if param.kind is Kind.CANDIDATE:
        return service.roster.candidate(str(raw))
    if param.kind is Kind.DATE:
        if isinstance(raw, date):
            return raw
        try:
            if not _ISO_DATE.match(str(raw).strip()):
                raise ValueError("not YYYY-MM-DD")  # fromisoformat also takes 20240402
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise TallyError(
                f"{param.name}:{raw} is not a date; use YYYY-MM-DD, e.g. {param.name}:2024-04-02."
            ) from None
    if param.kind is Kind.INT:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise TallyError(f"{param.name}:{raw} is not a number; e.g. {param.name}:20.") from None
    if param.kind is Kind.CHOICE:
        value = str(raw).strip().lower()
        if value not in param.choices:
            raise TallyError(f"'{raw}' is not one of {', '.join(param.choices)}.")
        return value
    return str(raw).strip()


def bind(service: Service, command: Command, raw: dict[str, Any]) -> dict[str, Any]:
    """Convert named raw values (as Discord sends them) and check the required ones."""
    args = {}
    for param in command.params:
        value = raw.get(param.name)
        if value is None or value == "":
            if param.required:
                raise TallyError(f"/{command.name} needs {param.name}: {command.usage}")
            continue
        args[param.name] = convert(service, param, value)
    return args


# --- the text grammar -----------------------------------------------------------------------

# A quoted group counts only where it starts a word and closes at a word's end, so a stray
# quote (`a 5" screen`) is just a character.
_TOKEN = re.compile(r'(?:[A-Za-z_]+:)?(?:"[^"]*"|“[^”]*”)(?=\s|$)|\S+')
_KEYWORD = re.compile(r"^([A-Za-z_]+):(.*)$", re.DOTALL)
_QUOTED = re.compile(r'^(?:"(.*)"|“(.*)”)$', re.DOTALL)
_OPENING_QUOTES = ('"', "“")
_URL_SCHEMES = {"http", "https"}
_EXAMPLES = {Kind.DATE: "2024-04-02", Kind.URL: "https://...", Kind.INT: "20", Kind.TEXT: "..."}


@dataclass(frozen=True)
class Token:
    text: str  # as typed, quotes included
    start: int  # where it starts in the line

    @property
    def word(self) -> str:
        """The token without the quotes that group it; one that opens a quote it does not
        close is refused, rather than read with the quote as part of a name."""
        match = _QUOTED.match(self.text)
        if match:
            return next(g for g in match.groups() if g is not None)
        if self.text.startswith(_OPENING_QUOTES):
            raise TallyError(
                f"A quote is not closed: {self.text[:80]}; close it where the name ends "
                '("North Macedonia") or leave it out.'
            )
        return self.text


def tokenize(line: str) -> list[Token]:
    """Split on spaces; a pair of double quotes (straight or curly) keeps spaces in one token."""
    return [Token(m.group(), m.start()) for m in _TOKEN.finditer(line)]


def top_level() -> dict[str, list[Command]]:
    """The commands by first word, as platforms list them: "candidate add" and
    "candidate withdraw" are both under /candidate."""
    groups: dict[str, list[Command]] = {}
    for command in COMMANDS.values():
        groups.setdefault(command.name.split()[0], []).append(command)
    return groups


def find_command(words: list[str]) -> tuple[Command, int]:
    """The command the first one or two words name, and how many words that took."""
    if not words:
        raise TallyError("Type a command, e.g. /tally; /help lists them all.")
    first = words[0].lstrip("/").lower()
    if len(words) > 1 and f"{first} {words[1].lower()}" in COMMANDS:
        return COMMANDS[f"{first} {words[1].lower()}"], 2
    if first in COMMANDS:
        return COMMANDS[first], 1
    subcommands = top_level().get(first)
    if subcommands:
        usages = " or ".join(c.usage for c in subcommands)
        if len(words) > 1:
            raise TallyError(f"Unknown subcommand '{words[1]}'; use {usages}.")
        raise TallyError(f"/{first} needs a subcommand: {usages}.")
    names = Index("command", ((n, f"/{n}", ()) for n in COMMANDS if " " not in n))
    close = names.close_matches(first, 1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise TallyError(f"Unknown command '/{first}'.{hint} /help lists the commands.")


def parse_args(
    service: Service, command: Command, tokens: list[Token], line: str
) -> dict[str, Any]:
    """The words after a command (`North Macedonia Rutte on:2024-04-02`) to its arguments.

    A text option (note:) takes the line as typed up to the next option, quotes and all.
    """
    positional: list[str] = []
    raw: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        match = _KEYWORD.match(token.text)
        key = match.group(1).lower() if match else None
        param = command.keywords.get(key or "")
        if param is not None:
            if key in raw:
                raise TallyError(f"{key}: is given twice; give it once.")
            if param.kind is Kind.TEXT:
                while i < len(tokens) and not _is_option(command, tokens[i]):
                    i += 1
                stop = tokens[i].start if i < len(tokens) else len(line)
                value = Token(line[token.start + len(key) + 1 : stop].strip(), 0).word
            else:
                value = Token(match.group(2), token.start + len(key) + 1).word
            if not value.strip():
                raise TallyError(f"{key}: needs a value, e.g. {key}:{_EXAMPLES[param.kind]}")
            raw[key] = convert(service, param, value)
        elif key is not None and key not in _URL_SCHEMES and match.group(2):
            options = ", ".join(f"{k}:" for k in command.keywords) or "no options"
            raise TallyError(
                f"Unknown option '{match.group(1)}:'; /{command.name} takes {options}."
            )
        elif key in _URL_SCHEMES and "source" in command.keywords:
            raise TallyError(f"'{token.text}' looks like a source; write source:{token.text}")
        else:
            positional.append(token.word)
    return {**raw, **_read_positional(service, command, positional)}


def _is_option(command: Command, token: Token) -> bool:
    match = _KEYWORD.match(token.text)
    return match is not None and match.group(1).lower() in command.keywords


def _read_positional(service: Service, command: Command, words: list[str]) -> dict[str, Any]:
    """The arguments before the options; names may have spaces ("North Macedonia").

    Only readings whose names span no more words than a name can (`_span`) are tried, and
    each is checked without fuzzy matching, so a line of 2,000 characters costs about as much
    as a short one; the hints of an error are worked out once, for the reading reported.
    """
    params = command.positional
    if not params:
        if words:
            raise TallyError(f"/{command.name} takes no arguments here: {command.usage}")
        return {}
    n = len(words)
    spans = [_span(service, p, n) for p in params]
    if len(params) == 1:
        if _reads(service, command, [words]):
            return _convert_words(service, command, [words])
        _explain_extra_words(service, command, words, spans)
        return _convert_words(service, command, [words])  # raises, with the hints
    # Two names: take the first reading where both resolve, preferring the longer first
    # name; an optional one may be left out (`/candidate add Jens Stoltenberg`, `/chart Rutte`).
    first, second = spans
    cuts = range(min(n - 1, first), max(1, n - second) - 1, -1)  # both names within their span
    readings = [[words[:cut], words[cut:]] for cut in cuts]
    if words and not params[1].required and n <= first:
        readings.append([words, []])
    if words and not params[0].required and n <= second:
        readings.append([[], words])
    for reading in readings:
        if _reads(service, command, reading):
            return _convert_words(service, command, reading)
    _explain_extra_words(service, command, words, spans)
    # Nothing resolved: report on the likeliest reading, where one of the two names resolves
    # (else the last word as the second name), so the error names the words that are wrong.
    likely = [words[:-1], words[-1:]] if n >= 2 else [words, []]
    longest_first = ((words[:cut], words[cut:]) for cut in range(min(n - 1, first), 0, -1))
    longest_second = ((words[:cut], words[cut:]) for cut in range(max(1, n - second), n))
    for side, pairs in ((0, longest_first), (1, longest_second)):
        found = next((pair for pair in pairs if _resolves(service, params[side], pair[side])), None)
        if found is not None:
            likely = list(found)
            break
    return _convert_words(service, command, likely)


def _span(service: Service, param: Param, words: int) -> int:
    """The most words a value of `param` can take: a name, as many as its longest spelling
    (with slack for stray marks such as '-'); a choice, date or number, one; free text, all."""
    if param.kind is Kind.MEMBER:
        return service.roster.members.span
    if param.kind is Kind.CANDIDATE:
        return service.roster.candidates.span
    return words if param.kind is Kind.TEXT else 1


def _resolves(service: Service, param: Param, words: list[str]) -> bool:
    """Whether `words` are a value of `param`, checked without the hints an error would give
    (fuzzy matching, the slow part): the search for a reading tries several."""
    text = " ".join(words)
    if param.kind is Kind.MEMBER:
        return service.roster.members.find(text) is not None
    if param.kind is Kind.CANDIDATE:
        return service.roster.candidates.find(text) is not None
    try:
        convert(service, param, text)
    except TallyError:
        return False
    return True


def _reads(service: Service, command: Command, reading: list[list[str]]) -> bool:
    """Whether `_convert_words` would take this reading."""
    return all(
        _resolves(service, param, words) if words else not param.required
        for param, words in zip(command.positional, reading, strict=True)
    )


def _convert_words(service: Service, command: Command, reading: list[list[str]]) -> dict:
    """One reading of the positional words: a list of words per positional parameter."""
    args = {}
    for param, words in zip(command.positional, reading, strict=True):
        if words:
            args[param.name] = convert(service, param, " ".join(words))
        elif param.required:
            raise TallyError(f"/{command.name} needs {param.name}: {command.usage}")
    return args


def _explain_extra_words(
    service: Service, command: Command, words: list[str], spans: list[int]
) -> None:
    """`/undecided Hungary Rutte`, `/endorse Hungary Rutte extra`: say which words are one
    argument too many, rather than that 'Hungary Rutte' is unknown."""
    if command.positional[0].kind is Kind.TEXT:
        return  # a free name takes every word
    count = len(command.positional)
    for end in range(min(len(words) - 1, sum(spans)), count - 1, -1):
        cuts = (
            range(min(end - 1, spans[0]), max(1, end - spans[-1]) - 1, -1) if count == 2 else [end]
        )
        for cut in cuts:
            if _reads(service, command, [words[:cut], words[cut:end]][:count]):
                extra = " ".join(words[end:])
                raise TallyError(f"'{extra}' is one argument too many: {command.usage}")


# --- running --------------------------------------------------------------------------------


def check_allowed(ctx: Context, command: Command) -> None:
    if command.editor_only:
        ctx.actor.require_editor(f"use /{command.name}")


async def _answer(what: str, work: Callable[[], Awaitable[Reply]]) -> Reply:
    """A refusal becomes a one-line error reply; so does a bug, its traceback in the log."""
    try:
        return await work()
    except TallyError as exc:
        return Reply.refusal(str(exc))
    except Exception:
        log.exception("%s failed", what)
        return Reply.refusal(FAILED)


async def run_line(ctx: Context, line: str) -> Reply:
    """What the console and Slack call with the text a user typed."""

    async def work() -> Reply:
        if len(line) > MAX_COMMAND:
            raise TallyError(f"The command has {len(line)} characters; keep it to {MAX_COMMAND}.")
        tokens = tokenize(line)
        command, used = find_command([t.word for t in tokens[:2]])  # a note's words may be any
        check_allowed(ctx, command)  # before parsing: a non-editor learns that first
        await ctx.service.refresh()  # names resolve against candidates any process changed
        return await command.handler(ctx, parse_args(ctx.service, command, tokens[used:], line))

    return await _answer(repr(line[:80]), work)


async def run_named(ctx: Context, name: str, raw: dict[str, Any]) -> Reply:
    """What Discord calls with a command's name and its options, already split."""
    command = COMMANDS[name]

    async def work() -> Reply:
        check_allowed(ctx, command)
        await ctx.service.refresh()  # names resolve against candidates any process changed
        return await command.handler(ctx, bind(ctx.service, command, raw))

    return await _answer(f"/{name}", work)


# --- handlers -------------------------------------------------------------------------------


async def _record(ctx: Context, args: dict[str, Any], position: Position) -> Reply:
    svc = ctx.service
    done = await svc.record(
        ctx.actor,
        args["member"],
        position,
        args.get("candidate"),
        args.get("on"),
        args.get("source"),
        args.get("note"),
    )
    e, names, race = done.event, ctx.service.candidate_names(), svc.race
    member = race.member(e.member)
    line = (
        f"Recorded #{e.id}: {member.name} {describe(e, names)} "
        f"on {format_date(e.happened_on)} ({source_label(e.source)})."
    )
    before = done.previous
    backfill = before is not None and before.happened_on > e.happened_on
    if before is not None and not backfill:
        if (before.position, before.candidate) == (e.position, e.candidate):
            line += " No change: it already did."
        else:
            line += f" It replaces #{before.id}: {member.name} {describe(before, names)}."
    lines = [line]
    if backfill:
        lines.append(
            f"{member.name}'s later position of {format_date(before.happened_on)} "
            "still stands; this one fills in the history."
        )
    tally = await svc.tally()
    for t in tally.candidates:
        if t.candidate.key == e.candidate or (e.candidate is None and t is tally.candidates[0]):
            lines.append(f"{t.candidate.name}: {t.count}/{t.total}; {t.needs()}.")
    return Reply(sections=(Section(lines=tuple(lines)),))


async def _endorse(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.SUPPORTS)


async def _oppose(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.OPPOSES)


async def _undecided(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.UNDECIDED)


async def _tally(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    tally = await svc.tally(args.get("candidate"), args.get("as_of"))
    return tally_reply(tally, await svc.countdown(tally), "as_of" in args)


async def _holdouts(ctx: Context, args: dict[str, Any]) -> Reply:
    tally = await ctx.service.tally(args.get("candidate"))
    return holdouts_reply(tally.shown(), ctx.service.race)


async def _history(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    member = args.get("member")
    events = await svc.history(member, args.get("limit", 10))
    names = ctx.service.candidate_names()
    lines = []
    for e in events:
        reverted = await svc.event(e.reverts) if e.reverts else None
        lines.append(history_line(e, svc.race, names, reverted, svc.clock.tz))
    scope = member.name if member else svc.race.title
    if not lines:
        lines.append("Nothing recorded yet; an editor can /endorse <member> <candidate>.")
    title = f"History: {scope}, last recorded first"
    return Reply(title=title, sections=(Section(lines=tuple(lines)),))


async def _countdown(ctx: Context, args: dict[str, Any]) -> Reply:
    return Reply.text(await ctx.service.countdown())


async def _subscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    sub = await svc.subscribe(
        ctx.actor, ctx.actor.platform, ctx.channel, args.get("time"), args.get("tz")
    )
    first = await first_digest_day(svc, sub)
    return Reply.text(
        f"Subscribed: this channel gets the daily digest at {sub.time:%H:%M} ({sub.timezone}), "
        f"from {format_date(first)}. /digest shows today's now; /unsubscribe stops it."
    )


async def _unsubscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    await ctx.service.unsubscribe(ctx.actor, ctx.actor.platform, ctx.channel)
    return Reply.text("Unsubscribed: no more daily digests here. /subscribe starts them again.")


async def _digest(ctx: Context, args: dict[str, Any]) -> Reply:
    return await DigestBuilder(ctx.service).preview(ctx.service.today())


async def _undo(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    done = await svc.undo(ctx.actor)
    names = ctx.service.candidate_names()
    member = svc.race.member(done.undo.member).name
    line = f"Undid #{done.reverted.id} ({member} {describe(done.reverted, names)})"
    now = describe(done.now, names) if done.now else "has no public position"
    return Reply.text(f"{line} by recording #{done.undo.id}. {member} now: {now}.")


async def _candidates(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    return candidates_reply(list(svc.roster.candidate_list), await svc.tally(), svc.race)


async def _candidate_add(ctx: Context, args: dict[str, Any]) -> Reply:
    member = args.get("member")
    added = await ctx.service.add_candidate(ctx.actor, args["name"], member, args.get("on"))
    candidate = added.candidate
    if added.had_withdrawn_on is not None:
        return Reply.text(
            f"{candidate.name} is back in the race (withdrew on "
            f"{format_date(added.had_withdrawn_on)}); positions on them count again."
        )
    by = f", nominated by {member.name}" if member else ""
    return Reply.text(
        f"Added candidate {candidate.name}{by}. Record positions with "
        f"/endorse <member> {candidate.name}"
    )


async def _candidate_withdraw(ctx: Context, args: dict[str, Any]) -> Reply:
    candidate = await ctx.service.withdraw_candidate(ctx.actor, args["candidate"], args.get("on"))
    return Reply.text(
        f"{candidate.name} withdrew on {format_date(candidate.withdrawn_on)}; "
        "positions on them stay in the log."
    )


async def _export(ctx: Context, args: dict[str, Any]) -> Reply:
    since, until = args.get("since"), args.get("until")
    export = await ctx.service.export(args.get("format", "csv"), since, until)
    what = "The event log"
    if since or until:
        start = format_date(since) if since else "the start"
        what += f" from {start} to {format_date(until) if until else 'today'}"
    return Reply(
        sections=(Section(lines=(f"{what}: {export.events} events.",)),),
        attachment=Attachment(export.filename, export.content_type, path=export.path),
    )


async def _chart(ctx: Context, args: dict[str, Any]) -> Reply:
    kind = args.get("kind", "board")
    return await chart_reply(ctx.service, kind, args.get("candidate"), args.get("as_of"))


async def _help(ctx: Context, args: dict[str, Any]) -> Reply:
    name = args.get("command", "").lstrip("/").lower()
    if name:
        matches = [c for c in COMMANDS.values() if c.name == name or c.name.startswith(f"{name} ")]
        if not matches:
            find_command([name])  # raises with "did you mean"
        lines = []
        for c in matches:
            lines.append(f"{c.usage}: {c.help}" + (" (editors only)" if c.editor_only else ""))
            lines.extend(f"  {p.name}: {p.help}" for p in c.params)
            if c.example:
                lines.append(f"  e.g. {c.example}")
        return Reply(title=f"/{name}", sections=(Section(lines=tuple(lines)),))
    lines = tuple(
        f"{c.usage}: {c.help}" + (" (editors)" if c.editor_only else "") for c in COMMANDS.values()
    )
    return Reply(
        title="tallybot commands",
        sections=(Section(lines=lines),),
        footer="/help <command> for details. Options are written key:value, e.g. on:2024-04-02.",
    )


# --- the list -------------------------------------------------------------------------------

_MEMBER = Param("member", Kind.MEMBER, "a member: name, code or alias", required=True)
_CANDIDATE = Param("candidate", Kind.CANDIDATE, "a candidate: full or last name", required=True)
_ON = Param("on", Kind.DATE, "the day it happened (default today)", keyword=True)
_SOURCE = Param("source", Kind.URL, "an http(s) link to the report", keyword=True)
_NOTE = Param("note", Kind.TEXT, "a short note, up to 500 characters", keyword=True)
_OPTIONAL_CANDIDATE = Param("candidate", Kind.CANDIDATE, "one candidate (default: all)")

_COMMAND_LIST = (
    Command(
        "endorse",
        "Record that a member publicly backs a candidate.",
        (_MEMBER, _CANDIDATE, _ON, _SOURCE, _NOTE),
        _endorse,
        editor_only=True,
        example="/endorse Estonia Rutte on:2024-04-02 source:https://www.politico.eu/...",
    ),
    Command(
        "oppose",
        "Record that a member publicly opposes a candidate.",
        (_MEMBER, _CANDIDATE, _ON, _SOURCE, _NOTE),
        _oppose,
        editor_only=True,
        example="/oppose Hungary Rutte source:https://...",
    ),
    Command(
        "undecided",
        "Record that a member has no public position.",
        (_MEMBER, _ON, _SOURCE, _NOTE),
        _undecided,
        editor_only=True,
        example="/undecided Slovakia",
    ),
    Command(
        "tally",
        "Backers per candidate, what the rule still needs, the holdouts, the countdown.",
        (
            _OPTIONAL_CANDIDATE,
            Param("as_of", Kind.DATE, "the tally at the end of that day", keyword=True),
        ),
        _tally,
        example="/tally Rutte as_of:2024-03-01",
    ),
    Command(
        "holdouts",
        "Members not backing a candidate, with their position and latest source.",
        (Param("candidate", Kind.CANDIDATE, "the candidate (default: the leader)"),),
        _holdouts,
    ),
    Command(
        "history",
        "The log, last recorded first.",
        (
            Param("member", Kind.MEMBER, "only this member"),
            Param("limit", Kind.INT, "entries to show (default 10, at most 100)", keyword=True),
        ),
        _history,
        example="/history Hungary limit:5",
    ),
    Command("countdown", "Days to the deadline, or when the rule was met.", (), _countdown),
    Command(
        "subscribe",
        "Post the daily digest in this channel (default 09:00, the configured time zone).",
        (
            Param(
                "time",
                Kind.TEXT,
                "the local time of the digest, HH:MM",
                keyword=True,
                placeholder="HH:MM",
            ),
            Param(
                "tz",
                Kind.TEXT,
                "an IANA time zone, e.g. Europe/Brussels",
                keyword=True,
                placeholder="Area/City",
            ),
        ),
        _subscribe,
        editor_only=True,
        example="/subscribe time:08:30 tz:Europe/Brussels",
    ),
    Command(
        "unsubscribe",
        "Stop the daily digest in this channel.",
        (),
        _unsubscribe,
        editor_only=True,
    ),
    Command(
        "digest",
        "Today's digest, now: a preview that does not replace the channel's daily one.",
        (),
        _digest,
    ),
    Command(
        "undo",
        "Revert your last recording (by recording a new event).",
        (),
        _undo,
        editor_only=True,
    ),
    Command("candidates", "The candidates and their backers.", (), _candidates),
    Command(
        "candidate add",
        "Add a candidate.",
        (
            Param("name", Kind.TEXT, "the candidate's full name", required=True),
            Param("member", Kind.MEMBER, "the member that nominated them"),
            Param("on", Kind.DATE, "the day they entered the race (default today)", keyword=True),
        ),
        _candidate_add,
        editor_only=True,
        example="/candidate add Kaja Kallas Estonia on:2024-03-12",
    ),
    Command(
        "candidate withdraw",
        "Mark a candidate as withdrawn.",
        (_CANDIDATE, Param("on", Kind.DATE, "the day they withdrew (default today)", keyword=True)),
        _candidate_withdraw,
        editor_only=True,
        example="/candidate withdraw Iohannis on:2024-06-20",
    ),
    Command(
        "export",
        "The event log as a file: all of it, or what happened from since: to until:.",
        (
            Param(
                "format",
                Kind.CHOICE,
                "csv (default), json, or either gzipped",
                choices=EXPORT_FORMATS,
            ),
            Param(
                "since", Kind.DATE, "only events that happened on or after this day", keyword=True
            ),
            Param(
                "until", Kind.DATE, "only events that happened on or before this day", keyword=True
            ),
        ),
        _export,
        example="/export csv.gz since:2024-03-01 until:2024-03-31",
    ),
    Command(
        "chart",
        "A picture: the members as a board, or the backers over time.",
        (
            Param("kind", Kind.CHOICE, "board (default) or timeline", choices=KINDS),
            Param("candidate", Kind.CANDIDATE, "one candidate (default: the leader, or all)"),
            Param("as_of", Kind.DATE, "the picture at the end of that day", keyword=True),
        ),
        _chart,
        example="/chart timeline as_of:2024-04-02",
    ),
    Command(
        "help",
        "The commands, or one command in detail.",
        (Param("command", Kind.TEXT, "a command name"),),
        _help,
    ),
)
COMMANDS: dict[str, Command] = {c.name: c for c in _COMMAND_LIST}
if len(COMMANDS) != len(_COMMAND_LIST):
    raise RuntimeError("two commands share a name")
