//! What a `/metrics` scrape reads from the store: one statement, grouped.

use super::{rows, Store, StoreError};
use crate::metrics::StoreCounts;

impl Store {
    /// Agents enrolled (not removed) and tickets by status and tier, in one
    /// round trip: a scrape (at most one per `metrics::COUNTS_MAX_AGE`)
    /// costs the store this and nothing else.
    pub async fn metric_counts(&self) -> Result<StoreCounts, StoreError> {
        let found = sqlx::query(
            "SELECT 'tickets' AS what, status, tier, COUNT(*) AS n FROM tickets \
             GROUP BY status, tier \
             UNION ALL \
             SELECT 'agents' AS what, '' AS status, '' AS tier, COUNT(*) AS n FROM agents \
             WHERE removed_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = StoreCounts::default();
        for row in &found {
            let n = rows::int(row, "n")?;
            if rows::text(row, "what")? == "agents" {
                counts.agents_enrolled = n;
            } else {
                counts
                    .tickets
                    .push((rows::parsed(row, "status")?, rows::parsed(row, "tier")?, n));
            }
        }
        Ok(counts)
    }
}
