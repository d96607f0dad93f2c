"""Configuration: a TOML file for settings, the environment for secrets. Clear errors, no magic."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it and says what would work."""


@dataclass(frozen=True)
class DiscordConfig:
    guilds: tuple[int, ...] = ()
    editor_roles: tuple[str, ...] = ()  # role names or ids


@dataclass(frozen=True)
class SlackConfig:
    mode: str = "socket"  # "socket" or "http"
    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    api_base_url: str = "https://slack.com/api/"
    editors: tuple[str, ...] = ()  # user ids
    editor_group: str = ""  # a user group id


@dataclass(frozen=True)
class DigestChannel:
    platform: str  # "discord" or "slack"
    channel: str
    time: time = time(9, 0)
    timezone: str = ""  # empty: the configured time zone


@dataclass(frozen=True)
class DigestConfig:
    time: time = time(9, 0)
    grace_hours: float = 6.0
    attach_board: bool = False
    channels: tuple[DigestChannel, ...] = ()


@dataclass(frozen=True)
class Config:
    race: str = "nato-sg-2024"
    database: Path = Path("data/tallybot.db")
    timezone: str = ""  # empty: the race file's time zone
    today: date | None = None  # pins "today" for demos and tests
    export_dir: Path = Path("data/exports")
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    base_dir: Path = Path(".")  # where relative paths in the file are resolved


def _zone(name: str, key: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{key} = '{name}' is not an IANA time zone; use a name like 'Europe/Brussels'."
        ) from None
    return name


def _time(value: Any, key: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key} = '{value}' is not a time; use HH:MM like '09:00'.") from None


def _section(data: Mapping[str, Any], name: str, known: set[str]) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table.")
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"Unknown key(s) in [{name}]: {', '.join(sorted(unknown))}.")
    return section


def parse_config(data: Mapping[str, Any], base_dir: Path = Path(".")) -> Config:
    top = {"race", "database", "timezone", "today", "export_dir", "discord", "slack", "digest"}
    unknown = set(data) - top
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in the config: {', '.join(sorted(unknown))}. "
            "config.example.toml lists every key."
        )
    for secret in ("token", "bot_token", "app_token", "signing_secret"):
        for name in ("discord", "slack"):
            if secret in data.get(name, {}):
                raise ConfigError(
                    f"[{name}] {secret} must not be in a file; set it in the environment instead."
                )
    d = _section(data, "discord", {"guilds", "editor_roles"})
    s = _section(
        data,
        "slack",
        {"mode", "host", "port", "path", "api_base_url", "editors", "editor_group"},
    )
    g = _section(data, "digest", {"time", "grace_hours", "attach_board", "channels"})
    grace_hours = g.get("grace_hours", 6.0)
    if not isinstance(grace_hours, int | float) or not 0 <= grace_hours <= 24:
        raise ConfigError(f"[digest] grace_hours = {grace_hours!r}: use hours from 0 to 24.")
    timezone = _zone(str(data["timezone"]), "timezone") if "timezone" in data else ""
    mode = s.get("mode", "socket")
    if mode not in ("socket", "http"):
        raise ConfigError(f"[slack] mode = '{mode}': use 'socket' or 'http'.")
    today = data.get("today")
    if today is not None and (not isinstance(today, date) or isinstance(today, datetime)):
        raise ConfigError(f"today = '{today}' must be a TOML date like 2024-04-03 (no quotes).")
    channels = []
    for i, ch in enumerate(g.get("channels", ())):
        key = f"[[digest.channels]] #{i + 1}"
        if ch.get("platform") not in ("discord", "slack") or not ch.get("channel"):
            raise ConfigError(f"{key} needs platform = 'discord' or 'slack' and a channel id.")
        channels.append(
            DigestChannel(
                platform=ch["platform"],
                channel=str(ch["channel"]),
                time=_time(ch.get("time", g.get("time", "09:00")), f"{key} time"),
                timezone=_zone(ch["timezone"], f"{key} timezone") if "timezone" in ch else "",
            )
        )
    return Config(
        race=str(data.get("race", Config.race)),
        database=Path(data.get("database", Config.database)),
        timezone=timezone,
        today=today,
        export_dir=Path(data.get("export_dir", Config.export_dir)),
        discord=DiscordConfig(
            guilds=tuple(int(x) for x in d.get("guilds", ())),
            editor_roles=tuple(str(x) for x in d.get("editor_roles", ())),
        ),
        slack=SlackConfig(
            mode=mode,
            host=s.get("host", SlackConfig.host),
            port=int(s.get("port", SlackConfig.port)),
            path=s.get("path", SlackConfig.path),
            api_base_url=s.get("api_base_url", SlackConfig.api_base_url),
            editors=tuple(s.get("editors", ())),
            editor_group=s.get("editor_group", ""),
        ),
        digest=DigestConfig(
            time=_time(g.get("time", "09:00"), "[digest] time"),
            grace_hours=float(grace_hours),
            attach_board=bool(g.get("attach_board", False)),
            channels=tuple(channels),
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


def secret(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A secret from the environment; empty counts as unset."""
    return environ.get(name) or None


class Clock:
    """Today's date and the current time in the configured zone; `today` may be pinned."""

    def __init__(self, tz: ZoneInfo, pinned_today: date | None = None) -> None:
        self.tz = tz
        self.pinned_today = pinned_today

    def now(self) -> datetime:
        now = datetime.now(self.tz)
        if self.pinned_today is None:
            return now
        return datetime.combine(self.pinned_today, now.timetz())

    def today(self) -> date:
        return self.now().date()
