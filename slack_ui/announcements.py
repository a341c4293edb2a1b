"""What the bot tells a channel about its company, and the invitation it asks for in a direct message."""

from __future__ import annotations

from bot import messages as m
from slack_ui.kit import Message, context, mrkdwn
from slack_ui.text import ID, NAME, channel_link, escape, mention


def company_registered(message: m.CompanyRegistered) -> Message:
    who, name = mention(message.user_id), escape(message.company_name, NAME)
    service = message.service
    text = f"{who} registered {name} with {service} and linked it to this channel."
    next_step = "Next: an admin runs `/sync2books connect` to post the link that connects its accounting software."
    return text, [
        mrkdwn(f":tada: {who} registered *{name}* with {service} and linked it to this channel."),
        context(next_step, f"Company id `{escape(message.company_id, ID)}`"),
    ]


def company_linked(message: m.CompanyLinked) -> Message:
    who, name = mention(message.user_id), escape(message.company_name, NAME)
    text = f"{who} linked this channel to {name}."
    return text, [
        mrkdwn(f":link: {who} linked this channel to *{name}*."),
        context("Everything typed here with `/sync2books` now acts on it."),
    ]


def invite_needed(message: m.InviteNeeded) -> Message:
    """To the person who asked, in a direct message: the bot cannot post where they asked it to."""
    channel = channel_link(message.channel_id)
    text = (
        f"I can't post in {channel}: I'm not a member of it. Type `/invite @Sync2Books` there; "
        "what I owe that channel is posted as soon as I'm in, nothing is lost."
    )
    return text, [mrkdwn(f":wave: {text}")]
