"""Outside text as Block Kit may carry it: escaped for mrkdwn, shortened, capped, and Slack's limits.

This is the one place outside text (names, typed text, file names, service errors) is escaped for mrkdwn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

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
