"""Discord: every command in COMMANDS as a slash command, answered with embeds.

The command tree is built from COMMANDS alone, so a command added there appears here with no
edit. The one Discord-specific rule is who counts as an editor (`DiscordPlatform.actor`).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord.settings import DiscordConfig
from bot.commands.run import answer_within, guarded, run_named
from bot.commands.spec import COMMANDS, Command, Context, Kind, Param, Style, top_level
from bot.desk import Desk
from bot.domain import Actor, TallyError
from bot.platform import CredentialsError, Posted, PostRejected
from bot.render import DISCORD_MESSAGE, answerable, cut, discord_escape, discord_messages
from bot.replies import Reply, Section
from bot.roster import Index
from bot.service import Service
from bot.service_proposals import (
    NeedsConfirm,
    Proposal,
    Reviewer,
    ReviewMessage,
    decide_click,
    decision,
    open_proposal,
    stale_click,
    sweep_reviews,
)
from bot.text import MAX_NOTE

log = logging.getLogger(__name__)

DEFER_AFTER = 1.0  # seconds; Discord drops an interaction not answered within 3, network included
POSTED = "Answered in the channel."  # the private placeholder's last words, just before it goes
DESCRIPTION = 100  # Discord's limit for command and option descriptions
CHOICE_TEXT = 100  # ... and for an autocomplete choice's name and value
MAX_CHOICES = 25
ALT_TEXT = 1_024  # characters of an attachment's description (its alt text)
NO_MENTIONS = discord.AllowedMentions.none()

Run = Callable[[discord.Interaction, str, dict[str, Any]], Awaitable[None]]
# A review button's custom_id: what it does, the proposal, and (to confirm) the review message.
REVIEW_ID = r"proposal:(?P<verb>approve|reject|confirm):(?P<number>\d+)(?::(?P<message>\d+))?"
Review = Callable[[discord.Interaction, str, int, int | None], Awaitable[None]]
_BUTTONS = {
    "approve": ("Approve", discord.ButtonStyle.success),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "confirm": ("Approve anyway", discord.ButtonStyle.danger),
}
REASON_WAIT = 900.0  # seconds a Reject's "why?" form waits to be sent; a later one is ignored


def review_button(review: Review) -> type[discord.ui.DynamicItem[discord.ui.Button]]:
    """The review buttons, found by their custom_id whatever message they are on: added to the
    client once, they keep working on messages posted before a restart."""

    class ReviewButton(discord.ui.DynamicItem[discord.ui.Button], template=REVIEW_ID):
        def __init__(self, verb: str, number: int, message: int | None = None) -> None:
            label, style = _BUTTONS[verb]
            custom_id = f"proposal:{verb}:{number}" + (f":{message}" if message else "")
            super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
            self.verb, self.number, self.message = verb, number, message

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
        ) -> ReviewButton:
            message = int(match["message"]) if match["message"] else None
            return cls(match["verb"], int(match["number"]), message)

        async def callback(self, interaction: discord.Interaction) -> None:
            await review(interaction, self.verb, self.number, self.message)

    return ReviewButton


def build_tree(client: discord.Client, desk: Desk, run: Run) -> app_commands.CommandTree:
    """One slash command per top-level name; "candidate add" becomes /candidate add."""
    tree = app_commands.CommandTree(client)
    for word, commands in top_level().items():
        if [c.name for c in commands] == [word]:
            tree.add_command(_slash(commands[0], word, desk, run))
            continue
        leaves = [c.name.removeprefix(f"{word} ") for c in commands]
        description = cut(f"{word.capitalize()}: {', '.join(leaves)}", DESCRIPTION)
        group = app_commands.Group(name=word, description=description)
        for command, leaf in zip(commands, leaves, strict=True):
            group.add_command(_slash(command, leaf, desk, run))
        tree.add_command(group)
    return tree


def _slash(command: Command, name: str, desk: Desk, run: Run) -> app_commands.Command:
    """A command whose callback takes the Params as typed keyword options.

    discord.py reads options from the callback's signature, so the signature is built from the
    Params; descriptions, choices and autocomplete go through its public decorators.
    """

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await run(interaction, command.name, options)

    options = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,  # keyword-only: required and optional in any order
            annotation=_option_type(p),
            default=inspect.Parameter.empty if p.required else None,
        )
        for p in command.params
    ]
    interaction = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
    )
    callback.__signature__ = inspect.Signature([interaction, *options])  # type: ignore[attr-defined]
    app_commands.describe(**{p.name: cut(p.help, DESCRIPTION) for p in command.params})(callback)
    app_commands.choices(
        **{
            p.name: [app_commands.Choice(name=c, value=c) for c in p.choices]
            for p in command.params
            if p.choices
        }
    )(callback)

    async def race_of(interaction: discord.Interaction) -> Service:
        """The race the command being typed is about, as far as it is typed."""
        named = getattr(interaction.namespace, "race", None)
        try:
            return await desk.service_for("discord", str(interaction.channel_id or ""), named)
        except TallyError:  # a race: still being typed
            return desk.default

    async def members(interaction: discord.Interaction) -> Index:
        return (await race_of(interaction)).roster.members

    async def candidates(interaction: discord.Interaction) -> Index:
        return (await race_of(interaction)).roster.candidates  # rebuilt when they change

    async def races(interaction: discord.Interaction) -> Index:
        return desk.names

    indexes = {Kind.MEMBER: members, Kind.CANDIDATE: candidates, Kind.RACE: races}
    app_commands.autocomplete(
        **{p.name: _completer(indexes[p.kind]) for p in command.params if p.kind in indexes}
    )(callback)
    return app_commands.Command(
        name=name, description=cut(command.help, DESCRIPTION), callback=callback
    )


def _option_type(param: Param) -> Any:
    """A number or text (dates, URLs, names), within the Param's limits: Discord's client
    refuses a value outside them before sending the command."""
    if param.kind is Kind.INT:
        return app_commands.Range[int, param.minimum, param.maximum]
    if param.max_length is not None:
        return app_commands.Range[str, None, param.max_length]
    return str


def _completer(
    index: Callable[[discord.Interaction], Awaitable[Index]],
) -> Callable[..., Awaitable[list[Any]]]:
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        found = await index(interaction)
        return [
            app_commands.Choice(name=cut(name, CHOICE_TEXT), value=name[:CHOICE_TEXT])
            for name in found.suggest(current, limit=MAX_CHOICES)
        ]

    return complete


def message_kwargs(reply: Reply) -> list[dict[str, Any]]:
    """`send()` arguments per message: embeds within Discord's limits, any file on the last,
    and the reply's summary as the first one's text, which push notifications show."""
    messages: list[dict[str, Any]] = [
        {"embeds": [discord.Embed.from_dict(e) for e in embeds], "allowed_mentions": NO_MENTIONS}
        for embeds in discord_messages(reply)
    ]
    if reply.summary:
        messages[0]["content"] = cut(discord_escape(reply.summary), DISCORD_MESSAGE)
    if reply.attachment is not None:
        file = reply.attachment
        source = file.path if file.path is not None else io.BytesIO(file.data)
        messages[-1]["file"] = discord.File(source, filename=file.filename)
        file.discard()  # discord.File holds the file open until sent: nothing stays on disk
    return messages


TOKEN_REJECTED = (
    "Discord rejected DISCORD_TOKEN; copy the bot token again from the developer portal "
    "(Bot > Reset Token) into the environment."
)


def new_client(guild_ready_timeout: float = 2.0) -> discord.Client:
    """A client as tallybot needs one. `guild_ready_timeout`: seconds it waits after the last
    server's data before it is ready."""
    # tallybot never joins voice: discord.py's warnings about voice libraries are noise.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    # Slash commands need no privileged intent; the guilds intent gives role names.
    return discord.Client(
        intents=discord.Intents.default(),
        allowed_mentions=NO_MENTIONS,
        guild_ready_timeout=guild_ready_timeout,
    )


