-- Full-text search on PostgreSQL: generated tsvector columns, which the
-- database keeps in step in the transaction that writes the row, with GIN
-- indexes. Adding them rewrites both tables once (existing rows are
-- indexed by the same statement).

ALTER TABLE tickets ADD COLUMN search_doc tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', description), 'B')
    ) STORED;
CREATE INDEX tickets_search ON tickets USING GIN (search_doc);

ALTER TABLE ticket_comments ADD COLUMN search_doc tsvector
    GENERATED ALWAYS AS (to_tsvector('english', body)) STORED;
CREATE INDEX ticket_comments_search ON ticket_comments USING GIN (search_doc);
