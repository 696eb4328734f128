-- Full-text search over knowledge base articles on SQLite: an FTS5 table
-- with its own copy of the current title, body and tags, kept in step by
-- triggers inside the transaction that writes the article (as
-- `ticket_text` is for tickets).

CREATE VIRTUAL TABLE kb_article_text USING fts5 (
    article_id UNINDEXED,
    title,
    body,
    tags,
    tokenize = 'porter unicode61'
);

CREATE TRIGGER kb_article_text_insert AFTER INSERT ON kb_articles BEGIN
    INSERT INTO kb_article_text (article_id, title, body, tags)
    VALUES (new.id, new.title, new.body, new.tags);
END;

CREATE TRIGGER kb_article_text_update AFTER UPDATE OF id, title, body, tags ON kb_articles BEGIN
    DELETE FROM kb_article_text WHERE article_id = old.id;
    INSERT INTO kb_article_text (article_id, title, body, tags)
    VALUES (new.id, new.title, new.body, new.tags);
END;

CREATE TRIGGER kb_article_text_delete AFTER DELETE ON kb_articles BEGIN
    DELETE FROM kb_article_text WHERE article_id = old.id;
END;
