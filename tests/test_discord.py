"""Discord: real interaction payloads through the command tree, and a bot on the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from fakes.discord_fake import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_TOKEN,
    DEFAULT_USER_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    RecordedRequest,
    Shown,
    TreeRun,
    autocomplete_interaction,
    guild_payload,
    prepare_offline_client,
    role_payload,
    run_interaction,
    slash_interaction,
)

import bot.adapters.discord.adapter as adapter
from bot.__main__ import main
from bot.adapters.discord.adapter import DiscordPlatform
from bot.adapters.discord.settings import DiscordConfig
from bot.commands.run import FAILED
from bot.commands.spec import COMMANDS, Command, Kind
from bot.domain import Actor, Position
from bot.platform import CredentialsError
from bot.render import COLOUR_ERROR, DISCORD_EMBED_DESCRIPTION, DISCORD_EMBED_TOTAL
from bot.replies import Attachment, Reply, Section
from bot.service import Service

EDITORS_ROLE = 1600000000000000001  # named in the config
DESK_ROLE = 1600000000000000002  # given by id in the config
READERS_ROLE = 1600000000000000003
GUILD = guild_payload(
    roles=[
        role_payload(EDITORS_ROLE, "Editors"),
        role_payload(DESK_ROLE, "desk"),
        role_payload(READERS_ROLE, "readers"),
    ]
)
CONFIG = DiscordConfig(guilds=(DEFAULT_GUILD_ID,), editor_roles=("editors", str(DESK_ROLE)))
MANAGE_SERVER = str(int(MEMBER_PERMISSIONS) | discord.Permissions(manage_guild=True).value)
NO_MENTIONS = {"parse": []}
READY_AFTER = 0.05  # seconds the client waits after the last server: the fake sends all at once


OTHER_GUILD_ID = 1200000000000000002  # a server the bot is in but the config does not list


@pytest.fixture
async def platform(service: Service) -> DiscordPlatform:
    """Offline: the configured server is cached and role names resolved, as after start."""
    platform = DiscordPlatform(service, CONFIG, DEFAULT_TOKEN, guild_ready_timeout=READY_AFTER)
    await prepare_offline_client(platform.client, FakeDiscord(guilds=[GUILD]))
    platform.resolve_role_names()
    return platform


async def ask(
    platform: DiscordPlatform,
    command: str,
    options: dict[str, Any] | None = None,
    *,
    roles: list[int] | None = None,
    fake: FakeDiscord | None = None,
    **kwargs: Any,
) -> TreeRun:
    """Run `/command` (e.g. "candidate add") through the tree offline, as an editor by default,
    its calls answered by `fake` (a fresh one by default)."""
    name, _, sub = command.partition(" ")
    payload = slash_interaction(
        name,
        options,
        subcommand=sub or None,
        roles=[EDITORS_ROLE] if roles is None else roles,
        **kwargs,
    )
    return await run_interaction(platform.tree, payload, fake=fake or FakeDiscord(guilds=[GUILD]))


def text(req: RecordedRequest | Shown) -> str:
    """Everything a message's embeds say."""
    parts = []
    for embed in req.embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
        parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(p for p in parts if p)


def answer(run: TreeRun) -> Shown:
    """The one message the answer left on screen, checked for what every answer must have:
    embeds, and nothing sent that could ping anyone."""
    assert run.error is None
    [shown] = run.shown
    assert shown.embeds
    assert all(r.message["allowed_mentions"] == NO_MENTIONS for r in run.replies if r.embeds)
    return shown


def embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


# --- the tree, built from COMMANDS ------------------------------------------------------------


def slash_command(platform: DiscordPlatform, name: str) -> discord.app_commands.Command:
    parent, _, leaf = name.rpartition(" ")
    found = platform.tree.get_command(parent or leaf)
    if parent:
        assert isinstance(found, discord.app_commands.Group)
        found = found.get_command(leaf)
    assert isinstance(found, discord.app_commands.Command), name
    return found


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_typed_described_options(platform: DiscordPlatform, name: str) -> None:
    command = COMMANDS[name]
    slash = slash_command(platform, name)
    assert 1 <= len(slash.description) <= 100
    options = {o["name"]: o for o in slash.to_dict(platform.tree)["options"]}
    assert list(options) == [p.name for p in sorted(command.params, key=lambda p: not p.required)]
    for param in command.params:
        option = options[param.name]
        assert 1 <= len(option["description"]) <= 100
        assert option["required"] == param.required
        assert option["type"] == (4 if param.kind is Kind.INT else 3)
        completed = (Kind.MEMBER, Kind.CANDIDATE, Kind.RACE)
        assert option.get("autocomplete", False) == (param.kind in completed)
        assert [c["value"] for c in option.get("choices", [])] == list(param.choices)
        limits = (option.get("min_value"), option.get("max_value"), option.get("max_length"))
        assert limits == (param.minimum, param.maximum, param.max_length)


