-- Log pulls and screenshots: metadata only (who, agent, path, bytes,
-- duration, result), never the streamed content. Same portable
-- conventions: TEXT ids, BIGINT unix milliseconds.
CREATE TABLE transfers (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    technician  TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    path        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    -- the relay's own SHA-256 of what passed through; NULL when it did not finish
    sha256      TEXT,
    result      TEXT NOT NULL,
    ticket_id   TEXT
);

CREATE INDEX transfers_by_time ON transfers (started_at);

-- Files stored on a ticket with `--attach` (at most MAX_ATTACHMENT_LEN
-- bytes each), content as hex TEXT like script bodies.
CREATE TABLE ticket_attachments (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    taken_by    TEXT NOT NULL,
    taken_at    BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    content_hex TEXT NOT NULL
);

CREATE INDEX ticket_attachments_by_ticket ON ticket_attachments (ticket_id, taken_at);
