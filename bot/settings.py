"""Settings from the environment and a ``.env`` file: exactly the variables PRODUCT.md lists.

A missing or malformed setting stops the start with ``ConfigError``, whose message is one sentence
naming the variable. Secrets are ``SecretStr`` so that no repr, log line or error shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path("data")
EMBEDDED_SANDBOX_KEY = "sk_test_embedded_sandbox"
EMBEDDED_SANDBOX_PATH = "/sync2books"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_CODAT_API_URL = "https://api.codat.io"


class ConfigError(Exception):
    """A setting that stops the start; the message names the variable in one sentence."""


def _prefixed(value: SecretStr | None, prefixes: tuple[str, ...]) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith(prefixes):
        raise ValueError(f"must start with {' or '.join(prefixes)}")
    return value


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")) or len(value) < len("http://x"):
        raise ValueError("must be an http:// or https:// URL")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    sync2books_api_url: str | None = None
    sync2books_api_key: SecretStr = SecretStr(EMBEDDED_SANDBOX_KEY)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 3000
    poll_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    sync_backend: Literal["sync2books", "codat"] = "sync2books"
    codat_api_key: SecretStr | None = None
    codat_api_url: str = DEFAULT_CODAT_API_URL
    admin_user_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    # Read as PUBLIC_URL; ``public_url`` below is what it means (this machine's address when unset).
    public_url_setting: str | None = Field(default=None, validation_alias="public_url")
    token_encryption_key: SecretStr | None = None
    codat_webhook_secret: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _prefixed(value, ("xoxb-",))

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _prefixed(value, ("xapp-",))

    @field_validator("sync2books_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr) -> SecretStr:
        checked = _prefixed(value, ("sk_live_", "sk_test_"))
        assert checked is not None
        return checked

    @field_validator("codat_webhook_secret")
    @classmethod
    def _codat_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _prefixed(value, ("whsec_",))

    @field_validator("token_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from cryptography.fernet import Fernet

            try:
                for key in value.get_secret_value().split(","):
                    Fernet(key.strip())
            except ValueError:
                raise ValueError(
                    "must be one or more Fernet keys, comma-separated (32 url-safe base64-encoded bytes each)"
                ) from None
        return value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "codat_api_key",
        "token_encryption_key",
        "codat_webhook_secret",
        "public_url_setting",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sync2books_api_url", "slack_api_url", "codat_api_url", "public_url_setting")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _url(value)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        # slack_sdk joins method names onto this base, so it must end with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value.strip()

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    # ------------------------------------------------------------------ what follows from them

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def embedded_sandbox(self) -> bool:
        return self.sync_backend == "sync2books" and self.sync2books_api_url is None

    @property
    def public_url(self) -> str:
        """Where Slack, browsers and Sync2Books reach this bot: PUBLIC_URL, or this machine's HTTP server."""
        if self.public_url_setting is not None:
            return self.public_url_setting.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104 - a comparison
        return f"http://{host}:{self.port}"

    @property
    def webhooks_enabled(self) -> bool:
        """Only a PUBLIC_URL says the backend can reach us; the default address may be this machine's alone."""
        return self.public_url_setting is not None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{DATA_DIR / 'bot.sqlite3'}"

    def require_slack(self) -> None:
        """The Slack settings the bot cannot run without, for the mode it will run in."""
        if self.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is required to talk to Slack: set it to the bot token (xoxb-…).")
        if not self.socket_mode and self.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode)."
            )
        if self.sync_backend == "codat" and self.codat_api_key is None:
            raise ConfigError("CODAT_API_KEY is required when SYNC_BACKEND is codat.")


_NAMES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "sync2books_api_url": "SYNC2BOOKS_API_URL",
    "sync2books_api_key": "SYNC2BOOKS_API_KEY",
    "database_url": "DATABASE_URL",
    "host": "HOST",
    "port": "PORT",
    "poll_interval_seconds": "POLL_INTERVAL_SECONDS",
    "sync_backend": "SYNC_BACKEND",
    "codat_api_key": "CODAT_API_KEY",
    "codat_api_url": "CODAT_API_URL",
    "admin_user_ids": "ADMIN_USER_IDS",
    "public_url_setting": "PUBLIC_URL",
    "token_encryption_key": "TOKEN_ENCRYPTION_KEY",
    "codat_webhook_secret": "CODAT_WEBHOOK_SECRET",
    "log_format": "LOG_FORMAT",
}

_SECRET = {
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "sync2books_api_key",
    "codat_api_key",
    "token_encryption_key",
    "codat_webhook_secret",
}


def _sentence(error: ErrorDetails) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    name = _NAMES.get(field, field.upper())
    kind = error["type"]
    if kind in ("int_parsing", "float_parsing"):
        what = {"port": "a number from 0 to 65535", "poll_interval_seconds": "a number of seconds"}[field]
        message = f"must be {what}"
    elif kind in ("greater_than_equal", "less_than_equal"):
        message = "must be a number from 0 to 65535"
    elif kind in ("greater_than", "less_than"):
        message = "must be more than 0 and at most 3600 seconds"
    elif kind == "literal_error":
        message = "must be text or json" if field == "log_format" else "must be sync2books or codat"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    shown = "" if field in _SECRET else f", not {error['input']!r}"
    return f"{name} {message}{shown}."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a problem becomes one ConfigError sentence naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_sentence(exc.errors(include_url=False)[0])) from None
