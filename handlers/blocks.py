"""Block Kit for every message, modal and view the bot shows, as pure functions of plain data.

Each builder answers ``(text, blocks)``: ``text`` is the notification and screen-reader fallback and
says the whole thing on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.backend import ServiceConnection
from bot.services.expenses import MAX_LINES
from bot.services.home import HomeCompany
from bot.services.refusals import Refusal

Block = dict[str, Any]
Message = tuple[str, list[Block]]

REGISTER_CALLBACK = "register_company"
DISCONNECT_CONFIRM = "disconnect_confirm"
DISCONNECT_CANCEL = "disconnect_cancel"
AUTH_LINK_ACTION = "auth_link"

STATUS_WORDS = {
    "CONNECTED": ":large_green_circle: connected",
    "DISCONNECTED": ":white_circle: disconnected",
    "ERROR": ":red_circle: needs re-authorizing",
}


# Slack ids as Slack writes them; anything else in a mention would be outside text pretending to be one.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,20}$")


# Slack's limits (docs.slack.dev, Block Kit reference) that the builders must stay within.
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
BUTTON_TEXT = 75
OPTION_TEXT = 75
MAX_OPTIONS = 100
# How much of one outside text is shown: a name (company, merchant, software, file), an id, an error.
NAME = 150
ID = 100
ERROR = 2000


def escape(text: object, limit: int | None = None) -> str:
    """Outside text (names, typed text, file names, service errors) as mrkdwn must carry it: it can never
    become a mention (``<!channel>``, ``<@U…>``), a disguised link or a date. Every builder passes every
    outside text through here, and only through here.

    With ``limit``, the escaped text is at most that long: shortened with "…", never cutting an ``&amp;`` in two.
    """
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped if limit is None else shorten(escaped, limit)


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits, else its start and "…" in ``limit`` characters (an escape is kept whole or left out)."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def capped(lines: Sequence[str], limit: int = SECTION_TEXT, *, what: str = "more") -> str:
    """Whole lines, one a line, while they fit in ``limit`` characters; then "…and N more" for the rest."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        tail = len(f"\n…and {rest} {what}") if rest else 0
        if used + len(line) + (1 if shown else 0) + tail > limit:
            left = len(lines) - index
            more = f"…and {left} {what}"
            while shown and used + len(more) + 1 > limit:
                used -= len(shown.pop()) + 1
                left += 1
                more = f"…and {left} {what}"
            return "\n".join([*shown, more])
        shown.append(line)
        used += len(line) + (1 if len(shown) > 1 else 0)
    return "\n".join(shown)


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in texts]}


def plain(text: str, limit: int | None = None) -> dict[str, Any]:
    """Plain text is shown as it is (no escaping); ``limit`` shortens it with "…" where Slack caps it."""
    return {"type": "plain_text", "text": text if limit is None else shorten(text, limit), "emoji": True}


