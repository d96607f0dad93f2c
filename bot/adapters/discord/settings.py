"""Discord's [discord] section and secret, read without importing discord.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.config_schema import PER_READER, ConfigError, Expect, ListOf, whole
from bot.platform import CredentialsError, PlatformMaker, secret
from bot.service_proposals import MAX_OPEN


@dataclass(frozen=True)
class DiscordConfig:
    guilds: tuple[int, ...] = ()
    editor_roles: tuple[str, ...] = ()  # role ids (digits) or role names
    review_channel: int | None = None  # where readers' proposals are posted for editors
    proposals_per_reader: int = MAX_OPEN  # open proposals a reader may have at once

    def __post_init__(self) -> None:
        # @everyone's role id is the server's own id: listing it would make everyone an editor.
        everyone = [r for r in self.editor_roles if r.casefold() in ("@everyone", "everyone")]
        everyone += [str(i) for i in sorted(self.editor_role_ids & set(self.guilds))]
        if everyone:
            raise ConfigError(
                f"[discord] editor_roles lists {everyone[0]}, the @everyone role of a server "
                "(its id is the server id): everyone would be an editor. List the id of a role "
                "only editors have (Server Settings > Roles > ... > Copy Role ID)."
            )

    @property
    def editor_role_ids(self) -> frozenset[int]:
        return frozenset(int(r) for r in self.editor_roles if _is_id(r))

    @property
    def editor_role_names(self) -> tuple[str, ...]:
        """Names are matched only once resolved to one role id per configured server."""
        return tuple(r for r in self.editor_roles if not _is_id(r))


def _is_id(role: str) -> bool:
    return role.isascii() and role.isdigit()


SNOWFLAKE = Expect("an id (digits, no quotes)", lambda v: whole(v) and v > 0)
KEYS = {
    "guilds": ListOf(
        "a list of server ids (digits, no quotes), like [123456789012345678]", SNOWFLAKE
    ),
    "editor_roles": ListOf(
        'a list of role ids or names, like ["987654321098765432", "Editors"]',
        Expect(
            "a role id or name",
            lambda v: (isinstance(v, str) and v.strip() != "") or SNOWFLAKE.accepts(v),
        ),
    ),
    "review_channel": SNOWFLAKE,
    "proposals_per_reader": PER_READER,
}
SECRETS = ("DISCORD_TOKEN",)


def read_section(table: Mapping[str, Any]) -> DiscordConfig:
    """The checked [discord] table as settings."""
    return DiscordConfig(
        guilds=tuple(table.get("guilds", ())),
        editor_roles=tuple(str(r).strip() for r in table.get("editor_roles", ())),
        review_channel=table.get("review_channel"),
        proposals_per_reader=table.get("proposals_per_reader", MAX_OPEN),
    )


def credentials(
    config: DiscordConfig, environ: Mapping[str, str], required: bool
) -> dict[str, str] | None:
    """The bot token, or None when it is not set and Discord was not asked for by name."""
    if token := secret("DISCORD_TOKEN", environ):
        return {"token": token}
    if required:
        raise CredentialsError(
            "DISCORD_TOKEN is not set; put the bot token from the Discord developer portal "
            "in the environment."
        )
    return None


def make(
    config: DiscordConfig, secrets: dict[str, str], flags: Mapping[str, bool]
) -> PlatformMaker:
    from bot.adapters.discord.adapter import DiscordPlatform, logged_in_client

    async def discard(client: Any) -> None:
        await client.close()

    return PlatformMaker(
        check=partial(logged_in_client, secrets["token"]),
        build=lambda service, client: DiscordPlatform(
            service, config, secrets["token"], flags.get("sync_global", False), client=client
        ),
        discard=discard,
    )
