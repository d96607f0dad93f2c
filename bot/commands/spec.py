"""The one list of commands: what each takes, who may run it, and its help.

Every platform reads COMMANDS: the console and Slack parse a typed line against it, Discord
builds its command tree and Slack its app manifest from it. A command's handler, found by its
name in `handlers.HANDLERS`, lives apart, so reading the list imports no handler's machinery
(charts, the digest).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from bot.charts import KINDS
from bot.desk import Desk
from bot.domain import Actor, Confidence
from bot.export import EXPORT_FORMATS
from bot.service import MAX_HISTORY, Service
from bot.text import MAX_NOTE, MAX_SOURCE


class Kind(enum.StrEnum):
    MEMBER = "member"
    CANDIDATE = "candidate"
    DATE = "date"
    URL = "url"
    TEXT = "text"
    INT = "int"
    CHOICE = "choice"
    RACE = "race"


class Style(enum.Enum):
    """How a platform has options typed: on one line as key:value (the console, Slack), or
    as fields the platform shows for each option (Discord)."""

    LINE = "line"
    FIELDS = "fields"


_PLACEHOLDER = {Kind.DATE: "YYYY-MM-DD", Kind.URL: "URL", Kind.TEXT: "TEXT", Kind.INT: "N"}


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    help: str
    required: bool = False
    keyword: bool = False  # typed as name:value
    choices: tuple[str, ...] = ()
    placeholder: str = ""  # what usage shows after name: (default: by kind)
    # What the service accepts, declared where a platform checks before sending (Discord):
    minimum: int | None = None  # an INT's least value
    maximum: int | None = None  # an INT's greatest value
    max_length: int | None = None  # the most characters of a text, URL or name
    common: bool = False  # every command takes it; usage leaves it out, /help says it once

    @property
    def usage(self) -> str:
        return self.usage_in(Style.LINE)

    def usage_in(self, style: Style) -> str:
        """`[on:YYYY-MM-DD]` typed on a line; `[on]`, a field's name, where fields are filled."""
        if style is Style.FIELDS:
            inner = self.name
        elif self.keyword:
            inner = f"{self.name}:{self.placeholder or _PLACEHOLDER.get(self.kind, self.name)}"
        else:
            inner = "|".join(self.choices) if self.choices else self.name
        return f"<{inner}>" if self.required else f"[{inner}]"


@dataclass(frozen=True)
class Context:
    """Who asked, where, and the races to ask: what every handler is given. `race` is the one
    the command is about, chosen by `run` before the handler is called."""

    desk: Desk  # a Service given here is the desk of that one race
    actor: Actor
    channel: str = ""  # the platform's channel id; empty in the console
    style: Style = Style.LINE  # how the platform has options typed
    race: str = ""  # a race id of the desk; empty: its first

    def __post_init__(self) -> None:
        object.__setattr__(self, "desk", Desk.of(self.desk))

    @property
    def service(self) -> Service:
        return self.desk.services[self.race] if self.race else self.desk.default


@dataclass(frozen=True)
class Command:
    name: str  # "endorse", or "candidate add" for a subcommand
    help: str
    params: tuple[Param, ...]
    editor_only: bool = False
    example: str = ""
    proposable: bool = False  # a reader's use is kept as a proposal, for an editor to review

    @property
    def usage(self) -> str:
        return self.usage_in(Style.LINE)

    def usage_in(self, style: Style) -> str:
        shown = (p.usage_in(style) for p in self.params if not p.common)
        return " ".join([f"/{self.name}", *shown])

    @property
    def positional(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.keyword)

    @property
    def keywords(self) -> dict[str, Param]:
        return {p.name: p for p in self.params if p.keyword}


def top_level() -> dict[str, list[Command]]:
    """The commands by first word, as platforms list them: "candidate add" and
    "candidate withdraw" are both under /candidate."""
    groups: dict[str, list[Command]] = {}
    for command in COMMANDS.values():
        groups.setdefault(command.name.split()[0], []).append(command)
    return groups


# --- the list -------------------------------------------------------------------------------

