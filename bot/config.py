"""Configuration: a TOML file for settings, the environment for secrets. Clear errors, no magic."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from bot.clock import time_of_day, zone_named


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it and says what would work."""


@dataclass(frozen=True)
class DiscordConfig:
    guilds: tuple[int, ...] = ()
    editor_roles: tuple[str, ...] = ()  # role ids (digits) or role names

    def __post_init__(self) -> None:
        # @everyone's role id is the server's own id: listing it would make everyone an editor.
        everyone = [r for r in self.editor_roles if r.casefold() in ("@everyone", "everyone")]
        everyone += [str(i) for i in sorted(self.editor_role_ids & set(self.guilds))]
        if everyone:
            raise ConfigError(
                f"[discord] editor_roles lists {everyone[0]}, the @everyone role of a server "
                "(its id is the server id): everyone would be an editor. List the id of a role "
                "only editors have (Server Settings > Roles > ... > Copy Role ID)."
            )

    @property
    def editor_role_ids(self) -> frozenset[int]:
        return frozenset(int(r) for r in self.editor_roles if _is_id(r))

    @property
    def editor_role_names(self) -> tuple[str, ...]:
        """Names are matched only once resolved to one role id per configured server."""
        return tuple(r for r in self.editor_roles if not _is_id(r))


def _is_id(role: str) -> bool:
    return role.isascii() and role.isdigit()


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


# --- what each key must hold --------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a key must hold, worded for the one line that says so when it does not."""

    what: str
    accepts: Callable[[Any], bool]

    def found_instead(self, value: Any) -> str | None:
        """None when `value` fits, else what was found, in words."""
        return None if self.accepts(value) else _describe(value)


@dataclass(frozen=True)
class ListOf:
    what: str
    item: Expect

    def found_instead(self, value: Any) -> str | None:
        if not isinstance(value, list):
            return _describe(value)
        wrong = [v for v in value if not self.item.accepts(v)]
        return f"a list holding {_describe(wrong[0])}" if wrong else None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true is not a number


TEXT = Expect("a string in quotes", lambda v: isinstance(v, str))
NUMBER = Expect("a number (no quotes)", lambda v: _whole(v) or isinstance(v, float))
FLAG = Expect("true or false (no quotes)", lambda v: isinstance(v, bool))
TABLE = Expect("a table", lambda v: isinstance(v, dict))
DAY = Expect(
    "a TOML date like 2024-04-03 (no quotes)",
    lambda v: isinstance(v, date) and not isinstance(v, datetime),
)
CLOCK = Expect("a time like '09:00'", lambda v: isinstance(v, str | time))
PORT = Expect("a port number from 0 to 65535 (no quotes)", lambda v: _whole(v) and 0 <= v < 65536)
SNOWFLAKE = Expect("an id (digits, no quotes)", lambda v: _whole(v) and v > 0)
SERVER_IDS = ListOf(
    "a list of server ids (digits, no quotes), like [123456789012345678]", SNOWFLAKE
)
ROLES = ListOf(
    'a list of role ids or names, like ["987654321098765432", "Editors"]',
    Expect(
        "a role id or name",
        lambda v: (isinstance(v, str) and v.strip() != "") or SNOWFLAKE.accepts(v),
    ),
)
CHANNEL_ID = Expect("a channel id", lambda v: (isinstance(v, str) and v != "") or _whole(v))

