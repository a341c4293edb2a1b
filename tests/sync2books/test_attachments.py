"""Receipts: upload, sha256, re-upload, size and type limits."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from sync2books.errors import NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationFailedError
from sync2books.models import MAX_ATTACHMENT_BYTES, Connection, Expense, IntegrationKey
from tests.support.expenses import ledger_refs, make_expense, wait_for_batch
from tests.support.sandbox import TEST_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


@pytest.fixture
async def expense_on(client: SandboxClient) -> tuple[Connection, Expense]:
    company = await client.create_company("Receipts Ltd")
    connection = await connect(client, company, IntegrationKey.SAGE)
    expense = make_expense(await ledger_refs(client, connection))
    await client.create_expenses(connection.id, [expense])
    return connection, expense


async def test_a_receipt_is_stored_with_its_sha256_and_listed(
    client: SandboxClient, expense_on: tuple[Connection, Expense]
) -> None:
    connection, expense = expense_on
    attachment = await client.upload_attachment(connection.id, expense.id, "lunch.png", PNG, "image/png")
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (attachment.expense_id, attachment.file_name, attachment.content_type, attachment.size) == (
        expense.id,
        "lunch.png",
        "image/png",
        len(PNG),
    )
    pdf = await client.upload_attachment(connection.id, expense.id, "invoice.pdf", PDF, "application/pdf")
    assert await client.list_attachments(connection.id, expense.id) == [attachment, pdf]
    assert (await client.get_expense(connection.id, expense.id)).attachments == [attachment, pdf]


async def test_the_same_bytes_again_answer_the_existing_attachment(
    sandbox: SandboxServer, client: SandboxClient, expense_on: tuple[Connection, Expense]
) -> None:
    connection, expense = expense_on
    path = f"/expenses/{connection.id}/{expense.id}/attachments"
    async with httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as raw:
        first = await raw.post(path, files={"file": ("a.png", PNG, "image/png")})
        again = await raw.post(path, files={"file": ("renamed.png", PNG, "image/png")})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(await client.list_attachments(connection.id, expense.id)) == 1


async def test_a_receipt_can_follow_a_synced_expense(
    client: SandboxClient, expense_on: tuple[Connection, Expense]
) -> None:
    connection, expense = expense_on
    record = await client.get_expense(connection.id, expense.id)
    await wait_for_batch(client, record.sync_batch_id)
    for name, content, kind in (("photo.heic", HEIC, "image/heic"), ("scan.webp", WEBP, "image/webp")):
        attachment = await client.upload_attachment(connection.id, expense.id, name, content, kind)
        assert attachment.content_type == kind


async def test_a_file_over_ten_megabytes_is_a_413(
    client: SandboxClient, expense_on: tuple[Connection, Expense]
) -> None:
    connection, expense = expense_on
    exactly = PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG))
    assert (await client.upload_attachment(connection.id, expense.id, "max.png", exactly, "image/png")).size == (
        MAX_ATTACHMENT_BYTES
    )
    with pytest.raises(PayloadTooLargeError) as refused:
        await client.upload_attachment(connection.id, expense.id, "big.png", exactly + b"\x00", "image/png")
    assert (refused.value.status, refused.value.code) == (413, "payload_too_large")
    twelve_mb = PNG + b"\x00" * (12 * 1024 * 1024)
    with pytest.raises(PayloadTooLargeError):
        await client.upload_attachment(connection.id, expense.id, "huge.png", twelve_mb, "image/png")
    assert len(await client.list_attachments(connection.id, expense.id)) == 1


@pytest.mark.parametrize(
    ("name", "content", "kind", "message"),
    [
        ("setup.exe", EXE, "application/x-msdownload", "Files of type application/x-msdownload are not accepted"),
        ("notes.txt", b"hello", "text/plain", "Files of type text/plain are not accepted"),
        ("fake.pdf", EXE, "application/pdf", "The file's content is not application/pdf"),
    ],
)
async def test_a_file_of_the_wrong_type_is_a_415(
    client: SandboxClient, expense_on: tuple[Connection, Expense], name: str, content: bytes, kind: str, message: str
) -> None:
    connection, expense = expense_on
    with pytest.raises(UnsupportedMediaTypeError) as refused:
        await client.upload_attachment(connection.id, expense.id, name, content, kind)
    assert (refused.value.status, refused.value.code) == (415, "unsupported_media_type")
    assert refused.value.message.startswith(message)
    assert await client.list_attachments(connection.id, expense.id) == []


async def test_an_upload_without_a_file_part_or_expense_is_refused(
    sandbox: SandboxServer, client: SandboxClient, expense_on: tuple[Connection, Expense]
) -> None:
    connection, expense = expense_on
    path = f"/expenses/{connection.id}/{expense.id}/attachments"
    async with httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as raw:
        wrong_part = await raw.post(path, files={"receipt": ("a.png", PNG, "image/png")})
        not_multipart = await raw.post(path, content=PNG, headers={"Content-Type": "image/png"})
    assert wrong_part.status_code == 422
    assert wrong_part.json()["error"]["details"] == [
        {"field": "file", "message": "is required: a multipart part named 'file'"}
    ]
    assert not_multipart.status_code == 400
    with pytest.raises(NotFoundError):
        await client.upload_attachment(connection.id, "00000000-0000-4000-8000-000000000000", "a.png", PNG, "image/png")
    with pytest.raises(ValidationFailedError):
        await client.request("POST", path, idempotent=True, files={"other": ("a.png", PNG, "image/png")})