_MEMBER = Param("member", Kind.MEMBER, "a member: name, code or alias", required=True)
_CANDIDATE = Param("candidate", Kind.CANDIDATE, "a candidate: full or last name", required=True)
_ON = Param("on", Kind.DATE, "the day it happened (default today)", keyword=True)
_SOURCE = Param(
    "source", Kind.URL, "an http(s) link to the report", keyword=True, max_length=MAX_SOURCE
)
_NOTE = Param(
    "note",
    Kind.TEXT,
    f"a short note, up to {MAX_NOTE} characters",
    keyword=True,
    max_length=MAX_NOTE,
)
_CONFIDENCE = Param(
    "confidence",
    Kind.CHOICE,
    "on-record (said publicly), reported (outlets citing officials), rumoured;"
    " default reported with a source, rumoured without",
    keyword=True,
    choices=tuple(c.value for c in Confidence),
    placeholder="on-record|reported|rumoured",
)
_CONDITION = Param(
    "condition",
    Kind.TEXT,
    f"the condition of a conditional position, up to {MAX_NOTE} characters",
    keyword=True,
    max_length=MAX_NOTE,
)
_PROPOSAL = Param(
    "number", Kind.INT, "the proposal's number, as /proposals lists them", required=True, minimum=1
)
_OPTIONAL_CANDIDATE = Param("candidate", Kind.CANDIDATE, "one candidate (default: all)")

