"""Reading a race definition (bot/races/*.toml, or a user's own file) into a `Race`."""

from __future__ import annotations

import itertools
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
    Ballots,
    Candidate,
    CandidateAction,
    CandidateEntry,
    Confidence,
    Deadline,
    Member,
    Position,
    Race,
    Round,
    SeedEvent,
    TallyError,
    Tenure,
)
from bot.roster import Roster, fold
from bot.rules import (
    Majority,
    QualifiedMajority,
    Rule,
    SecurityCouncil,
    Threshold,
    TwoThirds,
    Unanimity,
)
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
    "membership",
    "weights",
    "rounds",
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


def _threshold(table: dict[str, Any], members: tuple[Member, ...], weights: Weights) -> Threshold:
    backers = int(table.get("threshold", 0))
    if not 1 <= backers <= len(members):
        raise ValueError(f"[rule] threshold = {backers} must be 1 to {len(members)}")
    return Threshold(len(members), backers)


def _qualified_majority(
    table: dict[str, Any], members: tuple[Member, ...], weights: Weights
) -> QualifiedMajority:
    missing = [m.code for m in members if m.code not in weights]
    if missing:
        raise ValueError(f"[weights] needs a weight for {', '.join(missing)}")
    return QualifiedMajority(
        tuple((m.code, weights[m.code]) for m in members),
        member_share=table.get("member_share", 0.55),
        weight_share=table.get("weight_share", 0.65),
        blocking_minority=table.get("blocking_minority"),
        weight=table.get("weight", "population"),
    )


def _security_council(
    table: dict[str, Any], members: tuple[Member, ...], weights: Weights
) -> SecurityCouncil:
    veto = table.get("veto", [])
    if not isinstance(veto, list) or not all(isinstance(code, str) for code in veto):
        raise ValueError("[rule] veto must be a list of member codes")
    return SecurityCouncil(
        tuple((m.code, m.name) for m in members),
        needed=_need(table, "needed", int, "[rule]"),
        veto=frozenset(code.upper() for code in veto),
    )


Weights = dict[str, int]  # a member's weight in a qualified majority (its population)

# Each kind of rule a race file may name, and how its [rule] table builds it over some day's
# members (a rule that weighs members reads their [weights]).
RULE_KINDS: dict[str, Callable[[dict[str, Any], tuple[Member, ...], Weights], Rule]] = {
    "unanimity": lambda table, members, weights: Unanimity(len(members)),
    "majority": lambda table, members, weights: Majority(len(members)),
    "two-thirds": lambda table, members, weights: TwoThirds(len(members)),
    "threshold": _threshold,
    "qualified-majority": _qualified_majority,
    "security-council": _security_council,
}
# The keys of [rule]; one that only another kind reads is ignored, as it always was.
_RULE_KEYS = {
    "kind",
    "threshold",
    "member_share",
    "weight_share",
    "blocking_minority",
    "weight",
    "weights_source",
    "needed",
    "veto",
}


def _rule_over(table: dict[str, Any], weights: Weights) -> Callable[[tuple[Member, ...]], Rule]:
    """What builds the race's rule over some day's members."""
    _unknown(table, _RULE_KEYS, "[rule]")
    kind = table.get("kind", "unanimity")
    if not isinstance(kind, str) or kind not in RULE_KINDS:
        *most, last = (f"'{k}'" for k in RULE_KINDS)
        raise ValueError(f"[rule] kind must be {', '.join(most)} or {last}")
    build = RULE_KINDS[kind]
    return lambda members: build(table, members, weights)


def _weights(table: dict[str, Any], codes: set[str]) -> Weights:
    weights = {}
    for code, weight in table.items():
        if code not in codes:
            raise ValueError(f"[weights] lists '{code}', which is not in members")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            raise ValueError(f"[weights] {code} = {weight!r} must be a whole number above 0")
        weights[code] = weight
    return weights


def _tenures(table: dict[str, Any], codes: set[str], sources: dict[str, str]) -> list[Tenure]:
    tenures = []
    for code, entry in table.items():
        where = f"[membership] {code}"
        if code not in codes:
            raise ValueError(f"{where}: '{code}' is not in members")
        if not isinstance(entry, dict):
            raise ValueError(
                f"{where} must be a table, e.g. {{ joined = 2024-03-07, source = ... }}"
            )
        _unknown(entry, {"joined", "left", "source"}, where)
        joined = _need(entry, "joined", date, where) if "joined" in entry else None
        left = _need(entry, "left", date, where) if "left" in entry else None
        if joined is None and left is None:
            raise ValueError(f"{where} needs joined = or left = (a date)")
        if joined is not None and left is not None and left <= joined:
            raise ValueError(f"{where}: left = {left} must come after joined = {joined}")
        tenures.append(Tenure(code, joined, left, _source(entry, sources, where)))
    return tenures


