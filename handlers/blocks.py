"""Block Kit for every message, modal and view the bot shows, as pure functions of plain data.

Each builder answers ``(text, blocks)``: ``text`` is the notification and screen-reader fallback and
says the whole thing on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.services.home import HomeCompany
from bot.software import COMMAND_NAMES, valid_names
from sync2books.models import Connection

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


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in texts]}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def slack_date(moment: datetime | str, style: str = "{date_short_pretty} at {time}") -> str:
    """A date every reader sees in their own time zone, with a UTC fallback for old clients."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{style}|{fallback}>"


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


# --------------------------------------------------------------------------- help and refusals

SUBCOMMANDS: Sequence[tuple[str, str]] = (
    ("help", "this list"),
    ("register <company name>", "admins: create the company with Sync2Books and link this channel to it"),
    ("link <company id>", "admins: link this channel to an existing company"),
    ("connect [software]", f"admins: post the link that connects accounting software ({valid_names()})"),
    ("connections", "the company's connections and their status"),
    ("disconnect <software or connection id>", "admins: unlink accounting software (asks first)"),
)


def usage() -> Message:
    lines = "\n".join(f"• `/sync2books {name}` — {what}" for name, what in SUBCOMMANDS)
    text = "Sync2Books for Slack: what you can ask\n" + lines
    return text, [mrkdwn("*Sync2Books for Slack* — what you can ask"), mrkdwn(lines)]


def refusal(text: str) -> Message:
    return text, [mrkdwn(text)]


# --------------------------------------------------------------------------- registering


def register_modal(channel_id: str) -> dict[str, Any]:
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
            context("The company is created with Sync2Books and this channel is linked to it."),
        ],
    }


def company_registered(payload: dict[str, Any]) -> Message:
    who, name = mention(payload["user_id"]), payload["company_name"]
    text = f"{who} registered {name} with Sync2Books and linked it to this channel."
    next_step = "Next: an admin runs `/sync2books connect` to post the link that connects its accounting software."
    return text, [
        mrkdwn(f":tada: {who} registered *{name}* with Sync2Books and linked it to this channel."),
        context(next_step, f"Company id `{payload['company_id']}`"),
    ]


def company_linked(payload: dict[str, Any]) -> Message:
    who, name = mention(payload["user_id"]), payload["company_name"]
    text = f"{who} linked this channel to {name}."
    return text, [
        mrkdwn(f":link: {who} linked this channel to *{name}*."),
        context("Everything typed here with `/sync2books` now acts on it."),
    ]


# --------------------------------------------------------------------------- authorization links


def auth_links_message(payload: dict[str, Any]) -> Message:
    """The message with one button per link; a link that was used or expired shows that instead."""
    name = payload["company_name"]
    blocks: list[Block] = [
        mrkdwn(
            f":electric_plug: Connect *{name}*'s accounting software to Sync2Books — the customer opens the "
            "link and authorizes it."
        )
    ]
    open_links = []
    for link in payload["links"]:
        state = link.get("state", "pending")
        if state == "connected":
            blocks.append(mrkdwn(f":white_check_mark: *{link['name']}* — connected."))
        elif state == "expired":
            blocks.append(mrkdwn(f":hourglass: *{link['name']}* — this link expired unused."))
        else:
            open_links.append(link)
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*{link['name']}*\nLink valid until {slack_date(link['expires_at'])}",
                    },
                    "accessory": {
                        "type": "button",
                        "action_id": f"{AUTH_LINK_ACTION}:{link['software']}",
                        "text": plain(f"Connect {link['name']}"),
                        "url": link["url"],
                        "style": "primary",
                    },
                }
            )
    blocks.append(context(f"Requested by {mention(payload['user_id'])}. Each link works once."))
    names = ", ".join(link["name"] for link in payload["links"])
    text = f"Connect {name}'s accounting software ({names})"
    if open_links:
        text += ": " + " ".join(f"{link['name']}: {link['url']}" for link in open_links)
    return text, blocks