_COMMAND_LIST = (
    Command(
        "endorse",
        "Record that a member publicly backs a candidate.",
        (_MEMBER, _CANDIDATE, _ON, _SOURCE, _NOTE, _CONFIDENCE, _CONDITION),
        editor_only=True,
        proposable=True,
        example="/endorse Estonia Rutte on:2024-04-02 source:https://www.politico.eu/...",
    ),
    Command(
        "oppose",
        "Record that a member publicly opposes a candidate.",
        (_MEMBER, _CANDIDATE, _ON, _SOURCE, _NOTE, _CONFIDENCE, _CONDITION),
        editor_only=True,
        proposable=True,
        example="/oppose Hungary Rutte source:https://...",
    ),
    Command(
        "abstain",
        "Record that a member abstains on a candidate (neither for nor against).",
        (_MEMBER, _CANDIDATE, _ON, _SOURCE, _NOTE, _CONFIDENCE, _CONDITION),
        editor_only=True,
        proposable=True,
        example="/abstain Italy von der Leyen on:2024-06-27 source:https://...",
    ),
    Command(
        "undecided",
        "Record that a member has no public position.",
        (_MEMBER, _ON, _SOURCE, _NOTE, _CONFIDENCE, _CONDITION),
        editor_only=True,
        proposable=True,
        example="/undecided Slovakia",
    ),
    Command(
        "tally",
        "Backers per candidate, what the rule still needs, the holdouts, the countdown.",
        (
            _OPTIONAL_CANDIDATE,
            Param("as_of", Kind.DATE, "the tally at the end of that day", keyword=True),
            Param(
                "strict",
                Kind.CHOICE,
                "yes: count positions on record only (by default reported ones count too)",
                keyword=True,
                choices=("yes", "no"),
                placeholder="yes",
            ),
        ),
        example="/tally Rutte as_of:2024-03-01",
    ),
    Command(
        "holdouts",
        "Members not backing a candidate, with their position and latest source.",
        (Param("candidate", Kind.CANDIDATE, "the candidate (default: the leader)"),),
    ),
    Command(
        "history",
        "The log, last recorded first.",
        (
            Param("member", Kind.MEMBER, "only this member"),
            Param(
                "limit",
                Kind.INT,
                f"entries to show (default 10, at most {MAX_HISTORY})",
                keyword=True,
                minimum=1,
                maximum=MAX_HISTORY,
            ),
        ),
        example="/history Hungary limit:5",
    ),
    Command("countdown", "Days to the deadline, or when the rule was met.", ()),
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
        editor_only=True,
        example="/subscribe time:08:30 tz:Europe/Brussels",
    ),
    Command(
        "unsubscribe",
        "Stop the daily digest in this channel.",
        (),
        editor_only=True,
    ),
    Command(
        "follow",
        "Post a short alert in this channel within a minute of each change recorded.",
        (),
        editor_only=True,
    ),
    Command(
        "unfollow",
        "Stop this channel's alerts.",
        (),
        editor_only=True,
    ),
    Command(
        "digest",
        "Today's digest, now: a preview that does not replace the channel's daily one.",
        (),
    ),
    Command(
        "undo",
        "Revert your last recording (by recording a new event).",
        (),
        editor_only=True,
    ),
    Command(
        "proposals",
        "Editors: the readers' proposals waiting for review; readers: their own, and how each "
        "was decided.",
        (),
    ),
    Command(
        "approve",
        "Approve a reader's proposal: it is recorded as if you had.",
        (
            _PROPOSAL,
            Param(
                "confirm",
                Kind.CHOICE,
                "yes: approve though the member was recorded again since",
                keyword=True,
                choices=("yes",),
                placeholder="yes",
            ),
        ),
        editor_only=True,
        example="/approve 7",
    ),
    Command(
        "reject",
        "Reject a reader's proposal, saying why.",
        (_PROPOSAL, _NOTE),
        editor_only=True,
        example="/reject 7 note:the source is a rumour",
    ),
    Command("candidates", "The candidates and their backers.", ()),
    Command(
        "candidate add",
        "Add a candidate.",
        (
            Param("name", Kind.TEXT, "the candidate's full name", required=True),
            Param("member", Kind.MEMBER, "the member that nominated them"),
            Param("on", Kind.DATE, "the day they entered the race (default today)", keyword=True),
        ),
        editor_only=True,
        example="/candidate add Kaja Kallas Estonia on:2024-03-12",
    ),
    Command(
        "candidate withdraw",
        "Mark a candidate as withdrawn.",
        (_CANDIDATE, Param("on", Kind.DATE, "the day they withdrew (default today)", keyword=True)),
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
            Param(
                "of",
                Kind.CHOICE,
                "events (default), or rounds: the anonymous rounds' counts",
                keyword=True,
                choices=("events", "rounds"),
                placeholder="events|rounds",
            ),
        ),
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
        example="/chart timeline as_of:2024-04-02",
    ),
    Command(
        "round",
        "Record a published anonymous round (a straw poll): each candidate's counts.",
        (
            Param(
                "counts",
                Kind.TEXT,
                "each candidate's encourage-discourage-no opinion, e.g. Guterres 12-0-3, "
                "Türk 11-2-2",
                required=True,
                max_length=MAX_NOTE,
            ),
            _ON,
            _SOURCE,
            Param(
                "name",
                Kind.TEXT,
                "what the round is called, e.g. first straw poll",
                keyword=True,
                max_length=80,
            ),
            Param(
                "veto",
                Kind.TEXT,
                "the veto members' coloured ballots apart, e.g. Guterres 4-0-1",
                keyword=True,
                max_length=MAX_NOTE,
            ),
        ),
        editor_only=True,
        example="/round Guterres 12-0-3, Türk 11-2-2 on:2016-07-21 source:https://... "
        "name:first straw poll",
    ),
    Command("races", "The races followed here: each one's rule, deadline and leader.", ()),
    Command(
        "race use",
        "Make a race this channel's default, for commands that name none (race:).",
        (Param("race", Kind.RACE, "a race id, as /races lists them", required=True),),
        editor_only=True,
        example="/race use eu-commission-2024",
    ),
    Command(
        "help",
        "The commands, or one command in detail.",
        (Param("command", Kind.TEXT, "a command name"),),
    ),
)
# Every command takes race: (what /race use takes as its argument is the race itself).
RACE = Param(
    "race",
    Kind.RACE,
    "the race (default: this channel's; /races lists them)",
    keyword=True,
    placeholder="ID",
    common=True,
)
_COMMAND_LIST = tuple(
    c if c.name == "race use" else replace(c, params=(*c.params, RACE)) for c in _COMMAND_LIST
)
COMMANDS: dict[str, Command] = {c.name: c for c in _COMMAND_LIST}
if len(COMMANDS) != len(_COMMAND_LIST):
    raise RuntimeError("two commands share a name")
