"""Command line: `tallybot console | run | <platform> | <a platform's tool>`, e.g.
`tallybot discord` or `tallybot slack-manifest`: the platforms come from the registry."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import date
from pathlib import Path

from bot.adapters.registry import PLATFORMS
from bot.app import run_console, run_platforms, with_overrides
from bot.config import load_config
from bot.config_schema import ConfigError
from bot.platform import CredentialsError
from bot.racefile import RaceFileError
from bot.store.schema import StorageError

# Every platform's CLI on/off options and subcommands of its own, from the registry.
FLAGS = {flag: help_ for entry in PLATFORMS for flag, help_ in entry.flags.items()}
TOOLS = {tool.name: tool for entry in PLATFORMS for tool in entry.tools}


def _dest(flag: str) -> str:
    """The attribute argparse stores a flag under: --sync-global as sync_global."""
    return flag.removeprefix("--").replace("-", "_")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="a TOML config file (default: ./config.toml if present)")
    common.add_argument("--db", help="the SQLite file (overrides the config's database)")
    common.add_argument("--today", type=_date, help="pin today's date, YYYY-MM-DD")
    common.add_argument("--demo", action="store_true", help="load the race's seed events once")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(
        prog="tallybot", description="Follow a consensus race from a chat room."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    console = sub.add_parser(
        "console", parents=[common], help="type commands in a terminal (no token)"
    )
    console.add_argument("--race", help="the race commands are about when they name none")
    platform = argparse.ArgumentParser(add_help=False, parents=[common])
    for flag, help_ in FLAGS.items():
        platform.add_argument(flag, action="store_true", help=help_)
    sub.add_parser("run", parents=[platform], help="every platform that has credentials")
    for entry in PLATFORMS:
        sub.add_parser(entry.name, parents=[platform], help=entry.help)
    for tool in TOOLS.values():
        tool.add_arguments(sub.add_parser(tool.name, help=tool.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in TOOLS:
        return TOOLS[args.command].run(args)
    # The console's replies are its output: only warnings join them unless asked.
    quiet = logging.WARNING if args.command == "console" else logging.INFO
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config_path = args.config or os.environ.get("TALLYBOT_CONFIG")
    if config_path is None and Path("config.toml").is_file():
        config_path = "config.toml"
    try:
        config = with_overrides(load_config(config_path), args.db, args.today)
        if args.command == "console":
            asyncio.run(run_console(config, args.demo, args.race))
        else:
            only = None if args.command == "run" else args.command
            flags = {_dest(flag): getattr(args, _dest(flag)) for flag in FLAGS}
            asyncio.run(run_platforms(config, only, args.demo, flags))
    except (ConfigError, RaceFileError, CredentialsError, StorageError) as exc:
        print(f"tallybot: {exc}", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as exc:  # no network, DNS, refused (aiohttp's are OSErrors)
        print(f"tallybot: could not connect: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
