//! The knowledge base (migration `20250720000000_knowledge_base.sql`):
//! articles with every version kept, searched with the tickets' query
//! language (FTS5 on SQLite, a tsvector on PostgreSQL: `*_kb_search.sql`),
//! the tickets each one solved, what employees read before filing, and
//! "This solved it" deflections.
//!
//! Employees (through their agent) only ever reach public articles that
//! are not retired: [`Store::suggest_articles`] and
//! [`Store::public_article`] are the only reads they have.

use super::rows::{int, opt_parsed, opt_text, opt_timestamp, parsed, text, timestamp};
use super::search::{
    bounded_snippet, fts5_excluded, fts5_included, ts_joiner, tsquery, MARK_CLOSE, MARK_OPEN,
    SNIPPET_TOKENS,
};
use super::sql::{all_of, Sql};
use super::tickets::{lock_ticket, write_update, TicketUpdate};
use super::{settle, Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use triage_shared::approval::ScriptDigest;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::kb::{
    excerpt, Article, ArticleChange, ArticleContent, ArticleCursor, ArticleDraft, ArticleFilter,
    ArticleHit, ArticleId, ArticleSummary, ArticleVersion, Deflection, PublicArticle, Retired,
    Suggestion, TicketArticles, Visibility, MAX_ARTICLE_BODY_LEN, MAX_ARTICLE_HISTORY,
    MAX_ARTICLE_TITLE_LEN, MAX_SUGGESTIONS, MAX_SUGGESTION_TEXT_LEN, MAX_TICKET_SUGGESTIONS,
};
use triage_shared::queue::SearchQuery;
use triage_shared::text::truncate_at_char_boundary;
use triage_shared::ticket::{Category, Ticket};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

/// The columns of an [`ArticleSummary`], of `kb_articles` as `a`, with the
/// count of tickets naming it as their fix.
const SUMMARY_COLUMNS: &str = "a.id, a.title, a.category, a.tags, a.visibility, a.version, \
     a.updated_at, a.retired_at, a.script_digest, \
     (SELECT COUNT(*) FROM tickets st WHERE st.kb_article = a.id) AS solved";

fn not_found(id: ArticleId) -> StoreError {
    StoreError::refused(
        ErrorKind::NotFound,
        format!("no article {id}; see `triage kb list` or `triage kb search`"),
    )
}

fn db_id(id: ArticleId) -> i64 {
    // `ArticleId::from_str` and the counter keep it in i64's range.
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

fn article_id(row: &AnyRow, col: &str) -> Result<ArticleId, StoreError> {
    let n = int(row, col)?;
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map(ArticleId)
        .ok_or_else(|| StoreError::Corrupt(format!("column {col}: article number {n}")))
}

fn tags_of(row: &AnyRow) -> Result<Vec<String>, StoreError> {
    Ok(text(row, "tags")?
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect())
}

fn script_of(row: &AnyRow) -> Result<Option<ScriptDigest>, StoreError> {
    opt_text(row, "script_digest")?
        .map(|d| ScriptDigest::try_from(d).map_err(StoreError::Corrupt))
        .transpose()
}

fn version_of(row: &AnyRow, col: &str) -> Result<u32, StoreError> {
    let n = int(row, col)?;
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("column {col}: version {n}")))
}

fn summary(row: &AnyRow) -> Result<ArticleSummary, StoreError> {
    Ok(ArticleSummary {
        id: article_id(row, "id")?,
        title: text(row, "title")?,
        category: opt_parsed::<Category>(row, "category")?,
        tags: tags_of(row)?,
        visibility: parsed::<Visibility>(row, "visibility")?,
        version: version_of(row, "version")?,
        updated_at: timestamp(row, "updated_at")?,
        retired: opt_timestamp(row, "retired_at")?.is_some(),
        solved: int(row, "solved")?.max(0) as u64,
        script: script_of(row)?,
    })
}

