"""Log lines as text or as one JSON object a line, carrying the request, workspace and company they concern.

Whatever the format, anything shaped like a secret (Slack tokens, API keys, webhook secrets, a password in
a URL) is masked before the line is written: a secret that slipped into a message still never reaches a log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# One dict per request, shared (not copied) with the tasks the request starts, so fields learnt later
# (the workspace, once the body is read) still reach their lines.
_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)

SECRET_SHAPES = re.compile(
    r"xox[abeoprs]-[A-Za-z0-9-]+"
    r"|xapp-[A-Za-z0-9-]+"
    r"|sk_(?:live|test)_[A-Za-z0-9_]+"
    r"|whsec_[A-Za-z0-9+/=]+"
    r"|(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask(text: str) -> str:
    return SECRET_SHAPES.sub("[redacted]", text)


@contextmanager
def log_context(**fields: str | None) -> Iterator[dict[str, str]]:
    """Add fields to every line logged inside the block (and in tasks it starts); yields the dict to add more."""
    current = dict(_CONTEXT.get() or {})
    current.update({key: value for key, value in fields.items() if value})
    token = _CONTEXT.set(current)
    try:
        yield current
    finally:
        _CONTEXT.reset(token)


def context() -> dict[str, str]:
    return dict(_CONTEXT.get() or {})


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
            **context(),
        }
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str) -> None:
    """Give every handler of the root logger the chosen format (``text`` or ``json``)."""
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(formatter)
