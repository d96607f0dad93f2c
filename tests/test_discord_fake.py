"""Self-tests for tests/fakes/discord_fake.py: a real discord.Client against the fake."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands
from fakes.discord_fake import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    FakeDiscord,
    autocomplete_interaction,
    member_payload,
    run_interaction,
    slash_interaction,
)


def make_bot(*, sync_guild: bool = True) -> tuple[discord.Client, app_commands.CommandTree]:
    """A plain Client with /ping, /report (defer + file follow-up + channel post) and /backs."""
    # The fake sends its servers at once: no need to wait 2 s for more before ready.
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    tree = app_commands.CommandTree(client)
    guild = discord.Object(DEFAULT_GUILD_ID)

    @tree.command(description="Replies pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @tree.command(description="Defers, then sends a file")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send("here", file=discord.File(io.BytesIO(b"a,b\n"), "r.csv"))
        assert interaction.channel is not None
        await interaction.channel.send("posted", file=discord.File(io.BytesIO(b"png"), "c.png"))

    group = app_commands.Group(name="race", description="Race commands")

    @group.command(description="Record an endorsement")
    async def backs(
        interaction: discord.Interaction, who: discord.Member, candidate: str, weight: int = 1
    ) -> None:
        await interaction.response.send_message(f"{who.display_name} backs {candidate} x{weight}")

    @backs.autocomplete("candidate")
    async def candidates(interaction: discord.Interaction, current: str) -> list:
        names = ["Alice", "Albert", "Bob"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    tree.add_command(group)

    async def setup_hook() -> None:
        if sync_guild:
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)
        await tree.sync()

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    return client, tree


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            yield fake


async def test_ping_round_trip(fake: FakeDiscord) -> None:
    client, _ = make_bot()
    async with fake.run_client(client):
        assert client.user is not None and client.user.id == fake.app_id
        assert client.get_guild(DEFAULT_GUILD_ID) is not None
        await fake.send_interaction(slash_interaction("ping"))
        reply = await fake.wait_for_callback()
    assert (reply.callback_type, reply.content, reply.ephemeral) == (4, "pong", False)
    assert reply.query == {"with_response": "1"}
    assert [c["name"] for c in fake.registered_commands(DEFAULT_GUILD_ID)] == [
        "ping",
        "report",
        "race",
    ]
    assert [s.guild_id for s in fake.synced_commands] == [DEFAULT_GUILD_ID, None]
    assert fake.gateway_received[0]["op"] == 1 and fake.gateway_received[1]["op"] == 2
    assert fake.unhandled == []


async def test_rate_limited_callback_is_retried(fake: FakeDiscord) -> None:
    fake.rate_limit_next("/callback", retry_after=0.05)
    fake.rate_limit_next("/messages", retry_after=0.05, method="POST")
    client, _ = make_bot(sync_guild=False)
    async with fake.run_client(client):
        await fake.send_interaction(slash_interaction("ping", guild_command=False))
        reply = await fake.wait_for_callback()
        assert reply.content == "pong"
        channel = client.get_channel(DEFAULT_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("hello")
        assert (await fake.wait_for_channel_message()).content == "hello"
    assert [r.path.rsplit("/", 1)[-1] for r in fake.rate_limited] == ["callback", "messages"]
    assert len(fake.callbacks) == 1


async def test_defer_followup_and_channel_message_with_files(fake: FakeDiscord) -> None:
    client, _ = make_bot()
    async with fake.run_client(client):
        await fake.send_interaction(slash_interaction("report"))
        deferred = await fake.wait_for_callback()
        followup = await fake.wait_for_followup()
        posted = await fake.wait_for_channel_message()
    assert deferred.callback_type == 5 and deferred.ephemeral
    assert followup.content == "here" and followup.query["wait"] == "1"
    assert [(f.filename, f.data) for f in followup.files] == [("r.csv", b"a,b\n")]
    assert posted.params["channel_id"] == str(DEFAULT_CHANNEL_ID)
    assert (posted.content, posted.files[0].filename, posted.files[0].data) == (
        "posted",
        "c.png",
        b"png",
    )


async def test_wrong_token_is_login_failure() -> None:
    client, _ = make_bot()
    async with FakeDiscord() as fake:
        with fake.patch_discord(), pytest.raises(discord.LoginFailure):
            async with fake.run_client(client, token="wrong"):
                pass
    assert [r.status for r in fake.requests] == [401]


async def test_reconnect_resumes_session(fake: FakeDiscord) -> None:
    client, _ = make_bot()
    async with fake.run_client(client):
        resumed = client.wait_for("resumed", timeout=5)  # plain def: listens from now on
        await fake.request_reconnect()
        await resumed
        assert fake.gateway_paths == ["/gateway", "/resume"]
        assert [f["d"]["session_id"] for f in fake.gateway_received if f["op"] == 6] == [
            fake.session_id
        ]
        await fake.send_interaction(slash_interaction("ping"))
        assert (await fake.wait_for_callback()).content == "pong"


async def test_offline_subcommand_with_member_option() -> None:
    _, tree = make_bot()
    alice = member_payload(1500000000000000001, "alice", nick="Al")
    payload = slash_interaction(
        "race", {"who": alice, "candidate": "Bob", "weight": 3}, subcommand="backs"
    )
    run = await run_interaction(tree, payload)
    assert run.error is None
    assert [r.content for r in run.replies] == ["Al backs Bob x3"]


async def test_offline_autocomplete_and_errors() -> None:
    _, tree = make_bot()
    run = await run_interaction(
        tree, autocomplete_interaction("race", "candidate", "Al", subcommand="backs")
    )
    assert run.callbacks[0].json == {
        "type": 8,
        "data": {
            "choices": [{"name": "Alice", "value": "Alice"}, {"name": "Albert", "value": "Albert"}]
        },
    }
    run = await run_interaction(
        tree, slash_interaction("race", {"candidate": "x"}, subcommand="backs")
    )
    assert isinstance(run.error, app_commands.CommandSignatureMismatch)  # "who" is missing


async def test_the_first_follow_up_after_a_deferral_takes_the_placeholders_place() -> None:
    """As Discord does: after a private "thinking…", the first follow-up is that message,
    private whatever it asks; the next ones are messages of their own."""
    client = discord.Client(intents=discord.Intents.default())
    tree = app_commands.CommandTree(client)

    @tree.command(description="Defers privately, then follows up twice in public")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("first", ephemeral=False)
        await interaction.followup.send("second", ephemeral=False)

    run = await run_interaction(tree, slash_interaction("slow"))
    assert run.error is None
    assert [(m.content, m.ephemeral) for m in run.shown] == [("first", True), ("second", False)]