def _source(entry: dict[str, Any], sources: dict[str, str], where: str) -> str:
    """A required `source =`: a short name from [sources] or a URL, checked as any typed one."""
    source = sources.get(_need(entry, "source", str, where), entry["source"])
    try:
        return check_source(source) or ""
    except TallyError as exc:
        if "://" not in source:
            raise ValueError(
                f"{where} source = '{source}' is neither a URL nor in [sources]"
            ) from None
        raise ValueError(f"{where}: {exc}") from None


def _deadline(table: dict[str, Any], where: str, sources: dict[str, str]) -> Deadline:
    _unknown(table, {"on", "label", "since", "source", "earlier"}, where)
    return Deadline(
        _need(table, "on", date, where),
        one_line(_need(table, "label", str, where)),
        _need(table, "since", date, where) if "since" in table else None,
        _source(table, sources, where) if "source" in table else None,
    )


def _deadlines(
    table: dict[str, Any], sources: dict[str, str]
) -> tuple[Deadline, tuple[Deadline, ...]]:
    """The current deadline and the earlier ones, oldest first, each set after the last."""
    current = _deadline(table, "[deadline]", sources)
    earlier = tuple(
        _deadline(entry, f"[[deadline.earlier]] #{i}", sources)
        for i, entry in enumerate(
            _need(table, "earlier", list, "[deadline]") if "earlier" in table else (), 1
        )
    )
    sets = [d.since for d in (*earlier, current)]
    if earlier and any(
        a is not None and b is not None and b <= a for a, b in itertools.pairwise(sets)
    ):
        raise ValueError(
            "[deadline] and [[deadline.earlier]]: each since = must follow the one before"
        )
    return current, earlier


def _ballots(table: dict[str, Any], keys: set[str], seats: int, where: str) -> tuple[Ballots, ...]:
    counts = []
    for key, entry in table.items():
        if key not in keys:
            raise ValueError(f"{where} names unknown candidate '{key}'")
        if not isinstance(entry, dict):
            raise ValueError(
                f"{where} {key} must be {{ encourage = N, discourage = N, no_opinion = N }}"
            )
        _unknown(entry, {"encourage", "discourage", "no_opinion"}, f"{where} {key}")
        numbers = [
            _need(entry, k, int, f"{where} {key}")
            for k in ("encourage", "discourage", "no_opinion")
        ]
        if min(numbers) < 0 or sum(numbers) > seats:
            raise ValueError(
                f"{where} {key}: counts must be 0 or more and add up to at most {seats}"
            )
        counts.append(Ballots(key, *numbers))
    return tuple(counts)


def _rounds(
    entries: list[Any], keys: set[str], members: int, veto: int, sources: dict[str, str]
) -> tuple[Round, ...]:
    rounds = []
    for i, entry in enumerate(entries, 1):
        where = f"[[rounds]] #{i}"
        _unknown(entry, {"on", "name", "source", "counts", "veto_counts"}, where)
        if "veto_counts" in entry and not veto:
            raise ValueError(f"{where} has veto_counts, but the rule gives no member a veto")
        rounds.append(
            Round(
                on=_need(entry, "on", date, where),
                name=one_line(entry.get("name", f"round {i}")),
                source=_source(entry, sources, where),
                counts=_ballots(
                    _need(entry, "counts", dict, where), keys, members, f"{where} counts"
                ),
                veto_counts=_ballots(
                    entry.get("veto_counts", {}), keys, veto, f"{where} veto_counts"
                ),
            )
        )
    if any(b.on < a.on for a, b in itertools.pairwise(rounds)):
        raise ValueError("[[rounds]] must be listed by date, earliest first")
    return tuple(rounds)


_SEED_KEYS = {"members", "position", "candidate", "on", "source", "note", "confidence", "condition"}


