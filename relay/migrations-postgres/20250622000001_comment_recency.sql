-- A search ranks the newest matching comments (`SEARCH_CANDIDATES`):
-- this index lets PostgreSQL walk comments newest first when a word is
-- common, instead of ranking every match.
CREATE INDEX ticket_comments_by_created ON ticket_comments (created_at);