/// An article's content as a row of `kb_articles` or `kb_article_versions`
/// holds it.
fn content(row: &AnyRow) -> Result<ArticleContent, StoreError> {
    Ok(ArticleContent {
        title: text(row, "title")?,
        body: text(row, "body")?,
        category: opt_parsed::<Category>(row, "category")?,
        tags: tags_of(row)?,
        visibility: parsed::<Visibility>(row, "visibility")?,
        script: script_of(row)?,
    })
}

/// Whether a stored script with this digest was approved at least once:
/// only such a script may be an article's known fix. Manifests are stored
/// as compact JSON, so the digest appears as exactly this text.
async fn check_script(
    tx: &mut Transaction<'static, Any>,
    digest: ScriptDigest,
) -> Result<(), StoreError> {
    let pattern = format!("%\"digest\":\"{digest}\"%");
    let approved = sqlx::query(
        "SELECT 1 AS found FROM scripts s WHERE s.manifest_json LIKE $1 \
         AND EXISTS (SELECT 1 FROM script_approvals p WHERE p.script_id = s.script_id) LIMIT 1",
    )
    .bind(pattern)
    .fetch_optional(&mut **tx)
    .await?;
    match approved {
        Some(_) => Ok(()),
        None => Err(StoreError::refused(
            ErrorKind::InvalidInput,
            format!(
                "no approved script has digest {digest}; name a script that was approved on a \
                 ticket (its digest is in `triage script show`)"
            ),
        )),
    }
}

async fn ticket_exists(tx: &mut Transaction<'static, Any>, id: TicketId) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 AS found FROM tickets WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| super::ticket_not_found(id))
}

/// The next article number; the counter row's lock orders concurrent adds.
async fn next_article_id(tx: &mut Transaction<'static, Any>) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE kb_article_counter SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id",
    )
    .fetch_one(&mut **tx)
    .await?;
    int(&row, "last_id")
}

