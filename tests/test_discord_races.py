"""Discord with several races: race: is an option every command has, completed from the races
followed, and member and candidate completions follow the race being typed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes.discord_fake import (
    DEFAULT_GUILD_ID,
    DEFAULT_TOKEN,
    FakeDiscord,
    autocomplete_interaction,
    guild_payload,
    prepare_offline_client,
    role_payload,
    run_interaction,
    slash_interaction,
)

from bot.adapters.discord.adapter import DiscordPlatform
from bot.adapters.discord.settings import DiscordConfig
from bot.app import open_desk
from bot.config import Config

EDITORS_ROLE = 1600000000000000001
GUILD = guild_payload(roles=[role_payload(EDITORS_ROLE, "Editors")])


@pytest.fixture
async def platform(tmp_path):
    config = replace(Config(), database=tmp_path / "t.db")
    async with open_desk(config, demo=True) as desk:
        discord_config = DiscordConfig(guilds=(DEFAULT_GUILD_ID,), editor_roles=("editors",))
        platform = DiscordPlatform(desk, discord_config, DEFAULT_TOKEN, guild_ready_timeout=0.05)
        await prepare_offline_client(platform.client, FakeDiscord(guilds=[GUILD]))
        platform.resolve_role_names()
        yield platform


def choices(run) -> list[str]:
    return [c["value"] for c in run.callbacks[0].json["data"]["choices"]]


async def test_race_is_completed_from_the_races_followed(platform):
    run = await run_interaction(platform.tree, autocomplete_interaction("tally", "race", "un"))
    assert choices(run) == ["unsg-2016", "unsg-2026"]


async def test_candidates_are_completed_from_the_race_being_typed(platform):
    typed = autocomplete_interaction("endorse", "candidate", "", {"race": "unsg-2016"})
    assert "António Guterres" in choices(await run_interaction(platform.tree, typed))
    default = autocomplete_interaction("endorse", "candidate", "")
    assert choices(await run_interaction(platform.tree, default)) == [
        "Mark Rutte",
        "Klaus Iohannis",
    ]


async def test_a_command_with_race_answers_about_that_race(platform):
    payload = slash_interaction(
        "tally", {"race": "eu-commission-2024", "as_of": "2024-06-27"}, roles=[EDITORS_ROLE]
    )
    run = await run_interaction(platform.tree, payload, fake=FakeDiscord(guilds=[GUILD]))
    (shown,) = run.shown
    embed = shown.embeds[0]
    assert embed["title"].startswith("President of the European Commission 2024")
