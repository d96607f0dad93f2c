"""The console's files: /chart and /export print where the file went and, at a terminal,
offer to open it; piped input never is asked."""

from __future__ import annotations

import io
from pathlib import Path

from bot.adapters.console import Console
from bot.service import Service


class Terminal:
    """A person at the console: types `lines` in turn at each prompt, then Ctrl-D."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []

    async def prompt(self, text: str) -> str:
        self.prompts.append(text)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


async def test_at_a_terminal_a_chart_is_saved_and_opened_when_asked(
    service: Service, tmp_path: Path
) -> None:
    opened: list[Path] = []
    out = io.StringIO()
    console = Console(service, tmp_path, stdout=out, opener=opened.append)
    terminal = Terminal("/chart", "y", "/export csv", "", "/countdown")
    await console.converse(terminal.prompt)

    saved = sorted(tmp_path.iterdir())
    chart = next(p for p in saved if p.suffix == ".png")
    export = next(p for p in saved if p.suffix == ".csv")
    assert f"Saved to {chart.resolve()}" in out.getvalue()
    assert f"Saved to {export.resolve()}" in out.getvalue()
    assert terminal.prompts == [
        "tally> ",
        f"Open {chart.name}? [y/N] ",
        "tally> ",
        f"Open {export.name}? [y/N] ",  # Enter: no
        "tally> ",
        "tally> ",  # /countdown has no file to offer
    ]
    assert opened == [chart.resolve()]


async def test_piped_input_is_never_asked_to_open_a_file(service: Service, tmp_path: Path) -> None:
    opened: list[Path] = []
    out = io.StringIO()
    stdin = io.StringIO("/chart\n/export json\n/countdown\n")
    await Console(service, tmp_path, stdin=stdin, stdout=out, opener=opened.append).run()
    assert out.getvalue().count("Saved to ") == 2
    assert "Open " not in out.getvalue() and opened == []
    assert "97 days until the Washington summit" in out.getvalue()  # the line after was read