def slack_date(moment: datetime | str, style: str = "{date_short_pretty} at {time}") -> str:
    """A date every reader sees in their own time zone, with a UTC fallback for old clients."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{style}|{fallback}>"


def mention(user_id: str) -> str:
    return f"<@{user_id}>" if SLACK_USER_ID.match(user_id) else escape(user_id, ID)


def channel_link(channel_id: str) -> str:
    return f"<#{channel_id}>" if SLACK_CHANNEL_ID.match(channel_id) else escape(channel_id, ID)


# --------------------------------------------------------------------------- help and refusals

SUBCOMMANDS: Sequence[tuple[str, str]] = (
    ("help", "this list"),
    ("register <company name>", "admins: create the company with {service} and link this channel to it"),
    ("link <company id>", "admins: link this channel to an existing company"),
    ("connect [software]", "admins: post the link that connects accounting software ({software})"),
    ("connections", "the company's connections and their status"),
    ("disconnect <software or connection id>", "admins: unlink accounting software (asks first)"),
    ("expense", "submit an expense, with receipts, to the company's books"),
    ("status", "the company's recent sync batches and how they ended"),
)


def usage(service: str, software: str) -> Message:
    """The commands, naming the running service and the software it connects to."""
    lines = "\n".join(
        f"• `/sync2books {escape(name)}` — {escape(what.format(service=service, software=software), 1000)}"
        for name, what in SUBCOMMANDS
    )
    text = "Sync2Books for Slack: what you can ask\n" + lines
    return text, [mrkdwn("*Sync2Books for Slack* — what you can ask"), mrkdwn(lines)]


def refusal(said: Refusal | str) -> Message:
    """A refusal as the person sees it: our words as written, every outside value in it escaped."""
    text = said.shown(lambda value: escape(value, ERROR)) if isinstance(said, Refusal) else said
    return text, [mrkdwn(shorten(text, SECTION_TEXT))]


# --------------------------------------------------------------------------- registering


def register_modal(channel_id: str, service: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REGISTER_CALLBACK,
        "private_metadata": channel_id,
        "title": plain("Register a company"),
        "submit": plain("Register"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": plain("Company name"),
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 100},
            },
            {
                "type": "input",
                "block_id": "description",
                "optional": True,
                "label": plain("Description"),
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            },
            context(f"The company is created with {escape(service, NAME)} and this channel is linked to it."),
        ],
    }


def company_registered(payload: dict[str, Any]) -> Message:
    who, name = mention(payload["user_id"]), escape(payload["company_name"], NAME)
    service = payload.get("service", "Sync2Books")
    text = f"{who} registered {name} with {service} and linked it to this channel."
    next_step = "Next: an admin runs `/sync2books connect` to post the link that connects its accounting software."
    return text, [
        mrkdwn(f":tada: {who} registered *{name}* with {service} and linked it to this channel."),
        context(next_step, f"Company id `{escape(payload['company_id'], ID)}`"),
    ]


def company_linked(payload: dict[str, Any]) -> Message:
    who, name = mention(payload["user_id"]), escape(payload["company_name"], NAME)
    text = f"{who} linked this channel to {name}."
    return text, [
        mrkdwn(f":link: {who} linked this channel to *{name}*."),
        context("Everything typed here with `/sync2books` now acts on it."),
    ]


# --------------------------------------------------------------------------- authorization links


def auth_links_message(payload: dict[str, Any]) -> Message:
    """The message with one button per link; a link that was used or expired shows that instead."""
    name = escape(payload["company_name"], NAME)
    blocks: list[Block] = [
        mrkdwn(
            f":electric_plug: Connect *{name}*'s accounting software to {payload.get('service', 'Sync2Books')} — "
            "the customer opens the link and authorizes it."
        )
    ]
    open_links = []
    # The head, the links, "…and N more" and the footer: within a message's 50 blocks.
    links = payload["links"][: MESSAGE_BLOCKS - 3]
    for link in links:
        state = link.get("state", "pending")
        software = escape(link["name"], NAME)
        if state == "connected":
            blocks.append(mrkdwn(f":white_check_mark: *{software}* — connected."))
        elif state == "expired":
            blocks.append(mrkdwn(f":hourglass: *{software}* — this link expired unused."))
        else:
            open_links.append(link)
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*{software}*\n"
                        + (
                            f"Link valid until {slack_date(link['expires_at'])}"
                            if link.get("expires_at")
                            else "The link stays valid until it is used"
                        ),
                    },
                    "accessory": {
                        "type": "button",
                        "action_id": f"{AUTH_LINK_ACTION}:{link['software']}",
                        "text": plain(f"Connect {link['name']}", BUTTON_TEXT),
                        "url": link["url"],
                        "style": "primary",
                    },
                }
            )
    if len(payload["links"]) > len(links):
        blocks.append(context(f"…and {len(payload['links']) - len(links)} more: ask for one by name."))
    blocks.append(context(f"Requested by {mention(payload['user_id'])}. Each link works once."))
    names = ", ".join(escape(link["name"], NAME) for link in links)
    text = f"Connect {name}'s accounting software ({names})"
    if open_links:
        text += ": " + " ".join(f"{escape(link['name'], NAME)}: {escape(link['url'])}" for link in open_links)
    return text, blocks


def link_connected(payload: dict[str, Any]) -> Message:
    software, name = escape(payload["software_name"], NAME), escape(payload["company_name"], NAME)
    text = f"{software} is connected for {name}. Expenses can now sync to it."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected for *{name}*. Expenses can now sync to it.")]


def link_expired(payload: dict[str, Any]) -> Message:
    software, name = escape(payload["software_name"], NAME), escape(payload["company_name"], NAME)
    command = escape(payload["command"], NAME)
    text = f"The {software} link for {name} expired unused. Run /sync2books connect {command} for a new one."
    return text, [
        mrkdwn(f":hourglass: The *{software}* link for *{name}* expired before anyone used it."),
        context(f"An admin can post a new one with `/sync2books connect {command}`."),
    ]


# --------------------------------------------------------------------------- connections


def connection_connected(payload: dict[str, Any]) -> Message:
    return link_connected(payload)


def connection_restored(payload: dict[str, Any]) -> Message:
    software, name = escape(payload["software_name"], NAME), escape(payload["company_name"], NAME)
    text = f"{software} is connected again for {name}."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected again for *{name}*.")]


def connection_lost(payload: dict[str, Any]) -> Message:
    software, name = escape(payload["software_name"], NAME), escape(payload["company_name"], NAME)
    command = escape(payload["command"], NAME)
    if payload["status"] == "ERROR":
        told = payload.get("error_message")
        reason = escape(told, ERROR) if told else f"{software} no longer accepts {payload.get('service', 'Sync2Books')}"
        head = f":warning: *{software}* stopped accepting expenses for *{name}*: {reason}"
        text = f"{software} stopped accepting expenses for {name}: {reason}"
        what_to_do = (
            f"Expenses cannot sync until the customer authorizes again. An admin can post a new link with "
            f"`/sync2books connect {command}`."
        )
    else:
        head = f":warning: *{software}* was disconnected from *{name}*."
        text = f"{software} was disconnected from {name}."
        what_to_do = f"Expenses cannot sync to it. To reconnect, an admin can run `/sync2books connect {command}`."
    return f"{text} {what_to_do}", [mrkdwn(head), context(what_to_do)]


def disconnected_by_user(payload: dict[str, Any]) -> Message:
    who = mention(payload["user_id"])
    software, name = escape(payload["software_name"], NAME), escape(payload["company_name"], NAME)
    text = f"{who} disconnected {software} from {name}. Expenses will no longer sync to it."
    return text, [
        mrkdwn(f":electric_plug: {who} disconnected *{software}* from *{name}*. Expenses will no longer sync to it."),
        context(f"To connect it again: `/sync2books connect {escape(payload['command'], NAME)}`."),
    ]


def connections_list(company: str, connections: Iterable[ServiceConnection]) -> Message:
    connections = list(connections)
    company_name = escape(company, NAME)
    if not connections:
        text = f"{company_name} has no connections yet. An admin can run /sync2books connect to post a link."
        return text, [
            mrkdwn(f"*{company_name}* has no connections yet."),
            context("An admin can run `/sync2books connect` to post the link that creates one."),
        ]
    lines = []
    for connection in sorted(connections, key=lambda c: c.platform_name):
        line = (
            f"• *{escape(connection.platform_name, NAME)}* — {STATUS_WORDS[connection.status.value]} "
            f"since {slack_date(connection.updated_at)} (`{escape(connection.id, ID)}`)"
        )
        if connection.error:
            line += f"\n   {escape(connection.error.message, 500)}"
        lines.append(line)
    text = f"{company_name}'s connections: " + "; ".join(
        f"{escape(c.platform_name, NAME)} {c.status.value.lower()}" for c in connections
    )
    return shorten(text, SECTION_TEXT), [
        mrkdwn(f"*{company_name}*'s connections"),
        mrkdwn(capped(lines, what="more connections")),
    ]


def disconnect_confirmation(company: str, software: str, connection_id: str) -> Message:
    company_name, software_name = escape(company, NAME), escape(software, NAME)
    question = f"Disconnect *{software_name}* from *{company_name}*? Expenses will stop syncing to it."
    return f"Disconnect {software_name} from {company_name}?", [
        mrkdwn(question),
        {
            "type": "actions",
            "block_id": "disconnect",
            "elements": [
                {
                    "type": "button",
                    "action_id": DISCONNECT_CONFIRM,
                    "text": plain(f"Disconnect {software}", BUTTON_TEXT),
                    "style": "danger",
                    "value": connection_id,
                },
                {"type": "button", "action_id": DISCONNECT_CANCEL, "text": plain("Cancel"), "value": connection_id},
            ],
        },
    ]


def disconnect_done(company_name: str, software_name: str) -> Message:
    text = f"Disconnected {escape(software_name, NAME)} from {escape(company_name, NAME)}."
    return text, [mrkdwn(f":white_check_mark: {text}")]


# --------------------------------------------------------------------------- App Home


HOME_BLOCKS_PER_COMPANY = 3
HOME_CHANNELS = 10


def home_view(companies: Sequence[HomeCompany], recent: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": plain("Sync2Books")}]
    if not companies:
        blocks.append(
            mrkdwn(
                "None of your channels is linked to a company yet. In a channel, an admin can run "
                "`/sync2books register <company name>`."
            )
        )
    recent_blocks = recent_expenses_blocks(recent)
    # What always comes after the companies: the button, the recent expenses, the help line, "…and N more".
    room = VIEW_BLOCKS - len(blocks) - (1 + len(recent_blocks) + 1 + 1)
    for shown, company in enumerate(companies):
        if room < HOME_BLOCKS_PER_COMPANY:
            blocks.append(context(f"…and {len(companies) - shown} more companies: see them in their channels."))
            break
        room -= HOME_BLOCKS_PER_COMPANY
        channels = [channel_link(channel) for channel in company.channel_ids[:HOME_CHANNELS]]
        if len(company.channel_ids) > HOME_CHANNELS:
            channels.append(f"and {len(company.channel_ids) - HOME_CHANNELS} more")
        blocks.append({"type": "divider"})
        blocks.append(mrkdwn(f"*{escape(company.name, NAME)}*  ·  {', '.join(channels)}"))
        if company.connections:
            lines = [
                f"• {escape(c.software_name, NAME)} — {STATUS_WORDS.get(c.status, escape(c.status.lower(), NAME))}"
                for c in company.connections
            ]
            blocks.append(mrkdwn(capped(lines, what="more connections")))
        else:
            blocks.append(context("No accounting software connected yet: `/sync2books connect` in its channel."))
    if companies:
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": NEW_EXPENSE_BUTTON,
                        "text": plain("New expense"),
                        "style": "primary",
                    }
                ],
            }
        )
    blocks += recent_blocks
    blocks.append(context("Type `/sync2books help` in any channel for everything the bot can do."))
    return {"type": "home", "blocks": blocks}


ANNOUNCEMENTS = {
    "company_registered": company_registered,
    "company_linked": company_linked,
    "auth_links": auth_links_message,
    "link_connected": link_connected,
    "link_expired": link_expired,
    "connection_connected": connection_connected,
    "connection_restored": connection_restored,
    "connection_lost": connection_lost,
    "disconnected_by_user": disconnected_by_user,
}


def announcement(kind: str, payload: dict[str, Any]) -> Message:
    return ANNOUNCEMENTS[kind](payload)


# --------------------------------------------------------------------------- expenses

EXPENSE_CALLBACK = "expense"
ATTACH_CALLBACK = "attach_receipt"
ADD_LINE = "expense_add_line"
CHOOSE_CURRENCY = "expense_currency"
CHOOSE_CONNECTION = "expense_connection"
NEW_EXPENSE_BUTTON = "new_expense"
RECEIPT_NEW_EXPENSE = "receipt_new_expense"
RECEIPT_ATTACH = "receipt_attach"
MAX_MODAL_LINES = MAX_LINES
# Offered in the currency menu after the connection's own; any ISO code can still be typed in the API.
COMMON_CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "NZD",
    "CHF",
    "JPY",
    "CNY",
    "HKD",
    "SGD",
    "INR",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "ZAR",
    "MXN",
    "BRL",
    "AED",
    "SAR",
    "BHD",
    "KWD",
    "OMR",
    "KRW",
    "ILS",
    "TRY",
    "THB",
)
TYPE_LABELS = {
    "Payment": "Payment",
    "DirectCost": "Direct cost",
    "Refund": "Refund",
    "Reward": "Reward",
    "Chargeback": "Chargeback",
}
# The external selects, by block: each asks for options with its own action id.
OPTION_ACTIONS = {
    "contact": "opt_contact",
    "bank_account": "opt_bank_account",
    "account": "opt_account",
    "tax_rate": "opt_tax_rate",
    "tracking": "opt_tracking",
    "invoice_to": "opt_invoice_to",
}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, OPTION_TEXT), "value": value[:150]}


def _input(
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


def _external(
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


def expense_modal(
    context: dict[str, Any], *, today: str, currency: str | None = None, prefill: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The expense modal. ``context`` travels in private_metadata; block ids stay stable across updates,
    so Slack keeps what was typed when a line is added or the currency changes. ``prefill`` (Fix and
    retry) puts a failed expense's values in as initial values."""
    view = _expense_modal(context, today=today, currency=currency or (prefill or {}).get("currency"))
    if prefill:
        _prefill(view["blocks"], prefill)
        view["title"] = plain("Fix and retry")
    return view


