"""The Slack app manifest, generated from the command list: one paste creates the app.

Plain JSON, so printing it (`tallybot slack-manifest`) imports no Slack library.
"""

from __future__ import annotations

import json
from typing import Any

from bot.commands.spec import Command, top_level
from bot.render import cut

SCOPES = ("commands", "chat:write", "files:write", "usergroups:read", "users:read")
# Slack's app manifest limits
MANIFEST_COMMANDS = 50
MANIFEST_COMMAND = 32  # characters, with the slash
MANIFEST_DESCRIPTION = 2_000
MANIFEST_USAGE_HINT = 1_000


def _slash_command(word: str, commands: list[Command], http_url: str | None) -> dict[str, Any]:
    descriptions, hints = [], []
    for c in commands:
        sub = c.name.removeprefix(word).strip()
        help_ = c.help + (" Editors only." if c.editor_only and not c.proposable else "")
        help_ += " Editors record it; a reader's is a proposal." if c.proposable else ""
        descriptions.append(f"{sub}: {help_}" if sub else help_)
        if hint := c.usage.removeprefix(f"/{word}").strip():
            hints.append(hint)
    entry: dict[str, Any] = {
        "command": f"/{word}",
        "description": cut(" ".join(descriptions), MANIFEST_DESCRIPTION),
        "should_escape": False,  # names and links arrive as typed, not as <@U…> or <#C…>
    }
    if hints:
        entry["usage_hint"] = cut(" | ".join(hints), MANIFEST_USAGE_HINT)
    if http_url:
        entry["url"] = http_url
    return entry


def manifest(http_url: str | None = None) -> dict[str, Any]:
    """The Slack app manifest: Socket Mode, or HTTP with every command sent to `http_url`."""
    groups = top_level()
    too_long = [w for w in groups if len(w) + 1 > MANIFEST_COMMAND]
    if len(groups) > MANIFEST_COMMANDS or too_long:
        raise ValueError(
            f"Slack allows {MANIFEST_COMMANDS} slash commands of up to {MANIFEST_COMMAND} "
            f"characters; COMMANDS has {len(groups)} (too long: {too_long or 'none'})."
        )
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "tallybot",
            "description": "Who publicly backs whom in a consensus race: /tally, /holdouts, "
            "/endorse, with sources and a countdown.",
            "background_color": "#1f4e79",
        },
        "features": {
            "bot_user": {"display_name": "tallybot", "always_online": True},
            "slash_commands": [_slash_command(w, cs, http_url) for w, cs in groups.items()],
        },
        "oauth_config": {"scopes": {"bot": list(SCOPES)}},
        "settings": {
            # the review buttons of readers' proposals
            "interactivity": {
                "is_enabled": True,
                **({"request_url": http_url} if http_url else {}),
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": http_url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(http_url: str | None = None) -> str:
    return json.dumps(manifest(http_url), indent=2, ensure_ascii=False) + "\n"
