-- The relay's first schema. Portable between SQLite and PostgreSQL:
-- TEXT ids (UUID strings), BIGINT unix-millisecond timestamps, BIGINT 0/1
-- flags, no AUTOINCREMENT. Ordered history uses an explicit per-ticket `seq`.

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL UNIQUE,
    hostname    TEXT NOT NULL,
    os          TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_seen   BIGINT
);

CREATE TABLE technicians (
    name       TEXT PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    -- comma-separated role names, e.g. `l1,admin`
    roles      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Only the SHA-256 (hex) of a token's secret is stored, never the secret.
CREATE TABLE enrollment_tokens (
    hash       TEXT PRIMARY KEY,
    uses_left  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    priority    TEXT NOT NULL,
    status      TEXT NOT NULL,
    tier        TEXT NOT NULL,
    source      TEXT NOT NULL,
    agent_id    TEXT REFERENCES agents (id),
    hostname    TEXT,
    requester   TEXT NOT NULL,
    assignee    TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    sla_due_at  BIGINT NOT NULL
);

CREATE INDEX tickets_by_created ON tickets (created_at);
CREATE INDEX tickets_by_status_created ON tickets (status, created_at);

CREATE TABLE ticket_comments (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    seq        BIGINT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (ticket_id, seq)
);

-- History: one JSON-encoded `TicketEventKind` per row.
CREATE TABLE ticket_events (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    seq         BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    event_json  TEXT NOT NULL,
    UNIQUE (ticket_id, seq)
);

CREATE TABLE ticket_snapshots (
    ticket_id     TEXT PRIMARY KEY REFERENCES tickets (id),
    taken_at      BIGINT NOT NULL,
    snapshot_json TEXT NOT NULL
);
