"""Configuration: the example file is valid, mistakes are named in one line, no secrets in files."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time
from pathlib import Path

import pytest

from bot.config import load_config, parse_config
from bot.config_schema import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_documents_every_key_and_equals_the_defaults():
    config = load_config(ROOT / "config.example.toml")
    assert config.races[0] == "nato-sg-2024" and config.timezone == ""  # the race file's
    assert config.digest.time == time(9, 0) and config.platforms["slack"].mode == "socket"
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
        ({"today": "2024-04-03"}, "today: found the string '2024-04-03'; expected a TOML date"),
        ({"today": datetime(2024, 4, 3, 10)}, "today: found the date and time 2024-04-03T10:00"),
        ({"digest": {"grace_hours": -1}}, "[digest] grace_hours = -1: use hours from 0 to 24."),
        ({"digest": {"channels": [{"platform": "irc", "channel": "x"}]}}, "platform = 'discord'"),
    ],
)
def test_mistakes_are_named(data, message):
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert message in str(error.value)


# The examples: each was a traceback, or (editor_roles) silently seven one-letter roles.
@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("discord = 5", "discord: found the number 5; expected a table."),
        (
            '[discord]\nguilds = ["abc"]',
            "[discord] guilds: found a list holding the string 'abc'; expected a list of server "
            "ids (digits, no quotes), like [123456789012345678].",
        ),
        (
            '[slack]\nport = "x"',
            "[slack] port: found the string 'x'; expected a port number from 0 to 65535 "
            "(no quotes).",
        ),
        (
            '[digest]\nchannels = ["C1"]',
            "[digest] channels: found a list holding the string 'C1'; expected "
            "[[digest.channels]] tables, each with platform and channel.",
        ),
        (
            '[discord]\neditor_roles = "Editors"',
            "[discord] editor_roles: found the string 'Editors'; expected a list of role ids or "
            'names, like ["987654321098765432", "Editors"].',
        ),
    ],
)
def test_the_reported_config_mistakes_are_one_line(toml, line):
    with pytest.raises(ConfigError) as error:
        parse_config(tomllib.loads(toml))
    assert str(error.value) == line


@pytest.mark.parametrize(
    ("toml", "start"),
    [
        ("race = 7", "race: found the number 7; expected a string"),
        ("database = true", "database: found the boolean true; expected a string"),
        ("timezone = 1", "timezone: found the number 1; expected a string"),
        ("export_dir = []", "export_dir: found a list; expected a string"),
        ("today = 2024", "today: found the number 2024; expected a TOML date"),
        ("slack = []", "slack: found a list; expected a table"),
        ('digest = "daily"', "digest: found the string 'daily'; expected a table"),
        ("[discord]\nguilds = 123", "[discord] guilds: found the number 123; expected a list"),
        ("[discord]\nguilds = [true]", "[discord] guilds: found a list holding the boolean true"),
        ("[discord]\nguilds = [-4]", "[discord] guilds: found a list holding the number -4"),
        ('[discord]\neditor_roles = [""]', "[discord] editor_roles: found a list holding the st"),
        ("[discord]\neditor_roles = [1.5]", "[discord] editor_roles: found a list holding the nu"),
        ("[slack]\nmode = 1", "[slack] mode: found the number 1; expected a string"),
        ("[slack]\nhost = 127", "[slack] host: found the number 127; expected a string"),
        ("[slack]\nport = 70000", "[slack] port: found the number 70000; expected a port"),
        ("[slack]\nport = true", "[slack] port: found the boolean true; expected a port"),
        ("[slack]\nport = 3000.5", "[slack] port: found the number 3000.5; expected a port"),
        ("[slack]\npath = {}", "[slack] path: found a table; expected a string"),
        ("[slack]\napi_base_url = 1", "[slack] api_base_url: found the number 1; expected"),
        ('[slack]\neditors = "U1"', "[slack] editors: found the string 'U1'; expected a list"),
        ("[slack]\neditors = [1]", "[slack] editors: found a list holding the number 1"),
        ('[slack]\neditor_group = ["S1"]', "[slack] editor_group: found a list; expected a st"),
        ("[digest]\ntime = 9", "[digest] time: found the number 9; expected a time"),
        ('[digest]\ngrace_hours = "6"', "[digest] grace_hours: found the string '6'; expected"),
        ('[digest]\nattach_board = "yes"', "[digest] attach_board: found the string 'yes'"),
        ("[digest]\nchannels = {}", "[digest] channels: found a table; expected"),
        (
            '[[digest.channels]]\nplatform = 1\nchannel = "C1"',
            "[[digest.channels]] #1 platform: found the number 1; expected a string",
        ),
        (
            '[[digest.channels]]\nplatform = "slack"\nchannel = [1]',
            "[[digest.channels]] #1 channel: found a list; expected a channel id",
        ),
        (
            '[[digest.channels]]\nplatform = "slack"\nchannel = "C1"\ntime = false',
            "[[digest.channels]] #1 time: found the boolean false; expected a time",
        ),
        (
            '[[digest.channels]]\nplatform = "slack"\nchannel = "C1"\ntimezone = 2',
            "[[digest.channels]] #1 timezone: found the number 2; expected a string",
        ),
        (
            '[[digest.channels]]\nplatform = "slack"\nchanel = "C1"',
            "Unknown key(s) in [[digest.channels]] #1: chanel.",
        ),
    ],
)
def test_every_wrong_type_names_the_key_what_was_found_and_what_is_expected(toml, start):
    with pytest.raises(ConfigError) as error:
        parse_config(tomllib.loads(toml))
    message = str(error.value)
    assert message.startswith(start) and "\n" not in message


def test_a_long_wrong_value_is_cut_short():
    with pytest.raises(ConfigError) as error:
        parse_config({"slack": {"editors": ["U" * 5000, 1]}, "race": "x" * 5000})
    assert len(str(error.value)) < 200


@pytest.mark.parametrize(
    "roles",
    [[str(1200000000000000001)], [1200000000000000001], ["@everyone"], ["Everyone"]],
)
def test_the_everyone_role_is_refused(roles):
    data = {"discord": {"guilds": [1200000000000000001], "editor_roles": roles}}
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert "the @everyone role of a server (its id is the server id)" in str(error.value)


def test_role_ids_and_names_are_told_apart():
    config = parse_config({"discord": {"editor_roles": ["Editors", "42", 43, " desk "]}})
    assert config.platforms["discord"].editor_role_ids == {42, 43}
    assert config.platforms["discord"].editor_role_names == ("Editors", "desk")


def test_the_cli_prints_a_config_mistake_in_one_line_and_exits_2(tmp_path, capsys):
    from bot.__main__ import main

    path = tmp_path / "c.toml"
    path.write_text('[slack]\nport = "x"\n')
    assert main(["console", "--config", str(path), "--db", str(tmp_path / "t.db")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "tallybot: [slack] port: found the string 'x'; expected a port number from 0 to 65535 "
        "(no quotes).\n"
    )
    assert not (tmp_path / "t.db").exists()


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
