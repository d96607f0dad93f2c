"""The composition root: config, store, service and adapters, built once and run in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.charts import tally_board
from bot.clock import Clock
from bot.config import Config, secret
from bot.logs import install_redaction
from bot.platform import CredentialsError, Platform
from bot.racefile import load_race
from bot.scheduling import DigestScheduler
from bot.service import Service
from bot.store.store import Store

log = logging.getLogger("tallybot")


def resolve(config: Config, path: Path) -> Path:
    """A path from the config file is relative to that file's folder."""
    return path if path.is_absolute() else config.base_dir / path


def with_overrides(config: Config, db: str | None, today: date | None) -> Config:
    if db is not None:
        config = replace(config, database=Path(db).absolute())
    if today is not None:
        config = replace(config, today=today)
    return config


@asynccontextmanager
async def open_service(config: Config, demo: bool = False) -> AsyncIterator[Service]:
    race = load_race(config.race, config.base_dir)
    clock = Clock(ZoneInfo(config.timezone or race.timezone), config.today)
    store = await Store.open(resolve(config, config.database), clock.now)
    try:
        service = Service(store, race, clock, config.digest)
        added = await service.start(demo=demo)
        if added:
            log.info("Loaded %d seed events of %s", added, race.id)
        yield service
    finally:
        await store.close()


async def run_console(config: Config, demo: bool) -> None:
    from bot.adapters.console import Console

    async with open_service(config, demo) as service:
        await Console(service, resolve(config, config.export_dir)).run()


@dataclass(frozen=True)
class PlatformMaker:
    check: Callable[[], Awaitable[None]]  # asks the platform about the credentials, or raises
    build: Callable[[Service], Platform]


def platform_makers(
    config: Config,
    only: str | None,
    sync_global: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> list[PlatformMaker]:
    """What checks and builds each platform that has credentials (or just `only`, whose
    credentials must be set). Read before anything is opened, so a missing secret leaves no
    trace."""
    makers: list[PlatformMaker] = []
    discord_token = secret("DISCORD_TOKEN", environ)
    if only in (None, "discord") and discord_token:
        from bot.adapters.discord.adapter import DiscordPlatform, check_token

        makers.append(
            PlatformMaker(
                partial(check_token, discord_token),
                lambda s: DiscordPlatform(s, config.discord, discord_token, sync_global),
            )
        )
    elif only == "discord":
        raise CredentialsError(
            "DISCORD_TOKEN is not set; put the bot token from the Discord developer portal "
            "in the environment."
        )
    slack = (
        slack_credentials(config, environ, required=only == "slack") if only != "discord" else None
    )
    if slack is not None:
        from bot.adapters.slack.adapter import SlackPlatform, check_credentials

        makers.append(
            PlatformMaker(
                partial(
                    check_credentials, config.slack, slack["bot_token"], slack.get("app_token")
                ),
                lambda s: SlackPlatform(s, config.slack, **slack),
            )
        )
    if not makers:
        raise CredentialsError(
            "No platform has credentials: set DISCORD_TOKEN, or SLACK_BOT_TOKEN with "
            "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode). "
            "To try tallybot without any, run: tallybot console --demo"
        )
    return makers


def slack_credentials(
    config: Config, environ: Mapping[str, str], required: bool
) -> dict[str, str] | None:
    """The Slack secrets the configured transport needs, or None when none are set."""
    needed = ["SLACK_BOT_TOKEN"]
    needed.append("SLACK_APP_TOKEN" if config.slack.mode == "socket" else "SLACK_SIGNING_SECRET")
    values = {name: secret(name, environ) for name in needed}
    missing = [name for name, value in values.items() if not value]
    if not missing:
        return {name.removeprefix("SLACK_").lower(): value for name, value in values.items()}
    if required or len(missing) < len(needed):
        other_mode = "http" if config.slack.mode == "socket" else "socket"
        other_secret = "SLACK_SIGNING_SECRET" if other_mode == "http" else "SLACK_APP_TOKEN"
        hint = f' (or set [slack] mode = "{other_mode}")' if secret(other_secret, environ) else ""
        raise CredentialsError(
            f"{' and '.join(missing)} not set; Slack in {config.slack.mode} mode needs "
            f"{' and '.join(needed)} in the environment{hint}."
        )
    return None


async def run_platforms(
    config: Config,
    only: str | None,
    demo: bool = False,
    sync_global: bool = False,
    environ: Mapping[str, str] = os.environ,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve every platform with credentials, and the digests, until `stop` is set (by default
    on SIGINT or SIGTERM). A rejected token stops the start before the database is opened."""
    install_redaction()  # before any platform library logs a payload
    makers = platform_makers(config, only, sync_global, environ)
    for maker in makers:
        await maker.check()
    async with open_service(config, demo) as service:
        platforms = [maker.build(service) for maker in makers]
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
        started: list[Platform] = []
        digests = DigestScheduler(
            service,
            {p.name: p for p in platforms},
            attach_board=partial(tally_board, service) if config.digest.attach_board else None,
        )
        try:
            for platform in platforms:
                await platform.start()
                started.append(platform)
                log.info("%s is ready", platform.name)
            await digests.start()  # after the platforms: its catch-up may post at once
            await stop.wait()
            log.info("Shutting down")
        finally:
            await digests.close()
            for platform in reversed(started):
                await platform.close()
