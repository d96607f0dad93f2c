"""Configuration: a TOML file for settings, the environment for secrets. Clear errors, no magic.

Each platform's section ([discord], [slack]) is read by its entry in the platform registry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from bot.adapters.registry import PLATFORM_NAMES, PLATFORMS
from bot.clock import time_of_day, zone_named
from bot.config_schema import (
    CLOCK,
    DAY,
    FLAG,
    NUMBER,
    TABLE,
    TEXT,
    ConfigError,
    Expect,
    Keys,
    ListOf,
    checked,
    whole,
)


@dataclass(frozen=True)
class DigestChannel:
    platform: str  # a platform's name in the registry
    channel: str
    time: time = time(9, 0)
    timezone: str = ""  # empty: the configured time zone
    race: str = ""  # the race id whose digest it gets; empty: the first race listed


@dataclass(frozen=True)
class DigestConfig:
    time: time = time(9, 0)
    grace_hours: float = 6.0
    attach_board: bool = False
    channels: tuple[DigestChannel, ...] = ()


def _default_platforms() -> dict[str, Any]:
    return {p.name: p.read_section({}) for p in PLATFORMS}


@dataclass(frozen=True)
class Config:
    # The races followed: built-in ids or race files; the first is a channel's default.
    races: tuple[str, ...] = ("nato-sg-2024", "eu-commission-2024", "unsg-2016", "unsg-2026")
    database: Path = Path("data/tallybot.db")
    timezone: str = ""  # empty: the race file's time zone
    today: date | None = None  # pins "today" for demos and tests
    export_dir: Path = Path("data/exports")
    # Each platform's settings by name, as its registry entry reads its section.
    platforms: Mapping[str, Any] = field(default_factory=_default_platforms)
    digest: DigestConfig = field(default_factory=DigestConfig)
    base_dir: Path = Path(".")  # where relative paths in the file are resolved


# --- what each key must hold --------------------------------------------------------------------

CHANNEL_ID = Expect("a channel id", lambda v: (isinstance(v, str) and v != "") or whole(v))

SCHEMA: dict[str, Keys] = {
    "": {
        "race": TEXT,
        "races": ListOf("a list of race ids or race files", TEXT),
        "database": TEXT,
        "timezone": TEXT,
        "today": DAY,
        "export_dir": TEXT,
        **{name: TABLE for name in PLATFORM_NAMES},
        "digest": TABLE,
    },
    "digest": {
        "time": CLOCK,
        "grace_hours": NUMBER,
        "attach_board": FLAG,
        "channels": ListOf("[[digest.channels]] tables, each with platform and channel", TABLE),
    },
    "digest.channels": {
        "platform": TEXT,
        "channel": CHANNEL_ID,
        "time": CLOCK,
        "timezone": TEXT,
        "race": TEXT,
    },
}
# A secret is refused in any table of the file, under the name it would have there.
SECRETS = frozenset(key for p in PLATFORMS for key in p.file_keys)


def _checked(table: Mapping[str, Any], keys: Keys, where: str) -> Mapping[str, Any]:
    return checked(table, keys, where, SECRETS)


def _zone(name: str, key: str) -> str:
    try:
        return zone_named(name)
    except ValueError:
        raise ConfigError(
            f"{key} = '{name}' is not an IANA time zone; use a name like 'Europe/Brussels'."
        ) from None


def _time(value: str | time, key: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time_of_day(value)
    except ValueError:
        raise ConfigError(f"{key} = '{value}' is not a time; use HH:MM like '09:00'.") from None


def _channel(table: Mapping[str, Any], number: int, default_time: str | time) -> DigestChannel:
    where = f"[[digest.channels]] #{number} "
    ch = _checked(table, SCHEMA["digest.channels"], where)
    if ch.get("platform") not in PLATFORM_NAMES or "channel" not in ch:
        names = " or ".join(f"'{name}'" for name in PLATFORM_NAMES)
        raise ConfigError(f"{where.strip()} needs platform = {names} and a channel id.")
    return DigestChannel(
        platform=ch["platform"],
        channel=str(ch["channel"]),
        time=_time(ch.get("time", default_time), f"{where}time"),
        timezone=_zone(ch["timezone"], f"{where}timezone") if "timezone" in ch else "",
        race=ch.get("race", ""),
    )


def _races(top: Mapping[str, Any]) -> tuple[str, ...]:
    """races = [...], or a config of one race's time: race = "..."."""
    if "race" in top and "races" in top:
        raise ConfigError("Give races = [...] or race = ..., not both; races lists them all.")
    races = tuple(top["races"]) if "races" in top else (top["race"],) if "race" in top else ()
    races = races or Config.races if "races" not in top else races
    if not races or len(set(races)) != len(races):
        raise ConfigError("races = [...] must list at least one race, each once.")
    return races


def parse_config(data: Mapping[str, Any], base_dir: Path = Path(".")) -> Config:
    top = _checked(data, SCHEMA[""], "")
    platforms = {
        p.name: p.read_section(_checked(top.get(p.name, {}), p.keys, f"[{p.name}] "))
        for p in PLATFORMS
    }
    g = _checked(top.get("digest", {}), SCHEMA["digest"], "[digest] ")
    grace_hours = g.get("grace_hours", 6.0)
    if not 0 <= grace_hours <= 24:
        raise ConfigError(f"[digest] grace_hours = {grace_hours!r}: use hours from 0 to 24.")
    digest_time = g.get("time", "09:00")
    return Config(
        races=_races(top),
        database=Path(top.get("database", Config.database)),
        timezone=_zone(top["timezone"], "timezone") if "timezone" in top else "",
        today=top.get("today"),
        export_dir=Path(top.get("export_dir", Config.export_dir)),
        platforms=platforms,
        digest=DigestConfig(
            time=_time(digest_time, "[digest] time"),
            grace_hours=float(grace_hours),
            attach_board=g.get("attach_board", False),
            channels=tuple(
                _channel(ch, i, digest_time) for i, ch in enumerate(g.get("channels", ()), 1)
            ),
        ),
        base_dir=base_dir,
    )


def load_config(path: str | Path | None) -> Config:
    """Read a config file; None means the built-in defaults (no file needed)."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist; copy config.example.toml.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, base_dir=path.parent)
