"""The digest through the real Slack and Discord adapters, against the loopback fakes: errors
the platform gives for good fail the day at once; stopping mid-retry is quiet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
from conftest import ARTICLES_DAY, make_service
from fakes.discord_fake import DEFAULT_GUILD_ID, DEFAULT_TOKEN, FakeDiscord
from fakes.slack_fake import FakeSlack
from test_digest import DISCORD_EDITOR, NEWS, RACE, brussels, running

from bot.adapters.discord.adapter import DiscordPlatform, message_kwargs
from bot.adapters.discord.settings import DiscordConfig
from bot.adapters.slack.adapter import SlackPlatform
from bot.adapters.slack.settings import SlackConfig
from bot.app import run_platforms
from bot.config import Config
from bot.digest_records import Subscription
from bot.domain import Actor
from bot.replies import Attachment
from bot.store.store import Store

APRIL_3 = date(2024, 4, 3)
CHANNEL = "1300000000000000777"  # a Discord channel id


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("error", "what_to_do"),
    [
        ("not_in_channel", "invite the bot with /invite @tallybot"),
        ("channel_not_found", "/unsubscribe or remove it from [[digest.channels]]"),
    ],
)
async def test_a_slack_channel_that_refuses_the_bot_fails_the_day_at_once(
    tmp_path, caplog, error, what_to_do
):
    async with FakeSlack() as fake, running(tmp_path / "t.db", brussels(3, 8)) as bot:
        bot.scheduler.platforms["slack"] = SlackPlatform(
            bot.service, SlackConfig(api_base_url=fake.api_url), bot_token=fake.bot_token
        )
        await bot.say("/subscribe")
        fake.stub("chat.postMessage", {"ok": False, "error": error})
        with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
            for minute in (0, 10, 30):  # the digest's time, then retries while within the grace
                await bot.at(brussels(3, 9, minute))
            await bot.at(brussels(3, 14))
        assert len(fake.calls_to("chat.postMessage")) == 1 and bot.sleeps == []
        send = (await bot.sends(APRIL_3))[APRIL_3]
        assert (send.status, send.attempts) == ("rejected", 1)
        assert send.last_error.startswith(error)
        [line] = errors(caplog)
        assert f"slack channel {NEWS} was refused ({error}): " in line
        assert what_to_do in line and "Not tried again today." in line

        fake.unstub("chat.postMessage")  # fixed: the next day's digest goes out
        await bot.at(brussels(4, 9))
        assert fake.calls_to("chat.postMessage")[-1].params["channel"] == NEWS
        assert len(fake.calls_to("chat.postMessage")) == 2


async def test_a_passing_slack_error_is_retried_and_logged_in_one_line(tmp_path, caplog):
    async with FakeSlack() as fake, running(tmp_path / "t.db", brussels(3, 8)) as bot:
        bot.scheduler.platforms["slack"] = SlackPlatform(
            bot.service, SlackConfig(api_base_url=fake.api_url), bot_token=fake.bot_token
        )
        await bot.say("/subscribe")
        fake.stub("chat.postMessage", {"ok": False, "error": "internal_error"})
        with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
            await bot.at(brussels(3, 9))
        assert len(fake.calls_to("chat.postMessage")) == 4 and bot.sleeps == [2.0, 4.0, 8.0]
        send = (await bot.sends(APRIL_3))[APRIL_3]
        assert send.status == "failed" and "'error': 'internal_error'" in send.last_error
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 4 and not any("\n" in line for line in lines + [send.last_error])


@pytest.mark.parametrize(
    ("status", "code", "message", "what_to_do"),
    [
        (404, 10003, "Unknown Channel", "the channel was deleted: /unsubscribe or remove it"),
        (403, 50001, "Missing Access", "give its role View Channel there"),
    ],
)
async def test_a_discord_channel_that_refuses_the_bot_fails_the_day_at_once(
    tmp_path, caplog, status, code, message, what_to_do
):
    async with FakeDiscord() as fake, running(tmp_path / "t.db", brussels(3, 8)) as bot:
        with fake.patch_discord():
            platform = DiscordPlatform(
                bot.service,
                DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
                DEFAULT_TOKEN,
                guild_ready_timeout=0.05,  # the fake sends its servers at once
            )
            await platform.start()
            try:
                bot.scheduler.platforms["discord"] = platform
                await bot.say("/subscribe", DISCORD_EDITOR, CHANNEL)
                fake.refuse_channel(CHANNEL, status, code, message)
                with caplog.at_level(logging.WARNING, logger="bot.scheduling"):
                    await bot.at(brussels(3, 9))
                    await bot.at(brussels(3, 9, 10))
            finally:
                await platform.close()
        posts = [r for r in fake.channel_messages if r.params["channel_id"] == CHANNEL]
        assert [r.status for r in posts] == [status] and bot.sleeps == []
        sends = await bot.service.store.digest_sends(RACE, [APRIL_3])
        [send] = sends.values()
        assert (send.key.channel, send.status, send.attempts) == (CHANNEL, "rejected", 1)
        [line] = errors(caplog)
        assert f"discord channel {CHANNEL} was refused ({status} {message}): " in line
        assert what_to_do in line


@contextlib.asynccontextmanager
async def on_discord(bot) -> AsyncIterator[tuple[FakeDiscord, DiscordPlatform]]:
    """The bot's digests go to the real Discord adapter, against the fake."""
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            platform = DiscordPlatform(
                bot.service,
                DiscordConfig(guilds=(DEFAULT_GUILD_ID,)),
                DEFAULT_TOKEN,
                guild_ready_timeout=0.05,  # the fake sends its servers at once
            )
            await platform.start()
            bot.scheduler.platforms["discord"] = platform
            try:
                yield fake, platform
            finally:
                await platform.close()


