"""`tallybot run`: Discord, Slack and the digest scheduler in one process on one database."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ARTICLES_DAY, make_service
from fakes.discord_fake import DEFAULT_GUILD_ID, DEFAULT_TOKEN, FakeDiscord, slash_interaction
from fakes.slack_fake import FakeSlack

from bot.adapters.discord.settings import DiscordConfig
from bot.adapters.slack.settings import SlackConfig
from bot.app import open_desk, run_platforms
from bot.config import Config
from bot.digest_records import Subscription
from bot.domain import Actor
from bot.platform import CredentialsError
from bot.store.store import Store


async def test_run_serves_both_platforms_and_posts_the_due_digest(tmp_path):
    db = tmp_path / "run.db"
    # A Slack channel subscribed yesterday whose digest fell due a minute ago.
    service = await make_service(db)
    now = service.clock.now()
    a_minute_ago = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0))
    due = a_minute_ago.time().replace(second=0, microsecond=0, tzinfo=None)
    subscription = Subscription(
        "nato-sg-2024", "slack", "CDIGEST", due, "Europe/Brussels", since=now - timedelta(days=1)
    )
    await service.store.subscribe(subscription, Actor("slack", "U1", "ed", is_editor=True))
    await service.store.close()

    async with FakeSlack() as slack, FakeDiscord() as discord:
        config = replace(
            Config(),
            database=db,
            today=ARTICLES_DAY,
            platforms={
                "slack": SlackConfig(api_base_url=slack.api_url, editors=("UED",)),
                "discord": DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
            },
        )
        environ = {
            "DISCORD_TOKEN": DEFAULT_TOKEN,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
        }
        stop = asyncio.Event()
        with discord.patch_discord():
            run = asyncio.create_task(run_platforms(config, None, environ=environ, stop=stop))
            try:
                digest = await slack.wait_for_call("chat.postMessage", timeout=10)
                assert digest.params["channel"] == "CDIGEST"
                assert "daily digest, 3 April 2024" in str(digest.params["blocks"])

                envelope = await slack.send_slash_command(
                    command="/endorse",
                    text="Slovakia Rutte source:https://example.org/sk",
                    user_id="UED",
                )
                ack = await slack.wait_for_ack(envelope, timeout=5)
                assert "Slovakia supports Mark Rutte" in str(ack["payload"])

                await discord.send_interaction(slash_interaction("tally", {"candidate": "Rutte"}))
                reply = await discord.wait_for_callback(timeout=5)
                assert "29/32" in str(reply.embeds)  # Slack's recording, one database
            finally:
                stop.set()
                await asyncio.wait_for(run, timeout=10)
        # Each token was checked once, before the database was opened, and the answer kept.
        assert [r.path for r in discord.requests if r.path == "/users/@me"] == ["/users/@me"]
        assert len(slack.calls_to("auth.test")) == 2  # tallybot's check, then bolt's own

    store = await Store.open(db)
    sends = await store.digest_sends("nato-sg-2024", [ARTICLES_DAY])
    await store.close()
    assert [s.status for s in sends.values()] == ["sent"]


async def test_the_race_files_time_zone_is_the_default(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "bot/races/nato-sg-2024.toml").read_text()
    (tmp_path / "race.toml").write_text(
        text.replace('timezone = "Europe/Brussels"', 'timezone = "Pacific/Kiritimati"')
    )
    config = replace(Config(), races=(str(tmp_path / "race.toml"),), database=tmp_path / "t.db")
    async with open_desk(config) as desk:
        assert desk.default.clock.tz.key == "Pacific/Kiritimati"
    async with open_desk(replace(config, timezone="America/New_York")) as desk:
        assert desk.default.clock.tz.key == "America/New_York"  # the config's wins


async def test_run_without_credentials_refuses_before_touching_the_disk(tmp_path):
    config = replace(Config(), database=tmp_path / "data" / "t.db")
    with pytest.raises(CredentialsError, match="No platform has credentials"):
        await run_platforms(config, None, environ={})
    with pytest.raises(CredentialsError, match="SLACK_APP_TOKEN not set"):
        await run_platforms(config, "slack", environ={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("only", "environ", "refused"),
    [
        ("discord", {"DISCORD_TOKEN": "wrong"}, "Discord rejected DISCORD_TOKEN"),
        (None, {"DISCORD_TOKEN": DEFAULT_TOKEN, "SLACK_BOT_TOKEN": "xoxb-wrong"}, "SLACK_BOT"),
        ("slack", {"SLACK_APP_TOKEN": "xapp-wrong"}, "SLACK_APP_TOKEN was rejected"),
    ],
)
async def test_a_rejected_token_leaves_no_database_behind(tmp_path, only, environ, refused):
    """Credentials are checked with the platform before the database is opened or seeded."""
    db = tmp_path / "data" / "t.db"
    async with FakeSlack() as slack, FakeDiscord() as discord:
        config = replace(
            Config(),
            database=db,
            platforms={
                "slack": SlackConfig(api_base_url=slack.api_url),
                "discord": DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
            },
        )
        environ = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token} | environ
        with discord.patch_discord(), pytest.raises(CredentialsError, match=refused):
            await run_platforms(config, only, demo=True, environ=environ, stop=asyncio.Event())
    assert not (tmp_path / "data").exists()
    assert discord.gateway_paths == [] and slack.received == []


async def test_short_lived_secrets_never_reach_the_log_even_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """-v logs every gateway payload and Socket Mode envelope: interaction tokens (also in
    webhook URLs), response URLs, trigger ids and verification tokens are redacted."""
    caplog.set_level(logging.DEBUG)
    secrets = ["itok-SECRET-INTERACTION", "SECRET-RESPONSE", "1.SECRET-TRIGGER", "SECRET-VERIFY"]
    async with FakeSlack() as slack, FakeDiscord() as discord:
        config = replace(
            Config(),
            database=tmp_path / "t.db",
            today=ARTICLES_DAY,
            platforms={
                "slack": SlackConfig(api_base_url=slack.api_url),
                "discord": DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
            },
        )
        environ = {
            "DISCORD_TOKEN": DEFAULT_TOKEN,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
        }
        stop = asyncio.Event()
        with discord.patch_discord():
            run = asyncio.create_task(
                run_platforms(config, None, demo=True, environ=environ, stop=stop)
            )
            try:
                await slack.wait_for_connection(timeout=10)  # Discord started, and is ready, first
                long_answer = slash_interaction("history", {"limit": 100}, token=secrets[0])
                await discord.send_interaction(long_answer)
                await discord.wait_for_callback()
                await discord.wait_for_followup()  # posted to /webhooks/<app>/<token>
                envelope = await slack.send_slash_command(
                    command="/tally",
                    response_url=slack.response_url(secrets[1]),
                    trigger_id=secrets[2],
                    token=secrets[3],
                )
                await slack.wait_for_ack(envelope)
            finally:
                stop.set()
                await asyncio.wait_for(run, timeout=10)
    logged = caplog.text
    assert "INTERACTION_CREATE" in logged and "slash_commands" in logged  # payloads, redacted
    assert "/webhooks/" in logged and "'token': '[redacted]'" in logged
    assert [s for s in secrets if s in logged] == []
    assert slack.bot_token not in logged and slack.app_token not in logged


def test_an_unreachable_platform_is_one_line(tmp_path):
    """No network (here: a closed port) is reported in one line, not a traceback."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(f'[slack]\napi_base_url = "http://127.0.0.1:{port}/api/"\n')
    run = subprocess.run(
        [sys.executable, "-m", "bot", "slack", "--config", config, "--db", tmp_path / "t.db"],
        env={"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APP_TOKEN": "xapp-x", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert not (tmp_path / "t.db").exists()
    last = run.stderr.splitlines()[-1]
    assert last.startswith("tallybot: could not connect: Cannot connect to host 127.0.0.1")
    assert "Traceback" not in run.stderr
    assert "xoxb-x" not in run.stderr + run.stdout