def _prefill(blocks_: list[Block], prefill: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "type": prefill.get("type"),
        "issue_date": prefill.get("issue_date"),
        "currency": prefill.get("currency"),
        "currency_rate": prefill.get("currency_rate"),
        "merchant": prefill.get("merchant"),
        "contact": prefill.get("contact"),
        "bank_account": prefill.get("bank_account"),
        "notes": prefill.get("notes"),
        "post_as_draft": prefill.get("draft"),
    }
    for index, line in enumerate(prefill.get("lines", [])):
        for field in ("account", "tax_rate", "net", "tax", "tracking", "invoice_to"):
            values[f"line{index}_{field}"] = line.get(field)
    for block in blocks_:
        value = values.get(block.get("block_id", ""))
        if value in (None, "", []):
            continue
        element = block["element"]
        kind = element["type"]
        if kind == "plain_text_input":
            element["initial_value"] = str(value)
        elif kind == "datepicker":
            element["initial_date"] = value
        elif kind == "static_select":
            match = next((o for o in element["options"] if o["value"] == value), None)
            if match:
                element["initial_option"] = match
        elif kind == "external_select":
            element["initial_option"] = option(value[1], value[0])
        elif kind == "multi_external_select":
            element["initial_options"] = [option(name, item_id) for item_id, name in value]
        elif kind == "checkboxes" and value is True:
            element["initial_options"] = element["options"][:1]