def test_the_client_is_told_the_limits_and_choices_so_it_refuses_bad_values(
    platform: DiscordPlatform,
) -> None:
    """What Discord's client checks before sending: a reader cannot send limit:0 or a
    501-character note, and picks a format or a chart kind from a list."""

    def option(command: str, name: str) -> dict[str, Any]:
        options = slash_command(platform, command).to_dict(platform.tree)["options"]
        return next(o for o in options if o["name"] == name)

    limit = option("history", "limit")
    assert (limit["min_value"], limit["max_value"]) == (1, 100)
    assert all(option(c, "note")["max_length"] == 500 for c in ("endorse", "oppose", "undecided"))
    assert [c["value"] for c in option("export", "format")["choices"]] == [
        "csv",
        "json",
        "csv.gz",
        "json.gz",
    ]
    assert [c["name"] for c in option("chart", "kind")["choices"]] == ["board", "timeline"]


SAMPLES = {
    Kind.MEMBER: "Slovakia",
    Kind.CANDIDATE: "Rutte",
    Kind.DATE: "2024-04-02",
    Kind.URL: "https://example.org/news",
    Kind.TEXT: "Kaja Kallas",
    Kind.INT: 5,
    Kind.RACE: "nato-sg-2024",
}


# What a command needs beyond its required options, or instead of the samples.
OPTIONS = {"round": {"counts": "Rutte 20-5-7", "source": "https://example.org/poll"}}


def required_options(command: Command) -> dict[str, Any]:
    required = {
        p.name: p.choices[0] if p.choices else SAMPLES[p.kind] for p in command.params if p.required
    }
    return required | OPTIONS.get(command.name, {})


# How each command's answer starts, its required options given, after the command in BEFORE.
ANSWERS = {
    "endorse": "Recorded #33: Slovakia supports Mark Rutte on 3 April 2024",
    "oppose": "Recorded #33: Slovakia opposes Mark Rutte on 3 April 2024",
    "abstain": "Recorded #33: Slovakia abstains on Mark Rutte on 3 April 2024",
    "undecided": "Recorded #33: Slovakia has no public position on 3 April 2024",
    "tally": "NATO Secretary-General 2024\nMark Rutte (Netherlands)",
    "holdouts": "Holdouts on Mark Rutte: 4 of 32",
    "history": "History: NATO Secretary-General 2024, last recorded first",
    "countdown": "97 days until the Washington summit on 9 July 2024.",
    "subscribe": "Subscribed: this channel gets the daily digest at 09:00",
    "unsubscribe": "Unsubscribed: no more daily digests here.",
    "follow": "Following NATO Secretary-General 2024: this channel gets an alert",
    "unfollow": "Unfollowed: no more alerts here.",
    "digest": "NATO Secretary-General 2024: digest preview, 3 April 2024",
    "undo": "Undid #33 (Slovakia supports Mark Rutte) by recording #34.",
    "candidates": "Candidates in NATO Secretary-General 2024",
    "candidate add": "Added candidate Kaja Kallas.",
    "candidate withdraw": "Mark Rutte withdrew on 3 April 2024",
    "export": "The event log: 32 events.",
    "chart": "28/32 back Mark Rutte",
    "round": "Recorded round of 3 April 2024",
    "proposals": "No proposals wait for review in NATO Secretary-General 2024.",
    "races": "Races followed here\nnato-sg-2024: NATO Secretary-General 2024; unanimity by",
    "race use": "This channel's commands are now about NATO Secretary-General 2024",
    "help": "tallybot commands",
}
# else each would be a refusal
BEFORE = {"undo": "endorse", "unsubscribe": "subscribe", "unfollow": "follow"}


