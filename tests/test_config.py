"""Configuration: the example file is valid, mistakes are named in one line, no secrets in files."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_documents_every_key_and_equals_the_defaults():
    config = load_config(ROOT / "config.example.toml")
    assert config.race == "nato-sg-2024" and config.timezone == ""  # the race file's
    assert config.digest.time == time(9, 0) and config.slack.mode == "socket"
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert parse_config(data) == parse_config({}) == load_config(None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"slack": {"mode": "carrier-pigeon"}}, "use 'socket' or 'http'"),
        ({"slack": {"bot_token": "xoxb-1"}}, "must not be in a file; set it in the environment"),
        ({"discord": {"token": "abc"}}, "must not be in a file"),
        ({"racee": "x"}, "Unknown key(s) in the config: racee"),
        ({"digest": {"time": "25:00"}}, "is not a time; use HH:MM"),
        ({"today": "2024-04-03"}, "must be a TOML date"),
        ({"today": datetime(2024, 4, 3, 10)}, "must be a TOML date"),
        ({"digest": {"grace_hours": -1}}, "[digest] grace_hours = -1: use hours from 0 to 24."),
        ({"digest": {"channels": [{"platform": "irc", "channel": "x"}]}}, "platform = 'discord'"),
    ],
)
def test_mistakes_are_named(data, message):
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert message in str(error.value)


def test_pinned_today_and_digest_channels(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "today = 2024-04-03\n[[digest.channels]]\nplatform = 'slack'\nchannel = 'C1'\n"
        "time = '08:30'\ntimezone = 'America/New_York'\n"
    )
    config = load_config(path)
    assert config.today == date(2024, 4, 3)
    (channel,) = config.digest.channels
    assert (channel.time, channel.timezone) == (time(8, 30), "America/New_York")
    assert config.base_dir == tmp_path
