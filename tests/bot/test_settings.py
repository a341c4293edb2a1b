"""Settings: exactly PRODUCT.md's variables; a bad one stops the start with one sentence naming it."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, Settings, hide_password, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name, info in Settings.model_fields.items():
        monkeypatch.delenv(str(info.validation_alias or name).upper(), raising=False)
    monkeypatch.chdir(str(tmp_path))  # no .env of the developer's


def test_defaults_run_against_the_embedded_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    settings = load_settings()
    settings.require_slack()
    assert (settings.host, settings.port, settings.poll_interval_seconds) == ("127.0.0.1", 3000, 10.0)
    assert settings.embedded_sandbox
    assert not settings.socket_mode
    assert settings.sync_backend == "sync2books"
    assert settings.effective_database_url == "sqlite:///data/bot.sqlite3"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert "xoxb-1" not in repr(settings)


def test_a_dotenv_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    Path(".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nADMIN_USER_IDS=U1, U2\nSLACK_APP_TOKEN=xapp-1\n")
    settings = load_settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-file"
    assert settings.admin_user_ids == frozenset({"U1", "U2"})
    assert settings.socket_mode
    settings.require_slack()  # Socket Mode needs no signing secret


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SYNC2BOOKS_API_URL",
        "DATABASE_URL",
        "CODAT_API_KEY",
        "PUBLIC_URL",
        "TOKEN_ENCRYPTION_KEY",
        "CODAT_WEBHOOK_SECRET",
    ],
)
def test_a_blank_optional_setting_is_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # `NAME=` in a .env (as .env.example's commented lines read once uncommented) means the default, not an error.
    monkeypatch.setenv(name, " ")
    blank = load_settings()
    monkeypatch.delenv(name)
    assert blank == Settings()


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("PORT", "eighty", "PORT must be a number from 0 to 65535, not 'eighty'."),
        ("PORT", "70000", "PORT must be a number from 0 to 65535, not '70000'."),
        ("POLL_INTERVAL_SECONDS", "0", "POLL_INTERVAL_SECONDS must be more than 0 and at most 3600 seconds, not '0'."),
        ("SYNC_BACKEND", "quickbooks", "SYNC_BACKEND must be sync2books or codat, not 'quickbooks'."),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN must start with xoxb-."),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind", "SLACK_APP_TOKEN must start with xapp-."),
        ("SYNC2BOOKS_API_KEY", "pk_live_x", "SYNC2BOOKS_API_KEY must start with sk_live_ or sk_test_."),
        (
            "SYNC2BOOKS_API_URL",
            "localhost:8080",
            "SYNC2BOOKS_API_URL must be an http:// or https:// URL, not 'localhost:8080'.",
        ),
        ("DATABASE_URL", "mysql://db", "DATABASE_URL must be a sqlite:// or postgresql:// URL, not 'mysql://db'."),
    ],
)
def test_a_malformed_setting_is_named_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, sentence: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == sentence
    assert "xoxp-user-token" not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({}, "SLACK_BOT_TOKEN is required to talk to Slack: set it to the bot token (xoxb-…)."),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode).",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SYNC_BACKEND": "codat"},
            "CODAT_API_KEY is required when SYNC_BACKEND is codat.",
        ),
    ],
)
def test_a_missing_setting_is_named_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], sentence: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="^" + sentence.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_settings().require_slack()


PASSWORD = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"postgresql://bot:{PASSWORD}@db@host/bot", "has an @ in its password: write it as %40"),
        (f"postgresql://bot:{PASSWORD}@host:54x2/bot", "is not a URL that can be read"),
        (f"postgresql://bot:{PASSWORD}/bot", "is not a URL that can be read"),  # no host: the password is the port
        (f"postgresql://bot:{PASSWORD}@host:99999/bot", "has a port that is not from 1 to 65535"),
        (f"mysql://bot:{PASSWORD}@host/bot", "must be a sqlite:// or postgresql:// URL"),
        (f"postgresql://:{PASSWORD}@host/bot", None),  # a password without a user is a good URL
    ],
)
def test_a_database_url_is_never_echoed_with_its_password(url: str, problem: str | None) -> None:
    if problem is None:
        assert load_settings(database_url=url).database_url == url
        assert PASSWORD not in hide_password(url)
        return
    with pytest.raises(ConfigError) as refused:
        load_settings(database_url=url)
    assert str(refused.value).startswith(f"DATABASE_URL {problem}")
    assert PASSWORD not in str(refused.value) and "***" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bot:pw@host/db",
        "postgresql://bot:p@w@host/db",
        "postgresql://bot:p/w:x@host/db",
        "https://user:pw@example.com/api/?q=1",
        "postgresql://bot:pw/db",
    ],
)
def test_hide_password_hides_it_in_good_and_malformed_urls(url: str) -> None:
    hidden = hide_password(url)
    assert "pw" not in hidden and "p@w" not in hidden and "p/w" not in hidden
    assert "***" in hidden


def test_hide_password_leaves_a_url_without_one_alone() -> None:
    for url in ("postgresql://host:5432/db", "sqlite:///data/bot.sqlite3", "https://slack.com/api/"):
        assert hide_password(url) == url
