"""What each command does: call the service, and turn its answer into a reply (replies.*).

A handler takes the command's arguments, already converted by the grammar, and is found by
the command's name in HANDLERS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.charts import chart_reply
from bot.commands.grammar import find_command
from bot.commands.spec import COMMANDS, Context
from bot.digest import DigestBuilder
from bot.domain import Position, format_date
from bot.replies import (
    Attachment,
    Reply,
    Section,
    candidates_reply,
    describe,
    history_line,
    holdouts_reply,
    source_label,
    tally_reply,
)
from bot.scheduling import first_digest_day

Handler = Callable[[Context, dict[str, Any]], Awaitable[Reply]]


async def _record(ctx: Context, args: dict[str, Any], position: Position) -> Reply:
    svc = ctx.service
    done = await svc.record(
        ctx.actor,
        args["member"],
        position,
        args.get("candidate"),
        args.get("on"),
        args.get("source"),
        args.get("note"),
    )
    e, names, race = done.event, ctx.service.candidate_names(), svc.race
    member = race.member(e.member)
    line = (
        f"Recorded #{e.id}: {member.name} {describe(e, names)} "
        f"on {format_date(e.happened_on)} ({source_label(e.source)})."
    )
    before = done.previous
    backfill = before is not None and before.happened_on > e.happened_on
    if before is not None and not backfill:
        if (before.position, before.candidate) == (e.position, e.candidate):
            line += " No change: it already did."
        else:
            line += f" It replaces #{before.id}: {member.name} {describe(before, names)}."
    lines = [line]
    if backfill:
        lines.append(
            f"{member.name}'s later position of {format_date(before.happened_on)} "
            "still stands; this one fills in the history."
        )
    tally = await svc.tally()
    for t in tally.candidates:
        if t.candidate.key == e.candidate or (e.candidate is None and t is tally.candidates[0]):
            lines.append(f"{t.candidate.name}: {t.count}/{t.total}; {t.needs()}.")
    return Reply(sections=(Section(lines=tuple(lines)),))


async def _endorse(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.SUPPORTS)


async def _oppose(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.OPPOSES)


async def _undecided(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.UNDECIDED)


async def _tally(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    tally = await svc.tally(args.get("candidate"), args.get("as_of"))
    return tally_reply(tally, await svc.countdown(tally), "as_of" in args)


async def _holdouts(ctx: Context, args: dict[str, Any]) -> Reply:
    tally = await ctx.service.tally(args.get("candidate"))
    return holdouts_reply(tally.shown(), ctx.service.race)


async def _history(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    member = args.get("member")
    events = await svc.history(member, args.get("limit", 10))
    names = ctx.service.candidate_names()
    lines = []
    for e in events:
        reverted = await svc.event(e.reverts) if e.reverts else None
        lines.append(history_line(e, svc.race, names, reverted, svc.clock.tz))
    scope = member.name if member else svc.race.title
    if not lines:
        lines.append("Nothing recorded yet; an editor can /endorse <member> <candidate>.")
    title = f"History: {scope}, last recorded first"
    return Reply(title=title, sections=(Section(lines=tuple(lines)),))


async def _countdown(ctx: Context, args: dict[str, Any]) -> Reply:
    return Reply.text(await ctx.service.countdown())


async def _subscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    sub = await svc.subscribe(
        ctx.actor, ctx.actor.platform, ctx.channel, args.get("time"), args.get("tz")
    )
    first = await first_digest_day(svc, sub)
    return Reply.text(
        f"Subscribed: this channel gets the daily digest at {sub.time:%H:%M} ({sub.timezone}), "
        f"from {format_date(first)}. /digest shows today's now; /unsubscribe stops it."
    )


async def _unsubscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    await ctx.service.unsubscribe(ctx.actor, ctx.actor.platform, ctx.channel)
    return Reply.text("Unsubscribed: no more daily digests here. /subscribe starts them again.")


async def _digest(ctx: Context, args: dict[str, Any]) -> Reply:
    return await DigestBuilder(ctx.service).preview(ctx.service.today())


async def _undo(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    done = await svc.undo(ctx.actor)
    names = ctx.service.candidate_names()
    member = svc.race.member(done.undo.member).name
    line = f"Undid #{done.reverted.id} ({member} {describe(done.reverted, names)})"
    now = describe(done.now, names) if done.now else "has no public position"
    return Reply.text(f"{line} by recording #{done.undo.id}. {member} now: {now}.")


async def _candidates(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    return candidates_reply(list(svc.roster.candidate_list), await svc.tally(), svc.race)


async def _candidate_add(ctx: Context, args: dict[str, Any]) -> Reply:
    member = args.get("member")
    added = await ctx.service.add_candidate(ctx.actor, args["name"], member, args.get("on"))
    candidate = added.candidate
    if added.had_withdrawn_on is not None:
        return Reply.text(
            f"{candidate.name} is back in the race (withdrew on "
            f"{format_date(added.had_withdrawn_on)}); positions on them count again."
        )
    by = f", nominated by {member.name}" if member else ""
    return Reply.text(
        f"Added candidate {candidate.name}{by}. Record positions with "
        f"/endorse <member> {candidate.name}"
    )


async def _candidate_withdraw(ctx: Context, args: dict[str, Any]) -> Reply:
    candidate = await ctx.service.withdraw_candidate(ctx.actor, args["candidate"], args.get("on"))
    return Reply.text(
        f"{candidate.name} withdrew on {format_date(candidate.withdrawn_on)}; "
        "positions on them stay in the log."
    )


async def _export(ctx: Context, args: dict[str, Any]) -> Reply:
    since, until = args.get("since"), args.get("until")
    export = await ctx.service.export(args.get("format", "csv"), since, until)
    what = "The event log"
    if since or until:
        start = format_date(since) if since else "the start"
        what += f" from {start} to {format_date(until) if until else 'today'}"
    return Reply(
        sections=(Section(lines=(f"{what}: {export.events} events.",)),),
        attachment=Attachment(export.filename, export.content_type, path=export.path),
    )


async def _chart(ctx: Context, args: dict[str, Any]) -> Reply:
    kind = args.get("kind", "board")
    return await chart_reply(ctx.service, kind, args.get("candidate"), args.get("as_of"))


async def _help(ctx: Context, args: dict[str, Any]) -> Reply:
    name = args.get("command", "").lstrip("/").lower()
    if name:
        matches = [c for c in COMMANDS.values() if c.name == name or c.name.startswith(f"{name} ")]
        if not matches:
            find_command([name])  # raises with "did you mean"
        lines = []
        for c in matches:
            lines.append(f"{c.usage}: {c.help}" + (" (editors only)" if c.editor_only else ""))
            lines.extend(f"  {p.name}: {p.help}" for p in c.params)
            if c.example:
                lines.append(f"  e.g. {c.example}")
        return Reply(title=f"/{name}", sections=(Section(lines=tuple(lines)),))
    lines = tuple(
        f"{c.usage}: {c.help}" + (" (editors)" if c.editor_only else "") for c in COMMANDS.values()
    )
    return Reply(
        title="tallybot commands",
        sections=(Section(lines=lines),),
        footer="/help <command> for details. Options are written key:value, e.g. on:2024-04-02.",
    )


HANDLERS: dict[str, Handler] = {
    "endorse": _endorse,
    "oppose": _oppose,
    "undecided": _undecided,
    "tally": _tally,
    "holdouts": _holdouts,
    "history": _history,
    "countdown": _countdown,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "digest": _digest,
    "undo": _undo,
    "candidates": _candidates,
    "candidate add": _candidate_add,
    "candidate withdraw": _candidate_withdraw,
    "export": _export,
    "chart": _chart,
    "help": _help,
}
