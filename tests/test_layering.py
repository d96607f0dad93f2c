"""The core never imports a platform library; adapters only translate.

A platform's library is imported only by its folder's `adapter.py`: the registry, each
platform's settings and the Slack manifest are read by the core (config, app, CLI) and import
none, so `tallybot console` or `tallybot slack-manifest` loads no platform library.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
PLATFORM_LIBRARIES = ("discord", "slack_bolt", "slack_sdk")


def _may_import_a_platform_library(path: Path) -> bool:
    return "adapters" in path.parts and path.name == "adapter.py"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(BOT.parent).with_suffix("").parts).removesuffix(".__init__")


def test_core_modules_do_not_import_platform_libraries():
    modules = [_module(p) for p in BOT.rglob("*.py") if not _may_import_a_platform_library(p)]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {PLATFORM_LIBRARIES!r}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "bot.adapters.registry" in modules and "bot.__main__" in modules
    assert run.stdout.strip() == "[]"


def test_no_core_file_imports_a_platform_library_even_inside_a_function():
    offenders = []
    for path in BOT.rglob("*.py"):
        if _may_import_a_platform_library(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in PLATFORM_LIBRARIES
            ]
    assert offenders == []
