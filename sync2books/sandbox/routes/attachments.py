"""Receipts and other files attached to an expense."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from sync2books.models import ACCEPTED_ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, ErrorDetail
from sync2books.sandbox.errors import ApiError, JSONResponse
from sync2books.sandbox.routes.dependencies import PartnerDep, StoreDep, connection_or_404
from sync2books.sandbox.sniff import content_matches

router = APIRouter()


@router.post("/expenses/{connection_id}/{expense_id}/attachments")
async def upload_attachment(
    request: Request, partner: PartnerDep, store: StoreDep, connection_id: str, expense_id: str
) -> Response:
    connection = await connection_or_404(store, partner, connection_id)
    if not await store.expense_exists(connection, expense_id):
        raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
    file_name, content_type, content = await _read_upload(request)
    attachment, created = await store.add_attachment(connection, expense_id, file_name, content_type, content)
    return JSONResponse(attachment, status_code=201 if created else 200)


@router.get("/expenses/{connection_id}/{expense_id}/attachments")
async def list_attachments(partner: PartnerDep, store: StoreDep, connection_id: str, expense_id: str) -> Response:
    connection = await connection_or_404(store, partner, connection_id)
    if not await store.expense_exists(connection, expense_id):
        raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
    return JSONResponse({"results": await store.list_attachments(connection, expense_id)})


async def _read_upload(request: Request) -> tuple[str, str, bytes]:
    declared = request.headers.get("content-length")
    # Refuse what is plainly too big before reading it; multipart framing adds a little over the file.
    if declared and declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES + 64 * 1024:
        raise ApiError(413, "payload_too_large", "Attachments may be at most 10 MB")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "bad_request", "Send the file as multipart/form-data with a part named 'file'")
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422,
                "validation_error",
                "The attachment is missing",
                [ErrorDetail(field="file", message="is required: a multipart part named 'file'")],
            )
        content = await upload.read(MAX_ATTACHMENT_BYTES + 1)
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ApiError(413, "payload_too_large", "Attachments may be at most 10 MB")
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_ATTACHMENT_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Files of type {content_type or 'unknown'} are not accepted; send PDF, JPEG, PNG, GIF, HEIC, "
                "TIFF or WebP",
            )
        if not content_matches(content_type, content):
            raise ApiError(
                415, "unsupported_media_type", f"The file's content is not {content_type}, as its type claims"
            )
        return upload.filename or "receipt", content_type, content
    finally:
        await form.close()
