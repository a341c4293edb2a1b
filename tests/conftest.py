from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """A fresh sandbox on its own database and port, so settings and state never leak between tests."""
    with SandboxServer(tmp_path / "sandbox.sqlite3") as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with sandbox.client() as api:
        yield api
