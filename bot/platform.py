"""What the composition root and the scheduler need from a chat platform adapter."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.render import cut
from bot.replies import Reply

if TYPE_CHECKING:
    from bot.desk import Desk


class CredentialsError(Exception):
    """A secret is missing or rejected; the message names it and says what to do."""


class PostRejected(Exception):
    """The platform refused a post for a reason that retrying cannot fix (the bot is not in
    the channel, the channel was deleted): `reason` is the platform's word for it and
    `what_to_do` tells whoever reads the log how to fix it."""

    def __init__(self, reason: str, what_to_do: str) -> None:
        super().__init__(f"{reason}: {what_to_do}")
        self.reason = reason
        self.what_to_do = what_to_do


Posted = Callable[[int], Awaitable[None]]


class Platform(Protocol):
    name: str  # its registry entry's name

    async def start(self) -> None:
        """Connect and begin serving in background tasks; return once ready.

        Raises CredentialsError, with one clear line, when a token is missing or rejected.
        """

    async def post(
        self, channel: str, reply: Reply, skip: int = 0, posted: Posted | None = None
    ) -> None:
        """Post a reply to a channel as one post, its attachment with it (an image shown in
        it, described by the attachment's `alt`); raise on failure so callers retry, or
        PostRejected when the platform says the channel cannot take posts for good.

        A reply long enough for several messages leaves out its first `skip` (an earlier
        attempt's), and awaits `posted(n)` once the platform has accepted its first n, so a
        retry resumes where the post stopped."""

    async def close(self) -> None: ...


async def _keep_nothing(answer: Any) -> None:
    """An answer that holds no connection needs no letting go."""


@dataclass(frozen=True)
class PlatformMaker:
    """How the composition root gets a platform: `check` asks the platform about the
    credentials before anything local is opened (or raises CredentialsError), and `build`
    gets its answer, so nothing is asked twice; `discard` lets go of an answer that nothing
    was built on (the start stopped in between)."""

    check: Callable[[], Awaitable[Any]]
    build: Callable[[Desk, Any], Platform]
    discard: Callable[[Any], Awaitable[None]] = _keep_nothing


def secret(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A secret from the environment; empty counts as unset."""
    return environ.get(name) or None


MAX_ERROR = 300  # characters of a failed post's error kept (in its row) and logged


def post_error(exc: BaseException) -> str:
    """A failed post's error in one bounded line: the log and the row get it, and an API
    error spans lines."""
    return cut(" ".join(f"{type(exc).__name__}: {exc}".split()), MAX_ERROR)
