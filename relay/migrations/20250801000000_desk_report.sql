-- Help desk metrics (`triage report`, relay/src/store/desk_report.rs):
-- what the report aggregates, kept beside each ticket so every figure is
-- a COUNT or a percentile over columns, never a read of every history.
-- Portable. `store::sla::refresh` (every ticket write, in its
-- transaction) folds the history into these with the SLA clocks:
--   first_response_at  the first public technician comment or technician
--                      status change (what stops the first-response clock)
--   first_resolved_at  the first move from an active status to resolved
--                      or closed; never changes afterwards
--   resolved_at        when the resolution clock stopped; NULL while it
--                      runs again after a reopen
--   resolution_met     1 when it stopped within its target, 0 after it,
--                      NULL while it runs
--   escalations, reopens  how many `escalated` and reopen events
-- `alert_rule` is the health rule a `health_alert` ticket was raised by,
-- as the agent names it in the description (`raised the `disk` alert`),
-- set when the ticket is filed.
ALTER TABLE tickets ADD COLUMN first_response_at BIGINT;
ALTER TABLE tickets ADD COLUMN first_resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_met BIGINT;
ALTER TABLE tickets ADD COLUMN escalations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN reopens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN alert_rule TEXT;

-- The rules agents of this version raise; a later rule is named when its
-- tickets are filed.
UPDATE tickets SET alert_rule = CASE
    WHEN description LIKE '%raised the `disk` alert%' THEN 'disk'
    WHEN description LIKE '%raised the `memory` alert%' THEN 'memory'
    WHEN description LIKE '%raised the `swap` alert%' THEN 'swap'
    WHEN description LIKE '%raised the `cpu` alert%' THEN 'cpu'
    WHEN description LIKE '%raised the `load` alert%' THEN 'load'
    WHEN description LIKE '%raised the `temperature` alert%' THEN 'temperature'
    ELSE NULL
END
WHERE source = 'health_alert';

-- Every stored ticket's columns above come from its history: the relay
-- recomputes clocks that are not computed (NULL) when it starts, and so
-- fills these in.
UPDATE tickets SET sla_json = NULL;

CREATE INDEX tickets_by_first_response ON tickets (first_response_at);
CREATE INDEX tickets_by_first_resolved ON tickets (first_resolved_at);
CREATE INDEX tickets_by_resolved ON tickets (resolved_at);
CREATE INDEX tickets_by_source_created ON tickets (source, created_at);
-- Ratings given in a window.
CREATE INDEX ticket_events_by_occurred ON ticket_events (occurred_at);
