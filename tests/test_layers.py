"""The packages depend on each other one way: handlers and the Slack adapters use slack_ui; slack_ui is pure
presentation (no handlers, storage or API clients); services know neither slack_ui nor handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("path", sorted((ROOT / "slack_ui").rglob("*.py")), ids=lambda p: p.name)
def test_slack_ui_imports_no_handlers_storage_or_clients(path: Path) -> None:
    tops = _top(imported(path))
    assert tops.isdisjoint({"handlers", "storage", "slack_sdk", "slack_bolt", "httpx", "codat", "sqlalchemy"})


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "services").rglob("*.py")), ids=lambda p: p.name)
def test_services_import_neither_slack_ui_nor_handlers(path: Path) -> None:
    assert _top(imported(path)).isdisjoint({"slack_ui", "handlers"})


@pytest.mark.parametrize("name", ["slack.py", "slack_http.py", "ports.py"])
def test_the_slack_adapters_use_slack_ui_not_handlers(name: str) -> None:
    assert "handlers" not in _top(imported(ROOT / "bot" / name))
