"""ruff and mypy are part of the suite, so CI holds the code to them on every run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_ruff_finds_nothing() -> None:
    lint = run(sys.executable, "-m", "ruff", "check", "--output-format", "concise", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    layout = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert layout.returncode == 0, layout.stdout + layout.stderr


def test_mypy_strict_finds_nothing() -> None:
    check = run(sys.executable, "-m", "mypy")
    assert check.returncode == 0, check.stdout + check.stderr