def _confidence(entry: dict[str, Any], where: str) -> Confidence | None:
    """A seed's `confidence =`, or None: by its source, as a recording without one."""
    if "confidence" not in entry:
        return None
    try:
        return Confidence(entry["confidence"])
    except ValueError:
        *most, last = (f"'{c.value}'" for c in Confidence)
        raise ValueError(
            f"{where} confidence = {entry['confidence']!r} must be {', '.join(most)} or {last}"
        ) from None


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

    sources, outlets = _sources(data.get("sources", {}))
    tenures = _tenures(data.get("membership", {}), codes, sources)

    candidates: list[Candidate] = []
    entries: list[CandidateEntry] = []
    for i, c in enumerate(data.get("candidates", ()), start=1):
        where = f"[[candidates]] #{i}"
        _unknown(c, {"key", "name", "member", "aliases", "entered", "withdrew", "source"}, where)
        key = _need(c, "key", str, where)
        if key in {x.key for x in candidates}:
            raise ValueError(f"{where} repeats key = '{key}'")
        member = c.get("member")
        if member is not None and member not in codes:
            raise ValueError(f"{where} member = '{member}' is not in members")
        name = one_line(_need(c, "name", str, where))
        candidates.append(Candidate(key, name, member, tuple(c.get("aliases", ()))))
        for field, action in (
            ("entered", CandidateAction.ADD),
            ("withdrew", CandidateAction.WITHDRAW),
        ):
            if field in c:
                entries.append(CandidateEntry(key, action, _need(c, field, date, where)))
        if len(entries) >= 2 and entries[-1].candidate == entries[-2].candidate == key:
            if entries[-1].on < entries[-2].on:
                raise ValueError(f"{where}: withdrew = must not come before entered =")
        if any(e.candidate == key for e in entries):
            _source(c, sources, where)  # a dated entry or withdrawal is sourced
    keys = {c.key for c in candidates}

    weights = _weights(data.get("weights", {}), codes)
    rule_over = _rule_over(data.get("rule", {}), weights)
    last = Race("", "", members, (), Unanimity(1), Deadline(date.max, ""), tenures=tuple(tenures))
    rule = rule_over(last.members_on(date.max))  # over the members at the race's end
    deadline, earlier = _deadlines(_need(data, "deadline", dict, "the race file"), sources)
    seed = []
    for i, entry in enumerate(data.get("seed", ()), start=1):
        where = f"[[seed]] #{i}"
        _unknown(entry, _SEED_KEYS, where)
        try:
            position = Position(_need(entry, "position", str, where))
        except ValueError:
            words = ", ".join(p.value for p in Position)
            raise ValueError(f"{where} position must be one of {words}") from None
        candidate = entry.get("candidate")
        if candidate is not None and candidate not in keys:
            raise ValueError(f"{where} names unknown candidate '{candidate}'")
        if (candidate is None) != (position is Position.UNDECIDED):
            raise ValueError(f"{where}: a position on a candidate needs one, undecided none")
        source = _source(entry, sources, where)
        try:  # the rule every note (and condition) typed in a command follows
            note = check_note(entry.get("note")) or ""
            condition = check_note(
                _need(entry, "condition", str, where) if "condition" in entry else None,
                "condition",
            )
        except TallyError as exc:
            raise ValueError(f"{where}: {exc}") from None
        confidence = _confidence(entry, where)
        on = _need(entry, "on", date, where)
        listed = _need(entry, "members", list, where)
        if len(set(listed)) != len(listed):
            raise ValueError(f"{where} lists a member twice")
        for code in listed:
            if code not in codes:
                raise ValueError(f"{where} lists '{code}', which is not in members")
            if code not in last.codes_on(on):
                raise ValueError(f"{where} lists '{code}', which was not a member on {on}")
            seed.append(
                SeedEvent(code, position, candidate, on, source, note, confidence, condition)
            )
    veto = getattr(rule, "veto", ())
    rounds = _rounds(data.get("rounds", []), keys, len(members), len(veto), sources)

    race = Race(
        id=race_id,
        title=title,
        members=members,
        candidates=tuple(candidates),
        rule=rule,
        deadline=deadline,
        timezone=timezone,
        seed=tuple(seed),
        outlets=outlets,
        tenures=tuple(tenures),
        rule_over=rule_over if tenures else None,
        earlier_deadlines=earlier,
        rounds=rounds,
        entries=tuple(entries),
    )
    roster = Roster(race)
    for index in (roster.members, roster.candidates):
        for spelling, owners in index.ambiguous.items():
            if index is roster.members or spelling in {fold(c.name) for c in candidates}:
                raise ValueError(f"'{spelling}' names both {owners[0]} and {owners[1]}")
    return race
