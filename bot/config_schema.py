"""What each key of the config must hold, and the one check of a table against its keys.

It sits below both the config and the platform registry: each platform's section brings its
own keys (bot/adapters/registry.py), checked here like the config's own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it and says what would work."""


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


Keys = Mapping[str, Expect | ListOf]


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true is not a number


TEXT = Expect("a string in quotes", lambda v: isinstance(v, str))
NUMBER = Expect("a number (no quotes)", lambda v: whole(v) or isinstance(v, float))
FLAG = Expect("true or false (no quotes)", lambda v: isinstance(v, bool))
TABLE = Expect("a table", lambda v: isinstance(v, dict))
DAY = Expect(
    "a TOML date like 2024-04-03 (no quotes)",
    lambda v: isinstance(v, date) and not isinstance(v, datetime),
)
CLOCK = Expect("a time like '09:00'", lambda v: isinstance(v, str | time))
PER_READER = Expect("a whole number from 1 up (no quotes)", lambda v: whole(v) and v >= 1)
PORT = Expect("a port number from 0 to 65535 (no quotes)", lambda v: whole(v) and 0 <= v < 65536)


def checked(
    table: Mapping[str, Any], keys: Keys, where: str, secrets: Collection[str]
) -> Mapping[str, Any]:
    """`table` when every key is known and holds what it must; else ConfigError in one line.

    `where` names the table in messages ("[slack] "); a key in `secrets` is refused as one.
    """
    unknown = sorted(set(table) - set(keys))
    if refused := [k for k in unknown if k in secrets]:
        raise ConfigError(
            f"{where}{refused[0]} must not be in a file; set it in the environment instead."
        )
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in {where.strip() or 'the config'}: {', '.join(unknown)}. "
            "config.example.toml lists every key."
        )
    for key, value in table.items():
        if (found := keys[key].found_instead(value)) is not None:
            raise ConfigError(f"{where}{key}: found {found}; expected {keys[key].what}.")
    return table


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
