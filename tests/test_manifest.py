"""manifest.yml creates the app the code expects: one URL, the command, the events, the scopes, Socket Mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_everything_slack_sends_goes_to_the_one_events_url() -> None:
    app = manifest()
    (command,) = app["features"]["slash_commands"]
    settings = app["settings"]
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    }
    assert len(urls) == 1
    assert urls.pop().endswith("/slack/events")
    assert command["command"] == "/sync2books"
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert app["features"]["app_home"]["home_tab_enabled"] is True
    assert any(shortcut["callback_id"] == "new_expense" for shortcut in app["features"]["shortcuts"])


def test_the_events_and_scopes_are_the_ones_the_features_need() -> None:
    app = manifest()
    assert set(app["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "message.channels",
        "message.im",
        "file_shared",
    }
    assert set(app["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "users:read",
        "channels:read",
        "groups:read",
        "im:read",
        "channels:history",
        "groups:history",
        "im:history",
        "im:write",
        "files:read",
    }
    assert "user" not in app["oauth_config"]["scopes"]  # the bot acts as itself, never as a person
