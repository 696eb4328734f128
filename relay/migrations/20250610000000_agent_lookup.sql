-- The endpoint list is paged by (hostname, id), and technicians name
-- endpoints by hostname regardless of case: both stay cheap with many
-- thousands of agents.
CREATE INDEX agents_by_hostname ON agents (hostname, id);
CREATE INDEX agents_by_lower_hostname ON agents (LOWER(hostname));
