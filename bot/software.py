"""Accounting software as people type it in Slack: `quickbooks`, `qbo`, `QuickBooks-Desktop`, `xero`, `sage`."""

from __future__ import annotations

from sync2books.models import INTEGRATION_NAMES, IntegrationKey

# The first name of each is the one we suggest; the rest are accepted too.
COMMAND_NAMES: dict[IntegrationKey, tuple[str, ...]] = {
    IntegrationKey.QUICKBOOKS: ("quickbooks", "qbo"),
    IntegrationKey.QUICKBOOKS_DESKTOP: ("quickbooks-desktop", "qbd"),
    IntegrationKey.XERO: ("xero",),
    IntegrationKey.SAGE: ("sage",),
}
_BY_NAME = {name: key for key, names in COMMAND_NAMES.items() for name in names}


def parse_software(text: str) -> IntegrationKey | None:
    """The software a user named, in any case; None when it is not one we know."""
    return _BY_NAME.get(text.strip().lower())


def command_name(key: IntegrationKey) -> str:
    return COMMAND_NAMES[key][0]


def display_name(key: IntegrationKey | str) -> str:
    return INTEGRATION_NAMES[IntegrationKey(key)]


def valid_names() -> str:
    """ "quickbooks (or qbo), quickbooks-desktop (or qbd), xero or sage", for refusals."""
    parts = [
        f"{names[0]} (or {', '.join(names[1:])})" if len(names) > 1 else names[0] for names in COMMAND_NAMES.values()
    ]
    return ", ".join(parts[:-1]) + " or " + parts[-1]
