"""What Slack accepts as Block Kit, in one place: the fake Slack refuses with it and property tests assert with it.

Two layers. ``slack_sdk.models`` parses every block and view and runs its own validators (``to_dict`` validates
the whole tree): lengths of texts, option values, counts of options and elements. Slack's documented limits that
slack_sdk does not check, or checks more leniently than Slack, are checked by hand below: text objects must be
objects with non-empty text, plain_text where Slack wants plain text, 50 blocks a message and 100 a view, 10
options in checkboxes, action ids unique in a block, block ids unique in a payload.

Each problem is one string in the shape Slack prints in ``response_metadata.messages`` (without "[ERROR] "):
``must be less than 3001 characters [json-pointer:/blocks/1/text/text]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
# chat.postMessage truncates longer texts; past this it answers msg_too_long.
MESSAGE_TEXT = 40_000
SECTION_TEXT = 3_000
SECTION_FIELD = 2_000
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
CHECKBOX_OPTIONS = 10
VIEW_TITLE = 24
PRIVATE_METADATA = 3_000
CALLBACK_ID = 255
# A text object's own limit (context elements), and the tighter one of input labels and hints.
TEXT_OBJECT = 3_000
LABEL = 2_000
PLACEHOLDER = 150

# slack_sdk logs what it cannot parse and goes on; its warnings are not what Slack answers.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)

_PLAIN_ONLY = {"header": ("text",), "input": ("label", "hint")}
_ELEMENT_TEXT_LIMITS = {"button": BUTTON_TEXT}
_SELECTS_WITH_OPTIONS = frozenset({"static_select", "multi_static_select", "checkboxes", "radio_buttons", "overflow"})


def blocks_errors(blocks: Any, *, limit: int = MESSAGE_BLOCKS, at: str = "/blocks") -> list[str]:
    """Why Slack would refuse these blocks (an empty list when it would take them)."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{at}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must provide no more than {limit} items [json-pointer:{at}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"{at}/{index}"
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                errors.append(f"duplicate block_id: {block_id} [json-pointer:{pointer}/block_id]")
            block_ids.add(block_id)
        errors += _sdk_errors(lambda block=block: Block.parse(dict(block)), pointer, block["type"])
        errors += _block_errors(block, pointer)
    return errors


def view_errors(view: Any, *, home: bool = False) -> list[str]:
    """Why Slack would refuse this view for views.open/update/push (a modal) or views.publish (home)."""
    if not isinstance(view, Mapping):
        return ["missing required field: view"]
    errors: list[str] = []
    kind = view.get("type")
    if kind != ("home" if home else "modal"):
        errors.append(f"invalid view type: {kind!r} [json-pointer:/view/type]")
    for name in ("title", "submit", "close"):
        if view.get(name) is not None:
            errors += _text_object_errors(view[name], f"/view/{name}", limit=VIEW_TITLE, plain_only=True)
    if not home and view.get("title") is None:
        errors.append("missing required field: title [json-pointer:/view/title]")
    metadata = view.get("private_metadata")
    if metadata is not None and not isinstance(metadata, str):
        errors.append("must be a string [json-pointer:/view/private_metadata]")
    elif len(metadata or "") > PRIVATE_METADATA:
        errors.append(f"must be less than {PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]")
    for name in ("callback_id", "external_id"):
        if len(str(view.get(name) or "")) > CALLBACK_ID:
            errors.append(f"must be less than {CALLBACK_ID + 1} characters [json-pointer:/view/{name}]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*errors, "missing required field: blocks [json-pointer:/view/blocks]"]
    errors += blocks_errors(blocks, limit=VIEW_BLOCKS, at="/view/blocks")
    if not errors:
        errors += _sdk_errors(lambda: View(**dict(view)), "/view", "view")
    has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
    if has_input and not home and view.get("submit") is None:
        errors.append("submit is required when a view has input blocks [json-pointer:/view/submit]")
    return errors


def options_errors(options: Any, *, at: str = "/options") -> list[str]:
    """An options (block_suggestion) answer: at most 100 options, each within the option limits."""
    if not isinstance(options, list):
        return [f"must be an array [json-pointer:{at}]"]
    errors = [] if len(options) <= OPTIONS else [f"must provide no more than {OPTIONS} items [json-pointer:{at}]"]
    for index, item in enumerate(options):
        errors += _option_errors(item, f"{at}/{index}", plain_only=True)
    return errors


def option_groups_errors(groups: Any) -> list[str]:
    if not isinstance(groups, list):
        return ["must be an array [json-pointer:/option_groups]"]
    errors = (
        [] if len(groups) <= OPTIONS else [f"must provide no more than {OPTIONS} items [json-pointer:/option_groups]"]
    )
    for index, group in enumerate(groups):
        at = f"/option_groups/{index}"
        if not isinstance(group, Mapping):
            errors.append(f"must be an object [json-pointer:{at}]")
            continue
        errors += _text_object_errors(group.get("label"), f"{at}/label", limit=OPTION_TEXT, plain_only=True)
        errors += options_errors(group.get("options"), at=f"{at}/options")
    return errors


def message_errors(params: Mapping[str, Any]) -> list[str]:
    """chat.postMessage, chat.postEphemeral, chat.update and response_url bodies: the text and the blocks."""
    errors: list[str] = []
    text = params.get("text")
    if text is not None and len(str(text)) > MESSAGE_TEXT:
        errors.append(f"must be less than {MESSAGE_TEXT + 1} characters [json-pointer:/text]")
    if params.get("blocks") is not None:
        errors += blocks_errors(params["blocks"])
    return errors


# --------------------------------------------------------------------------- the hand-written checks


def _sdk_errors(parse: Any, pointer: str, kind: str) -> list[str]:
    try:
        parsed = parse()
        if parsed is None:
            return [f"unsupported type: {kind} [json-pointer:{pointer}/type]"]
        parsed.to_dict()  # validates the whole tree, children included
    except SlackObjectFormationError as exc:
        return [f"{exc} [json-pointer:{pointer}]"]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"failed to match the {kind} schema: {exc} [json-pointer:{pointer}]"]
    return []


