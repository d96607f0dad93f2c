"""The core never imports a platform library; adapters only translate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
PLATFORM_LIBRARIES = ("discord", "slack_bolt", "slack_sdk")


def test_core_modules_do_not_import_platform_libraries():
    core = [p for p in BOT.rglob("*.py") if "adapters" not in p.parts]
    modules = [".".join(p.relative_to(BOT.parent).with_suffix("").parts) for p in core]
    modules = [m.removesuffix(".__init__") for m in modules if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {PLATFORM_LIBRARIES!r}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_no_core_file_imports_a_platform_library_even_inside_a_function():
    import ast

    offenders = []
    for path in BOT.rglob("*.py"):
        if "adapters" in path.parts:
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
