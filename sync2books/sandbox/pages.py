"""The authorization pages behind ``authUrl``: plain HTML a customer can read and click through.

Every link and form action is relative, so the pages stay right when the sandbox is mounted under
another server's path (the bot serves them under its own HTTP server).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from sync2books.models import INTEGRATION_NAMES, IntegrationKey

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f4f5f7; color: #1d1c1d;
       margin: 0; display: flex; min-height: 100vh; align-items: center; justify-content: center; }
main { background: #fff; border-radius: 12px; box-shadow: 0 2px 12px rgba(0,0,0,.08); padding: 32px 40px;
       max-width: 460px; width: 100%; }
h1 { font-size: 1.35rem; margin: 0 0 12px; }
p { line-height: 1.5; color: #454245; }
.actions { display: flex; gap: 12px; margin-top: 24px; }
.actions form { margin: 0; }
button, a.software { font: inherit; padding: 10px 18px; border-radius: 6px; border: 1px solid #bbb;
                     background: #fff; cursor: pointer; text-decoration: none; color: inherit; display: block; }
button.primary { background: #007a5a; border-color: #007a5a; color: #fff; font-weight: 600; }
ul.softwares { list-style: none; padding: 0; display: grid; gap: 10px; }
.note { font-size: .85rem; color: #616061; margin-top: 24px; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} · Sync2Books</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<p class='note'>Sync2Books sandbox: no real accounting data is touched.</p>"
        "</main></body></html>"
    )


def choose_software_page(company_name: str, company_id: str, token: str) -> str:
    items = "".join(
        f"<li><a class='software' data-integration='{key.value}' "
        f"href='{quote(company_id)}/{key.value}?token={quote(token)}'>{escape(name)}</a></li>"
        for key, name in INTEGRATION_NAMES.items()
    )
    body = (
        "<h1>Connect your accounting software</h1>"
        f"<p>Choose the software that keeps the books of <strong>{escape(company_name)}</strong>. You will be "
        "asked to authorize Sync2Books to write expenses to it.</p>"
        f"<ul class='softwares'>{items}</ul>"
    )
    return _page("Connect your accounting software", body)


def authorize_page(company_name: str, company_id: str, integration_key: IntegrationKey, token: str) -> str:
    software = INTEGRATION_NAMES[integration_key]
    action = quote(integration_key.value)
    hidden = f"<input type='hidden' name='token' value='{escape(token, quote=True)}'>"
    body = (
        f"<h1>Connect {escape(software)}</h1>"
        f"<p><strong>{escape(company_name)}</strong> is asking to connect <strong>{escape(software)}</strong> "
        "to Sync2Books, so that expenses submitted in Slack are written to your books.</p>"
        "<p>Sync2Books will be able to read your chart of accounts, tax rates, suppliers, customers and bank "
        "accounts, and to create expense transactions.</p>"
        "<div class='actions'>"
        f"<form method='post' action='{action}/authorize'>{hidden}"
        "<button class='primary' type='submit' id='authorize'>Authorize</button></form>"
        f"<form method='post' action='{action}/deny'>{hidden}"
        "<button type='submit' id='deny'>Deny</button></form>"
        "</div>"
    )
    return _page(f"Connect {software}", body)


def authorized_page(company_name: str, integration_key: IntegrationKey) -> str:
    software = INTEGRATION_NAMES[integration_key]
    return _page(
        "Connected",
        f"<h1 id='outcome'>{escape(software)} is connected</h1>"
        f"<p>{escape(company_name)} can now sync expenses to {escape(software)}. You can close this window.</p>",
    )


def denied_page(company_name: str, integration_key: IntegrationKey) -> str:
    software = INTEGRATION_NAMES[integration_key]
    return _page(
        "Not connected",
        f"<h1 id='outcome'>{escape(software)} was not connected</h1>"
        f"<p>You denied access, so nothing was shared with Sync2Books for {escape(company_name)}. "
        "Ask for a new link if you change your mind.</p>",
    )


LINK_REFUSALS = {
    "used": ("This link has already been used", "Each authorization link works once. Ask for a new link."),
    "expired": ("This link has expired", "Authorization links are valid for 30 minutes. Ask for a new link."),
    "unknown": ("This link is not valid", "Check that you opened the whole link, or ask for a new one."),
}


def link_refused_page(reason: str) -> str:
    title, text = LINK_REFUSALS[reason]
    return _page(title, f"<h1 id='outcome'>{escape(title)}</h1><p>{escape(text)}</p>")
