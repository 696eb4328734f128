-- The knowledge base: articles with their history, the tickets they
-- solved, and the Get help window's self-service (deflections: the
-- employee said an article solved it and filed no ticket). Portable; the
-- full-text index over articles lives in `migrations-sqlite/` and
-- `migrations-postgres/`.

-- One row per article, holding its current version. `id` is the number
-- technicians type (`KB-12`), taken as one more than the highest under the
-- store's write lock. `visibility` is `public` (may reach the Get help
-- window) or `internal` (technicians only). `script_digest` names an
-- approved remediation script (`sha256:<hex>`) as the known fix.
CREATE TABLE kb_articles (
    id            BIGINT PRIMARY KEY,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    category      TEXT,
    -- comma-separated, lowercase, sorted
    tags          TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    script_digest TEXT,
    from_ticket   TEXT REFERENCES tickets (id),
    version       BIGINT NOT NULL,
    author        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    -- set once by `kb retire`; a retired article is never offered again
    retired_at    BIGINT,
    retired_by    TEXT
);

CREATE INDEX kb_articles_by_updated ON kb_articles (updated_at, id);

-- The last article number handed out. Taking the next one updates this
-- row, whose lock orders concurrent `kb add`s on every backend.
CREATE TABLE kb_article_counter (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL
);
INSERT INTO kb_article_counter (id, last_id) VALUES (1, 0);

-- Every version an article had, the current one included, so an edit
-- never loses the text it replaced.
CREATE TABLE kb_article_versions (
    article_id    BIGINT NOT NULL REFERENCES kb_articles (id),
    version       BIGINT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    category      TEXT,
    tags          TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    script_digest TEXT,
    author        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);

-- The article a resolve named as the fix (`tickets resolve --kb`); an
-- article's solved count is the tickets naming it.
ALTER TABLE tickets ADD COLUMN kb_article BIGINT REFERENCES kb_articles (id);
CREATE INDEX tickets_by_kb_article ON tickets (kb_article);

-- Articles the employee opened in the Get help window before filing the
-- ticket anyway ("I still need help").
CREATE TABLE kb_ticket_views (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    article_id BIGINT NOT NULL REFERENCES kb_articles (id),
    PRIMARY KEY (ticket_id, article_id)
);

-- "This solved it": one row per deflection, keyed by the id the agent
-- gave it, so a retried delivery counts once.
CREATE TABLE kb_deflections (
    id         TEXT PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES kb_articles (id),
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    requester  TEXT NOT NULL,
    query      TEXT NOT NULL,
    at         BIGINT NOT NULL
);

CREATE INDEX kb_deflections_by_at ON kb_deflections (at);