# Deciding a proposal needs one: tests/test_proposals_discord.py has those conversations.
@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in ("approve", "reject")])
async def test_every_command_answers_with_embeds(platform: DiscordPlatform, name: str) -> None:
    if name in BEFORE:
        answer(await ask(platform, BEFORE[name], required_options(COMMANDS[BEFORE[name]])))
    run = await ask(platform, name, required_options(COMMANDS[name]))
    assert run.error is None
    # A recording (an editor's command) defers at once; the rest answer at once here.
    assert [c.callback_type for c in run.callbacks] == [5 if COMMANDS[name].editor_only else 4]
    assert run.shown and all(m.embeds for m in run.shown)
    assert all(r.message["allowed_mentions"] == NO_MENTIONS for r in run.replies if r.embeds)
    for message in run.shown:
        private = message.embeds[0]["color"] == COLOUR_ERROR or name == "digest"  # a preview
        assert message.ephemeral == private
    assert run.shown[0].embeds[0]["color"] != COLOUR_ERROR
    assert text(run.shown[0]).startswith(ANSWERS[name])


# --- conversations ----------------------------------------------------------------------------


async def test_tally_is_an_embed_with_bars_holdouts_and_countdown(
    platform: DiscordPlatform,
) -> None:
    reply = answer(await ask(platform, "tally", roles=[]))
    assert not reply.ephemeral
    [embed] = reply.embeds
    assert embed["title"] == "NATO Secretary-General 2024"
    rutte = embed["fields"][0]
    assert rutte["name"] == "Mark Rutte (Netherlands)"
    assert rutte["value"].startswith("██████████████░░ 28/32\nNeeds 4 more for unanimity.")
    assert "Opposes (1): Hungary" in rutte["value"]
    assert "No public position (2): Slovakia, Türkiye" in rutte["value"]
    assert embed["footer"]["text"] == "97 days until the Washington summit on 9 July 2024."


async def test_editor_records_and_the_log_names_the_discord_user(
    platform: DiscordPlatform, service: Service
) -> None:
    options = {"member": "tur", "candidate": "Rutte", "source": "https://example.org/tr"}
    reply = answer(await ask(platform, "endorse", options))
    assert not reply.ephemeral
    assert "Recorded #33: Türkiye supports Mark Rutte" in text(reply)
    assert "Mark Rutte: 29/32; needs 3 more" in text(reply)
    [event] = await service.history(limit=1)
    assert (event.actor.platform, event.actor.id, event.actor.name) == (
        "discord",
        str(DEFAULT_USER_ID),
        "Tester",
    )
    tally = answer(await ask(platform, "tally", {"candidate": "Rutte"}, roles=[]))
    assert "29/32" in tally.embeds[0]["fields"][0]["value"]


async def test_subcommand_and_autocomplete_of_a_new_candidate(platform: DiscordPlatform) -> None:
    reply = answer(await ask(platform, "candidate add", {"name": "Kaja Kallas", "member": "EE"}))
    assert text(reply).startswith("Added candidate Kaja Kallas, nominated by Estonia.")
    run = await run_interaction(
        platform.tree,
        autocomplete_interaction("candidate", "candidate", "kal", subcommand="withdraw"),
    )
    assert run.callbacks[0].json["data"]["choices"] == [
        {"name": "Kaja Kallas", "value": "Kaja Kallas"}
    ]


@pytest.mark.parametrize(
    ("roles", "permissions", "editor"),
    [
        ([EDITORS_ROLE], MEMBER_PERMISSIONS, True),  # role by name, any case
        ([DESK_ROLE], MEMBER_PERMISSIONS, True),  # role by id
        ([], MANAGE_SERVER, True),
        ([READERS_ROLE], MEMBER_PERMISSIONS, False),
    ],
)
async def test_editors_are_configured_roles_or_manage_server(
    platform: DiscordPlatform, roles: list[int], permissions: str, editor: bool
) -> None:
    run = await ask(
        platform, "undecided", {"member": "Hungary"}, roles=roles, permissions=permissions
    )
    assert answer(run).ephemeral is not editor


async def test_non_editor_gets_a_private_refusal_and_nothing_is_written(
    platform: DiscordPlatform, service: Service
) -> None:
    reply = answer(
        await ask(platform, "endorse", {"member": "Hungary", "candidate": "Rutte"}, roles=[])
    )
    assert reply.ephemeral and reply.embeds[0]["color"] == COLOUR_ERROR
    assert text(reply).startswith("Only editors can use /endorse.")
    assert (await service.tally()).candidates[0].count == 28


