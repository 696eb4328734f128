-- Full-text search on SQLite: FTS5 tables holding their own copy of the
-- text (not "external content": tickets has no INTEGER PRIMARY KEY, so a
-- VACUUM may renumber its rowids). Words are unicode61 tokens, lowercased
-- and stemmed by porter, close to PostgreSQL's 'english' configuration.
-- Triggers keep them in step inside the transaction that writes the row.
-- Titles, descriptions and comment bodies are never rewritten and rows are
-- never deleted today, so the scans in the update/delete triggers (FTS5
-- has no index on UNINDEXED columns) cost nothing in practice.

CREATE VIRTUAL TABLE ticket_text USING fts5 (
    ticket_id UNINDEXED,
    title,
    description,
    tokenize = 'porter unicode61'
);

CREATE VIRTUAL TABLE comment_text USING fts5 (
    comment_id UNINDEXED,
    ticket_id UNINDEXED,
    internal UNINDEXED,
    body,
    tokenize = 'porter unicode61'
);

CREATE TRIGGER ticket_text_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_text (ticket_id, title, description)
    VALUES (new.id, new.title, new.description);
END;

CREATE TRIGGER ticket_text_update AFTER UPDATE OF id, title, description ON tickets BEGIN
    DELETE FROM ticket_text WHERE ticket_id = old.id;
    INSERT INTO ticket_text (ticket_id, title, description)
    VALUES (new.id, new.title, new.description);
END;

CREATE TRIGGER ticket_text_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_text WHERE ticket_id = old.id;
END;

CREATE TRIGGER comment_text_insert AFTER INSERT ON ticket_comments BEGIN
    INSERT INTO comment_text (comment_id, ticket_id, internal, body)
    VALUES (new.id, new.ticket_id, new.internal, new.body);
END;

CREATE TRIGGER comment_text_update AFTER UPDATE OF id, ticket_id, internal, body ON ticket_comments BEGIN
    DELETE FROM comment_text WHERE comment_id = old.id;
    INSERT INTO comment_text (comment_id, ticket_id, internal, body)
    VALUES (new.id, new.ticket_id, new.internal, new.body);
END;

CREATE TRIGGER comment_text_delete AFTER DELETE ON ticket_comments BEGIN
    DELETE FROM comment_text WHERE comment_id = old.id;
END;

INSERT INTO ticket_text (ticket_id, title, description)
SELECT id, title, description FROM tickets;

INSERT INTO comment_text (comment_id, ticket_id, internal, body)
SELECT id, ticket_id, internal, body FROM ticket_comments;
