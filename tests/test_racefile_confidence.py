"""A race file's seed events say how sure each is and on what condition; a bad value is refused
in one line, and the demo's strict tally counts exactly the backers the file marks on record."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ARTICLES_DAY, make_service

from bot.adapters.console import Console
from bot.clock import Clock
from bot.domain import Confidence, Position
from bot.racefile import _SEED_KEYS, RaceFileError, load_race
from bot.service import Service
from bot.store.store import Store
from bot.text import MAX_NOTE

ROOT = Path(__file__).resolve().parent.parent
NATO = (ROOT / "bot/races/nato-sg-2024.toml").read_text()
SOURCE = 'source = "us_gb_spokesmen"\n'  # the file's first [[seed]], the US's and the UK's
FIRST_SEED = SOURCE + 'confidence = "on-record"\n'


def edited(tmp_path: Path, extra: str) -> Path:
    """The NATO race with its first seed event's confidence line replaced by `extra`."""
    assert FIRST_SEED in NATO
    path = tmp_path / "race.toml"
    path.write_text(NATO.replace(FIRST_SEED, SOURCE + extra, 1))
    return path


def test_confidence_and_condition_are_read_for_each_member_of_the_seed(tmp_path):
    extra = 'confidence = "rumoured"\ncondition = "NATO keeps\\nthe summit in July"\n'
    us, gb = load_race(str(edited(tmp_path, extra))).seed[:2]
    assert (us.member, gb.member) == ("US", "GB")
    assert us.confidence is gb.confidence is Confidence.RUMOURED
    assert us.condition == gb.condition == "NATO keeps the summit in July"  # one line, as typed


async def test_a_seed_that_does_not_say_is_as_sure_as_its_source(tmp_path):
    race = load_race(str(edited(tmp_path, "")))
    assert (race.seed[0].confidence, race.seed[0].condition) == (None, None)
    clock = Clock(ZoneInfo(race.timezone), ARTICLES_DAY)
    service = Service(await Store.open(tmp_path / "tally.db", clock.now), race, clock)
    try:
        await service.start(demo=True)
        first = (await service.store.events(race.id))[0]
        assert (first.member, first.confidence) == ("US", Confidence.REPORTED)  # it has a source
    finally:
        await service.store.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'confidence = "confirmed"\n',
            "[[seed]] #1 confidence = 'confirmed' must be 'on-record', 'reported' or 'rumoured'",
        ),
        (
            "confidence = 3\n",
            "[[seed]] #1 confidence = 3 must be 'on-record', 'reported' or 'rumoured'",
        ),
        ("condition = 3\n", "[[seed]] #1 condition = 3 must be a string"),
        (
            f'condition = "{"x" * (MAX_NOTE + 1)}"\n',
            f"[[seed]] #1: The condition has {MAX_NOTE + 1} characters; keep it to {MAX_NOTE}.",
        ),
        ('conditions = "x"\n', "unknown key(s) conditions in [[seed]] #1"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_with_what_would_work(tmp_path, extra, message):
    with pytest.raises(RaceFileError) as error:
        load_race(str(edited(tmp_path, extra)))
    said = str(error.value)
    assert said == f"{tmp_path / 'race.toml'}: {message}"
    assert "\n" not in said


def test_the_readme_documents_every_seed_key():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Race files\n") :]
    row = next(line for line in section.splitlines() if line.startswith("| `[[seed]]` |"))
    assert {k for k in _SEED_KEYS if f"`{k}`" not in row} == set()


def on_record_backers(day) -> set[str]:
    """From the file alone: the members whose latest seed event by `day` backs Rutte on record."""
    latest = {}
    for seed in load_race("nato-sg-2024").seed:
        if seed.on <= day and (seed.member not in latest or seed.on >= latest[seed.member].on):
            latest[seed.member] = seed
    return {
        code
        for code, s in latest.items()
        if s.position is Position.SUPPORTS
        and s.candidate == "rutte"
        and s.confidence is Confidence.ON_RECORD
    }


async def test_the_demos_strict_tally_counts_the_backers_the_file_puts_on_record(tmp_path):
    marked = on_record_backers(ARTICLES_DAY)
    assert {"US", "GB", "DE", "LT", "EE"} <= marked and "FR" not in marked  # as the file says
    service = await make_service(tmp_path / "tally.db")
    try:
        rutte = service.roster.candidate("Rutte")
        strict = (await service.tally(rutte, strict=True)).shown()
        assert strict.count == len(marked)
        reply = await Console(service, tmp_path / "files").handle("/tally strict:yes")
        backs = re.search(r"Mark Rutte.*?\n  Backs \(\d+\): ([^\n]+)", reply, re.DOTALL)
        names = {service.race.member(code).name for code in marked}
        assert backs is not None and set(backs.group(1).split(", ")) == names
        counted = (await service.tally(rutte)).shown().count
        assert f"{counted - len(marked)} of the {counted} only reported" in (
            await Console(service, tmp_path / "files").handle("/tally")
        )
    finally:
        await service.store.close()