@pytest.mark.parametrize("command", ["endorse", "tally"])
async def test_a_server_not_in_the_config_is_told_it_is_not_set_up(
    platform: DiscordPlatform, service: Service, command: str
) -> None:
    """After a global sync any server sends commands: Manage Server and a role named "Editors"
    there count for nothing, and not even reading is served."""
    run = await ask(
        platform,
        command,
        {"member": "Hungary", "candidate": "Rutte"} if command == "endorse" else {},
        guild_id=OTHER_GUILD_ID,
        roles=[EDITORS_ROLE],
        permissions=MANAGE_SERVER,
    )
    reply = answer(run)
    assert reply.ephemeral and reply.embeds[0]["color"] == COLOUR_ERROR
    assert text(reply).replace("\\[", "[").replace("\\]", "]") == (  # Discord shows \[ as [
        "This server is not set up for tallybot: whoever runs the bot can add its id "
        f"({OTHER_GUILD_ID}) to [discord] guilds in the config."
    )
    assert len(await service.history(limit=100)) == 32


async def test_a_direct_message_is_refused_in_one_private_line(
    platform: DiscordPlatform, service: Service
) -> None:
    run = await ask(platform, "undecided", {"member": "Hungary"}, guild_id=None)
    reply = answer(run)
    assert reply.ephemeral and text(reply).startswith(
        "tallybot answers only in the servers it is set up for, not in direct messages"
    )
    assert len(await service.history(limit=100)) == 32


async def test_a_role_name_counts_only_once_resolved_in_its_server(service: Service) -> None:
    """Before start resolves names (or in a server where the name is not found), a role whose
    name matches grants nothing; its id does."""
    platform = DiscordPlatform(service, CONFIG, DEFAULT_TOKEN)
    run = await ask(platform, "undecided", {"member": "Hungary"}, roles=[EDITORS_ROLE])
    assert answer(run).ephemeral and "Only editors" in text(answer(run))
    run = await ask(platform, "undecided", {"member": "Hungary"}, roles=[DESK_ROLE])
    assert not answer(run).ephemeral


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"member": "Atlantis", "candidate": "Rutte"}, "Unknown member 'Atlantis'."),
        ({"member": "Estonai", "candidate": "Rutte"}, "Did you mean Estonia?"),
        ({"member": "EE", "candidate": "Rutte", "on": "2024-13-01"}, "on:2024-13-01 is not a date"),
        ({"member": "EE", "candidate": "Rutte", "source": "politico"}, "is not a web address"),
    ],
)
async def test_validation_errors_are_private_and_write_nothing(
    platform: DiscordPlatform, service: Service, options: dict[str, str], error: str
) -> None:
    reply = answer(await ask(platform, "endorse", options))
    assert reply.ephemeral and error in text(reply)
    assert len(await service.history(limit=100)) == 32


@pytest.mark.parametrize(
    ("command", "focused", "typed", "first"),
    [
        ("endorse", "member", "tur", "Türkiye"),
        ("endorse", "member", "TÜRKİYE", "Türkiye"),
        ("history", "member", "macedonia", "North Macedonia"),
        ("endorse", "candidate", "ru", "Mark Rutte"),
    ],
)
async def test_autocomplete_offers_aliases(
    platform: DiscordPlatform, command: str, focused: str, typed: str, first: str
) -> None:
    run = await run_interaction(platform.tree, autocomplete_interaction(command, focused, typed))
    assert run.callbacks[0].callback_type == 8
    assert run.callbacks[0].json["data"]["choices"][0] == {"name": first, "value": first}


async def test_autocomplete_stays_within_25_choices(platform: DiscordPlatform) -> None:
    run = await run_interaction(platform.tree, autocomplete_interaction("endorse", "member", ""))
    assert len(run.callbacks[0].json["data"]["choices"]) == 25


async def test_export_attaches_the_file(platform: DiscordPlatform) -> None:
    run = await ask(platform, "export", {"format": "json"}, roles=[])
    reply = answer(run)
    assert [a["filename"] for a in reply.attachments] == [
        f.filename for r in run.replies for f in r.files
    ]
    [file] = [f for r in run.replies for f in r.files]
    assert re.fullmatch(r"nato-sg-2024-events-2024-04-03-\d{6}\.json", file.filename)
    assert file.data.startswith(b"[") or file.data.startswith(b"{")
    assert "The event log: 32 events." in text(reply)


