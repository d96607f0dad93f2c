"""Running a command: a typed line or a named call, within the one error boundary.

Every platform goes through here, so a refusal or a bug reads the same everywhere, and
`answer_within` is the one "answer within the platform's deadline, or defer" rule.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, NamedTuple

from bot.commands.grammar import Token, bind, parse_args, race_named, read_command
from bot.commands.handlers import HANDLERS
from bot.commands.spec import COMMANDS, Command, Context
from bot.domain import TallyError
from bot.replies import Reply

log = logging.getLogger(__name__)

FAILED = "Something went wrong on tallybot's side; it is logged. Try again in a moment."
# Commands whose answer depends only on what is committed, the day and the line typed (not on
# who asks): kept per line until anything is committed, so a repeat is answered without work.
KEPT = frozenset({"tally"})


async def guarded(what: str, work: Awaitable[Reply]) -> Reply:
    """The error boundary: a refusal becomes a one-line error reply; so does a bug, its
    traceback in the log under `what`."""
    try:
        return await work
    except TallyError as exc:
        return Reply.refusal(str(exc))
    except Exception:
        log.exception("%s failed", what)
        return Reply.refusal(FAILED)


def check_allowed(ctx: Context, command: Command) -> None:
    """Refuse a reader an editor's command before it is parsed; a recording lets them through,
    to propose it."""
    if command.editor_only and not command.proposable:
        ctx.actor.require_editor(f"use /{command.name}")


async def about(ctx: Context, named: str | None) -> Context:
    """The context of the race a command is about (race:, else the channel's), its candidates
    read again if any process changed them, so names resolve against them."""
    service = await ctx.desk.service_for(ctx.actor.platform, ctx.channel, named)
    await service.refresh(await ctx.desk.data_version())
    return replace(ctx, race=service.race.id)


@functools.lru_cache(maxsize=256)
def _read(line: str) -> tuple[Command, tuple[Token, ...]]:
    """`read_command`, once per line: the same few lines are typed again and again."""
    command, tokens = read_command(line)
    return command, tuple(tokens)


async def run_line(ctx: Context, line: str) -> Reply:
    """What the console and Slack call with the text a user typed."""

    async def work() -> Reply:
        command, read = _read(line)
        tokens = list(read)
        check_allowed(ctx, command)  # before parsing: a reader learns that first
        chosen = await about(ctx, race_named(tokens) if command.name != "race use" else None)
        service = chosen.service
        key = None
        if command.name in KEPT:  # the state just refreshed: a commit anywhere changes it
            key = (service.race.id, service.data_version, service.today(), ctx.style, line)
            if (kept := ctx.desk.kept.get(key)) is not None:
                return kept
        args = parse_args(service, command, tokens, line)
        reply = await HANDLERS[command.name](chosen, args)
        # kept only if nothing was committed while it was made (its own refreshes saw the same)
        if key is not None and key[1:3] == (service.data_version, service.today()):
            ctx.desk.keep(key, reply)
        return reply

    return await guarded(repr(line[:80]), work())


async def run_named(ctx: Context, name: str, raw: dict[str, Any]) -> Reply:
    """What Discord calls with a command's name and its options, already split."""
    command = COMMANDS[name]

    async def work() -> Reply:
        check_allowed(ctx, command)
        chosen = await about(ctx, raw.get("race") if name != "race use" else None)
        return await HANDLERS[name](chosen, bind(chosen.service, command, raw))

    return await guarded(f"/{name}", work())


class Answer(NamedTuple):
    reply: Reply
    deferred: bool  # whether `defer` was awaited: the reply comes late, as a follow-up


async def answer_within(
    deadline: float, what: str, work: Awaitable[Reply], defer: Callable[[], Awaitable[None]]
) -> Answer:
    """`work`'s reply, within the error boundary, and whether it missed `deadline` (seconds),
    as every platform asks: then `defer()` (the platform's "working on it") is awaited first
    while the work goes on."""
    task = asyncio.ensure_future(guarded(what, work))
    done, _ = await asyncio.wait({task}, timeout=deadline)
    if done:
        return Answer(task.result(), deferred=False)
    await defer()
    return Answer(await task, deferred=True)
