"""Alerts through the real Slack and Discord adapters, against the loopback fakes: posts to a
Slack channel a second apart, Discord's per-route limit waited out inside one post, and a
channel the platform refuses for good stopping its own alerts, with one ERROR, alone."""

from __future__ import annotations

import logging
from typing import Any

from fakes.discord_fake import DEFAULT_GUILD_ID, DEFAULT_TOKEN, FakeDiscord
from fakes.slack_fake import FakeSlack
from test_alerts import EDITOR, POLITICO, RACE, REUTERS, at, running
from test_digest import DISCORD_EDITOR

from bot.adapters.discord.adapter import DiscordPlatform
from bot.adapters.discord.settings import DiscordConfig
from bot.adapters.slack.adapter import SlackPlatform
from bot.adapters.slack.settings import SlackConfig
from bot.service_alerts import AlertStatus

NEWS, GONE = "C0NEWS", "C0GONE"
KEPT, DELETED = "1300000000000000777", "1300000000000000888"  # Discord channel ids


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_slack_posts_a_second_apart_per_channel_and_a_gone_channel_stops_alone(
    tmp_path, caplog
):
    async with FakeSlack() as fake, running(tmp_path / "t.db", at(10, 0)) as bot:
        bot.alerts.platforms["slack"] = SlackPlatform(
            bot.service, SlackConfig(api_base_url=fake.api_url), bot_token=fake.bot_token
        )
        posted: list[tuple[str, float]] = []  # channel, and when on the alerts' clock

        def post(call: Any) -> dict[str, Any]:
            channel = call.params["channel"]
            posted.append((channel, sum(bot.sleeps)))  # the fake clock moves only by pauses
            if channel == GONE:
                return {"ok": False, "error": "channel_not_found"}
            return fake._m_chat_postMessage(call.params)

        fake.stub("chat.postMessage", post)
        for channel in (NEWS, GONE):
            await bot.say("/follow", EDITOR, channel)
        for minute, member in enumerate(("Türkiye", "Slovakia", "Romania"), 1):
            bot.clock.pinned_at = at(10, minute, 5)
            await bot.say(f"/endorse {member} Rutte {POLITICO}")
        with caplog.at_level(logging.WARNING, logger="bot.alerts"):
            await bot.at(at(10, 4, 10))  # three minutes due at once, to both channels
            bot.clock.pinned_at = at(10, 4, 20)
            await bot.say(f"/endorse Hungary Rutte {REUTERS}")
            await bot.at(at(10, 5, 10))
        news = [t for channel, t in posted if channel == NEWS]
        assert len(news) == 4 and all(b - a >= 1.0 for a, b in zip(news, news[1:], strict=False))
        assert [channel for channel, _ in posted].count(GONE) == 1
        [line] = errors(caplog)
        assert line.startswith(f"Alerts for slack channel {GONE} stopped: the platform refused")
        assert [f.channel for f in await bot.service.follows()] == [NEWS]


async def test_discord_waits_out_a_routes_limit_in_one_post_and_a_deleted_channel_stops_alone(
    tmp_path, caplog
):
    async with FakeDiscord() as fake, running(tmp_path / "t.db", at(10, 0)) as bot:
        with fake.patch_discord():
            discord = DiscordPlatform(
                bot.service,
                DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
                DEFAULT_TOKEN,
                guild_ready_timeout=0.05,  # the fake sends its servers at once
            )
            await discord.start()
            try:
                bot.alerts.platforms["discord"] = discord
                for channel in (KEPT, DELETED):
                    await bot.say("/follow", DISCORD_EDITOR, channel)
                fake.refuse_channel(DELETED, 404, 10003, "Unknown Channel")
                fake.rate_limit_next(f"/channels/{KEPT}/messages", retry_after=0.05)
                with caplog.at_level(logging.WARNING, logger="bot.alerts"):
                    for minute, member in ((1, "Türkiye"), (2, "Slovakia")):
                        bot.clock.pinned_at = at(10, minute, 5)
                        await bot.say(f"/endorse {member} Rutte {POLITICO}")
                        await bot.at(at(10, minute + 1, 10))
            finally:
                await discord.close()
        kept = [r for r in fake.channel_messages if r.params["channel_id"] == KEPT]
        assert [r.status for r in fake.rate_limited] == [429]
        assert [r.status for r in kept] == [200, 200]
        assert bot.sleeps == [1.0]  # the second post's second apart: no retry of ours
        assert "Türkiye now supports Mark Rutte (29/32)" in kept[0].json["embeds"][0]["description"]
        sends = await bot.service.store.alert_sends(RACE, "2024-04-03T08:00")
        assert sorted((k.channel, s.status, s.attempts) for k, s in sends.items()) == [
            (KEPT, AlertStatus.SENT, 1),
            (KEPT, AlertStatus.SENT, 1),
            (DELETED, AlertStatus.REJECTED, 1),
        ]
        [line] = errors(caplog)
        assert f"Alerts for discord channel {DELETED} stopped" in line
        assert "404 Unknown Channel" in line