SCHEMA: dict[str, dict[str, Expect | ListOf]] = {
    "": {
        "race": TEXT,
        "database": TEXT,
        "timezone": TEXT,
        "today": DAY,
        "export_dir": TEXT,
        "discord": TABLE,
        "slack": TABLE,
        "digest": TABLE,
    },
    "discord": {"guilds": SERVER_IDS, "editor_roles": ROLES},
    "slack": {
        "mode": TEXT,
        "host": TEXT,
        "port": PORT,
        "path": TEXT,
        "api_base_url": TEXT,
        "editors": ListOf('a list of member ids, like ["U012ABCDEF"]', TEXT),
        "editor_group": TEXT,
    },
    "digest": {
        "time": CLOCK,
        "grace_hours": NUMBER,
        "attach_board": FLAG,
        "channels": ListOf("[[digest.channels]] tables, each with platform and channel", TABLE),
    },
    "digest.channels": {"platform": TEXT, "channel": CHANNEL_ID, "time": CLOCK, "timezone": TEXT},
}
SECRETS = ("token", "bot_token", "app_token", "signing_secret")


def _describe(value: Any) -> str:
    """A TOML value in words, cut short: "the string 'abc'", "the number 5", "a table"."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"the string {shown!r}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, date | time):
        return f"the {type(value).__name__} {value.isoformat()}"
    return {list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _checked(table: Mapping[str, Any], kind: str, where: str) -> Mapping[str, Any]:
    """`table` when every key is known and holds what it must; else ConfigError in one line.

    `kind` picks the keys in SCHEMA; `where` names the table in messages ("[slack] ").
    """
    unknown = sorted(set(table) - set(SCHEMA[kind]))
    if secrets := [k for k in unknown if k in SECRETS]:
        raise ConfigError(
            f"{where}{secrets[0]} must not be in a file; set it in the environment instead."
        )
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in {where.strip() or 'the config'}: {', '.join(unknown)}. "
            "config.example.toml lists every key."
        )
    for key, value in table.items():
        if (found := SCHEMA[kind][key].found_instead(value)) is not None:
            raise ConfigError(f"{where}{key}: found {found}; expected {SCHEMA[kind][key].what}.")
    return table


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
    ch = _checked(table, "digest.channels", where)
    if ch.get("platform") not in ("discord", "slack") or "channel" not in ch:
        raise ConfigError(
            f"{where.strip()} needs platform = 'discord' or 'slack' and a channel id."
        )
    return DigestChannel(
        platform=ch["platform"],
        channel=str(ch["channel"]),
        time=_time(ch.get("time", default_time), f"{where}time"),
        timezone=_zone(ch["timezone"], f"{where}timezone") if "timezone" in ch else "",
    )


def parse_config(data: Mapping[str, Any], base_dir: Path = Path(".")) -> Config:
    top = _checked(data, "", "")
    d = _checked(top.get("discord", {}), "discord", "[discord] ")
    s = _checked(top.get("slack", {}), "slack", "[slack] ")
    g = _checked(top.get("digest", {}), "digest", "[digest] ")
    grace_hours = g.get("grace_hours", 6.0)
    if not 0 <= grace_hours <= 24:
        raise ConfigError(f"[digest] grace_hours = {grace_hours!r}: use hours from 0 to 24.")
    mode = s.get("mode", "socket")
    if mode not in ("socket", "http"):
        raise ConfigError(f"[slack] mode = '{mode}': use 'socket' or 'http'.")
    digest_time = g.get("time", "09:00")
    return Config(
        race=top.get("race", Config.race),
        database=Path(top.get("database", Config.database)),
        timezone=_zone(top["timezone"], "timezone") if "timezone" in top else "",
        today=top.get("today"),
        export_dir=Path(top.get("export_dir", Config.export_dir)),
        discord=DiscordConfig(
            guilds=tuple(d.get("guilds", ())),
            editor_roles=tuple(str(r).strip() for r in d.get("editor_roles", ())),
        ),
        slack=SlackConfig(
            mode=mode,
            host=s.get("host", SlackConfig.host),
            port=s.get("port", SlackConfig.port),
            path=s.get("path", SlackConfig.path),
            api_base_url=s.get("api_base_url", SlackConfig.api_base_url),
            editors=tuple(s.get("editors", ())),
            editor_group=s.get("editor_group", ""),
        ),
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


def secret(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A secret from the environment; empty counts as unset."""
    return environ.get(name) or None