async fn insert_version(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    version: i64,
    content: &ArticleContent,
    author: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kb_article_versions \
         (article_id, version, title, body, category, tags, visibility, script_digest, author, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(version)
    .bind(&content.title)
    .bind(&content.body)
    .bind(content.category.map(|c| c.as_str().to_string()))
    .bind(content.tags.join(","))
    .bind(content.visibility.as_str())
    .bind(content.script.map(|d| d.to_string()))
    .bind(author)
    .bind(at.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An active article, checked inside `tx`: refused when it is missing or
/// retired.
async fn active_article(
    tx: &mut Transaction<'static, Any>,
    id: ArticleId,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT retired_at FROM kb_articles WHERE id = $1")
        .bind(db_id(id))
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| not_found(id))?;
    if opt_timestamp(&row, "retired_at")?.is_some() {
        return Err(StoreError::refused(
            ErrorKind::Conflict,
            format!("article {id} is retired; name an active article (`triage kb search`)"),
        ));
    }
    Ok(())
}

/// Records that the employee read `articles` before filing `ticket`
/// (articles that do not exist are left out), inside the update's
/// transaction.
pub(super) async fn record_views(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    articles: &[ArticleId],
) -> Result<(), StoreError> {
    for article in articles {
        sqlx::query(
            "INSERT INTO kb_ticket_views (ticket_id, article_id) \
             SELECT $1, id FROM kb_articles WHERE id = $2 \
             ON CONFLICT (ticket_id, article_id) DO NOTHING",
        )
        .bind(ticket.to_string())
        .bind(db_id(*article))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Who may see which articles in a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readers {
    Technicians,
    Employees,
}

/// A search over active articles: the matching rows, best first, each
/// with `marked` text around its match.
fn search_sql(backend: Backend, query: &SearchQuery, readers: Readers, limit: usize) -> Sql {
    let mut sql = Sql::default();
    let mut conditions = vec!["a.retired_at IS NULL".to_string()];
    if readers == Readers::Employees {
        let public = sql.value(Visibility::Public.as_str());
        conditions.push(format!("a.visibility = {public}"));
    }
    match backend {
        Backend::Sqlite => {
            let matching = sql.value(fts5_included(query));
            if let Some(excluded) = fts5_excluded(query) {
                let excluded = sql.value(excluded);
                conditions.push(format!(
                    "a.id NOT IN (SELECT article_id FROM kb_article_text WHERE kb_article_text MATCH {excluded})"
                ));
            }
            let open = sql.value(MARK_OPEN.to_string());
            let close = sql.value(MARK_CLOSE.to_string());
            let tokens = sql.value(SNIPPET_TOKENS);
            let limit = sql.value(limit as i64);
            // bm25 is lower for better matches; the title weighs most.
            sql.push(&format!(
                "SELECT {SUMMARY_COLUMNS}, \
                 snippet(kb_article_text, -1, {open}, {close}, '…', {tokens}) AS marked \
                 FROM kb_article_text JOIN kb_articles a ON a.id = kb_article_text.article_id \
                 WHERE kb_article_text MATCH {matching} AND {} \
                 ORDER BY bm25(kb_article_text, 0.0, 3.0, 1.0, 2.0), a.id LIMIT {limit}",
                all_of(&conditions)
            ));
        }
        Backend::Postgres => {
            let matching = tsquery(&mut sql, query.included(), ts_joiner(query.combine))
                .unwrap_or_else(|| "''::tsquery".into());
            if let Some(excluded) = tsquery(&mut sql, query.excluded(), " || ") {
                conditions.push(format!("NOT a.search_doc @@ {excluded}"));
            }
            let options = sql.value(format!(
                "StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}, MaxWords={SNIPPET_TOKENS}, MinWords=8, \
                 MaxFragments=1, FragmentDelimiter=\" … \""
            ));
            let limit = sql.value(limit as i64);
            sql.push(&format!(
                "SELECT {SUMMARY_COLUMNS}, \
                 ts_headline('english', a.title || ' — ' || a.body, {matching}, {options}) AS marked \
                 FROM kb_articles a WHERE a.search_doc @@ {matching} AND {} \
                 ORDER BY ts_rank_cd(a.search_doc, {matching}) DESC, a.id LIMIT {limit}",
                all_of(&conditions)
            ));
        }
    }
    sql
}

impl Store {
    /// Stores a new article as its version 1. An article written from a
    /// resolved or closed ticket counts that ticket as solved by it,
    /// unless it already names another.
    pub async fn add_article(
        &self,
        draft: &ArticleDraft,
        author: &str,
        now: Timestamp,
    ) -> Result<Article, StoreError> {
        draft.content.validate()?;
        let content = &draft.content;
        let mut tx = self.begin().await?;
        let result = async {
            if let Some(ticket) = draft.from_ticket {
                ticket_exists(&mut tx, ticket).await?;
            }
            if let Some(digest) = content.script {
                check_script(&mut tx, digest).await?;
            }
            let id = next_article_id(&mut tx).await?;
            sqlx::query(
                "INSERT INTO kb_articles (id, title, body, category, tags, visibility, \
                 script_digest, from_ticket, version, author, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10)",
            )
            .bind(id)
            .bind(&content.title)
            .bind(&content.body)
            .bind(content.category.map(|c| c.as_str().to_string()))
            .bind(content.tags.join(","))
            .bind(content.visibility.as_str())
            .bind(content.script.map(|d| d.to_string()))
            .bind(draft.from_ticket.map(|t| t.to_string()))
            .bind(author)
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
            insert_version(&mut tx, id, 1, content, author, now).await?;
            if let Some(ticket) = draft.from_ticket {
                sqlx::query(
                    "UPDATE tickets SET kb_article = $1 WHERE id = $2 AND kb_article IS NULL \
                     AND status IN ('resolved', 'closed')",
                )
                .bind(id)
                .bind(ticket.to_string())
                .execute(&mut *tx)
                .await?;
            }
            Ok(id)
        }
        .await;
        let id = settle(tx, result).await?;
        let id = ArticleId(id as u64);
        self.article(id, None).await?.ok_or_else(|| not_found(id))
    }

    /// A new version of article `id`: `change` on top of the version it
    /// names, which must still be the newest.
    pub async fn edit_article(
        &self,
        id: ArticleId,
        change: &ArticleChange,
        author: &str,
        now: Timestamp,
    ) -> Result<Article, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            // Touch the row first: that takes its lock before it is read.
            let locked = sqlx::query("UPDATE kb_articles SET version = version WHERE id = $1")
                .bind(db_id(id))
                .execute(&mut *tx)
                .await?;
            if locked.rows_affected() == 0 {
                return Err(not_found(id));
            }
            let row = sqlx::query(
                "SELECT title, body, category, tags, visibility, script_digest, version, \
                 retired_at, retired_by FROM kb_articles WHERE id = $1",
            )
            .bind(db_id(id))
            .fetch_one(&mut *tx)
            .await?;
            if let Some(at) = opt_timestamp(&row, "retired_at")? {
                let by = opt_text(&row, "retired_by")?.unwrap_or_default();
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    format!(
                        "article {id} was retired on {} by {by} and stays as it was; write a new one with `triage kb add`",
                        at
                    ),
                ));
            }
            let version = version_of(&row, "version")?;
            if change.base_version != version {
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    format!(
                        "article {id} is at version {version}, and this edit was made on version {}; \
                         read it again with `triage kb show {id}` and edit that",
                        change.base_version
                    ),
                ));
            }
            let current = content(&row)?;
            let next = change.apply(&current)?;
            if next == current {
                return Err(StoreError::refused(
                    ErrorKind::InvalidInput,
                    format!("the edit leaves article {id} as it is; nothing was stored"),
                ));
            }
            if let Some(digest) = next.script.filter(|d| Some(*d) != current.script) {
                check_script(&mut tx, digest).await?;
            }
            let new_version = i64::from(version) + 1;
            sqlx::query(
                "UPDATE kb_articles SET title = $1, body = $2, category = $3, tags = $4, \
                 visibility = $5, script_digest = $6, version = $7, author = $8, updated_at = $9 \
                 WHERE id = $10",
            )
            .bind(&next.title)
            .bind(&next.body)
            .bind(next.category.map(|c| c.as_str().to_string()))
            .bind(next.tags.join(","))
            .bind(next.visibility.as_str())
            .bind(next.script.map(|d| d.to_string()))
            .bind(new_version)
            .bind(author)
            .bind(now.millis())
            .bind(db_id(id))
            .execute(&mut *tx)
            .await?;
            insert_version(&mut tx, db_id(id), new_version, &next, author, now).await?;
            Ok(())
        }
        .await;
        settle(tx, result).await?;
        self.article(id, None).await?.ok_or_else(|| not_found(id))
    }

    /// Retires article `id` for good: it is kept and shown, never offered.
    pub async fn retire_article(
        &self,
        id: ArticleId,
        by: &str,
        now: Timestamp,
    ) -> Result<Article, StoreError> {
        let retired = sqlx::query(
            "UPDATE kb_articles SET retired_at = $1, retired_by = $2 \
             WHERE id = $3 AND retired_at IS NULL",
        )
        .bind(now.millis())
        .bind(by)
        .bind(db_id(id))
        .execute(&self.pool)
        .await?;
        let article = self.article(id, None).await?.ok_or_else(|| not_found(id))?;
        if retired.rows_affected() == 0 {
            let when = article
                .retired
                .as_ref()
                .map(|r| format!(" on {} by {}", r.at, r.by))
                .unwrap_or_default();
            return Err(StoreError::refused(
                ErrorKind::Conflict,
                format!("article {id} was already retired{when}"),
            ));
        }
        Ok(article)
    }

    /// Article `id` at `version` (its newest when `None`), with its history.
    pub async fn article(
        &self,
        id: ArticleId,
        version: Option<u32>,
    ) -> Result<Option<Article>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT a.title, a.body, a.category, a.tags, a.visibility, a.script_digest, a.version, \
             a.from_ticket, a.author, a.created_at, a.updated_at, a.retired_at, a.retired_by, \
             (SELECT COUNT(*) FROM tickets st WHERE st.kb_article = a.id) AS solved, \
             (SELECT COUNT(*) FROM kb_deflections d WHERE d.article_id = a.id) AS deflections \
             FROM kb_articles a WHERE a.id = $1",
        )
        .bind(db_id(id))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let current_version = version_of(&row, "version")?;
        let (shown, shown_content, author) = match version {
            None => (current_version, content(&row)?, text(&row, "author")?),
            Some(v) if v == current_version => {
                (current_version, content(&row)?, text(&row, "author")?)
            }
            Some(v) => {
                let old = sqlx::query(
                    "SELECT title, body, category, tags, visibility, script_digest, author \
                     FROM kb_article_versions WHERE article_id = $1 AND version = $2",
                )
                .bind(db_id(id))
                .bind(i64::from(v))
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    StoreError::refused(
                        ErrorKind::NotFound,
                        format!(
                            "article {id} has no version {v}; it has versions 1 to {current_version}"
                        ),
                    )
                })?;
                (v, content(&old)?, text(&old, "author")?)
            }
        };
        let history = sqlx::query(
            "SELECT version, title, author, created_at FROM kb_article_versions \
             WHERE article_id = $1 ORDER BY version DESC LIMIT $2",
        )
        .bind(db_id(id))
        .bind(MAX_ARTICLE_HISTORY as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ArticleVersion {
                version: version_of(r, "version")?,
                title: text(r, "title")?,
                author: text(r, "author")?,
                created_at: timestamp(r, "created_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let retired = match opt_timestamp(&row, "retired_at")? {
            Some(at) => Some(Retired {
                at,
                by: opt_text(&row, "retired_by")?.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Some(Article {
            id,
            content: shown_content,
            version: shown,
            current_version,
            from_ticket: opt_parsed(&row, "from_ticket")?,
            author,
            created_at: timestamp(&row, "created_at")?,
            updated_at: timestamp(&row, "updated_at")?,
            retired,
            solved: int(&row, "solved")?.max(0) as u64,
            deflections: int(&row, "deflections")?.max(0) as u64,
            history,
        }))
    }

    /// A page of the articles `filter` selects, newest change first, after
    /// `after`; and where the next page starts, if there is one.
    pub async fn list_articles(
        &self,
        filter: &ArticleFilter,
        after: Option<ArticleCursor>,
        limit: usize,
    ) -> Result<(Vec<ArticleSummary>, Option<ArticleCursor>), StoreError> {
        filter.validate()?;
        let mut sql = Sql::default();
        let mut conditions = Vec::new();
        if !filter.include_retired {
            conditions.push("a.retired_at IS NULL".to_string());
        }
        if let Some(category) = filter.category {
            let category = sql.value(category.as_str());
            conditions.push(format!("a.category = {category}"));
        }
        if let Some(tag) = &filter.tag {
            // Tags are letters, digits and `-` (checked), so the pattern
            // holds no wildcard of its own.
            let pattern = sql.value(format!("%,{tag},%"));
            conditions.push(format!("(',' || a.tags || ',') LIKE {pattern}"));
        }
        if let Some(cursor) = after {
            let at = sql.value(cursor.updated_at.millis());
            let id = sql.value(db_id(cursor.id));
            conditions.push(format!(
                "(a.updated_at < {at} OR (a.updated_at = {at} AND a.id < {id}))"
            ));
        }
        let fetch = sql.value(limit as i64 + 1);
        sql.push(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM kb_articles a WHERE {} \
             ORDER BY a.updated_at DESC, a.id DESC LIMIT {fetch}",
            all_of(&conditions)
        ));
        let mut articles = sql
            .query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(summary)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = if articles.len() > limit {
            articles.truncate(limit);
            articles.last().map(|a| ArticleCursor {
                updated_at: a.updated_at,
                id: a.id,
            })
        } else {
            None
        };
        Ok((articles, next))
    }

    /// Active articles (internal ones too) whose text best matches
    /// `query`, best first.
    pub async fn search_articles(
        &self,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<ArticleHit>, StoreError> {
        query.check()?;
        self.article_hits(query, Readers::Technicians, limit).await
    }

    async fn article_hits(
        &self,
        query: &SearchQuery,
        readers: Readers,
        limit: usize,
    ) -> Result<Vec<ArticleHit>, StoreError> {
        search_sql(self.backend, query, readers, limit)
            .query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(ArticleHit {
                    article: summary(row)?,
                    snippet: bounded_snippet(&text(row, "marked")?),
                })
            })
            .collect()
    }

    /// What the Get help window offers while the employee types: public,
    /// active articles sharing words with `text`, best first.
    pub async fn suggest_articles(&self, text: &str) -> Result<Vec<Suggestion>, StoreError> {
        let mut text = text.to_string();
        truncate_at_char_boundary(&mut text, MAX_SUGGESTION_TEXT_LEN);
        let Some(query) = SearchQuery::similar_to(&text) else {
            return Ok(Vec::new());
        };
        let hits = self
            .article_hits(&query, Readers::Employees, MAX_SUGGESTIONS)
            .await?;
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        let ids = sql.list(hits.iter().map(|h| db_id(h.article.id)));
        sql.push(&format!(
            "SELECT id, body FROM kb_articles WHERE id IN ({ids})"
        ));
        let bodies: HashMap<ArticleId, String> = sql
            .query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((article_id(r, "id")?, super::rows::text(r, "body")?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(hits
            .into_iter()
            .map(|h| Suggestion {
                id: h.article.id,
                excerpt: bodies
                    .get(&h.article.id)
                    .map(|b| excerpt(b))
                    .unwrap_or_default(),
                title: h.article.title,
            })
            .collect())
    }

    /// Article `id` as an employee may read it: public and active, or not
    /// at all (an internal or retired one reads as missing).
    pub async fn public_article(&self, id: ArticleId) -> Result<PublicArticle, StoreError> {
        let row = sqlx::query(
            "SELECT title, body, updated_at FROM kb_articles \
             WHERE id = $1 AND visibility = $2 AND retired_at IS NULL",
        )
        .bind(db_id(id))
        .bind(Visibility::Public.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            StoreError::refused(
                ErrorKind::NotFound,
                format!("article {id} is not available; it may have been withdrawn"),
            )
        })?;
        Ok(PublicArticle {
            id,
            title: text(&row, "title")?,
            body: text(&row, "body")?,
            updated_at: timestamp(&row, "updated_at")?,
        })
    }

    /// "This solved it" from `agent`: `false` when this deflection was
    /// recorded already (a retried delivery).
    pub async fn record_deflection(
        &self,
        deflection: &Deflection,
        agent: AgentId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        deflection.validate()?;
        // Only what employees can be offered can have helped one.
        self.public_article(deflection.article).await?;
        let inserted = sqlx::query(
            "INSERT INTO kb_deflections (id, article_id, agent_id, requester, query, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(deflection.id.to_string())
        .bind(db_id(deflection.article))
        .bind(agent.to_string())
        .bind(&deflection.requester)
        .bind(&deflection.query)
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        let row = sqlx::query("SELECT agent_id FROM kb_deflections WHERE id = $1")
            .bind(deflection.id.to_string())
            .fetch_one(&self.pool)
            .await?;
        if text(&row, "agent_id")? == agent.to_string() {
            Ok(false)
        } else {
            Err(StoreError::refused(
                ErrorKind::Conflict,
                "this deflection id was recorded by another endpoint",
            ))
        }
    }

    /// The knowledge base beside ticket `id`: matching active articles
    /// (internal ones too: only technicians ask), what its employee read
    /// before filing, and the article it was resolved with.
    pub async fn ticket_articles(&self, id: TicketId) -> Result<TicketArticles, StoreError> {
        let ticket: Ticket = self
            .ticket(id)
            .await?
            .ok_or_else(|| super::ticket_not_found(id))?;
        let suggested =
            match SearchQuery::similar_to(&format!("{} {}", ticket.title, ticket.description)) {
                Some(query) => {
                    self.article_hits(&query, Readers::Technicians, MAX_TICKET_SUGGESTIONS)
                        .await?
                }
                None => Vec::new(),
            };
        let viewed = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM kb_ticket_views v JOIN kb_articles a ON a.id = v.article_id \
             WHERE v.ticket_id = $1 ORDER BY a.id"
        ))
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(summary)
        .collect::<Result<Vec<_>, StoreError>>()?;
        let solved_by = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM tickets t JOIN kb_articles a ON a.id = t.kb_article \
             WHERE t.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| summary(&r))
        .transpose()?;
        Ok(TicketArticles {
            suggested,
            viewed,
            solved_by,
        })
    }

    /// Resolves ticket `id` through `decide` (the workflow's resolve) and
    /// names `article` as its fix, in one transaction.
    pub async fn resolve_with_article<F>(
        &self,
        id: TicketId,
        article: ArticleId,
        decide: F,
    ) -> Result<Ticket, StoreError>
    where
        F: FnOnce(&Ticket) -> Result<TicketUpdate, RemoteError>,
    {
        let policy = self.sla_policy();
        let mut tx = self.begin().await?;
        let result = async {
            active_article(&mut tx, article).await?;
            let current = lock_ticket(&mut tx, id).await?;
            let mut update = decide(&current)?;
            update.ticket.sla = write_update(&mut tx, id, &update, &policy).await?;
            sqlx::query("UPDATE tickets SET kb_article = $1 WHERE id = $2")
                .bind(db_id(article))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            Ok(update.ticket)
        }
        .await;
        self.announced(settle(tx, result).await).await
    }

    /// An article's first draft from ticket `id`: its title, and a body
    /// with the problem (the description) and the fix (the note it was
    /// resolved with, which it must have).
    pub async fn article_draft(&self, id: TicketId) -> Result<ArticleContent, StoreError> {
        let row = sqlx::query(
            "SELECT title, description, category, resolution FROM tickets WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| super::ticket_not_found(id))?;
        let Some(fix) = opt_text(&row, "resolution")?.filter(|r| !r.trim().is_empty()) else {
            return Err(StoreError::refused(
                ErrorKind::InvalidInput,
                format!(
                    "ticket {} has no resolution note to write the fix from; resolve it with a \
                     note first, or give the article's text with --body FILE",
                    id.short()
                ),
            ));
        };
        let mut title = text(&row, "title")?;
        truncate_at_char_boundary(&mut title, MAX_ARTICLE_TITLE_LEN);
        let mut body = format!(
            "## Problem\n\n{}\n\n## Fix\n\n{}\n",
            text(&row, "description")?.trim(),
            fix.trim()
        );
        truncate_at_char_boundary(&mut body, MAX_ARTICLE_BODY_LEN);
        Ok(ArticleContent {
            title,
            body,
            category: opt_parsed::<Category>(&row, "category")?,
            tags: Vec::new(),
            visibility: Visibility::Public,
            script: None,
        })
    }
}
