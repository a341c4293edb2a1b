"""Accounting software as people type it in Slack (`quickbooks`, `qbo`, `Xero`…), per expense-sync service.

Each service has its own keys for the same software (Sync2Books says ``XERO``, Codat says ``gbol``) and its
own list of what it connects to; the running backend hands its catalog to the services, so a command, a
refusal and a help line always name what that service accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Software:
    key: str  # the service's own key
    name: str  # as the vendor writes it
    # The first is the name we suggest; the rest are accepted too.
    command_names: tuple[str, ...]


class SoftwareCatalog:
    def __init__(self, software: Sequence[Software]) -> None:
        self._software = tuple(software)
        self._by_key = {item.key: item for item in self._software}
        self._by_name = {name: item for item in self._software for name in item.command_names}

    def __iter__(self) -> Iterator[Software]:
        return iter(self._software)

    def parse(self, text: str) -> Software | None:
        """The software a user named, in any case; None when it is not one this service knows."""
        return self._by_name.get(text.strip().lower())

    def get(self, key: str) -> Software | None:
        return self._by_key.get(key)

    def command_name(self, key: str) -> str:
        item = self._by_key.get(key)
        return item.command_names[0] if item else key

    def display_name(self, key: str) -> str:
        item = self._by_key.get(key)
        return item.name if item else key

    def valid_names(self) -> str:
        """ "quickbooks (or qbo), quickbooks-desktop (or qbd), xero or sage", for refusals and help."""
        parts = [
            f"{item.command_names[0]} (or {', '.join(item.command_names[1:])})"
            if len(item.command_names) > 1
            else item.command_names[0]
            for item in self._software
        ]
        return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else "".join(parts)
