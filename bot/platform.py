"""What the composition root and the scheduler need from a chat platform adapter."""

from __future__ import annotations

from typing import Protocol

from bot.replies import Reply


class CredentialsError(Exception):
    """A secret is missing or rejected; the message names it and says what to do."""


class Platform(Protocol):
    name: str  # "discord" or "slack"

    async def start(self) -> None:
        """Connect and begin serving in background tasks; return once ready.

        Raises CredentialsError, with one clear line, when a token is missing or rejected.
        """

    async def post(self, channel: str, reply: Reply) -> None:
        """Post a reply (and its attachment) to a channel; raise on failure so callers retry."""

    async def close(self) -> None: ...
