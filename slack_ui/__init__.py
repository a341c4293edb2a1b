"""The bot's Slack presentation: Block Kit for every message, modal and view, as pure functions of plain data,
and the reading of what Slack sends back from them. One module a surface; ids in ``ids``, escaping in ``text``.

Each message builder answers ``(text, blocks)``: ``text`` is the notification and screen-reader fallback and
says the whole thing on its own. Nothing here calls Slack, the database or a service.
"""
