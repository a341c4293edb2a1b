""".env.example: every setting of the model, each under its description, and a working .env once filled in.

The file is written by hand for people to read; these tests keep it from drifting from ``Settings``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
# `NAME=value` for what must be filled in, `# NAME=value` for a setting shown at its default.
ASSIGNMENT = re.compile(r"^(?P<commented># )?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# What a newcomer pastes over each placeholder: values of the right shape, none of them real.
FILLED = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99e2d4fd85a5",
    "SLACK_APP_TOKEN": "xapp-1-A0123456789-1234567890123-0123456789abcdef",
}


def env_names() -> dict[str, str]:
    """Each setting's variable and its description, as ``Settings`` reads them (PUBLIC_URL is an alias)."""
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        assert alias is None or isinstance(alias, str), f"{field}: an alias this test cannot read"
        assert info.description, f"{field} has no description for .env.example to show"
        names[(alias or field).upper()] = info.description
    return names


def example_lines() -> list[str]:
    return EXAMPLE.read_text(encoding="utf-8").splitlines()


def assignments(lines: list[str]) -> list[tuple[int, re.Match[str]]]:
    return [(number, found) for number, line in enumerate(lines) if (found := ASSIGNMENT.match(line))]


def rewritten(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def filled_in(**changes: str) -> list[str]:
    """The example with every placeholder replaced, as `cp .env.example .env` and an editor would leave it."""
    values = FILLED | changes
    lines = example_lines()
    for number, found in assignments(lines):
        if not found["commented"]:
            lines[number] = f"{found['name']}={values[found['name']]}"
    return lines


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


def test_every_setting_is_there_once_and_nothing_else() -> None:
    written = Counter(found["name"] for _, found in assignments(example_lines()))
    expected = set(env_names())
    assert not set(written) - expected, f"in .env.example but not a setting: {sorted(set(written) - expected)}"
    assert not expected - set(written), f"a setting missing from .env.example: {sorted(expected - set(written))}"
    assert [name for name, times in written.items() if times > 1] == []


def test_each_setting_stands_under_its_description() -> None:
    lines = example_lines()
    descriptions = env_names()
    for number, found in assignments(lines):
        assert number > 0 and lines[number - 1] == f"# {descriptions[found['name']]}", found["name"]


def test_what_must_be_filled_in_is_the_slack_app_s_three_values() -> None:
    uncommented = {found["name"] for _, found in assignments(example_lines()) if not found["commented"]}
    # A variable that becomes required needs a placeholder in the file and a value of its shape in FILLED.
    assert uncommented == set(FILLED)


def test_filled_in_it_is_a_working_socket_mode_configuration(tmp_path: Path) -> None:
    settings = load_settings(_env_file=rewritten(tmp_path, filled_in()))
    settings.require_slack()
    assert settings.slack_bot_token is not None and settings.slack_app_token is not None
    assert settings.slack_bot_token.get_secret_value() == FILLED["SLACK_BOT_TOKEN"]
    assert settings.slack_app_token.get_secret_value() == FILLED["SLACK_APP_TOKEN"]
    assert settings.socket_mode and settings.embedded_sandbox


def test_with_the_app_token_emptied_it_is_http_mode(tmp_path: Path) -> None:
    # The README's way to HTTP mode: unset SLACK_APP_TOKEN; the signing secret already in the file is then used.
    settings = load_settings(_env_file=rewritten(tmp_path, filled_in(SLACK_APP_TOKEN="")))
    settings.require_slack()
    assert not settings.socket_mode
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == FILLED["SLACK_SIGNING_SECRET"]


def test_a_commented_setting_uncommented_changes_nothing(tmp_path: Path) -> None:
    lines = filled_in()
    for number, found in assignments(lines):
        if found["commented"]:
            lines[number] = lines[number].removeprefix("# ")
    everything = load_settings(_env_file=rewritten(tmp_path, lines))
    only_slack = load_settings(_env_file=rewritten(tmp_path, filled_in()))
    assert everything == only_slack
