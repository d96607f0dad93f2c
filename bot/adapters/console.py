"""The console: the same commands as Slack, typed in a terminal or piped in from a script.

A file (a chart, an export) is saved and its path printed; at a terminal the console offers to
open it the desktop's way (open on macOS, xdg-open elsewhere), never when input is piped.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.desk import Desk
from bot.domain import Actor
from bot.render import to_text
from bot.replies import Reply
from bot.service import Service
from bot.service_proposals import Reviewer
from bot.text import safe_filename

CONSOLE_ACTOR = Actor("console", "console", "console user", is_editor=True)
QUIT = {"exit", "quit", "/exit", "/quit"}
YES = {"y", "yes"}

Opener = Callable[[Path], None]
Prompt = Callable[[str], Awaitable[str]]


def desktop_opener() -> Opener | None:
    """How this desktop opens a file (open on macOS, xdg-open elsewhere); None without one."""
    command = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if command is None:
        return None

    def open_file(path: Path) -> None:
        subprocess.Popen(  # the viewer outlives nothing of ours: no wait, no output here
            [command, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    return open_file


class Console:
    def __init__(
        self,
        followed: Desk | Service,
        files_dir: Path,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        actor: Actor = CONSOLE_ACTOR,
        opener: Opener | None = None,
    ) -> None:
        """`opener`: how a saved file is opened at a terminal (default: `desktop_opener`)."""
        self.context = Context(Desk.of(followed), actor)
        for service in self.context.desk.services.values():
            service.review_on("console", Reviewer())  # /proposals, /approve and /reject
        self.files_dir = files_dir
        self.stdin = stdin
        self.stdout = stdout
        self.opener = opener or desktop_opener()

    async def use(self, service: Service) -> None:
        """Make `service`'s race the console's, as /race use does."""
        await self.context.desk.use(self.context.actor, "console", "", service)

    async def handle(self, line: str) -> str:
        """One typed line to the text printed back."""
        text, _ = await self.answer(line)
        return text

    async def answer(self, line: str) -> tuple[str, Path | None]:
        """The text printed back, and where a file that came with the reply was saved."""
        reply = await run_line(self.context, line)
        text = to_text(reply)
        if reply.attachment is None:
            return text, None
        path = self.save(reply)
        return f"{text}\nSaved to {path}", path

    def save(self, reply: Reply) -> Path:
        """Files the console cannot show (exports, charts) go to a folder; the path is printed."""
        assert reply.attachment is not None
        attachment = reply.attachment
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / safe_filename(attachment.filename)  # never another folder
        if attachment.path is not None:
            shutil.move(attachment.path, path)  # an export: moved, never read into memory
        else:
            path.write_bytes(attachment.data)
        return path.resolve()

    async def run(self) -> None:
        if self.stdin.isatty() and self.stdout.isatty():
            await self._interactive()
        else:
            await self._piped()

    async def _piped(self) -> None:
        """One command a line, each reply printed; an error does not stop the rest."""
        while line := await asyncio.to_thread(self.stdin.readline):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            print(await self.handle(line), file=self.stdout, flush=True)

    async def _interactive(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        self.files_dir.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(
            history=FileHistory(str(self.files_dir / ".console_history"))
        )
        desk = self.context.desk
        race = (await desk.service_for("console", "", None)).race
        others = f" (and {len(desk.services) - 1} more: /races)" if desk.several else ""
        print(f"tallybot: {race.title}{others}. /help lists the commands; Ctrl-D quits.")
        await self.converse(session.prompt_async)

    async def converse(self, prompt: Prompt) -> None:
        """At a terminal: each line typed at `prompt` answered, and a saved file offered to
        open, until Ctrl-D or exit."""
        while True:
            try:
                line = (await prompt("tally> ")).strip()
                if line in QUIT:
                    return
                if not line:
                    continue
                text, path = await self.answer(line)
                print(text, file=self.stdout, flush=True)
                if path is not None and self.opener is not None:
                    if (await prompt(f"Open {path.name}? [y/N] ")).strip().lower() in YES:
                        self.opener(path)
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