def _expense_modal(context: dict[str, Any], *, today: str, currency: str | None = None) -> dict[str, Any]:
    connections = context["connections"]
    chosen = next((c for c in connections if c["id"] == context.get("connection_id")), None)
    blocks: list[Block] = []
    if len(connections) > 1:
        choices = [option(c["name"], c["id"]) for c in connections[:MAX_OPTIONS]]
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": CHOOSE_CONNECTION,
            "options": choices,
            "placeholder": plain("Choose the accounting software"),
        }
        if chosen:
            element["initial_option"] = option(chosen["name"], chosen["id"])
        blocks.append(_input("connection", "Accounting software", element, dispatch=True))
    if chosen is None:
        blocks.append(
            context_block(
                f"*{escape(context['company_name'], NAME)}* has several connected accounting packages: choose "
                "the one this expense goes to."
            )
        )
        return _modal(blocks, context, submit="Next")

    base = chosen["base_currency"]
    currency = currency or base
    types = [option(TYPE_LABELS.get(t, t), t) for t in context["expense_types"]]
    blocks.append(
        _input(
            "type",
            "Type",
            {"type": "static_select", "action_id": "value", "options": types, "initial_option": types[0]},
        )
    )
    blocks.append(_input("issue_date", "Date", {"type": "datepicker", "action_id": "value", "initial_date": today}))
    currencies = [option(code, code) for code in dict.fromkeys((base, *COMMON_CURRENCIES))]
    blocks.append(
        _input(
            "currency",
            "Currency",
            {
                "type": "static_select",
                "action_id": CHOOSE_CURRENCY,
                "options": currencies,
                "initial_option": option(currency, currency),
            },
            dispatch=True,
        )
    )
    if currency != base:
        blocks.append(
            _input(
                "currency_rate",
                f"Exchange rate, {currency} to {base}",
                {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "placeholder": plain(f"1 {currency} = how many {base}"),
                },
            )
        )
    blocks.append(
        _input(
            "merchant", "Merchant", {"type": "plain_text_input", "action_id": "value", "max_length": 100}, optional=True
        )
    )
    blocks.append(
        _input(
            "contact",
            "Supplier" if context.get("contact_types") == ["Supplier"] else "Supplier or customer",
            _external(OPTION_ACTIONS["contact"], "Search"),
            optional=True,
        )
    )
    bank = context.get("bank_account")
    blocks.append(
        _input(
            "bank_account",
            "Paid from",
            _external(OPTION_ACTIONS["bank_account"], "Bank account", tuple(bank) if bank else None),
            optional=True,
            hint=None if bank else "Leave empty to use the company's default.",
        )
    )
    lines = context.get("lines", 1)
    after: list[Block] = []
    if lines < MAX_MODAL_LINES:
        after.append(
            {
                "type": "actions",
                "block_id": "lines_actions",
                "elements": [{"type": "button", "action_id": ADD_LINE, "text": plain("Add line")}],
            }
        )
    # Fix and retry of an expense with more lines than a modal holds: the first ones that fit are shown, the
    # rest are said to be sent again as they were (the service keeps them), and the metadata says how many.
    fits = (VIEW_BLOCKS - len(blocks) - len(after) - _MODAL_TAIL_BLOCKS - 1) // len(_line_blocks(0))
    shown = min(lines, fits)
    for index in range(shown):
        blocks += _line_blocks(index)
    if shown < lines:
        blocks.append(
            context_block(
                f"Lines {shown + 1}–{lines} of this expense are not shown (a Slack form holds {shown}): "
                "they are sent again as they were."
            )
        )
        context = {**context, "lines": shown}
    blocks += after
    blocks.append(
        _input(
            "notes",
            "Notes",
            {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            optional=True,
        )
    )
    blocks.append(
        _input(
            "post_as_draft",
            "Draft",
            {
                "type": "checkboxes",
                "action_id": "value",
                "options": [option("Post as a draft in the accounting software", "draft")],
            },
            optional=True,
        )
    )
    if context.get("receipt_file_ids"):
        blocks.append(context_block(f":paperclip: {len(context['receipt_file_ids'])} receipt(s) from Slack attached."))
    blocks.append(
        _input(
            "receipts",
            "Receipts",
            {
                "type": "file_input",
                "action_id": "value",
                "max_files": 10,
                "filetypes": ["pdf", "jpg", "jpeg", "png", "gif", "heic", "tif", "tiff", "webp"],
            },
            optional=True,
        )
    )
    return _modal(blocks, context, submit="Submit")


# Notes, Draft, the receipts context and the file input: what the modal has after its lines and "Add line".
_MODAL_TAIL_BLOCKS = 4


def context_block(text: str) -> Block:
    return context(text)


def _line_blocks(index: int) -> list[Block]:
    prefix = f"line{index}_"
    amount = {"type": "plain_text_input", "action_id": "value"}
    return [
        context(f"*Line {index + 1}*"),
        _input(prefix + "account", "Account", _external(OPTION_ACTIONS["account"], "Search accounts")),
        _input(prefix + "tax_rate", "Tax rate", _external(OPTION_ACTIONS["tax_rate"], "Search tax rates")),
        _input(prefix + "net", "Net amount", {**amount, "placeholder": plain("1,234.50")}),
        _input(prefix + "tax", "Tax amount", {**amount, "placeholder": plain("0.00")}),
        _input(
            prefix + "tracking",
            "Tracking",
            _external(OPTION_ACTIONS["tracking"], "Categories", multi=True),
            optional=True,
        ),
        _input(
            prefix + "invoice_to",
            "Bill to customer",
            _external(OPTION_ACTIONS["invoice_to"], "Customer"),
            optional=True,
        ),
    ]


# What the expense modal's private_metadata carries: the claim the service checks again, never names to show
# (the service reads those again), so it stays far below Slack's 3,000 characters whatever the names are.
CLAIM_KEYS = ("company_id", "channel_id", "connection_id", "bank_account", "receipt_file_ids", "lines", "retry_of")


def _claim(context: dict[str, Any]) -> str:
    claim = {key: context[key] for key in CLAIM_KEYS if context.get(key) is not None}
    if claim.get("bank_account"):
        bank_id, name = claim["bank_account"]
        claim["bank_account"] = [bank_id, shorten(name, OPTION_TEXT)]
    return json.dumps(claim, separators=(",", ":"))


def _modal(blocks: list[Block], context: dict[str, Any], *, submit: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": EXPENSE_CALLBACK,
        "private_metadata": _claim(context),
        "title": plain("New expense"),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


STATUS_LINES = {
    ("waiting", None): ":hourglass_flowing_sand: Waiting to be sent",
    ("sending", None): ":hourglass_flowing_sand: Sending",
    ("accepted", "QUEUED"): ":inbox_tray: Queued for sync",
    ("accepted", "PROCESSING"): ":arrows_counterclockwise: Syncing to the books",
    ("accepted", "SYNCED"): ":white_check_mark: In the books",
    ("accepted", "FAILED"): ":x: Sync failed",
    ("rejected", None): ":no_entry: Not accepted",
}


def expense_message(payload: dict[str, Any]) -> Message:
    who = mention(payload["user_id"])
    merchant = escape(payload.get("merchant") or "an expense", NAME)
    status = STATUS_LINES.get((payload["state"], payload.get("status")), STATUS_LINES.get((payload["state"], None), ""))
    head = f"{who} submitted *{merchant}* — *{payload['total']}*"
    details = [status]
    if payload.get("accounting_id") and payload.get("status") == "SYNCED":
        details.append(f"Recorded as `{escape(payload['accounting_id'], ID)}`")
    if payload.get("error_message"):
        details.append(escape(payload["error_message"], ERROR))
    text = f"{who} submitted {merchant} for {payload['total']}: {status.split(': ', 1)[-1]}"
    return text, [mrkdwn(head), context(" · ".join(details), f"Expense `{payload['expense_id']}`")]


def receipt_offer(payload: dict[str, Any]) -> Message:
    name = escape(payload["file_name"], NAME)
    text = f"Use {name} as a receipt?"
    return text, [
        mrkdwn(f":receipt: Use *{name}* as a receipt?"),
        {
            "type": "actions",
            "block_id": "receipt",
            "elements": [
                {
                    "type": "button",
                    "action_id": RECEIPT_NEW_EXPENSE,
                    "text": plain("New expense from this receipt"),
                    "value": payload["file_id"],
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": RECEIPT_ATTACH,
                    "text": plain("Attach to an expense"),
                    "value": payload["file_id"],
                },
            ],
        },
    ]


def receipt_note(payload: dict[str, Any]) -> Message:
    """Our sentence about a file, carrying its name and perhaps a service's error: escaped as a whole."""
    text = escape(payload["text"], SECTION_TEXT)
    return text, [mrkdwn(text)]


def attach_modal(file_id: str, expenses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    choices = [
        option(f"{e['merchant'] or 'Expense'} — {e['total']} — {e['date']}", e["expense_id"])
        for e in expenses[:MAX_OPTIONS]
    ]
    blocks: list[Block]
    if choices:
        blocks = [_input("expense", "Expense", {"type": "static_select", "action_id": "value", "options": choices})]
    else:
        blocks = [mrkdwn("You have no expenses to attach it to yet. Use *New expense from this receipt* instead.")]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ATTACH_CALLBACK,
        "private_metadata": json.dumps({"file_id": file_id}),
        "title": plain("Attach a receipt"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }
    if choices:
        view["submit"] = plain("Attach")
    return view


FIX_AND_RETRY = "fix_and_retry"


def _fix_button(expense_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": FIX_AND_RETRY,
        "text": plain("Fix and retry"),
        "value": expense_id,
        "style": "primary",
    }


def expense_outcome(payload: dict[str, Any]) -> Message:
    """The reply in an expense's thread when its batch ends."""
    merchant = escape(payload.get("merchant") or "The expense", NAME)
    if payload["status"] == "SYNCED":
        recorded = f" as `{escape(payload['accounting_id'], ID)}`" if payload.get("accounting_id") else ""
        text = f"{merchant} ({payload['total']}) is in the books{recorded}."
        return text, [mrkdwn(f":white_check_mark: *{merchant}* ({payload['total']}) is in the books{recorded}.")]
    reason = escape(payload.get("error_message") or "The accounting software refused it.", ERROR)
    text = f"{merchant} ({payload['total']}) did not sync: {reason}"
    return text, [
        mrkdwn(f":x: *{merchant}* ({payload['total']}) did not sync.\n{reason}"),
        {
            "type": "actions",
            "block_id": f"fix_{payload['expense_id']}",
            "elements": [_fix_button(payload["expense_id"])],
        },
    ]


MAX_SUMMARY_FAILURES = 20


def outcome_summary(payload: dict[str, Any]) -> Message:
    """One message for many outcomes in a channel at once; every failure still named, with its button."""
    outcomes = payload["outcomes"]
    synced = [o for o in outcomes if o["status"] == "SYNCED"]
    failed = [o for o in outcomes if o["status"] != "SYNCED"]
    text = f"{len(outcomes)} expenses finished syncing: {len(synced)} in the books, {len(failed)} failed."
    message_blocks: list[Block] = [
        mrkdwn(
            f":bar_chart: *{len(outcomes)} expenses finished syncing*: "
            f"{len(synced)} in the books, {len(failed)} failed."
        )
    ]
    for outcome in failed[:MAX_SUMMARY_FAILURES]:
        merchant = escape(outcome.get("merchant") or "Expense", NAME)
        message_blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":x: *{merchant}* ({outcome['total']}) by {mention(outcome['user_id'])}:"
                    f" {escape(outcome.get('error_message') or 'refused', ERROR)}",
                },
                "accessory": _fix_button(outcome["expense_id"]),
            }
        )
    if len(failed) > MAX_SUMMARY_FAILURES:
        message_blocks.append(context(f"…and {len(failed) - MAX_SUMMARY_FAILURES} more failed: see their threads."))
    return text, message_blocks