def _text_object_errors(node: Any, pointer: str, *, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(node, Mapping):
        return [f"must be a text object [json-pointer:{pointer}]"]
    kind = node.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        return [f"must be one of {', '.join(allowed)} [json-pointer:{pointer}/type]"]
    text = node.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


def _option_errors(item: Any, pointer: str, *, plain_only: bool) -> list[str]:
    if not isinstance(item, Mapping):
        return [f"must be an object [json-pointer:{pointer}]"]
    errors = _text_object_errors(item.get("text"), f"{pointer}/text", limit=OPTION_TEXT, plain_only=plain_only)
    value = item.get("value")
    if not isinstance(value, str) or not value:
        errors.append(f"must be more than 0 characters [json-pointer:{pointer}/value]")
    elif len(value) > OPTION_VALUE:
        errors.append(f"must be less than {OPTION_VALUE + 1} characters [json-pointer:{pointer}/value]")
    if item.get("description") is not None:
        errors += _text_object_errors(item["description"], f"{pointer}/description", limit=OPTION_TEXT)
    return errors


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
        return [f"missing required field: type [json-pointer:{pointer}]"]
    kind = element["type"]
    errors: list[str] = []
    if kind in _ELEMENT_TEXT_LIMITS:
        errors += _text_object_errors(
            element.get("text"), f"{pointer}/text", limit=_ELEMENT_TEXT_LIMITS[kind], plain_only=True
        )
    if element.get("placeholder") is not None:
        errors += _text_object_errors(element["placeholder"], f"{pointer}/placeholder", limit=PLACEHOLDER)
    if kind in _SELECTS_WITH_OPTIONS:
        options = element.get("options")
        most = CHECKBOX_OPTIONS if kind in ("checkboxes", "radio_buttons") else OPTIONS
        if options is not None:
            if not isinstance(options, list) or not options:
                errors.append(f"must provide at least 1 item [json-pointer:{pointer}/options]")
            else:
                if len(options) > most:
                    errors.append(f"must provide no more than {most} items [json-pointer:{pointer}/options]")
                for number, item in enumerate(options):
                    errors += _option_errors(item, f"{pointer}/options/{number}", plain_only=kind.endswith("select"))
    for name in ("initial_option",):
        if element.get(name) is not None:
            errors += _option_errors(element[name], f"{pointer}/{name}", plain_only=kind.endswith("select"))
    for number, item in enumerate(element.get("initial_options") or []):
        errors += _option_errors(item, f"{pointer}/initial_options/{number}", plain_only=kind.endswith("select"))
    return errors


def _block_errors(block: Mapping[str, Any], at: str) -> list[str]:
    kind = block["type"]
    errors: list[str] = []
    for name in _PLAIN_ONLY.get(kind, ()):
        if block.get(name) is not None or name != "hint":
            limit = HEADER_TEXT if kind == "header" else LABEL
            errors += _text_object_errors(block.get(name), f"{at}/{name}", limit=limit, plain_only=True)
    if kind == "section":
        fields = block.get("fields")
        if block.get("text") is None and not fields:
            errors.append(f"must provide either text or fields [json-pointer:{at}]")
        if block.get("text") is not None:
            errors += _text_object_errors(block["text"], f"{at}/text", limit=SECTION_TEXT)
        for number, item in enumerate(fields or []):
            errors += _text_object_errors(item, f"{at}/fields/{number}", limit=SECTION_FIELD)
        if block.get("accessory") is not None:
            errors += _element_errors(block["accessory"], f"{at}/accessory")
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            errors.append(f"must provide between 1 and 10 items [json-pointer:{at}/elements]")
        else:
            for number, element in enumerate(elements):
                if isinstance(element, Mapping) and element.get("type") in ("plain_text", "mrkdwn"):
                    errors += _text_object_errors(element, f"{at}/elements/{number}", limit=TEXT_OBJECT)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
            errors.append(f"must provide between 1 and 25 items [json-pointer:{at}/elements]")
        else:
            action_ids: set[str] = set()
            for number, element in enumerate(elements):
                errors += _element_errors(element, f"{at}/elements/{number}")
                action_id = element.get("action_id") if isinstance(element, Mapping) else None
                if action_id is not None:
                    if action_id in action_ids:
                        errors.append(f"duplicate action_id: {action_id} [json-pointer:{at}/elements/{number}]")
                    action_ids.add(action_id)
    elif kind == "input":
        if block.get("element") is None:
            errors.append(f"missing required field: element [json-pointer:{at}/element]")
        else:
            errors += _element_errors(block["element"], f"{at}/element")
    return errors