async def a_board(tally) -> Attachment:
    return Attachment("board.png", "image/png", b"\x89PNG")


async def test_a_discord_digest_shows_its_board_in_its_own_post_with_alt_text(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 10), attach_board=a_board) as bot:
        async with on_discord(bot) as (fake, _):
            await bot.say("/subscribe", DISCORD_EDITOR, CHANNEL)
            bot.clock.pinned_at = brussels(4, 8)
            await bot.say("/endorse Hungary Rutte source:https://www.reuters.com/hu")
            await bot.at(brussels(5, 9))  # 4 April's is skipped (after the grace)
        [post] = [r for r in fake.channel_messages if r.params["channel_id"] == CHANNEL]
        assert post.content == (
            "Mark Rutte 23 → 29 (+6) over the latest 10 changes · 3 holdouts · "
            "95 days to the Washington summit"
        )  # what the notification says: nothing was recorded in the last 24 hours
        [file] = post.files
        assert file.filename == "board.png"
        assert post.embeds[-1]["image"] == {"url": "attachment://board.png"}
        assert post.message["attachments"][0]["description"] == (
            "Board: 29 of 32 back Mark Rutte; Romania backs Klaus Iohannis; "
            "Slovakia, Türkiye no position"
        )


async def test_a_discord_post_resumed_after_its_first_messages_sends_only_the_rest(tmp_path):
    async with running(tmp_path / "t.db", brussels(3, 8)) as bot:
        async with on_discord(bot) as (fake, platform):
            reply = await bot.scheduler.builder.preview(APRIL_3)  # the whole seeded race
            counted: list[int] = []

            async def posted(count: int) -> None:
                counted.append(count)

            whole = len(message_kwargs(reply))
            await platform.post(CHANNEL, reply, 1, posted)
        posts = [r for r in fake.channel_messages if r.params["channel_id"] == CHANNEL]
        assert whole >= 2 and len(posts) == whole - 1
        assert counted == list(range(2, whole + 1))
        assert posts[0].content is None  # the summary went with the first, posted before


