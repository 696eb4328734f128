-- Updates agents make to their own tickets (a health alert's readings, its
-- clearing, an automatic resolve). The agent makes the id when it queues the
-- update, so a redelivered update finds its row here and changes nothing.
-- Same portable conventions: TEXT ids, BIGINT unix milliseconds.
CREATE TABLE agent_updates (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    kind        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE INDEX agent_updates_by_ticket ON agent_updates (ticket_id, received_at);