def link_connected(payload: dict[str, Any]) -> Message:
    software, name = payload["software_name"], payload["company_name"]
    text = f"{software} is connected for {name}. Expenses can now sync to it."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected for *{name}*. Expenses can now sync to it.")]


def link_expired(payload: dict[str, Any]) -> Message:
    software, name, command = payload["software_name"], payload["company_name"], payload["command"]
    text = f"The {software} link for {name} expired unused. Run /sync2books connect {command} for a new one."
    return text, [
        mrkdwn(f":hourglass: The *{software}* link for *{name}* expired before anyone used it."),
        context(f"An admin can post a new one with `/sync2books connect {command}`."),
    ]


# --------------------------------------------------------------------------- connections


def connection_connected(payload: dict[str, Any]) -> Message:
    return link_connected(payload)


def connection_restored(payload: dict[str, Any]) -> Message:
    software, name = payload["software_name"], payload["company_name"]
    text = f"{software} is connected again for {name}."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected again for *{name}*.")]


def connection_lost(payload: dict[str, Any]) -> Message:
    software, name, command = payload["software_name"], payload["company_name"], payload["command"]
    if payload["status"] == "ERROR":
        reason = payload.get("error_message") or f"{software} no longer accepts Sync2Books"
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
    who, software, name = mention(payload["user_id"]), payload["software_name"], payload["company_name"]
    text = f"{who} disconnected {software} from {name}. Expenses will no longer sync to it."
    return text, [
        mrkdwn(f":electric_plug: {who} disconnected *{software}* from *{name}*. Expenses will no longer sync to it."),
        context(f"To connect it again: `/sync2books connect {payload['command']}`."),
    ]


def connections_list(company_name: str, connections: Iterable[Connection]) -> Message:
    connections = list(connections)
    if not connections:
        text = f"{company_name} has no connections yet. An admin can run /sync2books connect to post a link."
        return text, [
            mrkdwn(f"*{company_name}* has no connections yet."),
            context("An admin can run `/sync2books connect` to post the link that creates one."),
        ]
    lines = []
    for connection in sorted(connections, key=lambda c: c.platform_name):
        line = (
            f"• *{connection.platform_name}* — {STATUS_WORDS[connection.status.value]} "
            f"since {slack_date(connection.updated_at)} (`{connection.id}`)"
        )
        if connection.error:
            line += f"\n   {connection.error.message}"
        lines.append(line)
    text = f"{company_name}'s connections: " + "; ".join(
        f"{c.platform_name} {c.status.value.lower()}" for c in connections
    )
    return text, [mrkdwn(f"*{company_name}*'s connections"), mrkdwn("\n".join(lines))]


def disconnect_confirmation(company_name: str, software_name: str, connection_id: str) -> Message:
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
                    "text": plain(f"Disconnect {software_name}"),
                    "style": "danger",
                    "value": connection_id,
                },
                {"type": "button", "action_id": DISCONNECT_CANCEL, "text": plain("Cancel"), "value": connection_id},
            ],
        },
    ]


def disconnect_done(company_name: str, software_name: str) -> Message:
    text = f"Disconnected {software_name} from {company_name}."
    return text, [mrkdwn(f":white_check_mark: {text}")]


# --------------------------------------------------------------------------- App Home


def home_view(companies: Sequence[HomeCompany]) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": plain("Sync2Books")}]
    if not companies:
        blocks.append(
            mrkdwn(
                "None of your channels is linked to a company yet. In a channel, an admin can run "
                "`/sync2books register <company name>`."
            )
        )
    for company in companies:
        channels = ", ".join(f"<#{channel}>" for channel in company.channel_ids)
        blocks.append({"type": "divider"})
        blocks.append(mrkdwn(f"*{company.name}*  ·  {channels}"))
        if company.connections:
            lines = [
                f"• {c.software_name} — {STATUS_WORDS.get(c.status, c.status.lower())}" for c in company.connections
            ]
            blocks.append(mrkdwn("\n".join(lines)))
        else:
            blocks.append(context("No accounting software connected yet: `/sync2books connect` in its channel."))
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


def software_choices() -> str:
    return ", ".join(names[0] for names in COMMAND_NAMES.values())