async def a_database_with_a_digest_due(db) -> None:
    """A Slack channel subscribed yesterday whose digest fell due a minute ago (today pinned
    to ARTICLES_DAY, the time of day real)."""
    service = await make_service(db)
    now = service.clock.now()
    a_minute_ago = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0))
    due = a_minute_ago.time().replace(second=0, microsecond=0, tzinfo=None)
    await service.store.subscribe(
        Subscription(RACE, "slack", "CDIGEST", due, "Europe/Brussels", now - timedelta(days=1)),
        Actor("slack", "U1", "ed", is_editor=True),
    )
    await service.store.close()


class Retrying(logging.Handler):
    """Sets `logged` when the scheduler says it will retry a post (logged on the loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "; retry in " in record.getMessage():
            self.logged.set()


async def test_stopping_the_bot_while_a_digest_is_retried_is_one_info_line(tmp_path, caplog):
    """`tallybot run` stopped (SIGINT, SIGTERM: the stop event) while the start's catch-up
    waits to retry a failed post: it stops at once, with no error and no traceback."""
    db = tmp_path / "run.db"
    await a_database_with_a_digest_due(db)
    async with FakeSlack() as slack:
        slack.stub("chat.postMessage", {"ok": False, "error": "internal_error"})
        config = replace(
            Config(),
            database=db,
            today=ARTICLES_DAY,
            platforms=Config().platforms | {"slack": SlackConfig(api_base_url=slack.api_url)},
        )
        environ = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token}
        stop, retrying = asyncio.Event(), Retrying()
        logging.getLogger("bot.scheduling").addHandler(retrying)
        try:
            with caplog.at_level(logging.INFO):
                run = asyncio.create_task(
                    run_platforms(config, "slack", environ=environ, stop=stop)
                )
                await asyncio.wait_for(retrying.logged.wait(), 10)  # the first attempt failed
                stop.set()  # during the 2 seconds before the retry
                await asyncio.wait_for(run, timeout=5)  # the retries would take 14 s
        finally:
            logging.getLogger("bot.scheduling").removeHandler(retrying)
    assert errors(caplog) == [] and not any(r.exc_info for r in caplog.records)
    stopped = [r.getMessage() for r in caplog.records if "digest post(s) in flight" in r.message]
    assert stopped == ["Stopped with 1 digest post(s) in flight; each is resumed after 5 minutes"]
    store = await Store.open(db)
    [send] = (await store.digest_sends(RACE, [ARTICLES_DAY])).values()
    await store.close()
    assert (send.status, send.attempts) == ("sending", 1)


@contextlib.contextmanager
def fake_slack_in_a_thread() -> Iterator[FakeSlack]:
    """The fake on a loop of its own, serving a tallybot process started by the test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeSlack()
    asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(5)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_sigterm_mid_retry_exits_0_with_no_traceback(tmp_path):
    db = tmp_path / "run.db"
    asyncio.run(a_database_with_a_digest_due(db))
    log: list[str] = []
    with fake_slack_in_a_thread() as fake:
        fake.stub("chat.postMessage", {"ok": False, "error": "internal_error"})
        config = tmp_path / "c.toml"
        config.write_text(f'[slack]\napi_base_url = "{fake.api_url}"\n')
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "slack", "--config", config, "--db", db]
            + ["--today", ARTICLES_DAY.isoformat()],
            env={"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": fake.app_token},
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in bot.stderr])
        reader.start()
        try:
            while not any("; retry in 2 seconds" in line for line in log):  # mid-retry
                log.append(lines.get(timeout=30))
            bot.send_signal(signal.SIGTERM)
            assert bot.wait(timeout=10) == 0
        finally:
            bot.kill()
            reader.join(5)
    log += list(lines.queue)
    text = "".join(log)
    assert "Traceback" not in text and " ERROR " not in text and "CancelledError" not in text
    assert "Stopped with 1 digest post(s) in flight; each is resumed after 5 minutes" in text
