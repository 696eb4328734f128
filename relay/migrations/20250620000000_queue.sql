-- The queue: tickets listed by several orders and filters over about a
-- million rows, and the note each ticket was last resolved with (shown
-- beside similar tickets). Portable; the full-text search that needs
-- backend-specific SQL lives in `migrations-sqlite/` and
-- `migrations-postgres/`, at versions after every portable one.

-- Priority names do not sort by urgency, so the rank is stored beside
-- them (`triage_shared::queue::priority_rank`: low 0 ... urgent 3).
ALTER TABLE tickets ADD COLUMN priority_rank BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET priority_rank = CASE priority
    WHEN 'normal' THEN 1
    WHEN 'high' THEN 2
    WHEN 'urgent' THEN 3
    ELSE 0
END;

-- NULL until the ticket is resolved with a note.
ALTER TABLE tickets ADD COLUMN resolution TEXT;

-- One index per list order, each ending in `id` as the order does, so a
-- page after a cursor is a range scan (backwards for the DESC orders).
-- The created one supersedes the first schema's `tickets_by_created`.
DROP INDEX tickets_by_created;
CREATE INDEX tickets_by_created_id ON tickets (created_at, id);
CREATE INDEX tickets_by_updated_id ON tickets (updated_at, id);
CREATE INDEX tickets_by_due_id ON tickets (sla_due_at, id);
CREATE INDEX tickets_by_priority_due_id ON tickets (priority_rank DESC, sla_due_at, id);

-- The common filters: whose queue (`--assignee`), who asked
-- (`--requester`), a tier's open work, and `--breaching` (active statuses
-- due before a time). Tickets by agent already have
-- `tickets_by_agent_requester`; by status, `tickets_by_status_created`.
CREATE INDEX tickets_by_assignee_created ON tickets (assignee, created_at);
CREATE INDEX tickets_by_requester_created ON tickets (requester, created_at);
CREATE INDEX tickets_by_tier_status_created ON tickets (tier, status, created_at);
CREATE INDEX tickets_by_status_due ON tickets (status, sla_due_at);
