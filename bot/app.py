"""The composition root: config, store, service and adapters, built once and run in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from bot.adapters.registry import PLATFORMS
from bot.alerts import Alerts
from bot.charts import tally_board
from bot.clock import Clock
from bot.config import Config, DigestConfig
from bot.desk import Desk
from bot.digest import DigestBuilder
from bot.domain import TallyError
from bot.logs import install_redaction
from bot.platform import CredentialsError, Platform, PlatformMaker
from bot.racefile import RaceFileError, load_race
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
async def open_desk(config: Config, demo: bool = False) -> AsyncIterator[Desk]:
    """The races of the config, each a Service over the one store, its clock in the race's
    time zone (or the config's); with `demo`, each race's seed events are loaded once."""
    races = [load_race(spec, config.base_dir) for spec in config.races]
    ids = [race.id for race in races]
    if len(set(ids)) != len(ids):
        raise RaceFileError(f"Two of the races listed have the same id: {', '.join(ids)}.")
    for channel in config.digest.channels:
        if channel.race and channel.race not in ids:
            raise RaceFileError(
                f"[[digest.channels]] race = '{channel.race}' is not among races: {', '.join(ids)}."
            )
    clocks = [Clock(ZoneInfo(config.timezone or race.timezone), config.today) for race in races]
    store = await Store.open(resolve(config, config.database), clocks[0].now)
    services: list[Service] = []
    try:
        services = [
            Service(store, race, clock, _digest_of(config.digest, race.id, ids[0]))
            for race, clock in zip(races, clocks, strict=True)
        ]
        for service in services:
            added = await service.start(demo=demo)
            if added:
                log.info("Loaded %d seed events of %s", added, service.race.id)
        yield Desk(services)
    finally:
        for service in services:
            await service.replays_kept()  # so the next start begins from them
        await store.close()


def _digest_of(digest: DigestConfig, race: str, first: str) -> DigestConfig:
    """The digest settings of one race: the config's channels that get its digest."""
    mine = tuple(c for c in digest.channels if (c.race or first) == race)
    return replace(digest, channels=mine)


async def run_console(config: Config, demo: bool, race: str | None = None) -> None:
    from bot.adapters.console import Console

    async with open_desk(config, demo) as desk:
        console = Console(desk, resolve(config, config.export_dir))
        if race is not None:
            try:
                await console.use(desk.named(race))  # as /race use would, kept for next time
            except TallyError as exc:
                raise RaceFileError(f"--race {race}: {exc}") from None
        await console.run()


def platform_makers(
    config: Config,
    only: str | None,
    flags: Mapping[str, bool] = MappingProxyType({}),
    environ: Mapping[str, str] = os.environ,
) -> list[PlatformMaker]:
    """What checks and builds each platform that has credentials (or just `only`, whose
    credentials must be set). Read before anything is opened, so a missing secret leaves no
    trace."""
    makers = []
    for entry in PLATFORMS:
        if only not in (None, entry.name):
            continue
        settings = config.platforms[entry.name]
        secrets = entry.credentials(settings, environ, only == entry.name)
        if secrets is not None:
            makers.append(entry.make(settings, secrets, flags))
    if not makers:
        raise CredentialsError(
            f"No platform has credentials: set {', or '.join(p.needs for p in PLATFORMS)}. "
            "To try tallybot without any, run: tallybot console --demo"
        )
    return makers


async def run_platforms(
    config: Config,
    only: str | None,
    demo: bool = False,
    flags: Mapping[str, bool] = MappingProxyType({}),
    environ: Mapping[str, str] = os.environ,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve every platform with credentials, and the digests, until `stop` is set (by default
    on SIGINT or SIGTERM). A rejected token stops the start before the database is opened.
    `flags` are the platforms' CLI options, such as sync_global."""
    install_redaction()  # before any platform library logs a payload
    makers = platform_makers(config, only, flags, environ)
    answers: list[Any] = []
    try:
        for maker in makers:
            answers.append(await maker.check())
        async with open_desk(config, demo) as desk:
            platforms = [m.build(desk, a) for m, a in zip(makers, answers, strict=True)]
            answers = []  # each platform holds its answer now, and closes it
            await _serve(config, desk, platforms, stop)
    finally:
        # Answers checked but never built on (a logged-in client): fewer if a check failed.
        for maker, answer in zip(makers, answers, strict=False):
            await maker.discard(answer)


async def _serve(
    config: Config, desk: Desk, platforms: list[Platform], stop: asyncio.Event | None
) -> None:
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    by_name = {p.name: p for p in platforms}
    builders = [
        (s, DigestBuilder(s, partial(tally_board, s) if config.digest.attach_board else None))
        for s in desk.services.values()
    ]
    # A scheduler per race; a channel following several gets one digest with a part for each.
    digests = [DigestScheduler(s, by_name, desk=builders) for s, _ in builders]
    alerts = [Alerts(s, by_name) for s in desk.services.values()]  # a loop per race
    try:
        for platform in platforms:
            await platform.start()
            log.info("%s is ready", platform.name)
        for scheduler in digests:
            await scheduler.start()  # after the platforms: its catch-up may post at once
        for race_alerts in alerts:
            race_alerts.start()
        await stop.wait()
        log.info("Shutting down")
    finally:
        for race_alerts in alerts:
            await race_alerts.close()
        for scheduler in digests:
            await scheduler.close()
        for platform in reversed(platforms):  # started or not: each may hold a connection
            await platform.close()
