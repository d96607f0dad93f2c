"""What each command does: call the service, and turn its answer into a reply (replies.*).

A handler takes the command's arguments, already converted by the grammar, and is found by
the command's name in HANDLERS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.charts import chart_reply
from bot.commands.grammar import find_command
from bot.commands.spec import COMMANDS, Context, Style
from bot.digest import DigestBuilder
from bot.domain import Confidence, Position
from bot.replies import (
    Attachment,
    Reply,
    Section,
    candidate_added_reply,
    candidates_reply,
    export_reply,
    history_reply,
    holdouts_reply,
    races_reply,
    recorded_reply,
    round_recorded_reply,
    round_title,
    subscribed_reply,
    tally_reply,
    undone_reply,
    withdrawn_reply,
)
from bot.scheduling import first_digest_day
from bot.service_proposals import decision, find_proposal

Handler = Callable[[Context, dict[str, Any]], Awaitable[Reply]]


async def _record(ctx: Context, args: dict[str, Any], position: Position) -> Reply:
    svc = ctx.service
    what = (
        args["member"],
        position,
        args.get("candidate"),
        args.get("on"),
        args.get("source"),
        args.get("note"),
        _confidence(args),
        args.get("condition"),
    )
    if not ctx.actor.is_editor:  # a reader proposes; an editor will review it
        proposal = await svc.propose(ctx.actor, ctx.channel, *what)
        line = f"Proposed #{proposal.id}; an editor will review it."
        return Reply(sections=(Section(lines=(line,)),), private=True)
    done = await svc.record(ctx.actor, *what)
    names = svc.candidate_names()
    tally = await svc.tally()
    return recorded_reply(done.event, done.previous, svc.race, names, tally, done.standing)


def _confidence(args: dict[str, Any]) -> Confidence | None:
    return Confidence(args["confidence"]) if "confidence" in args else None


async def _endorse(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.SUPPORTS)


async def _oppose(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.OPPOSES)


async def _abstain(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.ABSTAINS)


async def _undecided(ctx: Context, args: dict[str, Any]) -> Reply:
    return await _record(ctx, args, Position.UNDECIDED)


async def _round(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    held = await svc.record_round(
        ctx.actor,
        args["counts"],
        args.get("on"),
        args.get("source"),
        args.get("name"),
        args.get("veto"),
    )
    return round_recorded_reply(held, svc.candidate_names(), svc.race)


async def _races(ctx: Context, args: dict[str, Any]) -> Reply:
    services = ctx.desk.services.values()
    tallies = [await s.tally() for s in services]
    return races_reply([(s.race, t) for s, t in zip(services, tallies, strict=True)], ctx.race)


async def _race_use(ctx: Context, args: dict[str, Any]) -> Reply:
    service = ctx.desk.named(args["race"])
    await ctx.desk.use(ctx.actor, ctx.actor.platform, ctx.channel, service)
    return Reply.text(
        f"This channel's commands are now about {service.race.title} ({service.race.id}),"
        " unless they name another with race:."
    )


async def _tally(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    tally = await svc.tally(args.get("candidate"), args.get("as_of"), args.get("strict") == "yes")
    held = await svc.round_on(tally.as_of)
    return tally_reply(
        tally, await svc.countdown(tally), "as_of" in args, svc.candidate_names(), held
    )


async def _holdouts(ctx: Context, args: dict[str, Any]) -> Reply:
    tally = await ctx.service.confirmed(await ctx.service.tally(args.get("candidate")))
    return holdouts_reply(tally.shown(), ctx.service.race)


async def _history(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    member = args.get("member")
    events = await svc.history(member, args.get("limit", 10))
    entries = [(e, await svc.event(e.reverts) if e.reverts else None) for e in events]
    rounds = [] if member else (await svc.rounds_on(svc.today()))[-args.get("limit", 10) :]
    proposers = await svc.proposers([e.id for e in events])
    return history_reply(
        entries, svc.race, svc.candidate_names(), svc.clock.tz, member, rounds, proposers
    )


async def _countdown(ctx: Context, args: dict[str, Any]) -> Reply:
    return Reply.text(await ctx.service.countdown(moves=True))


async def _subscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    sub = await svc.subscribe(
        ctx.actor, ctx.actor.platform, ctx.channel, args.get("time"), args.get("tz")
    )
    first = await first_digest_day(svc, sub)
    return subscribed_reply(sub.time, sub.timezone, first)


async def _unsubscribe(ctx: Context, args: dict[str, Any]) -> Reply:
    await ctx.service.unsubscribe(ctx.actor, ctx.actor.platform, ctx.channel)
    return Reply.text("Unsubscribed: no more daily digests here. /subscribe starts them again.")


async def _follow(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    if not await svc.follow(ctx.actor, ctx.actor.platform, ctx.channel):
        return Reply.text("This channel follows the race already; /unfollow stops its alerts.")
    return Reply.text(
        f"Following {svc.race.title}: this channel gets an alert within a minute of each "
        "change recorded. /unfollow stops them."
    )


async def _unfollow(ctx: Context, args: dict[str, Any]) -> Reply:
    await ctx.service.unfollow(ctx.actor, ctx.actor.platform, ctx.channel)
    return Reply.text("Unfollowed: no more alerts here. /follow starts them again.")


async def _digest(ctx: Context, args: dict[str, Any]) -> Reply:
    return await DigestBuilder(ctx.service).preview(ctx.service.today())


async def _undo(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    undone = await svc.undo_round(ctx.actor)  # when a round is what they recorded last
    if undone is not None:
        return Reply.text(f"Undid {round_title(undone)}; /tally no longer shows it.")
    done = await svc.undo(ctx.actor)
    return undone_reply(done.reverted, done.undo, done.now, svc.race, svc.candidate_names())


async def _proposals(ctx: Context, args: dict[str, Any]) -> Reply:
    cases, actor = ctx.service, ctx.actor
    if actor.is_editor:
        title = ctx.service.race.title
        waiting = await cases.open_proposals()
        if not waiting:
            return Reply.text(f"No proposals wait for review in {title}.")
        return Reply(
            title=f"Proposals to review: {title}",
            sections=tuple(Section(lines=cases.review_lines(p)) for p in waiting),
            footer="/approve N records one; /reject N note:why turns it down.",
        )
    mine = [p for p in await cases.proposals_of(actor) if p.race in ctx.desk.services]
    lines = tuple(
        decision(p, what) if p.decider else f"Proposal #{p.id} ({what}) waits for an editor."
        for p in mine
        for what in [ctx.desk.services[p.race].describe(p)]
    )
    return Reply(
        title="Your proposals",
        sections=(Section(lines=lines or ("You have proposed nothing yet.",)),),
        private=True,
    )


async def _approve(ctx: Context, args: dict[str, Any]) -> Reply:
    svc, proposal = await find_proposal(ctx.desk, args["number"])
    approving = svc.approve(ctx.actor, proposal, args.get("confirm") == "yes")
    done = (await approving).recorded
    names, tally = svc.candidate_names(), await svc.tally()
    reply = recorded_reply(done.event, done.previous, svc.race, names, tally, done.standing)
    return replace(reply, footer=f"Approved proposal #{proposal.id}, by {proposal.proposer.name}.")


async def _reject(ctx: Context, args: dict[str, Any]) -> Reply:
    svc, proposal = await find_proposal(ctx.desk, args["number"])
    rejected = await svc.reject(ctx.actor, proposal, args.get("note"))
    return Reply.text(decision(rejected))


async def _candidates(ctx: Context, args: dict[str, Any]) -> Reply:
    svc = ctx.service
    return candidates_reply(list(svc.roster.candidate_list), await svc.tally(), svc.race)


async def _candidate_add(ctx: Context, args: dict[str, Any]) -> Reply:
    member = args.get("member")
    added = await ctx.service.add_candidate(ctx.actor, args["name"], member, args.get("on"))
    return candidate_added_reply(added.candidate, member, added.had_withdrawn_on)


async def _candidate_withdraw(ctx: Context, args: dict[str, Any]) -> Reply:
    candidate = await ctx.service.withdraw_candidate(ctx.actor, args["candidate"], args.get("on"))
    return withdrawn_reply(candidate)


async def _export(ctx: Context, args: dict[str, Any]) -> Reply:
    since, until, rounds = args.get("since"), args.get("until"), args.get("of") == "rounds"
    write = ctx.service.export_rounds if rounds else ctx.service.export
    export = await write(args.get("format", "csv"), since, until)
    attachment = Attachment(export.filename, export.content_type, path=export.path)
    return export_reply(export.events, attachment, since, until, rounds)


async def _chart(ctx: Context, args: dict[str, Any]) -> Reply:
    kind = args.get("kind", "board")
    return await chart_reply(ctx.service, kind, args.get("candidate"), args.get("as_of"))


_HOW_TO_TYPE = {
    Style.LINE: "Options are written key:value, e.g. on:2024-04-02.",
    Style.FIELDS: "Pick a command after /, then fill in its fields; the optional ones (in "
    "brackets) are offered as you type.",
}


async def _help(ctx: Context, args: dict[str, Any]) -> Reply:
    """The commands as the caller's platform has them typed (`Context.style`)."""
    style = ctx.style
    name = args.get("command", "").lstrip("/").lower()
    if name:
        matches = [c for c in COMMANDS.values() if c.name == name or c.name.startswith(f"{name} ")]
        if not matches:
            find_command([name])  # raises with "did you mean"
        lines = []
        for c in matches:
            editors = " (editors only)" if c.editor_only else ""
            editors = " (editors; a reader's is a proposal)" if c.proposable else editors
            lines.append(f"{c.usage_in(style)}: {c.help}{editors}")
            lines.extend(f"  {p.name}: {p.help}" for p in c.params)
            if c.example and style is Style.LINE:  # examples are typed lines
                lines.append(f"  e.g. {c.example}")
        return Reply(title=f"/{name}", sections=(Section(lines=tuple(lines)),))
    lines = tuple(
        f"{c.usage_in(style)}: {c.help}"
        + (" (editors; readers propose)" if c.proposable else " (editors)" if c.editor_only else "")
        for c in COMMANDS.values()
    )
    several = " Every command takes race:ID (/races lists them)." if ctx.desk.several else ""
    return Reply(
        title="tallybot commands",
        sections=(Section(lines=lines),),
        footer=f"/help <command> for details. {_HOW_TO_TYPE[style]}{several}",
    )


HANDLERS: dict[str, Handler] = {
    "endorse": _endorse,
    "oppose": _oppose,
    "abstain": _abstain,
    "undecided": _undecided,
    "tally": _tally,
    "holdouts": _holdouts,
    "history": _history,
    "countdown": _countdown,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "follow": _follow,
    "unfollow": _unfollow,
    "digest": _digest,
    "undo": _undo,
    "proposals": _proposals,
    "approve": _approve,
    "reject": _reject,
    "candidates": _candidates,
    "candidate add": _candidate_add,
    "candidate withdraw": _candidate_withdraw,
    "export": _export,
    "chart": _chart,
    "round": _round,
    "races": _races,
    "race use": _race_use,
    "help": _help,
}