async def log_in(client: discord.Client, token: str) -> None:
    """Log the client in (GET /users/@me, then the application), which is also how a rejected
    token is found: CredentialsError, the client closed."""
    try:
        await client.login(token)  # client.start() is login() then connect()
    except BaseException as exc:
        await client.close()
        if isinstance(exc, discord.LoginFailure):
            raise CredentialsError(TOKEN_REJECTED) from None
        raise


async def logged_in_client(token: str) -> discord.Client:
    """Before anything local is opened: a client logged in with the token, for the platform
    built afterwards (`DiscordPlatform(client=...)`), so the token is checked only once."""
    client = new_client()
    await log_in(client, token)
    return client


class DiscordPlatform:
    """Serves the command tree; `post` sends a reply to a channel (the digest uses it)."""

    name = "discord"

    def __init__(
        self,
        followed: Desk | Service,
        config: DiscordConfig,
        token: str,
        sync_global: bool = False,
        *,
        client: discord.Client | None = None,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        """`client`: one logged in with `token` already (the CLI logs in to check the token
        before it opens anything); by default `start()` logs in a new one, made with
        `guild_ready_timeout` (see `new_client`)."""
        self.desk = Desk.of(followed)
        self.config = config
        self.sync_global = sync_global
        self._token = token
        # The servers served, each with its editor role ids; names are added once resolved.
        self._editor_roles = {guild: config.editor_role_ids for guild in config.guilds}
        self.client = client or new_client(guild_ready_timeout)
        self._logged_in = client is not None
        self.tree = build_tree(self.client, self.desk, self._run)
        self._connection: asyncio.Task[None] | None = None
        self._sweep: asyncio.Task[None] | None = None
        self._button = review_button(self._review)
        self.client.add_dynamic_items(self._button)
        if config.review_channel is not None:
            reviewer = Reviewer(
                config.proposals_per_reader,
                self._show_proposal,
                self._tell_proposer,
                self._settle,
            )
            for race in self.desk.services.values():
                race.review_on("discord", reviewer)

    async def start(self) -> None:
        if not self._logged_in:
            await log_in(self.client, self._token)
        await self._sync()  # before the gateway: commands are there once the bot is ready
        self._connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        await asyncio.wait({ready, self._connection}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self.client.close()
            self._connection.result()  # re-raises why the gateway closed
            raise RuntimeError("The Discord gateway closed before the bot was ready.")
        self._connection.add_done_callback(_log_lost)
        self.resolve_role_names()
        if self.config.review_channel is not None:  # decisions another process made
            self._sweep = asyncio.create_task(sweep_reviews(self.desk.default, self.name))

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            await asyncio.gather(self._sweep, return_exceptions=True)
        await self.client.close()
        if self._connection is not None:
            await asyncio.wait({self._connection}, timeout=5)

    # Error codes no retry can fix, and what whoever runs the bot should do about each.
    _REFUSALS = {
        10003: "the channel was deleted: /unsubscribe or remove it from [[digest.channels]]",
        50001: "the bot cannot see the channel: give its role View Channel there, or invite "
        "it to the server",
        50013: "give the bot's role Send Messages, Embed Links and Attach Files in the channel",
    }

    async def post(
        self, channel: str, reply: Reply, skip: int = 0, posted: Posted | None = None
    ) -> None:
        """The reply's messages after the first `skip`; an image attached is shown in the last
        embed (`attachment://`), its alt text as the file's description."""
        target = self.client.get_partial_messageable(int(channel))
        messages = message_kwargs(reply)
        image = reply.attachment
        if image is not None and image.content_type.startswith("image/"):
            messages[-1]["embeds"][-1].set_image(url=f"attachment://{image.filename}")
            messages[-1]["file"].description = cut(image.alt, ALT_TEXT) or None
        try:
            for n, message in enumerate(messages[skip:], start=skip + 1):
                await target.send(**message)
                if posted is not None:
                    await posted(n)
        except (discord.NotFound, discord.Forbidden) as exc:
            if exc.code in self._REFUSALS:
                raise PostRejected(f"{exc.status} {exc.text}", self._REFUSALS[exc.code]) from None
            raise

    # --- readers' proposals --------------------------------------------------------------------

    def _review_message(self, proposal: Proposal, buttons: bool) -> dict[str, Any]:
        """A proposal as editors review it; while open, with its Approve and Reject buttons."""
        lines = self.desk.services[proposal.race].review_lines(proposal)
        (message,) = message_kwargs(Reply(sections=(Section(lines=lines),)))
        view = discord.ui.View(timeout=None)
        if buttons:
            view.add_item(self._button("approve", proposal.id))
            view.add_item(self._button("reject", proposal.id))
        return message | {"view": view}

    async def _show_proposal(self, proposal: Proposal) -> ReviewMessage:
        assert self.config.review_channel is not None
        channel = self.client.get_partial_messageable(self.config.review_channel)
        sent = await channel.send(**self._review_message(proposal, buttons=True))
        return ReviewMessage(self.name, str(sent.channel.id), str(sent.id))

    async def _settle(self, proposal: Proposal, where: ReviewMessage) -> None:
        """A review message shows how the proposal was decided, in place of its buttons."""
        channel = self.client.get_partial_messageable(int(where.channel))
        message = channel.get_partial_message(int(where.message))
        await message.edit(**self._review_message(proposal, buttons=False))

    async def _tell_proposer(self, proposal: Proposal) -> None:
        """How it was decided, in a direct message to the proposer."""
        what = self.desk.services[proposal.race].describe(proposal)
        dm = await self.client.create_dm(discord.Object(int(proposal.proposer.id)))
        await dm.send(content=cut(discord_escape(decision(proposal, what)), DISCORD_MESSAGE))

    async def _review(
        self, interaction: discord.Interaction, verb: str, number: int, message: int | None
    ) -> None:
        """A review button: decided as the clicking member, checked for editor rights as a
        command is; every review message of the proposal then shows the decision in place of
        its buttons, and the clicker alone is answered. Reject first asks why, in a form. A
        newer recording of the member asks for a second click, on a button of the answer."""
        if (refusal := self.not_served(interaction)) is not None:
            await self._answer(interaction, Reply.refusal(refusal))
            return
        actor = self.actor(interaction)
        review = message or (interaction.message.id if interaction.message else None)
        where = None
        if review is not None and interaction.channel_id is not None:
            # the review message, also when the click was on the clicker's confirmation
            where = ReviewMessage(self.name, str(interaction.channel_id), str(review))
        if verb != "reject":
            await self._decide(interaction, actor, number, verb, where)
            return
        try:  # a reader, or a proposal decided already, is told so without the form
            await open_proposal(self.desk, actor, number)
        except TallyError as exc:
            await self._answer(interaction, Reply.refusal(str(exc)))
            await stale_click(self.desk, number, where)
            return
        await interaction.response.send_modal(_Reason(self, number, where))

    async def _decide(
        self,
        interaction: discord.Interaction,
        actor: Actor,
        number: int,
        verb: str,
        where: ReviewMessage | None,
        reason: str | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        asked: list[NeedsConfirm] = []

        async def decide() -> Reply:
            try:
                service, decided = await decide_click(self.desk, actor, number, verb, where, reason)
            except NeedsConfirm as exc:
                asked.append(exc)
                raise
            return replace(Reply.text(decision(decided, service.describe(decided))), private=True)

        reply = await guarded(f"Discord: review #{number}", decide())
        if asked:
            confirm = discord.ui.View(timeout=None)
            review = int(where.message) if where is not None else None
            confirm.add_item(self._button("confirm", number, review))
            conflict = cut(discord_escape(asked[0].conflict), DISCORD_MESSAGE)
            await interaction.edit_original_response(content=conflict, view=confirm)
            return
        await self._answer(interaction, reply, deferred=True)

    async def _rejected_with(
        self,
        interaction: discord.Interaction,
        number: int,
        where: ReviewMessage | None,
        reason: str | None,
    ) -> None:
        """The Reject form sent: rejected as whoever sent it, checked for editor rights again."""
        if (refusal := self.not_served(interaction)) is not None:
            await self._answer(interaction, Reply.refusal(refusal))
            return
        await self._decide(interaction, self.actor(interaction), number, "reject", where, reason)

    def actor(self, interaction: discord.Interaction) -> Actor:
        """An editor has Manage Server, or an editor role (by id), in a configured server."""
        user = interaction.user
        editor_roles = self._editor_roles.get(interaction.guild_id or 0)
        is_editor = (
            editor_roles is not None
            and isinstance(user, discord.Member)
            and (
                interaction.permissions.manage_guild
                or any(role.id in editor_roles for role in user.roles)
            )
        )
        return Actor("discord", str(user.id), user.display_name, is_editor)

    def not_served(self, interaction: discord.Interaction) -> str | None:
        """Why this interaction gets no answer but a refusal: it comes from a direct message or
        from a server missing from the config (after a global sync, any server may send one)."""
        if interaction.guild_id is None:
            # No server vouches for a DM's sender, and a global sync lets anyone send one.
            return (
                "tallybot answers only in the servers it is set up for, not in direct messages: "
                "use the command there."
            )
        if interaction.guild_id not in self._editor_roles:
            return (
                "This server is not set up for tallybot: whoever runs the bot can add its id "
                f"({interaction.guild_id}) to [discord] guilds in the config."
            )
        return None

    def resolve_role_names(self) -> None:
        """Turn each role name in the config into the one role of that name in each configured
        server, once, from the roles the server has now: a role made later under the same name
        (anyone with Manage Roles can make one) grants nothing. Called once the gateway is ready."""
        names, ids = self.config.editor_role_names, self.config.editor_role_ids
        guilds = [g for g in map(self.client.get_guild, self.config.guilds) if g is not None]
        for guild_id in set(self.config.guilds) - {g.id for g in guilds}:
            log.warning(
                "Discord: the bot is not in server %s listed in [discord] guilds; invite it "
                "there (bot and applications.commands scopes): until then nobody there is an "
                "editor by role.",
                guild_id,
            )
        for guild in guilds:
            found = set(ids)
            for name in names:
                roles = [r for r in guild.roles if r.name.casefold() == name.casefold()]
                if len(roles) == 1:  # the config refuses "@everyone"
                    found.add(roles[0].id)
                    continue
                log.warning(
                    "Discord: %s role named %r in server %r (%s), so the name grants nothing "
                    "there; put the role's id in [discord] editor_roles.",
                    "more than one" if roles else "no",
                    name,
                    guild.name,
                    guild.id,
                )
            self._editor_roles[guild.id] = frozenset(found)
        for role_id in sorted(r for r in ids if not any(g.get_role(r) for g in guilds)):
            log.warning(
                "Discord: role id %s in [discord] editor_roles is in none of the configured "
                "servers.",
                role_id,
            )

    async def _sync(self) -> None:
        """Guild commands update at once; global ones take up to an hour and are rate limited.

        With --sync-global the guilds' own copies are cleared, or they would show each
        command twice.
        """
        for guild_id in self.config.guilds:
            guild = discord.Object(guild_id)
            if self.sync_global:
                self.tree.clear_commands(guild=guild)
            else:
                self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.Forbidden:
                log.error(
                    "Cannot register commands in guild %s: invite the bot there with the "
                    "applications.commands scope.",
                    guild_id,
                )
        if self.sync_global:
            await self.tree.sync()
        if not self.config.guilds:
            log.warning(
                "No [discord] guilds configured: tallybot serves no server and refuses every "
                "command; list your server ids in [discord] guilds."
            )

    async def _run(
        self, interaction: discord.Interaction, name: str, options: dict[str, Any]
    ) -> None:
        if (refusal := self.not_served(interaction)) is not None:
            where = interaction.guild_id or "a direct message"
            log.info("Discord: refused /%s from %s (not in [discord] guilds)", name, where)
            await self._answer(interaction, Reply.refusal(refusal))
            return
        actor, channel = self.actor(interaction), str(interaction.channel_id)
        ctx = Context(self.desk, actor, channel, Style.FIELDS)

        async def defer() -> None:
            # Private, so a refusal stays private and no public "thinking…" vanishes in front
            # of everyone; `_answer` posts a public answer as follow-ups of its own.
            await interaction.response.defer(ephemeral=True, thinking=True)

        work = run_named(ctx, name, options)
        if COMMANDS[name].editor_only:  # a recording writes, and may wait on the database
            await defer()
            await self._answer(interaction, await work, deferred=True)
            return
        answer = await answer_within(DEFER_AFTER, f"/{name}", work, defer)
        await self._answer(interaction, answer.reply, answer.deferred)

    async def _answer(
        self, interaction: discord.Interaction, reply: Reply, deferred: bool = False
    ) -> None:
        """The first message as the response, the rest as follow-ups. After the (private)
        deferral, a private answer takes the placeholder's place; a public one is posted as
        follow-ups and the placeholder deleted."""
        reply = answerable(reply, interaction.filesize_limit, "Discord")
        messages = message_kwargs(reply)
        files = [m["file"] for m in messages if "file" in m]
        private = reply.caller_only
        try:
            if not deferred:
                await interaction.response.send_message(**messages.pop(0), ephemeral=private)
            elif private:
                await interaction.edit_original_response(**_edit(messages.pop(0)))
            else:
                # A first follow-up would take the placeholder's place, private with it: settle
                # the placeholder first, so the answer's messages are public ones of their own.
                await interaction.edit_original_response(content=POSTED)
            for message in messages:
                await interaction.followup.send(**message, ephemeral=private)
            if deferred and not private:
                await interaction.delete_original_response()
        finally:
            for file in files:  # an initial response leaves its file open, sent or not
                file.close()


class _Reason(discord.ui.Modal):
    """Reject's form: why, optionally, in at most MAX_NOTE characters (Discord's client keeps
    to it), told to the proposer and kept with the proposal."""

    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Why? The proposer is told (optional)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=MAX_NOTE,
    )

    def __init__(self, platform: DiscordPlatform, number: int, where: ReviewMessage | None):
        super().__init__(title=f"Reject proposal #{number}", timeout=REASON_WAIT)
        self.platform, self.number, self.where = platform, number, where

    async def on_submit(self, interaction: discord.Interaction) -> None:
        reason = self.reason.value.strip() or None
        await self.platform._rejected_with(interaction, self.number, self.where, reason)


def _edit(message: dict[str, Any]) -> dict[str, Any]:
    """`send()` arguments as `edit_original_response()` takes them: a file as an attachment."""
    edit = {k: v for k, v in message.items() if k != "file"}
    if "file" in message:
        edit["attachments"] = [message["file"]]
    return edit


def _log_lost(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Lost the Discord gateway for good: %s", task.exception())
