"""The service is the only door to the store: no other module of bot/ reaches it."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
# the service, and the desk's use cases that span races (a channel's race); besides bot/store/
DOOR = {
    "service.py",
    "service_digest.py",
    "service_rounds.py",
    "service_alerts.py",
    "service_proposals.py",
    "desk.py",
}
# The composition root opens the store and hands it to the service; the CLI says in one line
# why it could not (StorageError).
OPENS_IT = {"app.py", "__main__.py"}


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(BOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(BOT.rglob("*.py"))
        if path.relative_to(BOT).parts[0] != "store"
    }


def _imports_store(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
        names += [f"{node.module}.{a.name}" for a in node.names] if node.module == "bot" else []
    elif isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        return False
    return any(n == "bot.store" or n.startswith("bot.store.") for n in names)


def test_only_the_service_and_the_composition_root_import_the_store():
    importers = {
        name
        for name, tree in _modules().items()
        if any(_imports_store(node) for node in ast.walk(tree))
    }
    assert importers <= DOOR | OPENS_IT, sorted(importers - DOOR - OPENS_IT)
    assert "service.py" in importers  # the check would see an import if there were one


def test_no_module_but_the_service_reaches_through_to_the_store():
    reaching = {
        f"{name}:{node.lineno}"
        for name, tree in _modules().items()
        if name not in DOOR
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "store"
    }
    assert not reaching, sorted(reaching)


def test_the_check_sees_a_reach_through():
    tree = ast.parse("async def f(service):\n    return await service.store.changes('r')\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "store" for n in ast.walk(tree))
    assert _imports_store(ast.parse("from bot.store.store import Store").body[0])
    assert _imports_store(ast.parse("from bot import store").body[0])
