"""A restarted sandbox loses nothing it acknowledged and finishes what it had started."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sync2books.models import BatchStatus, ExpenseStatus, IntegrationKey
from sync2books.sandbox.app import Sandbox
from sync2books.sandbox.processor import judge_expense
from sync2books.sandbox.store import ExpenseOutcome
from tests.support.expenses import ledger_refs, make_expense, wait_for_batch
from tests.support.sandbox import FAST_RETRY, TEST_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient

ROOT = Path(__file__).resolve().parents[2]
RECEIPT = b"%PDF-1.4\n% a receipt\n%%EOF\n"


@contextmanager
def sandbox_process(db_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``sync2books-bot sandbox`` as its own process, as a user would start it; yields (process, url)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--db", str(db_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"ready at (http://\S+)", line)
        assert match, f"no URL in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


async def test_a_killed_sandbox_restarts_with_everything_and_finishes_the_batch(tmp_path: Path) -> None:
    db_path = tmp_path / "sandbox.sqlite3"
    with sandbox_process(db_path) as (process, url):
        async with SandboxClient(url, TEST_KEY, retry=FAST_RETRY) as client:
            company = await client.create_company("Survivor Ltd")
            connection = await connect(client, company, IntegrationKey.QUICKBOOKS)
            refs = await ledger_refs(client, connection)
            await client.configure_sandbox(processing_delay_ms=600_000)
            expenses = [make_expense(refs) for _ in range(50)]
            accepted = await client.create_expenses(connection.id, expenses)
            receipt = await client.upload_attachment(connection.id, expenses[0].id, "r.pdf", RECEIPT, "application/pdf")
            assert (await client.get_sync_batch(accepted.sync_batch_id)).status == BatchStatus.QUEUED
        process.send_signal(signal.SIGKILL)  # no chance to tidy up
        process.wait(timeout=10)

    with sandbox_process(db_path) as (_, url):
        async with SandboxClient(url, TEST_KEY, retry=FAST_RETRY) as client:
            assert (await client.get_company(company.id)).connections == [
                await client.get_connection(company.id, connection.id)
            ]
            batch = await wait_for_batch(client, accepted.sync_batch_id)  # default delay again: it resumes
            assert batch.status == BatchStatus.COMPLETED
            assert [e.id for e in batch.expenses] == [e.id for e in expenses]
            for expense in expenses:
                record = await client.get_expense(connection.id, expense.id)
                assert record.expense == expense
                assert record.status == ExpenseStatus.SYNCED
            assert await client.list_attachments(connection.id, expenses[0].id) == [receipt]
            assert receipt.sha256 == hashlib.sha256(RECEIPT).hexdigest()
            assert len(await client.accounts(connection.id)) >= 20
            # A replay of the original request is still recognised after the restart.
            replay = await client.create_expenses(connection.id, expenses)
            assert replay.sync_batch_id == accepted.sync_batch_id


async def test_a_batch_left_processing_is_finished_by_the_next_start(tmp_path: Path) -> None:
    db_path = tmp_path / "sandbox.sqlite3"
    with SandboxServer(db_path, processing_delay_ms=600_000) as first:
        async with first.client() as client:
            company = await client.create_company("Halfway Ltd")
            connection = await connect(client, company, IntegrationKey.XERO)
            refs = await ledger_refs(client, connection)
            accepted = await client.create_expenses(connection.id, [make_expense(refs) for _ in range(3)])
            await first.call(lambda s: s.store.start_batch(accepted.sync_batch_id))
            assert (await client.get_sync_batch(accepted.sync_batch_id)).status == BatchStatus.PROCESSING

    with SandboxServer(db_path, processing_delay_ms=0) as second:
        async with second.client() as client:
            batch = await wait_for_batch(client, accepted.sync_batch_id)
    assert batch.status == BatchStatus.COMPLETED
    assert batch.counts.synced == 3


async def test_a_crash_while_writing_a_batch_writes_none_of_it(sandbox: SandboxServer, client: SandboxClient) -> None:
    company = await client.create_company("Atomic Ltd")
    connection = await connect(client, company, IntegrationKey.SAGE)
    refs = await ledger_refs(client, connection)
    await client.configure_sandbox(processing_delay_ms=600_000)
    accepted = await client.create_expenses(connection.id, [make_expense(refs) for _ in range(3)])
    judged: list[str] = []

    def crash_on_second(*args: object) -> ExpenseOutcome:
        judged.append("x")
        if len(judged) == 2:
            raise RuntimeError("power cut")
        return judge_expense(*args)  # type: ignore[arg-type]

    async def process(s: Sandbox) -> None:
        await s.store.start_batch(accepted.sync_batch_id)
        await s.store.finish_batch(accepted.sync_batch_id, crash_on_second)

    with pytest.raises(RuntimeError, match="power cut"):
        await sandbox.call(process)
    half = await client.get_sync_batch(accepted.sync_batch_id)
    assert half.status == BatchStatus.PROCESSING
    assert {e.status for e in half.expenses} == {ExpenseStatus.PROCESSING}

    await client.configure_sandbox(processing_delay_ms=0)
    done = await wait_for_batch(client, accepted.sync_batch_id)
    assert done.status == BatchStatus.COMPLETED
    assert len({e.accounting_id for e in done.expenses}) == 3


async def test_the_sandbox_command_says_plainly_when_its_port_is_taken(sandbox: SandboxServer) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "sandbox", "--port", port, "--db", os.devnull + ".x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"sync2books-bot: Cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Traceback" not in result.stderr


async def test_a_malformed_port_setting_is_named_in_one_sentence(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "sandbox", "--db", str(tmp_path / "s.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PORT": "eighty"},
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "sync2books-bot: PORT must be a number from 0 to 65535, not 'eighty'.",
    )
