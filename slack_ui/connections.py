"""Connections: the authorization links, what becomes of them and of each connection, the list, disconnecting."""

from __future__ import annotations

from collections.abc import Iterable

from bot import messages as m
from bot.backend import ServiceConnection
from slack_ui import ids
from slack_ui.kit import Block, Message, context, mrkdwn, plain
from slack_ui.text import (
    BUTTON_TEXT,
    ERROR,
    ID,
    MESSAGE_BLOCKS,
    NAME,
    SECTION_TEXT,
    capped,
    escape,
    mention,
    shorten,
    slack_date,
)

STATUS_WORDS = {
    "CONNECTED": ":large_green_circle: connected",
    "DISCONNECTED": ":white_circle: disconnected",
    "ERROR": ":red_circle: needs re-authorizing",
}


def auth_links_message(message: m.AuthLinks) -> Message:
    """The message with one button per link; a link that was used or expired shows that instead."""
    name = escape(message.company_name, NAME)
    blocks: list[Block] = [
        mrkdwn(
            f":electric_plug: Connect *{name}*'s accounting software to {message.service} — "
            "the customer opens the link and authorizes it."
        )
    ]
    open_links = []
    # The head, the links, "…and N more" and the footer: within a message's 50 blocks.
    links = message.links[: MESSAGE_BLOCKS - 3]
    for link in links:
        state = link.state or "pending"
        software = escape(link.name, NAME)
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
                            f"Link valid until {slack_date(link.expires_at)}"
                            if link.expires_at
                            else "The link stays valid until it is used"
                        ),
                    },
                    "accessory": {
                        "type": "button",
                        "action_id": f"{ids.AUTH_LINK_ACTION}:{link.software}",
                        "text": plain(f"Connect {link.name}", BUTTON_TEXT),
                        "url": link.url,
                        "style": "primary",
                    },
                }
            )
    if len(message.links) > len(links):
        blocks.append(context(f"…and {len(message.links) - len(links)} more: ask for one by name."))
    blocks.append(context(f"Requested by {mention(message.user_id)}. Each link works once."))
    names = ", ".join(escape(link.name, NAME) for link in links)
    text = f"Connect {name}'s accounting software ({names})"
    if open_links:
        text += ": " + " ".join(f"{escape(link.name, NAME)}: {escape(link.url)}" for link in open_links)
    return text, blocks


def _connected(software_name: str, company_name: str) -> Message:
    software, name = escape(software_name, NAME), escape(company_name, NAME)
    text = f"{software} is connected for {name}. Expenses can now sync to it."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected for *{name}*. Expenses can now sync to it.")]


def link_connected(message: m.LinkConnected) -> Message:
    return _connected(message.software_name, message.company_name)


def link_expired(message: m.LinkExpired) -> Message:
    software, name = escape(message.software_name, NAME), escape(message.company_name, NAME)
    command = escape(message.command, NAME)
    text = f"The {software} link for {name} expired unused. Run /sync2books connect {command} for a new one."
    return text, [
        mrkdwn(f":hourglass: The *{software}* link for *{name}* expired before anyone used it."),
        context(f"An admin can post a new one with `/sync2books connect {command}`."),
    ]


# --------------------------------------------------------------------------- connections


def connection_connected(message: m.ConnectionConnected) -> Message:
    return _connected(message.software_name, message.company_name)


def connection_restored(message: m.ConnectionRestored) -> Message:
    software, name = escape(message.software_name, NAME), escape(message.company_name, NAME)
    text = f"{software} is connected again for {name}."
    return text, [mrkdwn(f":white_check_mark: *{software}* is connected again for *{name}*.")]


def connection_lost(message: m.ConnectionLost) -> Message:
    software, name = escape(message.software_name, NAME), escape(message.company_name, NAME)
    command = escape(message.command, NAME)
    if message.status == "ERROR":
        told = message.error_message
        reason = escape(told, ERROR) if told else f"{software} no longer accepts {message.service}"
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


def disconnected_by_user(message: m.DisconnectedByUser) -> Message:
    who = mention(message.user_id)
    software, name = escape(message.software_name, NAME), escape(message.company_name, NAME)
    text = f"{who} disconnected {software} from {name}. Expenses will no longer sync to it."
    return text, [
        mrkdwn(f":electric_plug: {who} disconnected *{software}* from *{name}*. Expenses will no longer sync to it."),
        context(f"To connect it again: `/sync2books connect {escape(message.command, NAME)}`."),
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
            "block_id": ids.DISCONNECT_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.DISCONNECT_CONFIRM,
                    "text": plain(f"Disconnect {software}", BUTTON_TEXT),
                    "style": "danger",
                    "value": connection_id,
                },
                {"type": "button", "action_id": ids.DISCONNECT_CANCEL, "text": plain("Cancel"), "value": connection_id},
            ],
        },
    ]


def disconnect_done(company_name: str, software_name: str) -> Message:
    text = f"Disconnected {escape(software_name, NAME)} from {escape(company_name, NAME)}."
    return text, [mrkdwn(f":white_check_mark: {text}")]
