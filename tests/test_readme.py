"""The README stays true: its race-file example loads and its command table is complete."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path

from bot.adapters.console import Console
from bot.app import open_desk
from bot.commands.spec import COMMANDS
from bot.config import Config
from bot.racefile import parse_race
from bot.rules import Threshold

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_race_file_example_loads():
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", README, re.DOTALL) if "[[seed]]" in b]
    race = parse_race(tomllib.loads(block))
    assert race.rule == Threshold(len(race.members), 2) and race.member("BJ").name == "Benin"
    from bot.domain import compute_tally

    tally = compute_tally(race, race.candidates, {}, race.deadline.on, {})
    assert tally.candidates[0].needs() == "needs 2 more to reach 2"
    assert race.seed[0].source == "https://au.int/en/pressreleases"


def test_every_command_is_in_the_table():
    table = README.replace("\\|", "|")
    missing = [c.usage for c in COMMANDS.values() if f"`{c.usage}`" not in table]
    assert not missing, f"README's command table lacks: {missing}"


def test_config_snippets_are_valid_config():
    from bot.config import parse_config

    snippets = [
        b for b in re.findall(r"```toml\n(.*?)```", README, re.DOTALL) if "[[seed]]" not in b
    ]
    assert snippets
    for snippet in snippets:
        parse_config(tomllib.loads(snippet))


async def test_the_console_sample_is_what_the_bot_says(tmp_path):
    """Each `tally> ` line of the README's console sample, typed in order into the quick
    start's console (every shipped race, seeded, on 3 April 2024), prints the lines under it."""
    config = replace(Config(), database=tmp_path / "t.db", today=date(2024, 4, 3))
    async with open_desk(config, demo=True) as desk:
        chat = Console(desk, tmp_path / "files").handle
        (block,) = [
            b for b in re.findall(r"```text\n(.*?)```", README, re.DOTALL) if "tally> " in b
        ]
        said = []
        for typed in re.findall(r"^tally> (.*)$", block, re.MULTILINE):
            said += [f"tally> {typed}", await chat(typed)]
    assert "\n".join(said) + "\n" == block
