"""The composition root: config, store, service and adapters, built once and run in one loop."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.config import Clock, Config
from bot.racefile import load_race
from bot.service import Service
from bot.storage import Store

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
    store = await Store.open(resolve(config, config.database))
    try:
        service = Service(store, race, Clock(config.tz, config.today))
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
