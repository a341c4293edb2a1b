"""Does a file's content match the type it claims? A renamed .exe is not a receipt."""

from __future__ import annotations

from collections.abc import Callable

_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")

_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/tiff": lambda head: head[:4] in (b"II*\x00", b"MM\x00*"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "image/heic": lambda head: head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS,
}


def content_matches(content_type: str, content: bytes) -> bool:
    check = _SIGNATURES.get(content_type)
    return check is not None and check(content[:32])
