-- The live queue (`tickets watch`): one row per ticket event, numbered by
-- one relay-wide sequence so a watcher can resume after the last number it
-- saw. Rows are written in the transaction of the ticket change itself, and
-- numbers come from the one counter row below: updating it takes its row
-- lock (PostgreSQL) or the write lock (SQLite), so `seq` order is commit
-- order and a reader never sees a number before a smaller one.
-- Same portable conventions: TEXT ids, BIGINT unix milliseconds.
CREATE TABLE queue_feed (
    seq         BIGINT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    occurred_at BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind_json   TEXT NOT NULL
);

-- The newest sequence number handed out; exactly one row.
CREATE TABLE queue_feed_counter (
    id       INTEGER PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

INSERT INTO queue_feed_counter (id, last_seq) VALUES (1, 0);
