"""Reading a race definition (bot/races/*.toml, or a user's own file) into a `Race`."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pycountry

from bot.domain import Candidate, Deadline, Member, Position, Race, Rule, RuleKind, SeedEvent


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


def _member(code: str, names: dict[str, str], aliases: dict[str, list[str]]) -> Member:
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None and code not in names:
        raise ValueError(f"'{code}' is not an ISO 3166 alpha-2 code; add it under [names]")
    extra = [getattr(country, a, "") for a in ("name", "official_name", "common_name")]
    return Member(
        code=code.upper(),
        name=names.get(code) or getattr(country, "common_name", None) or country.name,
        alpha3=getattr(country, "alpha_3", ""),
        aliases=tuple(a for a in (*extra, *aliases.get(code, ())) if a),
    )


def parse_race(data: dict[str, Any]) -> Race:
    names = data.get("names", {})
    aliases = data.get("aliases", {})
    members = tuple(_member(code, names, aliases) for code in data["members"])
    codes = {m.code for m in members}
    if len(codes) != len(members):
        raise ValueError("a member is listed twice")
    candidates = tuple(
        Candidate(
            key=c["key"],
            name=c["name"],
            member=c.get("member"),
            aliases=tuple(c.get("aliases", ())),
        )
        for c in data.get("candidates", ())
    )
    keys = {c.key for c in candidates}
    rule = data.get("rule", {})
    sources = data.get("sources", {})
    seed = []
    for entry in data.get("seed", ()):
        for code in entry["members"]:
            if code not in codes:
                raise ValueError(f"seed event for '{code}', which is not a member")
            candidate = entry.get("candidate")
            if candidate is not None and candidate not in keys:
                raise ValueError(f"seed event names unknown candidate '{candidate}'")
            on = entry["on"]
            if not isinstance(on, date):
                raise ValueError(f"seed date {on!r} must be a TOML date like 2024-04-02")
            seed.append(
                SeedEvent(
                    member=code,
                    position=Position(entry["position"]),
                    candidate=candidate,
                    on=on,
                    source=sources.get(entry["source"], entry["source"]),
                    note=entry.get("note", ""),
                )
            )
    deadline = data["deadline"]
    return Race(
        id=data["id"],
        title=data["title"],
        members=members,
        candidates=candidates,
        rule=Rule(RuleKind(rule.get("kind", "unanimity")), int(rule.get("threshold", 0))),
        deadline=Deadline(deadline["on"], deadline["label"]),
        timezone=data.get("timezone", "UTC"),
        seed=tuple(seed),
    )
