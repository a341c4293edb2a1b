"""The layering of the README's Layout is held on every run, and a planted violation breaks the contract it names.

The contracts are import-linter's, in pyproject.toml. The planted violations run on a copy of the code, so the
check reads exactly what a careless change would add.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: a copy in cwd shadows the project's editable install. Wide, so no name is wrapped.
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "400"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_code_keeps_every_layering_contract() -> None:
    check = lint_imports(ROOT)
    assert check.returncode == 0, check.stdout + check.stderr
    kept = check.stdout.count(" KEPT")
    assert kept == len(CONFIG["contracts"]), check.stdout


PLANTED = [
    ("handlers/__init__.py", "import storage.db", "handlers"),
    ("handlers/__init__.py", "import sync2books.client", "handlers"),
    ("bot/services/__init__.py", "import slack_ui", "services"),
    ("bot/services/__init__.py", "import slack_sdk", "services"),
    ("sync2books/sandbox/__init__.py", "import bot.settings", "sandbox"),
    ("storage/__init__.py", "import bot.services", "storage"),
    ("bot/services/__init__.py", "import sqlalchemy", "services"),
    ("slack_ui/__init__.py", "import storage.db", "presentation"),
    # The cycle of old: the Slack adapter loading every handler.
    ("bot/slack.py", "import handlers", "layers"),
    ("storage/__init__.py", "import sync2books.models", "storage"),
    # The message models sit below both that use them: services build them, the presentation draws them.
    ("bot/messages.py", "import slack_ui.messages", "layers"),
    ("bot/messages.py", "import bot.services.work", "layers"),
]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("layering")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


@pytest.mark.parametrize(("module", "line", "contract"), PLANTED, ids=[f"{m}:{line}" for m, line, _ in PLANTED])
def test_a_planted_violation_breaks_its_contract(copy: Path, module: str, line: str, contract: str) -> None:
    planted = copy / module
    before = planted.read_text()
    planted.write_text(before + f"\n{line}  # planted by the test\n")
    try:
        check = lint_imports(copy)
    finally:
        planted.write_text(before)
    assert check.returncode == 1, check.stdout + check.stderr
    name = next(c["name"] for c in CONFIG["contracts"] if c["id"] == contract)
    assert f"{name} BROKEN" in check.stdout, check.stdout
    assert module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") + " -> " in check.stdout
