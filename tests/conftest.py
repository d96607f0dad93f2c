"""Shared fixtures: a real SQLite file per test, the seeded NATO race, a pinned clock, an
editor, the console as a chat, and no proxy between the tests and their loopback fakes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakes.slack_fake import PROXY_ENV_VARS

from bot.adapters.console import Console
from bot.clock import Clock
from bot.domain import Actor
from bot.racefile import load_race
from bot.service import Service
from bot.store.database import Database
from bot.store.store import Store

ARTICLES_DAY = date(2024, 4, 3)  # the day after the seed articles: 28/32, 97 days to go

# Every database the tests open. A test that fails before it closes its own leaves aiosqlite's
# threads waiting for work, and the run would print its summary and never exit; the last hook
# below stops them.
_OPENED: list[Database] = []
_open = Database.open.__func__


async def _open_and_note(cls: type[Database], *args, **kwargs) -> Database:
    database = await _open(cls, *args, **kwargs)
    _OPENED.append(database)
    return database


Database.open = classmethod(_open_and_note)  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for database in _OPENED:
        for connection in (database.db, database.reader):
            if connection._running:
                connection.stop()


async def make_service(db: Path, today: date = ARTICLES_DAY, demo: bool = True) -> Service:
    race = load_race("nato-sg-2024")
    clock = Clock(ZoneInfo(race.timezone), today)
    service = Service(await Store.open(db, clock.now), race, clock)
    await service.start(demo=demo)
    return service


def forget_kept_replays(db: Path) -> None:
    """Remove the replays' checkpoints kept in the file: the next service replays the log."""
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("DELETE FROM replay_checkpoints")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    """The seeded race on a fresh database, today pinned to 3 April 2024."""
    service = await make_service(tmp_path / "tally.db")
    yield service
    await service.store.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in the environment would take the loopback fakes' traffic."""
    for name in PROXY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def editor() -> Actor:
    """Someone who may record, on no platform in particular."""
    return Actor("console", "ed", "Edna", is_editor=True)


@pytest.fixture
def chat(service: Service, tmp_path: Path) -> Callable[[str], Awaitable[str]]:
    """Type a line in the console and read what it prints back."""
    return Console(service, tmp_path / "files").handle


@pytest.fixture
async def empty_service(tmp_path: Path) -> AsyncIterator[Service]:
    """The race with no events recorded."""
    service = await make_service(tmp_path / "tally.db", demo=False)
    yield service
    await service.store.close()
