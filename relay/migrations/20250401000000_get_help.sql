-- The employee's "Get help" window: technicians' internal notes, which the
-- employee never sees, and "My tickets", the tickets one agent filed for one
-- requester. Same portable conventions: BIGINT 0/1 flags; existing comments
-- were all public.
ALTER TABLE ticket_comments ADD COLUMN internal BIGINT NOT NULL DEFAULT 0;

CREATE INDEX tickets_by_agent_requester ON tickets (agent_id, requester, created_at);
