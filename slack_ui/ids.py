"""Every id the bot's surfaces carry, in one place: callback ids, action ids, block ids and the expense
modal's field names. A listener matches on these, a builder puts them in and the state readers look them up,
so each is spelled here once."""

from __future__ import annotations

from bot.services.expense_form import line_field as line_field

# The action id of every input whose value is read back by its block id alone.
VALUE = "value"

# --------------------------------------------------------------------------- commands, shortcuts, modals
COMMAND = "/sync2books"
NEW_EXPENSE_SHORTCUT = "new_expense"
REGISTER_CALLBACK = "register_company"
EXPENSE_CALLBACK = "expense"
ATTACH_CALLBACK = "attach_receipt"

# --------------------------------------------------------------------------- buttons and menus
DISCONNECT_CONFIRM = "disconnect_confirm"
DISCONNECT_CANCEL = "disconnect_cancel"
# A link's button is "auth_link:<software>": one action id per software in the same message.
AUTH_LINK_ACTION = "auth_link"
NEW_EXPENSE_BUTTON = "new_expense"
RECEIPT_NEW_EXPENSE = "receipt_new_expense"
RECEIPT_ATTACH = "receipt_attach"
FIX_AND_RETRY = "fix_and_retry"
ADD_LINE = "expense_add_line"
CHOOSE_CURRENCY = "expense_currency"
CHOOSE_CONNECTION = "expense_connection"

# --------------------------------------------------------------------------- block ids of messages and views
DISCONNECT_BLOCK = "disconnect"
HOME_ACTIONS_BLOCK = "home_actions"
RECEIPT_BLOCK = "receipt"
LINES_ACTIONS_BLOCK = "lines_actions"


def fix_block(expense_id: str) -> str:
    """The block of an outcome's Fix and retry button."""
    return f"fix_{expense_id}"


# --------------------------------------------------------------------------- the register modal's fields
COMPANY_NAME = "name"
COMPANY_DESCRIPTION = "description"

# --------------------------------------------------------------------------- the attach modal's field
ATTACH_EXPENSE = "expense"

# --------------------------------------------------------------------------- the expense modal's fields
# Each is the block id of its input, and the key the form's errors (bot.services.expense_form) use for it.
CONNECTION = "connection"
TYPE = "type"
ISSUE_DATE = "issue_date"
CURRENCY = "currency"
CURRENCY_RATE = "currency_rate"
MERCHANT = "merchant"
CONTACT = "contact"
BANK_ACCOUNT = "bank_account"
NOTES = "notes"
POST_AS_DRAFT = "post_as_draft"
RECEIPTS = "receipts"
# Per line i (0-based), line_field(i, name) for each of these.
ACCOUNT = "account"
TAX_RATE = "tax_rate"
NET = "net"
TAX = "tax"
TRACKING = "tracking"
INVOICE_TO = "invoice_to"
LINE_FIELDS = (ACCOUNT, TAX_RATE, NET, TAX, TRACKING, INVOICE_TO)
# The form's error that is no one field's: shown at the first line's account.
LINES = "lines"

# The external selects, by field: each asks for options with its own action id.
OPTION_ACTIONS = {
    CONTACT: "opt_contact",
    BANK_ACCOUNT: "opt_bank_account",
    ACCOUNT: "opt_account",
    TAX_RATE: "opt_tax_rate",
    TRACKING: "opt_tracking",
    INVOICE_TO: "opt_invoice_to",
}
