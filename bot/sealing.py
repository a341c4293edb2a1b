"""Secrets at rest: sealed with Fernet when TOKEN_ENCRYPTION_KEY is set, kept as they are (marked so) when not.

``TOKEN_ENCRYPTION_KEY`` may list several keys, the first encrypting: MultiFernet opens what any of them
sealed, so keys can be rotated without losing what was stored.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

SEALED = "fernet:"
PLAIN = "plain:"


def new_key() -> str:
    """A fresh key for ``TOKEN_ENCRYPTION_KEY`` (what ``sync2books-bot keygen`` prints)."""
    return Fernet.generate_key().decode()


class SealError(Exception):
    """A stored secret that cannot be opened with the keys configured; the message names no secret."""


class Sealer:
    def __init__(self, keys: SecretStr | None) -> None:
        parts = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()] if keys else []
        self._fernet = MultiFernet([Fernet(k) for k in parts]) if parts else None

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return PLAIN + secret
        return SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if stored.startswith(PLAIN):
            return stored.removeprefix(PLAIN)
        if self._fernet is None:
            raise SealError("a stored secret is encrypted, and TOKEN_ENCRYPTION_KEY is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            raise SealError("a stored secret was encrypted with a key TOKEN_ENCRYPTION_KEY no longer lists") from None
