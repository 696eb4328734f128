-- The employee in the loop: an agent's catch-up reads the tickets it filed
-- by when they changed, and the auto-close sweeper finds resolved tickets
-- untouched for a while.
CREATE INDEX tickets_by_agent_updated ON tickets (agent_id, updated_at, id);
CREATE INDEX tickets_by_status_updated ON tickets (status, updated_at, id);
