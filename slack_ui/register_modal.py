"""The modal that registers a company (``/sync2books register`` without a name)."""

from __future__ import annotations

from slack_ui import ids
from slack_ui.kit import View, context, plain
from slack_ui.text import NAME, escape


def register_modal(channel_id: str, service: str) -> View:
    return {
        "type": "modal",
        "callback_id": ids.REGISTER_CALLBACK,
        "private_metadata": channel_id,
        "title": plain("Register a company"),
        "submit": plain("Register"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.COMPANY_NAME,
                "label": plain("Company name"),
                "element": {"type": "plain_text_input", "action_id": ids.VALUE, "max_length": 100},
            },
            {
                "type": "input",
                "block_id": ids.COMPANY_DESCRIPTION,
                "optional": True,
                "label": plain("Description"),
                "element": {"type": "plain_text_input", "action_id": ids.VALUE, "multiline": True, "max_length": 2000},
            },
            context(f"The company is created with {escape(service, NAME)} and this channel is linked to it."),
        ],
    }
