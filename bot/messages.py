"""Every message the bot posts or rewrites, as a typed model, and the one registry of their kinds.

Services build these; the announcement sender stores ``dump(message)`` (the JSON of the announcements
table) and reads a row back with ``load(kind, payload)``; the notifier and the presentation
(``slack_ui/messages.py``) draw each from its model. This module imports neither the services nor the presentation.

A model's fields are exactly the keys its payload has always had, in the same order. ``dump`` writes only
the fields that were given (``exclude_unset``): a field a service sets to ``None`` is stored as ``null``, one
it leaves out is not stored, so a row read back and written again (an outcome folded into a summary) keeps
its shape to the key.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

SERVICE = "Sync2Books"


class Message(BaseModel):
    """One message kind; ``KIND`` names it in the announcements table and in the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]

    def thread(self) -> str | None:
        """The thread it is posted in as a reply; None: in the channel itself."""
        return None


# --------------------------------------------------------------------------- companies


class CompanyNews(Message):
    company_id: str
    company_name: str
    service: str = SERVICE
    user_id: str


class CompanyRegistered(CompanyNews):
    KIND = "company_registered"


class CompanyLinked(CompanyNews):
    KIND = "company_linked"


class InviteNeeded(Message):
    """To the person who asked, in a direct message: the bot is not in ``channel_id``."""

    KIND = "invite_needed"
    channel_id: str


# --------------------------------------------------------------------------- links and connections


class AuthLinkEntry(BaseModel):
    """One link on the links message; ``state`` once it was used or expired (absent or None: still open)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    software: str
    name: str
    url: str
    expires_at: str | None = None
    state: str | None = None


class AuthLinks(Message):
    KIND = "auth_links"
    company_name: str
    service: str = SERVICE
    user_id: str
    links: list[AuthLinkEntry]


class LinkNews(Message):
    """What became of a link, with the whole links message as it should now read (``link_message``), which the
    notifier rewrites in place when its ts (``link_message_ts``) is known."""

    company_name: str
    software_name: str
    command: str
    link_message_ts: str | None = None
    link_message: AuthLinks | None = None


class LinkConnected(LinkNews):
    KIND = "link_connected"


class LinkExpired(LinkNews):
    KIND = "link_expired"


class ConnectionNews(Message):
    company_name: str
    service: str = SERVICE
    software_name: str
    status: str
    error_message: str | None = None
    command: str


class ConnectionConnected(ConnectionNews):
    KIND = "connection_connected"


class ConnectionRestored(ConnectionNews):
    KIND = "connection_restored"


class ConnectionLost(ConnectionNews):
    KIND = "connection_lost"


class DisconnectedByUser(Message):
    KIND = "disconnected_by_user"
    company_name: str
    software_name: str
    command: str
    user_id: str


# --------------------------------------------------------------------------- expenses


class ExpenseSubmitted(Message):
    """Owed when an expense is submitted: it names the expense only. Just before it is posted the sender draws
    it as the expense then stands (an ``ExpenseMessage``); the post's ts is kept for the rewrites."""

    KIND = "expense_submitted"
    expense_id: str


class ExpenseMessage(Message):
    """The expense's message in its channel as the expense stands (what ``summary`` of a record says)."""

    KIND = "expense"
    expense_id: str
    user_id: str
    merchant: str | None = None
    total: str
    state: str
    status: str | None = None
    error_message: str | None = None
    accounting_id: str | None = None


class ExpenseOutcome(Message):
    """The reply in an expense's thread when its batch ends: the expense, its batch and how it ended there."""

    KIND = "expense_outcome"
    expense_id: str
    user_id: str
    merchant: str | None = None
    total: str
    state: str | None = None
    status: str
    error_message: str | None = None
    accounting_id: str | None = None
    batch_id: str | None = None
    batch_status: str | None = None
    thread_ts: str | None = None

    def thread(self) -> str | None:
        return self.thread_ts


class OutcomeSummary(Message):
    """Many outcomes in one channel said at once."""

    KIND = "outcome_summary"
    outcomes: list[ExpenseOutcome]


# --------------------------------------------------------------------------- receipts


class ReceiptOffer(Message):
    KIND = "receipt_offer"
    file_id: str
    file_name: str
    thread_ts: str | None = None

    def thread(self) -> str | None:
        return self.thread_ts


class ReceiptDuplicate(Message):
    """In a shared file's thread: it may be a second copy of an expense already submitted (which one, by whom)."""

    KIND = "receipt_duplicate"
    file_name: str
    thread_ts: str | None = None
    expense_id: str
    merchant: str | None = None
    total: str
    issue_date: str | None = None
    user_id: str
    same_bytes: bool

    def thread(self) -> str | None:
        return self.thread_ts


class ReceiptNote(Message):
    """Our sentence about a file (its name, perhaps a service's error in it)."""

    text: str
    thread_ts: str | None = None

    def thread(self) -> str | None:
        return self.thread_ts


class ReceiptRefused(ReceiptNote):
    KIND = "receipt_refused"


class ReceiptFailed(ReceiptNote):
    KIND = "receipt_failed"
    user_id: str | None = None


KINDS: dict[str, type[Message]] = {
    model.KIND: model
    for model in (
        CompanyRegistered,
        CompanyLinked,
        InviteNeeded,
        AuthLinks,
        LinkConnected,
        LinkExpired,
        ConnectionConnected,
        ConnectionRestored,
        ConnectionLost,
        DisconnectedByUser,
        ExpenseSubmitted,
        ExpenseMessage,
        ExpenseOutcome,
        OutcomeSummary,
        ReceiptOffer,
        ReceiptDuplicate,
        ReceiptRefused,
        ReceiptFailed,
    )
}


def dump(message: Message) -> dict[str, Any]:
    """The message as the announcements table stores it: the JSON of the fields it was given."""
    return message.model_dump(mode="json", exclude_unset=True)


def load(kind: str, payload: dict[str, Any]) -> Message:
    """A stored row's payload back as the model of its kind (``KeyError`` for a kind not in the registry)."""
    return KINDS[kind].model_validate(payload)


M = TypeVar("M", bound=Message)


def expect(message: Message, model: type[M]) -> M:
    """``message`` as the model a step was written for (a hook registered for one kind is handed that kind)."""
    if not isinstance(message, model):
        raise TypeError(f"expected a {model.KIND} message, not {message.KIND}")
    return message
