"""Slack's [slack] section, secrets and app manifest, read without importing a Slack library."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config_schema import PER_READER, PORT, TEXT, ConfigError, ListOf
from bot.platform import CredentialsError, PlatformMaker, secret
from bot.service_proposals import MAX_OPEN


@dataclass(frozen=True)
class SlackConfig:
    mode: str = "socket"  # "socket" or "http"
    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    api_base_url: str = "https://slack.com/api/"
    editors: tuple[str, ...] = ()  # user ids
    editor_group: str = ""  # a user group id
    review_channel: str = ""  # where readers' proposals are posted for editors; "": none
    proposals_per_reader: int = MAX_OPEN  # open proposals a reader may have at once


KEYS = {
    "mode": TEXT,
    "host": TEXT,
    "port": PORT,
    "path": TEXT,
    "api_base_url": TEXT,
    "editors": ListOf('a list of member ids, like ["U012ABCDEF"]', TEXT),
    "editor_group": TEXT,
    "review_channel": TEXT,
    "proposals_per_reader": PER_READER,
}
SECRETS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def read_section(table: Mapping[str, Any]) -> SlackConfig:
    """The checked [slack] table as settings."""
    mode = table.get("mode", "socket")
    if mode not in ("socket", "http"):
        raise ConfigError(f"[slack] mode = '{mode}': use 'socket' or 'http'.")
    return SlackConfig(
        mode=mode,
        host=table.get("host", SlackConfig.host),
        port=table.get("port", SlackConfig.port),
        path=table.get("path", SlackConfig.path),
        api_base_url=table.get("api_base_url", SlackConfig.api_base_url),
        editors=tuple(table.get("editors", ())),
        editor_group=table.get("editor_group", ""),
        review_channel=table.get("review_channel", ""),
        proposals_per_reader=table.get("proposals_per_reader", MAX_OPEN),
    )


def credentials(
    config: SlackConfig, environ: Mapping[str, str], required: bool
) -> dict[str, str] | None:
    """The secrets the configured transport needs, or None when none are set."""
    needed = ["SLACK_BOT_TOKEN"]
    needed.append("SLACK_APP_TOKEN" if config.mode == "socket" else "SLACK_SIGNING_SECRET")
    values = {name: secret(name, environ) for name in needed}
    missing = [name for name, value in values.items() if not value]
    if not missing:
        return {name.removeprefix("SLACK_").lower(): value for name, value in values.items()}
    if required or len(missing) < len(needed):
        other_mode = "http" if config.mode == "socket" else "socket"
        other_secret = "SLACK_SIGNING_SECRET" if other_mode == "http" else "SLACK_APP_TOKEN"
        hint = f' (or set [slack] mode = "{other_mode}")' if secret(other_secret, environ) else ""
        raise CredentialsError(
            f"{' and '.join(missing)} not set; Slack in {config.mode} mode needs "
            f"{' and '.join(needed)} in the environment{hint}."
        )
    return None


def make(config: SlackConfig, secrets: dict[str, str], flags: Mapping[str, bool]) -> PlatformMaker:
    from bot.adapters.slack.adapter import SlackPlatform, check_credentials

    async def check() -> Any:
        return await check_credentials(config, secrets["bot_token"], secrets.get("app_token"))

    return PlatformMaker(
        check=check,
        build=lambda service, auth: SlackPlatform(service, config, **secrets, auth=auth),
    )


def add_manifest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http-url",
        type=_https,
        help="HTTP mode: the public URL of the events path, e.g. https://bot.example.org/slack/events"
        " (default: Socket Mode)",
    )


def print_manifest(args: argparse.Namespace) -> int:
    from bot.adapters.slack.manifest import manifest_json

    print(manifest_json(args.http_url), end="")
    return 0


def _https(text: str) -> str:
    if not text.startswith("https://"):
        raise argparse.ArgumentTypeError(f"'{text}' is not an https:// URL; Slack calls only https")
    return text
