"""Settings from the environment and a ``.env`` file: exactly the variables PRODUCT.md lists.

A missing or malformed setting stops the start with ``ConfigError``, whose message is one sentence
naming the variable. Secrets are ``SecretStr`` so that no repr, log line or error shows them.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DATA_DIR = Path("data")
EMBEDDED_SANDBOX_KEY = "sk_test_embedded_sandbox"
EMBEDDED_SANDBOX_PATH = "/sync2books"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_CODAT_API_URL = "https://api.codat.io"


class ConfigError(Exception):
    """A setting that stops the start; the message names the variable in one sentence."""


class StartError(Exception):
    """Something outside the bot (Slack, the database) stops its start; the message says what, in one sentence."""


# Everything between "scheme://user:" and the last "@" may be a password, even when the URL is malformed
# (an unescaped "@" in the password): all of it is hidden.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:).*@")
# With no "@" at all, a password may sit where the port goes ("postgresql://user:secret/db"); a port is digits.
_NOT_A_PORT = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:)(?![0-9]*(?:[/?#]|$))[^/?#]*")


def hide_password(url: str) -> str:
    """``url`` fit to print: whatever could be its password is ``***``, however malformed the URL is."""
    hidden, found = _USERINFO.subn(r"\g<1>***@", url, count=1)
    return hidden if found else _NOT_A_PORT.sub(r"\g<1>***", url, count=1)


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

    # Each description is what `sync2books-bot run --help` prints for the variable, and what .env.example explains.
    slack_bot_token: SecretStr | None = Field(
        None,
        description="bot token xoxb-… (OAuth & Permissions → Bot User OAuth Token); required",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        description="verifies HTTP requests from Slack (Basic Information → App Credentials → Signing Secret); "
        "required in HTTP mode",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        description="app-level token xapp-… with connections:write (Basic Information → App-Level Tokens); "
        "when set the bot uses Socket Mode, else HTTP mode",
    )
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, description="base URL of Slack's Web API")
    sync2books_api_url: str | None = Field(
        None, description="Sync2Books base URL; unset runs the Sync2Books sandbox inside the bot"
    )
    sync2books_api_key: SecretStr = Field(
        SecretStr(EMBEDDED_SANDBOX_KEY),
        description="Sync2Books API key sk_live_… or sk_test_…; unset uses a test key for the embedded sandbox",
    )
    database_url: str | None = Field(
        None,
        description="the bot's database, sqlite:///path/file.sqlite3 or postgresql://user:password@host:port/db; "
        f"unset uses sqlite:///{DATA_DIR / 'bot.sqlite3'}",
    )
    host: str = Field("127.0.0.1", description="address the HTTP server listens on (0.0.0.0 for every interface)")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(
        3000, description="port the HTTP server listens on (Slack's events in HTTP mode, /healthz, the sandbox)"
    )
    poll_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="how often scheduled jobs look at connections and sync batches"
    )
    sync_backend: Literal["sync2books", "codat"] = Field(
        "sync2books", description="which expense-sync service the bot drives: sync2books or codat"
    )
    codat_api_key: SecretStr | None = Field(None, description="Codat's API key; required when SYNC_BACKEND is codat")
    codat_api_url: str = Field(DEFAULT_CODAT_API_URL, description="Codat's base URL")
    admin_user_ids: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(),
        description="comma-separated Slack user ids allowed to administer besides workspace admins and owners",
    )
    # Read as PUBLIC_URL; ``public_url`` below is what it means (this machine's address when unset).
    public_url_setting: str | None = Field(
        default=None,
        validation_alias="public_url",
        description="where Slack, browsers and Sync2Books reach this bot (https://bot.example.com); enables webhooks",
    )
    token_encryption_key: SecretStr | None = Field(
        None, description="Fernet key(s), comma-separated, the first encrypts; stored webhook secrets are encrypted"
    )
    codat_webhook_secret: SecretStr | None = Field(None, description="verifies Codat's webhooks (whsec_…)")
    log_format: Literal["text", "json"] = Field("text", description="text, or json: one object a line")

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
        "sync2books_api_url",
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
        value = value.strip()
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        try:
            parsed = make_url(value)
            parsed.port  # noqa: B018 - reading it is what checks it
        except (ArgumentError, ValueError):
            raise ValueError(
                "is not a URL that can be read: write it as postgresql://user:password@host:port/database "
                "or sqlite:///path/to/file.sqlite3"
            ) from None
        if "@" in (parsed.host or ""):
            raise ValueError("has an @ in its password: write it as %40")
        if parsed.port is not None and not 0 < parsed.port <= 65535:
            raise ValueError("has a port that is not from 1 to 65535")
        return value

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
    name = field.upper()
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
    if field in _SECRET:
        shown = ""
    elif field.endswith("_url") and isinstance(error["input"], str):
        shown = f", not {hide_password(error['input'])!r}"
    else:
        shown = f", not {error['input']!r}"
    return f"{name} {message}{shown}."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a problem becomes one ConfigError sentence naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_sentence(exc.errors(include_url=False)[0])) from None


def _default_shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, frozenset):
        return "empty" if not value else ",".join(sorted(value))
    return str(value)


def variables_help() -> str:
    """Every setting's variable, what it is and its default, from the model itself (for ``run --help``)."""
    lines = ["settings (environment variables, or a .env file in the working directory):"]
    for field, info in Settings.model_fields.items():
        default = info.default
        # A secret's default is not shown: its description says what unset means.
        shown = "" if default is None or isinstance(default, SecretStr) else f" (default: {_default_shown(default)})"
        lines.append(
            textwrap.fill(
                f"{str(info.validation_alias or field).upper():<23}{info.description}{shown}",
                width=118,
                initial_indent="  ",
                subsequent_indent=" " * 25,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)
