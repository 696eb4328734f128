-- Notifications that leave the relay: webhooks, email addresses, ticket
-- watchers, and one durable queue of deliveries for both channels.
-- Portable: TEXT ids, BIGINT unix milliseconds, no backend types.

-- A webhook. Removed ones keep their row (`removed_at`) so that their
-- deliveries still name something; the secret is kept to sign bodies and
-- is never sent back to a client.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    removed_at BIGINT
);

-- Where mail for a technician goes, and for which events.
CREATE TABLE technician_email (
    name    TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    events  TEXT NOT NULL
);

-- A support tier's queue address (`l1`, `l2`, `l3`).
CREATE TABLE tier_email (
    tier    TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    events  TEXT NOT NULL
);

-- Technicians following a ticket (`tickets follow`).
CREATE TABLE ticket_watchers (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    technician TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, technician)
);

-- One message to one webhook or address. The id is derived from
-- (target, feed seq, event), so relays sharing the store insert each
-- delivery once (`ON CONFLICT DO NOTHING`), and a receiver sees the same
-- id on every retry. `claimed_until` is the lease of the relay sending the
-- current attempt. state: pending | delivered | abandoned.
CREATE TABLE notify_deliveries (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    target          TEXT NOT NULL,
    event           TEXT NOT NULL,
    feed_seq        BIGINT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    last_error      TEXT,
    last_error_at   BIGINT
);

CREATE INDEX notify_deliveries_due ON notify_deliveries (state, next_attempt_at);
CREATE INDEX notify_deliveries_target ON notify_deliveries (target, state);

-- The newest queue feed number already turned into deliveries; one row.
-- It starts at the feed's head: history from before this feature existed
-- is not sent out.
CREATE TABLE notify_cursor (
    id       INTEGER PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

INSERT INTO notify_cursor (id, last_seq)
SELECT 1, last_seq FROM queue_feed_counter WHERE id = 1;
