"""manifest.yml creates the app the code expects: one URL, the command, the events, the scopes, Socket Mode."""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from slack_sdk.web.async_client import AsyncWebClient

from slack_ui.answers import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yml"
SCHEMAS = Path(__file__).resolve().parent / "contracts" / "slack"
# Where the published schema says its versions live; served here from the vendored copies.
SCHEMA_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/{name}"
CODE = ("bot", "handlers", "slack_ui", "storage", "codat", "sync2books")

# The bot scopes each Web API method the bot calls needs, as Slack's method reference lists them. A method that
# reads conversations needs the scope of each kind of conversation it reads: the bot reads public and private
# channels and its direct messages (users.conversations asks for public_channel, private_channel and im).
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "apps.connections.open": frozenset(),  # the app-level token's connections:write, not a bot scope
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "conversations.history": frozenset({"channels:history", "groups:history", "im:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history", "im:history"}),
    "conversations.info": frozenset({"channels:read", "groups:read", "im:read"}),
    "conversations.open": frozenset({"im:write"}),
    "files.info": frozenset({"files:read"}),
    "users.info": frozenset({"users:read"}),
    "users.conversations": frozenset({"channels:read", "groups:read", "im:read"}),
    "views.open": frozenset(),
    "views.push": frozenset(),
    "views.update": frozenset(),
    "views.publish": frozenset(),
}
# What each subscribed event needs, and the scopes that serve no method but a feature of the manifest.
EVENT_SCOPES = {
    "app_home_opened": frozenset(),
    "member_joined_channel": frozenset({"channels:read", "groups:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "message.im": frozenset({"im:history"}),
}
FEATURE_SCOPES = {"commands": "the slash command and the shortcuts"}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


@cache
def schema_registry() -> Registry:
    resources = [
        (SCHEMA_URL.format(name=path.name), Resource.from_contents(json.loads(path.read_text())))
        for path in sorted((SCHEMAS / "schemas").glob("*.json"))
    ]
    return Registry().with_resources(resources)


def manifest_errors(document: dict[str, Any]) -> list[str]:
    """Slack's published schema's verdict; when it refuses, the reasons as its version 1 (a manifest without
    ``_metadata``) gives them, since the top schema only says that no version matched."""
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    if jsonschema.Draft7Validator(schema, registry=schema_registry()).is_valid(document):
        return []
    version_1 = json.loads((SCHEMAS / "schemas" / "manifest.schema.1.0.0.json").read_text())
    reasons = jsonschema.Draft7Validator(version_1).iter_errors(document)
    shown = [f"/{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}" for error in reasons]
    return shown or ["not valid under any version of the manifest schema"]


def called_methods() -> dict[str, str]:
    """The Web API methods the code calls through slack_sdk's client, each with a place that calls it."""
    methods: dict[str, str] = {}
    for name, function in inspect.getmembers(AsyncWebClient, inspect.iscoroutinefunction):
        found = re.search(r'api_call\(\s*"([\w.]+)"', inspect.getsource(function))
        if found:
            methods[name] = found.group(1)
    called: dict[str, str] = {}
    for package in CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text()
            for match in re.finditer(r"\.(\w+)\(", source):
                if match.group(1) in methods:
                    called.setdefault(methods[match.group(1)], str(path.relative_to(ROOT)))
            for match in re.finditer(r'api_call\(\s*"([\w.]+)"', source):
                called.setdefault(match.group(1), str(path.relative_to(ROOT)))
    return called


def test_the_manifest_is_valid_by_slacks_published_schema() -> None:
    assert manifest_errors(manifest()) == []


def test_the_schema_refuses_what_slack_refuses() -> None:
    """The check can fail: a manifest Slack would not create is caught, so the test above proves something."""
    broken = manifest()
    broken["features"]["slash_commands"][0]["usage_hint"] = "x" * 1001
    broken["settings"]["socket_mode_enabled"] = "yes"
    broken["features"]["bot_user"].pop("display_name")
    errors = "\n".join(manifest_errors(broken))
    assert "/features/slash_commands/0/usage_hint: 'xxx" in errors
    assert "/settings/socket_mode_enabled: 'yes' is not of type 'boolean'" in errors
    assert "/features/bot_user: 'display_name' is a required property" in errors


def test_every_scope_serves_a_called_method_an_event_or_a_feature_and_every_called_method_is_covered() -> None:
    app = manifest()
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    called = called_methods()
    unknown = sorted(set(called) - set(METHOD_SCOPES))
    assert unknown == [], f"methods the code calls that this test does not know the scopes of: {unknown}"
    needed = {scope for method in called for scope in METHOD_SCOPES[method]}
    events = app["settings"]["event_subscriptions"]["bot_events"]
    needed |= {scope for event in events for scope in EVENT_SCOPES[event]}
    missing = {method: sorted(METHOD_SCOPES[method] - scopes) for method in called if METHOD_SCOPES[method] - scopes}
    assert missing == {}, f"methods called without their scopes (first caller in {called})"
    unused = scopes - needed - set(FEATURE_SCOPES)
    assert unused == set(), f"scopes requested that no called method, event or feature needs: {sorted(unused)}"


def test_every_subscribed_event_has_a_listener() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "handlers").rglob("*.py"))
    listened = set(re.findall(r'\bapp\.event\("([\w.]+)"\)', source))
    subscribed = {event.split(".")[0] for event in manifest()["settings"]["event_subscriptions"]["bot_events"]}
    assert subscribed == listened


def test_the_usage_hint_names_every_subcommand() -> None:
    (command,) = manifest()["features"]["slash_commands"]
    hinted = {part.split()[0] for part in command["usage_hint"].split("|")}
    assert hinted == {name.split()[0] for name, _ in SUBCOMMANDS}


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
        "member_joined_channel",
        "message.channels",
        "message.groups",
        "message.im",
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
        "files:read",
    }
    assert "user" not in app["oauth_config"]["scopes"]  # the bot acts as itself, never as a person
