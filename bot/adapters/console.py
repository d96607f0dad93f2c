"""The console: the same commands as Slack, typed in a terminal or piped in from a script."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import TextIO

from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.domain import Actor
from bot.render import to_text
from bot.replies import Reply
from bot.service import Service
from bot.text import safe_filename

CONSOLE_ACTOR = Actor("console", "console", "console user", is_editor=True)
QUIT = {"exit", "quit", "/exit", "/quit"}


class Console:
    def __init__(
        self,
        service: Service,
        files_dir: Path,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        actor: Actor = CONSOLE_ACTOR,
    ) -> None:
        self.context = Context(service, actor)
        self.files_dir = files_dir
        self.stdin = stdin
        self.stdout = stdout

    async def handle(self, line: str) -> str:
        """One typed line to the text printed back."""
        reply = await run_line(self.context, line)
        text = to_text(reply)
        if reply.attachment is not None:
            text += f"\nSaved to {self.save(reply)}"
        return text

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
        race = self.context.service.race
        print(f"tallybot: {race.title}. /help lists the commands; Ctrl-D quits.")
        while True:
            try:
                line = (await session.prompt_async("tally> ")).strip()
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if line in QUIT:
                return
            if line:
                print(await self.handle(line), flush=True)
