"""Every chat platform tallybot serves: one entry each, read by the config, the app and the CLI.

An entry names the platform, its config section and that section's keys, the secrets it
takes from the environment, and how to check them and build the platform. Only `make`
imports the adapter (and with it the platform's library), so reading the registry does not.
A new platform is one folder in bot/adapters/ and one entry here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.discord import settings as discord
from bot.adapters.slack import settings as slack
from bot.config_schema import Keys
from bot.platform import PlatformMaker


@dataclass(frozen=True)
class Tool:
    """A CLI subcommand of the platform's own, such as printing its app manifest."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # the exit status


@dataclass(frozen=True)
class PlatformEntry:
    name: str  # the CLI subcommand, the config section, and Actor.platform
    help: str  # for `tallybot <name>`
    keys: Keys  # what the config section may hold
    read_section: Callable[[Mapping[str, Any]], Any]  # the checked section to its settings
    secrets: tuple[str, ...]  # the environment variables it reads
    needs: str  # which secrets to set, for the line saying that no platform has any
    # The secrets the settings need, or None when none is set and the platform was not
    # asked for by name (`required`); raises CredentialsError when some are missing.
    credentials: Callable[[Any, Mapping[str, str], bool], dict[str, str] | None]
    make: Callable[[Any, dict[str, str], Mapping[str, bool]], PlatformMaker]
    flags: Mapping[str, str] = field(default_factory=dict)  # CLI on/off options, with help
    tools: tuple[Tool, ...] = ()

    @property
    def file_keys(self) -> tuple[str, ...]:
        """How each secret would be written in the config file, which refuses it:
        SLACK_BOT_TOKEN as bot_token."""
        prefix = f"{self.name.upper()}_"
        return tuple(s.removeprefix(prefix).lower() for s in self.secrets)


PLATFORMS = (
    PlatformEntry(
        name="discord",
        help="Discord only (needs DISCORD_TOKEN)",
        keys=discord.KEYS,
        read_section=discord.read_section,
        secrets=discord.SECRETS,
        needs="DISCORD_TOKEN",
        credentials=discord.credentials,
        make=discord.make,
        flags={
            "--sync-global": "also sync Discord commands globally (takes up to an hour; guilds "
            "sync at once)"
        },
    ),
    PlatformEntry(
        name="slack",
        help="Slack only (needs SLACK_* secrets)",
        keys=slack.KEYS,
        read_section=slack.read_section,
        secrets=slack.SECRETS,
        needs="SLACK_BOT_TOKEN with SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET "
        "(HTTP mode)",
        credentials=slack.credentials,
        make=slack.make,
        tools=(
            Tool(
                "slack-manifest",
                "print the Slack app manifest (JSON)",
                slack.add_manifest_arguments,
                slack.print_manifest,
            ),
        ),
    ),
)
PLATFORM_NAMES = tuple(p.name for p in PLATFORMS)
