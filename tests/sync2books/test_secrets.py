"""The API key never appears in a log line, an exception, a repr, or the sandbox's database."""

from __future__ import annotations

import logging
import traceback

import pytest

from apiclient.retry import RetryPolicy
from sync2books.errors import Sync2BooksError
from sync2books.models import IntegrationKey
from tests.support.expenses import ledger_refs, make_expense
from tests.support.sandbox import TEST_KEY, SandboxServer, connect

LIVE_KEY = "sk_live_51HqLyjWDarjtT1zdp7dcSECRET"


async def test_the_key_stays_out_of_logs_errors_and_storage(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with sandbox.client(retry=RetryPolicy(max_retries=2, backoff_base=0.001)) as client:
        seen.append(repr(client))
        company = await client.create_company("Secretive Ltd")
        connection = await connect(client, company, IntegrationKey.XERO)
        await client.create_expenses(connection.id, [make_expense(await ledger_refs(client, connection))])
        await client.configure_sandbox(error_rate=1.0)
        for call in (client.list_companies(), client.create_company("x"), client.get_company("nope")):
            with pytest.raises(Sync2BooksError) as failed:
                await call
            seen += [str(failed.value), repr(failed.value), "".join(traceback.format_exception(failed.value))]
        await client.configure_sandbox(error_rate=0.0)
    async with sandbox.client(LIVE_KEY) as live:
        with pytest.raises(Sync2BooksError) as refused:
            await live.list_companies()
        seen += [str(refused.value), "".join(traceback.format_exception(refused.value)), repr(live)]

    dump = "\n".join(await sandbox.call(lambda s: _dump(s.store.db)))
    assert "Secretive Ltd" in dump  # the dump really is the database
    for text in [caplog.text, dump, *seen]:
        assert TEST_KEY not in text
        assert LIVE_KEY not in text
        assert TEST_KEY.removeprefix("sk_test_") not in text


async def _dump(db: object) -> list[str]:
    import aiosqlite

    assert isinstance(db, aiosqlite.Connection)
    return [line async for line in db.iterdump()]  # type: ignore[attr-defined]