async def test_a_long_answer_posts_at_most_five_messages_and_attaches_the_rest(
    platform: DiscordPlatform, service: Service, editor: Actor
) -> None:
    """A reader's /history limit:100 over 500-character notes was 50 public messages."""
    hungary, rutte = service.roster.member("Hungary"), service.roster.candidate("Rutte")
    for i in range(100):
        note = f"{i:03d} " + "x" * 490
        await service.record(editor, hungary, Position.SUPPORTS, rutte, note=note)
    run = await ask(platform, "history", {"limit": 100}, roles=[])
    assert run.error is None and 1 <= len(run.replies) <= 5
    [file] = [f for r in run.replies for f in r.files]
    assert file.filename.endswith(".txt")
    assert all(f"{i:03d} " in file.data.decode() for i in range(100))
    assert "more lines in the attached" in text(run.replies[-1])


async def test_an_exported_file_is_closed_once_sent(platform: DiscordPlatform) -> None:
    """discord.py leaves an initial response's file open; an open export per answer adds up."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        answer(await ask(platform, "export", roles=[]))
        gc.collect()
    assert [w.message for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_an_export_over_the_upload_limit_is_one_private_line(
    platform: DiscordPlatform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "exports"))
    (tmp_path / "exports").mkdir()
    payload = slash_interaction("export", {"format": "json"})
    payload["attachment_size_limit"] = 2_000  # bytes: the 32 seed events take more
    run = await run_interaction(platform.tree, payload, fake=FakeDiscord(guilds=[GUILD]))
    [reply] = run.replies
    assert reply.message["flags"] & 64 and not reply.files  # ephemeral, no file
    assert re.search(
        r"\.json is \d+ KB, over Discord's upload limit of 2 KB; ask for less: /export csv\.gz",
        text(reply),
    )
    assert list((tmp_path / "exports").iterdir()) == []  # the refused file is not left behind


async def test_echoed_text_never_pings(platform: DiscordPlatform) -> None:
    note = "@everyone <@&1600000000000000001> <@1400000000000000001> says yes"
    answer(await ask(platform, "endorse", {"member": "SK", "candidate": "Rutte", "note": note}))
    reply = answer(await ask(platform, "history", {"member": "SK", "limit": 1}))
    assert note in text(reply)
    assert not reply.content  # answer() checked that no message could ping


async def test_long_history_is_split_within_discord_limits(platform: DiscordPlatform) -> None:
    run = await ask(platform, "history", {"limit": 100}, roles=[])
    assert run.error is None
    first, *rest = run.replies
    assert first.callback_type == 4 and rest and {r.kind for r in rest} == {"followup"}
    for message in run.replies:
        assert len(message.embeds) <= 10
        assert sum(embed_size(e) for e in message.embeds) <= DISCORD_EMBED_TOTAL
        assert all(
            len(e.get("description", "")) <= DISCORD_EMBED_DESCRIPTION for e in message.embeds
        )
        assert message.message["allowed_mentions"] == NO_MENTIONS
    everything = "\n".join(text(m) for m in run.replies)
    assert all(f"#{n} " in everything for n in range(1, 33))


# --- slow answers and failures ----------------------------------------------------------------


@pytest.fixture
async def slow(monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    """Commands that answer only once their interaction is deferred (after a shortened wait):
    ask them through the fake returned."""
    fake = FakeDiscord(guilds=[GUILD])
    run_named = adapter.run_named

    async def slow_run_named(*args: Any) -> Reply:
        await fake.wait_for_callback()  # the deferral
        return await run_named(*args)

    monkeypatch.setattr(adapter, "DEFER_AFTER", 0.01)
    monkeypatch.setattr(adapter, "run_named", slow_run_named)
    return fake


async def test_a_slow_answer_is_deferred_privately_then_posted_for_everyone(
    platform: DiscordPlatform, slow: FakeDiscord
) -> None:
    """Only the caller sees "thinking…"; the channel sees the answer alone."""
    run = await ask(platform, "tally", fake=slow, roles=[])
    deferred, settled, posted, deleted = run.replies
    assert deferred.callback_type == 5 and deferred.ephemeral
    assert (settled.method, settled.content) == ("PATCH", adapter.POSTED)
    assert posted.method == "POST" and not posted.ephemeral and "28/32" in text(posted)
    assert (deleted.method, deleted.path.rsplit("/", 1)[-1]) == ("DELETE", "@original")
    [shown] = run.shown
    assert not shown.ephemeral and "28/32" in text(shown)


async def test_a_slow_refusal_stays_private_and_nothing_public_comes_and_goes(
    platform: DiscordPlatform, slow: FakeDiscord
) -> None:
    run = await ask(platform, "tally", {"candidate": "Ruttte"}, fake=slow, roles=[])
    deferred, refusal = run.replies
    assert deferred.callback_type == 5 and deferred.ephemeral
    assert refusal.method == "PATCH" and "Unknown candidate 'Ruttte'" in text(refusal)
    [shown] = run.shown
    assert shown.ephemeral and "Did you mean Mark Rutte?" in text(shown)


async def test_a_recording_defers_at_once_and_a_reader_is_refused_privately(
    platform: DiscordPlatform, service: Service
) -> None:
    run = await ask(platform, "undo", roles=[])
    assert [r.callback_type for r in run.callbacks] == [5]
    assert run.callbacks[0].ephemeral  # the "thinking…" only the caller sees
    [shown] = run.shown
    assert shown.ephemeral and "Only editors" in text(shown)
    run = await ask(platform, "endorse", {"member": "Slovakia", "candidate": "Rutte"})
    [shown] = run.shown
    assert not shown.ephemeral and "Recorded #33: Slovakia supports Mark Rutte" in text(shown)


async def test_a_crash_gets_a_private_apology(
    platform: DiscordPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Reply:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(adapter, "run_named", broken)
    reply = answer(await ask(platform, "tally"))
    assert reply.ephemeral and text(reply) == FAILED


# --- on the fake Discord, over loopback ---------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[GUILD]) as fake:
        with fake.patch_discord():
            yield fake


@contextlib.asynccontextmanager
async def running(platform: DiscordPlatform) -> AsyncIterator[DiscordPlatform]:
    await platform.start()
    try:
        yield platform
    finally:
        await platform.close()


@contextlib.asynccontextmanager
async def running_on(
    fake: FakeDiscord, service: Service, config: DiscordConfig
) -> AsyncIterator[DiscordPlatform]:
    with fake.patch_discord():
        platform = DiscordPlatform(service, config, DEFAULT_TOKEN, guild_ready_timeout=READY_AFTER)
        async with running(platform):
            yield platform


async def answered(fake: FakeDiscord, interaction: dict[str, Any]) -> list[Shown]:
    """What the channel shows once a recording's answer is done: after the private deferral,
    the placeholder either became the (private) answer, or was settled, the answer posted and
    the placeholder deleted."""
    assert (await fake.wait_for_callback()).callback_type == 5
    if (await fake.wait_for_followup()).content == adapter.POSTED:
        while (await fake.wait_for_followup()).method != "DELETE":
            pass
    return fake.shown(interaction)


def registered_names(commands: list[dict[str, Any]]) -> set[str]:
    names = set()
    for c in commands:
        subs = [o["name"] for o in c["options"] if o["type"] == 1]
        names |= {f"{c['name']} {s}" for s in subs} if subs else {c["name"]}
    return names


async def test_end_to_end_endorse_over_the_gateway(
    fake: FakeDiscord, platform: DiscordPlatform, service: Service
) -> None:
    async with running(platform):
        assert [s.guild_id for s in fake.synced_commands] == [DEFAULT_GUILD_ID]  # not global
        assert registered_names(fake.registered_commands(DEFAULT_GUILD_ID)) == set(COMMANDS)
        endorse = {
            "member": "Slovakia",
            "candidate": "Rutte",
            "on": "2024-04-03",
            "source": "https://example.org/sk",
        }
        interaction = slash_interaction("endorse", endorse, roles=[EDITORS_ROLE])
        await fake.send_interaction(interaction)
        [recorded] = await answered(fake, interaction)
        assert not recorded.ephemeral
        assert "Recorded #33: Slovakia supports Mark Rutte on 3 April 2024" in text(recorded)
        await fake.send_interaction(slash_interaction("tally", {"candidate": "Rutte"}))
        tally = await fake.wait_for_callback()
    assert "29/32\nNeeds 3 more" in text(tally)
    assert (await service.tally()).candidates[0].count == 29
    assert fake.unhandled == []


async def test_role_names_are_resolved_once_per_configured_server_at_start(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    twin_a, twin_b, later = 1600000000000000011, 1600000000000000012, 1600000000000000013
    guild = guild_payload(
        roles=[
            role_payload(EDITORS_ROLE, "Editors"),
            role_payload(twin_a, "Desk"),
            role_payload(twin_b, "desk"),
        ]
    )
    config = DiscordConfig(
        guilds=(DEFAULT_GUILD_ID, OTHER_GUILD_ID),  # the bot is not in the second one
        editor_roles=("editors", "Desk", "Ghost", "1600000000000000099"),
    )
    caplog.set_level(logging.WARNING, logger="bot.adapters.discord")
    async with FakeDiscord(guilds=[guild]) as fake, running_on(fake, service, config):
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            f"Discord: the bot is not in server {OTHER_GUILD_ID} listed in [discord] guilds; "
            "invite it there (bot and applications.commands scopes): until then nobody there "
            "is an editor by role.",
            f"Discord: more than one role named 'Desk' in server 'Test Guild' ({DEFAULT_GUILD_ID})"
            ", so the name grants nothing there; put the role's id in [discord] editor_roles.",
            f"Discord: no role named 'Ghost' in server 'Test Guild' ({DEFAULT_GUILD_ID}), so the "
            "name grants nothing there; put the role's id in [discord] editor_roles.",
            "Discord: role id 1600000000000000099 in [discord] editor_roles is in none of the "
            "configured servers.",
        ]
        # Anyone with Manage Roles can now make a role called "Ghost": it grants nothing.
        await fake.dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(DEFAULT_GUILD_ID), "role": role_payload(later, "Ghost")},
        )
        for roles, recorded in (([later], False), ([twin_a], False), ([EDITORS_ROLE], True)):
            interaction = slash_interaction("undecided", {"member": "Hungary"}, roles=roles)
            await fake.send_interaction(interaction)
            [reply] = await answered(fake, interaction)
            assert reply.ephemeral is not recorded, roles
    assert len(await service.history(limit=100)) == 33


async def test_global_sync_only_on_request(
    fake: FakeDiscord, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    platform = DiscordPlatform(
        service, DiscordConfig(), DEFAULT_TOKEN, sync_global=True, guild_ready_timeout=READY_AFTER
    )
    async with running(platform):
        assert [s.guild_id for s in fake.synced_commands] == [None]
        assert registered_names(fake.registered_commands()) == set(COMMANDS)
        # Every server now has the commands, and none is served: say so at start.
        assert "No [discord] guilds configured: tallybot serves no server" in caplog.text
        await fake.send_interaction(slash_interaction("tally", guild_command=False))
        assert "This server is not set up" in text(await fake.wait_for_callback())


async def test_global_sync_clears_the_guild_copies(fake: FakeDiscord, service: Service) -> None:
    platform = DiscordPlatform(
        service, CONFIG, DEFAULT_TOKEN, sync_global=True, guild_ready_timeout=READY_AFTER
    )
    async with running(platform):
        guild_sync, global_sync = fake.synced_commands
        assert (guild_sync.guild_id, guild_sync.commands) == (DEFAULT_GUILD_ID, [])  # no doubles
        assert global_sync.guild_id is None and len(global_sync.commands) > 10


async def test_a_wrong_token_is_a_credentials_error(fake: FakeDiscord, service: Service) -> None:
    platform = DiscordPlatform(service, CONFIG, "not-the-token")
    with pytest.raises(CredentialsError, match="DISCORD_TOKEN") as raised:
        await platform.start()
    assert "not-the-token" not in str(raised.value)
    assert [r.status for r in fake.requests] == [401]


async def test_rate_limited_callback_and_followup_are_delivered(
    fake: FakeDiscord, platform: DiscordPlatform
) -> None:
    fake.rate_limit_next("/callback", retry_after=0.05)
    fake.rate_limit_next("/webhooks/", retry_after=0.05, method="POST")
    async with running(platform):
        await fake.send_interaction(slash_interaction("history", {"limit": 100}))
        first = await fake.wait_for_callback()
        second = await fake.wait_for_followup()  # the rate-limited one, retried
        rest = [second]
        while "#1 " not in text(rest[-1]) and len(rest) < 3:  # the log's end, a few posts on
            rest.append(await fake.wait_for_followup())
    assert "#32 " in text(first) and "#1 " in text(rest[-1])
    assert [r.kind for r in fake.rate_limited] == ["callback", "followup"]


async def test_post_sends_embeds_and_the_file_to_a_channel(
    fake: FakeDiscord, platform: DiscordPlatform
) -> None:
    fake.rate_limit_next("/messages", retry_after=0.05, method="POST")
    lines = tuple(f"line {n}: " + "x" * 200 for n in range(60))  # more than one message holds
    digest = Reply(
        title="Morning digest",
        sections=(Section(lines=lines),),
        attachment=Attachment("board.png", "image/png", b"\x89PNG fake"),
    )
    async with running(platform):
        await platform.post(str(DEFAULT_CHANNEL_ID), digest)
    *firsts, last = fake.channel_messages
    assert firsts and all(not m.files for m in firsts)
    assert [(f.filename, f.data) for f in last.files] == [("board.png", b"\x89PNG fake")]
    assert firsts[0].embeds[0]["title"] == "Morning digest"
    assert all(m.params["channel_id"] == str(DEFAULT_CHANNEL_ID) for m in fake.channel_messages)
    assert all(m.message["allowed_mentions"] == NO_MENTIONS for m in fake.channel_messages)
    assert len(fake.rate_limited) == 1
    assert all(m.content is None for m in fake.channel_messages)  # no summary, no text


async def test_the_summary_is_the_notification_text_and_pings_nobody(
    fake: FakeDiscord, platform: DiscordPlatform
) -> None:
    summary = "Mark Rutte 28 → 30 (+2) since yesterday · @everyone *2 holdouts*"
    digest = Reply(
        title="Morning digest",
        sections=(Section(lines=tuple(f"line {n}: " + "x" * 200 for n in range(60))),),
        summary=summary,
    )
    async with running(platform):
        await platform.post(str(DEFAULT_CHANNEL_ID), digest)
    first, *rest = fake.channel_messages
    assert first.content == r"Mark Rutte 28 → 30 (+2) since yesterday · @everyone \*2 holdouts\*"
    assert first.message["allowed_mentions"] == NO_MENTIONS
    assert rest and all(m.content is None for m in rest)  # said once, on the first message


@contextlib.contextmanager
def fake_discord_in_a_thread() -> Iterator[FakeDiscord]:
    """The fake on its own loop, so `main()` can run its own `asyncio.run` here."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeDiscord()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(5)
    try:
        with fake.patch_discord():
            yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_cli_with_a_rejected_token_prints_one_line_and_exits_2(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TALLYBOT_CONFIG", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "wrong-secret-token")
    with fake_discord_in_a_thread() as fake:
        assert main(["discord", "--demo", "--db", str(tmp_path / "t.db")]) == 2
    assert [r.status for r in fake.requests] == [401]
    assert not (tmp_path / "t.db").exists()  # asked before the database was opened and seeded
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("tallybot: Discord rejected DISCORD_TOKEN;")
    assert "wrong-secret-token" not in err


async def test_help_on_discord_names_fields_not_key_value(platform: DiscordPlatform) -> None:
    """On Discord options are fields to fill, not key:value typed on a line."""

    def read(run: TreeRun) -> str:  # as Discord shows it: markdown escapes gone
        return re.sub(r"\\(.)", r"\1", text(answer(run)))

    listing = read(await ask(platform, "help", roles=[]))
    endorse = "/endorse <member> <candidate> [on] [source] [note] [confidence] [condition]"
    assert f"{endorse}: Record that" in listing
    assert "/export [format] [since] [until] [of]: The event log" in listing
    assert listing.endswith(
        "Pick a command after /, then fill in its fields; the optional "
        "ones (in brackets) are offered as you type."
    )
    assert "on:" not in listing and "key:value" not in listing
    detail = read(await ask(platform, "help", {"command": "history"}, roles=[]))
    assert detail.startswith("/history\n/history [member] [limit]: The log")
    assert "  limit: entries to show (default 10, at most 100)" in detail
    assert "limit:5" not in detail  # the typed example is for the console and Slack


async def test_digest_preview_is_for_the_caller_alone(platform: DiscordPlatform) -> None:
    run = await ask(platform, "digest", roles=[])
    assert run.shown and all(m.ephemeral for m in run.shown)
    assert run.shown[0].embeds[0]["color"] != COLOUR_ERROR
    assert "digest preview, 3 April 2024" in text(run.shown[0])
