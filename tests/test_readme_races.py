"""The README's "Race files" section stays true: it names every key the parser reads, each
example race file loads, there is one example per rule kind, and each example does what its
prose says when the bot runs it with its seeds."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import Console
from bot.clock import Clock
from bot.racefile import _RULE_KEYS, _TOP_KEYS, RULE_KINDS, parse_race
from bot.service import Service
from bot.store.store import Store

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
SECTION = README[README.index("\n## Race files\n") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)]
PROSE = " ".join(SECTION.split())  # as read: a quoted line may wrap in the file
# Every toml block of the section; the made-up ones are marked `race-file`.
BLOCKS = re.findall(r"```toml( race-file)?\n(.*?)```", SECTION, re.DOTALL)
EXAMPLES = {parse_race(tomllib.loads(text)).id: text for _, text in BLOCKS}

# For each example: the day it is run on, and what a command says (quoted in the prose).
SAYS = {
    "example-au-chair-2025": (
        date(2025, 1, 11),
        [("/races", "Mahmoud Ali Youssouf: 2/4: 2 backers reached.")],
    ),
    "example-alliance-chair": (
        date(2025, 3, 5),
        [
            ("/tally as_of:2025-02-20", "3/3"),
            ("/races", "An Janssens: 3/4; needs 1 more for unanimity."),
            (
                "/countdown",
                "The target moved on 10 February 2025 from the March ministerial (31 March 2025).",
            ),
        ],
    ),
    "example-board-chair": (
        date(2025, 6, 20),
        [
            ("/races", "Ola Berg: 3/5: a majority reached."),
            ("/candidates", "Eva Lind (Sweden): withdrew on 10 June 2025"),
        ],
    ),
    "example-assembly-president": (
        date(2025, 4, 2),
        [
            ("/tally as_of:2025-03-31", "Needs 1 more for two-thirds."),
            ("/races", "Ana Rojas: 4/6: two-thirds reached."),
        ],
    ),
    "example-league-budget": (
        date(2025, 10, 2),
        [
            (
                "/races",
                "Kai Moss: 4/7 states (57%, needs 55%) and 25.0% of the population (needs 65%):"
                " qualified majority reached, as no blocking minority can form"
                " (3 states not in favour, 4 needed to block).",
            )
        ],
    ),
    "example-council-recommendation": (
        date(2025, 10, 7),
        [
            ("/races", "Ama Osei: 3 in favour; no permanent member against: would pass."),
            ("/tally", "permanent members 1-0-1"),
        ],
    ),
}


def test_one_example_per_rule_kind():
    kinds = sorted(tomllib.loads(text)["rule"]["kind"] for text in EXAMPLES.values())
    assert kinds == sorted(RULE_KINDS)


def test_every_key_and_kind_is_documented():
    documented = set(re.findall(r"`\[*([a-z_]+)", SECTION))
    assert _TOP_KEYS - documented == set()
    assert _RULE_KEYS - documented == set()
    assert {k for k in RULE_KINDS if f"| `{k}` |" not in SECTION} == set()


def test_made_up_examples_are_marked_as_examples():
    for marked, text in BLOCKS:
        assert tomllib.loads(text)["id"].startswith("example-")
        if marked:
            hosts = {urlsplit(url).hostname for url in re.findall(r"https?://[^\"]+", text)}
            assert hosts == {"example.org"}


def test_every_example_is_checked():
    assert set(SAYS) == set(EXAMPLES)


@pytest.mark.parametrize("race_id", sorted(SAYS))
async def test_example_does_what_its_prose_says(race_id: str, tmp_path: Path):
    race = parse_race(tomllib.loads(EXAMPLES[race_id]))
    today, says = SAYS[race_id]
    clock = Clock(ZoneInfo(race.timezone), today)
    service = Service(await Store.open(tmp_path / "tally.db", clock.now), race, clock)
    try:
        await service.start(demo=True)
        console = Console(service, tmp_path / "files")
        for command, line in says:
            assert line in PROSE, f"the README does not quote {line!r}"
            assert line in await console.handle(command), command
    finally:
        await service.store.close()
