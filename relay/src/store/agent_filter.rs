//! Endpoints as `agents list` filters them: hostname patterns, OS text and
//! when last seen, as SQL. Whether an endpoint is online is the relay's
//! registry's to say, not the store's: the handler asks for the records
//! among the online ids ([`Store::agents_among`]) or skips them.

use super::agents::{agent, AGENT_COLUMNS};
use super::sql::{all_of, Sql};
use super::{Backend, Store, StoreError};
use triage_shared::queue::AgentFilter;
use triage_shared::selector::AgentCursor;
use triage_shared::AgentId;

/// Ids in one `IN (...)` list, well under every backend's placeholder limit.
pub const MAX_IDS_PER_QUERY: usize = 500;

/// The escape character of our LIKE patterns.
const ESCAPE: char = '\\';

/// `text` with LIKE's wildcards and the escape character escaped.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            out.push(ESCAPE);
        }
        out.push(c);
    }
    out
}

/// A `glob_matches` pattern as a LIKE pattern over ASCII-lowercased text:
/// `*` is `%`, `?` is `_`, everything else literal.
pub fn glob_to_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len());
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            c => out.push_str(&like_literal(&c.to_ascii_lowercase().to_string())),
        }
    }
    out
}

/// `column` lowercased in ASCII only, as `glob_matches` compares:
/// PostgreSQL's LOWER would also fold other letters by the locale.
fn ascii_lower(backend: Backend, column: &str) -> String {
    match backend {
        // SQLite's LOWER folds ASCII only (without the ICU extension).
        Backend::Sqlite => format!("LOWER({column})"),
        Backend::Postgres => format!(
            "TRANSLATE({column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        ),
    }
}

/// The conditions on enrolled, not removed agents `filter` makes (all
/// but its presence).
fn conditions(sql: &mut Sql, backend: Backend, filter: &AgentFilter) -> Vec<String> {
    let mut conditions = vec!["removed_at IS NULL".to_string()];
    if let Some(glob) = &filter.hostname {
        let pattern = sql.value(glob_to_like(glob));
        conditions.push(format!(
            "{} LIKE {pattern} ESCAPE '{ESCAPE}'",
            ascii_lower(backend, "hostname")
        ));
    }
    if let Some(os) = &filter.os {
        let pattern = sql.value(format!("%{}%", like_literal(&os.to_ascii_lowercase())));
        conditions.push(format!(
            "{} LIKE {pattern} ESCAPE '{ESCAPE}'",
            ascii_lower(backend, "os")
        ));
    }
    if let Some(since) = filter.seen_since {
        let since = sql.value(since.millis());
        conditions.push(format!("last_seen >= {since}"));
    }
    conditions
}

impl Store {
    /// Up to `limit` endpoints `filter` selects (presence aside), after
    /// `after` in (hostname, id) order.
    pub async fn list_agents_filtered(
        &self,
        filter: &AgentFilter,
        after: Option<&AgentCursor>,
        limit: usize,
    ) -> Result<Vec<super::AgentRecord>, StoreError> {
        filter.check()?;
        let mut sql = Sql::default();
        let mut conditions = conditions(&mut sql, self.backend, filter);
        if let Some(after) = after {
            after.check()?;
            let hostname = sql.value(after.hostname.as_str());
            let id = sql.value(after.id.to_string());
            conditions.push(format!(
                "(hostname > {hostname} OR (hostname = {hostname} AND id > {id}))"
            ));
        }
        let limit = sql.value(limit as i64);
        sql.push(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE {} ORDER BY hostname, id LIMIT {limit}",
            all_of(&conditions)
        ));
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(agent)
            .collect()
    }

    /// How many endpoints `filter` selects, presence aside.
    pub async fn count_agents_matching(&self, filter: &AgentFilter) -> Result<u64, StoreError> {
        filter.check()?;
        let mut sql = Sql::default();
        let conditions = conditions(&mut sql, self.backend, filter);
        sql.push(&format!(
            "SELECT COUNT(*) AS n FROM agents WHERE {}",
            all_of(&conditions)
        ));
        let row = sql.query().fetch_one(&self.pool).await?;
        Ok(super::rows::int(&row, "n")?.max(0) as u64)
    }

    /// The endpoints among `ids` that `filter` selects (presence aside), in
    /// no particular order; asked [`MAX_IDS_PER_QUERY`] ids at a time.
    pub async fn agents_among(
        &self,
        ids: &[AgentId],
        filter: &AgentFilter,
    ) -> Result<Vec<super::AgentRecord>, StoreError> {
        filter.check()?;
        let mut found = Vec::new();
        for chunk in ids.chunks(MAX_IDS_PER_QUERY) {
            let mut sql = Sql::default();
            let mut conditions = conditions(&mut sql, self.backend, filter);
            let ids = sql.list(chunk.iter().map(|id| id.to_string()));
            conditions.push(format!("id IN ({ids})"));
            sql.push(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE {}",
                all_of(&conditions)
            ));
            for row in sql.query().fetch_all(&self.pool).await? {
                found.push(agent(&row)?);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_like_patterns_with_like_wildcards_escaped() {
        assert_eq!(glob_to_like("PC-*"), "pc-%");
        assert_eq!(glob_to_like("pc-??"), "pc-__");
        assert_eq!(glob_to_like("100%_up\\"), "100\\%\\_up\\\\");
        assert_eq!(like_literal("a%b"), "a\\%b");
    }
}
