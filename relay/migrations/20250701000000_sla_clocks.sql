-- SLA clocks kept beside each ticket (relay/src/store/sla.rs): the pure
-- engine's last word on both clocks, and the two instants the queue and
-- the sweeper select on. NULL `sla_json`: not computed yet (a ticket from
-- before clocks); the relay fills them in at start.
ALTER TABLE tickets ADD COLUMN sla_json TEXT;
ALTER TABLE tickets ADD COLUMN sla_attention_at BIGINT;
ALTER TABLE tickets ADD COLUMN sla_next_event_at BIGINT;

-- `--breaching`, and the sweeper's "whose crossing is due".
CREATE INDEX tickets_by_sla_attention ON tickets (sla_attention_at);
CREATE INDEX tickets_by_sla_next_event ON tickets (sla_next_event_at);

-- The policy (SHA-256 of sla.toml's content) the stored clocks were last
-- all computed with, so a relay that starts with another one recomputes
-- the open tickets' clocks. One row.
CREATE TABLE sla_policy_applied (
    id     INTEGER PRIMARY KEY,
    digest TEXT NOT NULL
);
