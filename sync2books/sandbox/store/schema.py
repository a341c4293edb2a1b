"""The sandbox's tables, created when the store opens (``IF NOT EXISTS``: an existing database is kept)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (
    id TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    link_token TEXT NOT NULL,
    config TEXT
);
CREATE INDEX IF NOT EXISTS companies_by_partner ON companies (partner, created_at, id);
CREATE TABLE IF NOT EXISTS auth_links (
    token_hash TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    integration_key TEXT,
    expires_at TEXT,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    base_currency TEXT NOT NULL,
    multi_currency INTEGER NOT NULL,
    error_code TEXT,
    error_message TEXT,
    synced_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS connections_by_company ON connections (company_id, created_at);
CREATE TABLE IF NOT EXISTS ledger_items (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (connection_id, kind, id)
);
CREATE INDEX IF NOT EXISTS ledger_items_in_order ON ledger_items (connection_id, kind, position);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    partner TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS batches_by_update ON batches (partner, updated_at, id);
CREATE INDEX IF NOT EXISTS batches_open ON batches (status, seq);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    expense_id TEXT NOT NULL,
    status TEXT NOT NULL,
    accounting_id TEXT,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (batch_id, position)
);
CREATE TABLE IF NOT EXISTS expenses (
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    body TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    accounting_id TEXT,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (company_id, id)
);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    expense_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (company_id, expense_id, sha256)
);
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_by_partner ON webhook_subscriptions (partner, created_at, id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
"""
