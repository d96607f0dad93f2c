"""A race file's mistakes are named with their place; nothing half-loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.racefile import RaceFileError, load_race
from bot.rules import Unanimity

NATO = (Path(__file__).resolve().parent.parent / "bot/races/nato-sg-2024.toml").read_text()


def edited(tmp_path: Path, old: str, new: str) -> Path:
    assert old in NATO
    path = tmp_path / "race.toml"
    path.write_text(NATO.replace(old, new, 1))
    return path


def test_the_seeded_race_matches_the_articles():
    race = load_race("nato-sg-2024")
    assert len(race.members) == 32 and race.rule == Unanimity(32)
    assert race.deadline.on.isoformat() == "2024-07-09"
    backers = {s.member for s in race.seed if s.position == "supports" and s.candidate == "rutte"}
    assert len(backers) == 28 and not backers & {"HU", "SK", "TR", "RO"}
    assert all(s.source.startswith("https://") for s in race.seed)
    tomllib.loads(NATO)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "on = 2024-07-09",
            'on = "2024-07-09"',
            "[deadline] on = '2024-07-09' must be a TOML date",
        ),
        ('label = "the Washington summit"', "", "[deadline] needs label = ..."),
        ('timezone = "Europe/Brussels"', 'timezone = "Mars/Base"', "not an IANA time zone"),
        ('GB = ["UK"', 'GB = ["Germany", "UK"', "'germany' names both DE and GB"),
        ('key = "iohannis"', 'key = "rutte"', "[[candidates]] #2 repeats key = 'rutte'"),
        ('member = "RO"', 'member = "KE"', "member = 'KE' is not in members"),
        (
            'source = "us_gb_spokesmen"',
            'source = "nosuch"',
            "'nosuch' is neither a URL nor in [sources]",
        ),
        (
            'source = "us_gb_spokesmen"',
            'source = "https://ed:pw@example.org/a"',
            "[[seed]] #1: The source has a login in it",
        ),
        (
            'kind = "unanimity"',
            'kind = "threshold"\nthreshold = 40',
            "threshold = 40 must be 1 to 32",
        ),
        ("[[candidates]]", "[[candidate]]\n[[candidates]]", "unknown key(s) candidate"),
        ('members = ["US", "GB"]', 'members = ["US", "AT"]', "lists 'AT', which is not in members"),
        ('members = ["US", "GB"]', 'members = ["US", "US"]', "[[seed]] #1 lists a member twice"),
        ('id = "nato-sg-2024"', 'id = ""', "id = '': use lower-case letters, digits and hyphens"),
    ],
)
def test_mistakes_are_named_with_their_place(tmp_path, old, new, message):
    with pytest.raises(RaceFileError) as error:
        load_race(str(edited(tmp_path, old, new)))
    assert str(error.value).startswith(str(tmp_path / "race.toml"))
    assert message in str(error.value)


def test_candidates_may_share_a_last_name(tmp_path):
    path = edited(tmp_path, 'name = "Klaus Iohannis"', 'name = "Klaus Rutte"')
    race = load_race(str(path))
    assert [c.name for c in race.candidates] == ["Mark Rutte", "Klaus Rutte"]


def test_seeds_follow_the_rules_typed_sources_and_notes_follow(tmp_path):
    path = edited(tmp_path, 'source = "us_gb_spokesmen"', 'source = "https://rеuters.com/x"')
    path.write_text(
        path.read_text().replace('note = "The White House', 'note = "Two\\nlines: The White House')
    )
    first = load_race(str(path)).seed[0]
    assert first.source == "https://xn--ruters-3of.com/x"  # the look-alike host, as it is
    assert first.note.startswith("Two lines: The White House")
