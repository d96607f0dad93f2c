"""Reading a race definition (bot/races/*.toml, or a user's own file) into a `Race`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pycountry

from bot.clock import zone_named
from bot.domain import (
    Candidate,
    Deadline,
    Member,
    Position,
    Race,
    SeedEvent,
    TallyError,
)
from bot.roster import Roster, fold
from bot.rules import Majority, Rule, Threshold, Unanimity
from bot.text import check_note, check_source, one_line


class RaceFileError(ValueError):
    pass


def builtin_races() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files("bot.races").iterdir()
        if p.name.endswith(".toml")
    )


def load_race(spec: str, base_dir: Path | None = None) -> Race:
    """Load a built-in race by id ("nato-sg-2024") or a race file by path."""
    if spec.endswith(".toml") or "/" in spec:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise RaceFileError(f"Race file {path} does not exist.")
        text = path.read_text(encoding="utf-8")
        origin = str(path)
    else:
        if spec not in builtin_races():
            known = ", ".join(builtin_races())
            raise RaceFileError(
                f"Unknown race '{spec}'. Built-in races: {known}; or give a path to a .toml file."
            )
        text = resources.files("bot.races").joinpath(f"{spec}.toml").read_text(encoding="utf-8")
        origin = f"bot/races/{spec}.toml"
    try:
        return parse_race(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise RaceFileError(f"{origin}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise RaceFileError(f"{origin}: {exc}") from exc


_TOP_KEYS = {
    "id",
    "title",
    "timezone",
    "members",
    "rule",
    "deadline",
    "names",
    "aliases",
    "candidates",
    "sources",
    "seed",
}


def _need(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """A required key of the right TOML type, or a ValueError that names it."""
    if key not in table:
        raise ValueError(f"{where} needs {key} = ...")
    value = table[key]
    if not isinstance(value, kind) or (kind is date and isinstance(value, datetime)):
        wanted = "a TOML date like 2024-07-09 (no quotes)" if kind is date else _type_name(kind)
        raise ValueError(f"{where} {key} = {value!r} must be {wanted}")
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(extra)} in {where}")


def _member(code: str, names: dict[str, str], aliases: dict[str, list[str]]) -> Member:
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None and code not in names:
        raise ValueError(f"member '{code}' is not an ISO 3166 alpha-2 code; add it under [names]")
    extra = [getattr(country, a, "") for a in ("name", "official_name", "common_name")]
    return Member(
        code=code.upper(),
        name=names.get(code) or getattr(country, "common_name", None) or country.name,
        alpha3=getattr(country, "alpha_3", ""),
        aliases=tuple(a for a in (*extra, *aliases.get(code, ())) if a),
    )


def _threshold(table: dict[str, Any], members: tuple[Member, ...]) -> Threshold:
    backers = int(table.get("threshold", 0))
    if not 1 <= backers <= len(members):
        raise ValueError(f"[rule] threshold = {backers} must be 1 to {len(members)}")
    return Threshold(len(members), backers)


# Each kind of rule a race file may name, and how its [rule] table builds it for the race's
# members (a rule that weighs members or gives some a veto reads their codes there).
RULE_KINDS: dict[str, Callable[[dict[str, Any], tuple[Member, ...]], Rule]] = {
    "unanimity": lambda table, members: Unanimity(len(members)),
    "majority": lambda table, members: Majority(len(members)),
    "threshold": _threshold,
}
# The keys of [rule]; one that only another kind reads is ignored, as it always was.
_RULE_KEYS = {"kind", "threshold"}


def _rule(table: dict[str, Any], members: tuple[Member, ...]) -> Rule:
    _unknown(table, _RULE_KEYS, "[rule]")
    kind = table.get("kind", "unanimity")
    if not isinstance(kind, str) or kind not in RULE_KINDS:
        *most, last = (f"'{k}'" for k in RULE_KINDS)
        raise ValueError(f"[rule] kind must be {', '.join(most)} or {last}")
    return RULE_KINDS[kind](table, members)


def _sources(
    table: dict[str, Any],
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """[sources]: each short name to its URL, and the outlets' short names by host. An entry is
    a URL, or a table naming its outlet, which every source on that host is then shown as:
    politico = { url = "https://www.politico.eu/...", outlet = "Politico" }."""
    urls: dict[str, str] = {}
    outlets: dict[str, str] = {}
    for key, entry in table.items():
        if isinstance(entry, dict):
            where = f"[sources] {key}"
            _unknown(entry, {"url", "outlet"}, where)
            urls[key] = _need(entry, "url", str, where)
            outlet = one_line(_need(entry, "outlet", str, where))
            host = urlsplit(urls[key]).hostname
            if not outlet or not host:
                raise ValueError(f"{where} needs a web address and an outlet's name")
            outlets[host.removeprefix("www.")] = outlet
        else:
            urls[key] = entry
    return urls, tuple(outlets.items())


def parse_race(data: dict[str, Any]) -> Race:
    """A race from a parsed race file; a ValueError names the first mistake and its place."""
    _unknown(data, _TOP_KEYS, "the race file")
    race_id = _need(data, "id", str, "the race file")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", race_id):
        raise ValueError(f"id = {race_id!r}: use lower-case letters, digits and hyphens")
    title = _need(data, "title", str, "the race file")
    timezone = data.get("timezone", "UTC")
    try:
        timezone = zone_named(str(timezone))
    except ValueError:
        raise ValueError(f"timezone = {timezone!r} is not an IANA time zone") from None
    names = data.get("names", {})
    aliases = data.get("aliases", {})
    for code in (*names, *aliases):
        if code not in data.get("members", ()):
            raise ValueError(f"[names] or [aliases] lists '{code}', which is not in members")
    members = tuple(
        _member(code, names, aliases) for code in _need(data, "members", list, "the race file")
    )
    codes = {m.code for m in members}
    if len(codes) != len(members) or not members:
        raise ValueError("members must list each member once")

    candidates: list[Candidate] = []
    for i, c in enumerate(data.get("candidates", ()), start=1):
        where = f"[[candidates]] #{i}"
        _unknown(c, {"key", "name", "member", "aliases"}, where)
        key = _need(c, "key", str, where)
        if key in {x.key for x in candidates}:
            raise ValueError(f"{where} repeats key = '{key}'")
        member = c.get("member")
        if member is not None and member not in codes:
            raise ValueError(f"{where} member = '{member}' is not in members")
        name = one_line(_need(c, "name", str, where))
        candidates.append(Candidate(key, name, member, tuple(c.get("aliases", ()))))
    keys = {c.key for c in candidates}

    rule = _rule(data.get("rule", {}), members)
    deadline = _need(data, "deadline", dict, "the race file")
    _unknown(deadline, {"on", "label"}, "[deadline]")
    sources, outlets = _sources(data.get("sources", {}))
    seed = []
    for i, entry in enumerate(data.get("seed", ()), start=1):
        where = f"[[seed]] #{i}"
        _unknown(entry, {"members", "position", "candidate", "on", "source", "note"}, where)
        try:
            position = Position(_need(entry, "position", str, where))
        except ValueError:
            raise ValueError(f"{where} position must be supports, opposes or undecided") from None
        candidate = entry.get("candidate")
        if candidate is not None and candidate not in keys:
            raise ValueError(f"{where} names unknown candidate '{candidate}'")
        if (candidate is None) != (position is Position.UNDECIDED):
            raise ValueError(f"{where}: supports and opposes need a candidate, undecided none")
        source = sources.get(_need(entry, "source", str, where), entry["source"])
        try:  # the rule every source typed in a command follows
            source = check_source(source)
            note = check_note(entry.get("note")) or ""
        except TallyError as exc:
            if "://" not in source:
                raise ValueError(
                    f"{where} source = '{source}' is neither a URL nor in [sources]"
                ) from None
            raise ValueError(f"{where}: {exc}") from None
        on = _need(entry, "on", date, where)
        listed = _need(entry, "members", list, where)
        if len(set(listed)) != len(listed):
            raise ValueError(f"{where} lists a member twice")
        for code in listed:
            if code not in codes:
                raise ValueError(f"{where} lists '{code}', which is not in members")
            seed.append(SeedEvent(code, position, candidate, on, source, note))

    race = Race(
        id=race_id,
        title=title,
        members=members,
        candidates=tuple(candidates),
        rule=rule,
        deadline=Deadline(
            _need(deadline, "on", date, "[deadline]"), _need(deadline, "label", str, "[deadline]")
        ),
        timezone=timezone,
        seed=tuple(seed),
        outlets=outlets,
    )
    roster = Roster(race)
    for index in (roster.members, roster.candidates):
        for spelling, owners in index.ambiguous.items():
            if index is roster.members or spelling in {fold(c.name) for c in candidates}:
                raise ValueError(f"'{spelling}' names both {owners[0]} and {owners[1]}")
    return race
