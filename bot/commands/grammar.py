"""The text grammar the console and Slack share, and converting values to what handlers use.

A typed line is split into tokens, its first words name a command in COMMANDS, and the rest
are read against that command's parameters. Discord sends values already split: `bind`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.commands.spec import COMMANDS, Command, Kind, Param, top_level
from bot.domain import TallyError
from bot.roster import Index
from bot.service import Service

MAX_COMMAND = 2_000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# --- converting typed values ----------------------------------------------------------------


def convert(service: Service, param: Param, raw: Any) -> Any:
    """One argument, as typed or as a platform sent it, to the value the handler uses."""
    if param.kind is Kind.RACE:
        return str(raw).strip()  # `run` chose the race before the other arguments were read
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
_EXAMPLES = {
    Kind.DATE: "2024-04-02",
    Kind.URL: "https://...",
    Kind.INT: "20",
    Kind.TEXT: "...",
    Kind.RACE: "nato-sg-2024",
}


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


def read_command(line: str) -> tuple[Command, list[Token]]:
    """The command a typed line names, and the tokens after its name."""
    if len(line) > MAX_COMMAND:
        raise TallyError(f"The command has {len(line)} characters; keep it to {MAX_COMMAND}.")
    tokens = tokenize(line)
    command, used = find_command([t.word for t in tokens[:2]])  # a note's words may be any
    return command, tokens[used:]


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


def race_named(tokens: list[Token]) -> str | None:
    """The race a typed line names with race:, read before its other arguments (whose
    names are that race's)."""
    for token in tokens:
        match = _KEYWORD.match(token.text)
        if match and match.group(1).lower() == "race":
            return Token(match.group(2), 0).word.strip() or None
    return None


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
