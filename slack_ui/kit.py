"""Block Kit's pieces as the builders use them: sections, context, plain text, options, inputs, selects."""

from __future__ import annotations

from typing import Any

from slack_ui.text import OPTION_TEXT, shorten

Block = dict[str, Any]
Message = tuple[str, list[Block]]
View = dict[str, Any]


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in texts]}


def plain(text: str, limit: int | None = None) -> dict[str, Any]:
    """Plain text is shown as it is (no escaping); ``limit`` shortens it with "…" where Slack caps it."""
    return {"type": "plain_text", "text": text if limit is None else shorten(text, limit), "emoji": True}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, OPTION_TEXT), "value": value[:150]}


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint)
    if dispatch:
        block["dispatch_action"] = True
    return block


def external_select(
    action_id: str, placeholder: str, initial: tuple[str, str] | None = None, *, multi: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "multi_external_select" if multi else "external_select",
        "action_id": action_id,
        "placeholder": plain(placeholder),
        "min_query_length": 0,
    }
    if initial is not None:
        element["initial_option"] = option(initial[1], initial[0])
    if multi:
        element["max_selected_items"] = 10
    return element