def invite_needed(payload: dict[str, Any]) -> Message:
    """To the person who asked, in a direct message: the bot cannot post where they asked it to."""
    channel = channel_link(payload["channel_id"])
    text = (
        f"I can't post in {channel}: I'm not a member of it. Type `/invite @Sync2Books` there; "
        "what I owe that channel is posted as soon as I'm in, nothing is lost."
    )
    return text, [mrkdwn(f":wave: {text}")]


ANNOUNCEMENTS.update(
    {
        "invite_needed": invite_needed,
        "expense_outcome": expense_outcome,
        "outcome_summary": outcome_summary,
        "expense_submitted": expense_message,
        "expense": expense_message,
        "receipt_offer": receipt_offer,
        "receipt_refused": receipt_note,
        "receipt_failed": receipt_note,
    }
)


def status_list(company: str, batches: Sequence[Any]) -> Message:
    company_name = escape(company, NAME)
    if not batches:
        text = f"{company_name} has no expenses yet. Submit one with /sync2books expense."
        return text, [
            mrkdwn(f"*{company_name}* has no expenses yet."),
            context("Submit one with `/sync2books expense`."),
        ]
    lines = []
    for batch in batches:
        if batch.batch_id is None:
            lines.append(f"• {batch.expenses} expense(s) waiting to be sent")
            continue
        if batch.waiting or batch.synced + batch.failed < batch.expenses:
            state = ":arrows_counterclockwise: syncing"
        elif batch.failed == 0:
            state = ":white_check_mark: completed"
        elif batch.synced == 0:
            state = ":x: failed"
        else:
            state = ":warning: partly failed"
        lines.append(
            f"• `{escape(batch.batch_id[:8])}` — {batch.expenses} expense(s), {state}"
            f" ({batch.synced} in the books, {batch.failed} failed) · {slack_date(batch.updated_at)}"
        )
    text = f"{company_name}'s recent sync batches: " + "; ".join(line.lstrip("• ") for line in lines)
    return shorten(text, SECTION_TEXT), [
        mrkdwn(f"*{company_name}*'s recent sync batches"),
        mrkdwn(capped(lines, what="more batches")),
    ]


def recent_expenses_blocks(expenses: Sequence[dict[str, Any]]) -> list[Block]:
    if not expenses:
        return []
    lines = [
        f"• *{escape(e['merchant'] or 'Expense', NAME)}* — {e['total']} — "
        f"{STATUS_LINES.get((e['state'], e.get('status')), STATUS_LINES.get((e['state'], None), ''))}"
        for e in expenses
    ]
    return [{"type": "divider"}, mrkdwn("*Your recent expenses*"), mrkdwn(capped(lines, what="more expenses"))]
