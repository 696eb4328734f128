-- Full-text search over knowledge base articles on PostgreSQL: a generated
-- tsvector of the current title (weight A), tags (B) and body (C), which
-- the database keeps in step in the transaction that writes the row.

ALTER TABLE kb_articles ADD COLUMN search_doc tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', replace(tags, ',', ' ')), 'B') ||
        setweight(to_tsvector('english', body), 'C')
    ) STORED;
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search_doc);
