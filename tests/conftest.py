"""Shared fixtures: a real SQLite file per test, the seeded NATO race, a pinned clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock
from bot.racefile import load_race
from bot.service import Service
from bot.store.store import Store

ARTICLES_DAY = date(2024, 4, 3)  # the day after the seed articles: 28/32, 97 days to go


async def make_service(db: Path, today: date = ARTICLES_DAY, demo: bool = True) -> Service:
    race = load_race("nato-sg-2024")
    clock = Clock(ZoneInfo(race.timezone), today)
    service = Service(await Store.open(db, clock.now), race, clock)
    await service.start(demo=demo)
    return service


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    """The seeded race on a fresh database, today pinned to 3 April 2024."""
    service = await make_service(tmp_path / "tally.db")
    yield service
    await service.store.close()


@pytest.fixture
async def empty_service(tmp_path: Path) -> AsyncIterator[Service]:
    """The race with no events recorded."""
    service = await make_service(tmp_path / "tally.db", demo=False)
    yield service
    await service.store.close()
