//! The ticket queue as SQL: a [`TicketFilter`] as conditions, each
//! [`TicketSort`] as an ORDER BY ending in the id, and keyset pages after
//! a [`TicketCursor`]. The conditions select exactly the tickets
//! [`TicketFilter::matches`] selects (the store tests check this on a
//! varied set), so a list, a search and the live queue agree.

use super::rows::{self, TICKET_COLUMNS};
use super::sql::{all_of, Sql};
use super::{Store, StoreError};
use triage_shared::queue::{AssigneeFilter, FilterContext, TicketCursor, TicketFilter, TicketSort};
use triage_shared::ticket::Ticket;

/// [`TICKET_COLUMNS`] qualified by a table alias, e.g. `t.id, t.title, ...`.
pub(super) fn ticket_columns(alias: &str) -> String {
    TICKET_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The conditions on tickets aliased `t` that `filter` makes, in `context`.
pub(super) fn filter_conditions(
    sql: &mut Sql,
    filter: &TicketFilter,
    context: &FilterContext,
) -> Vec<String> {
    let mut conditions = Vec::new();
    let mut within = |sql: &mut Sql, column: &str, values: Vec<&'static str>| {
        if !values.is_empty() {
            conditions.push(format!("t.{column} IN ({})", sql.list(values)));
        }
    };
    within(
        sql,
        "status",
        filter.statuses.iter().map(|v| v.as_str()).collect(),
    );
    within(
        sql,
        "tier",
        filter.tiers.iter().map(|v| v.as_str()).collect(),
    );
    within(
        sql,
        "priority",
        filter.priorities.iter().map(|v| v.as_str()).collect(),
    );
    within(
        sql,
        "category",
        filter.categories.iter().map(|v| v.as_str()).collect(),
    );
    within(
        sql,
        "source",
        filter.sources.iter().map(|v| v.as_str()).collect(),
    );
    match &filter.assignee {
        AssigneeFilter::Anyone => {}
        AssigneeFilter::Me => {
            let me = sql.value(context.caller.as_str());
            conditions.push(format!("t.assignee = {me}"));
        }
        AssigneeFilter::Unassigned => conditions.push("t.assignee IS NULL".into()),
        AssigneeFilter::Named(name) => {
            let name = sql.value(name.as_str());
            conditions.push(format!("t.assignee = {name}"));
        }
    }
    if filter.agent.is_some() {
        // An endpoint that was named but not resolved selects nothing, as
        // in `matches`.
        match context.agent {
            Some(agent) => {
                let agent = sql.value(agent.to_string());
                conditions.push(format!("t.agent_id = {agent}"));
            }
            None => conditions.push("1 = 0".into()),
        }
    }
    if let Some(requester) = &filter.requester {
        let requester = sql.value(requester.as_str());
        conditions.push(format!("t.requester = {requester}"));
    }
    if let Some(since) = filter.created_since {
        let since = sql.value(since.millis());
        conditions.push(format!("t.created_at >= {since}"));
    }
    if let Some(since) = filter.updated_since {
        let since = sql.value(since.millis());
        conditions.push(format!("t.updated_at >= {since}"));
    }
    if filter.breaching {
        // `is_breaching`: past a warning point of a clock at stake; the
        // column is NULL when no clock is (`store::sla`).
        let now = sql.value(context.now.millis());
        conditions.push(format!("t.sla_attention_at <= {now}"));
    }
    conditions
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ascending,
    Descending,
}

/// The columns of `sort`, most significant first; the last is the id, and
/// the others are the cursor's keys in order.
fn sort_columns(sort: TicketSort) -> &'static [(&'static str, Direction)] {
    use Direction::*;
    match sort {
        TicketSort::Created => &[("created_at", Descending), ("id", Descending)],
        TicketSort::Updated => &[("updated_at", Descending), ("id", Descending)],
        TicketSort::Due => &[("sla_due_at", Ascending), ("id", Ascending)],
        TicketSort::Priority => &[
            ("priority_rank", Descending),
            ("sla_due_at", Ascending),
            ("id", Ascending),
        ],
    }
}

pub(super) fn order_by(sort: TicketSort) -> String {
    sort_columns(sort)
        .iter()
        .map(|(column, direction)| match direction {
            Direction::Ascending => format!("t.{column} ASC"),
            Direction::Descending => format!("t.{column} DESC"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tickets after `cursor` in `sort` order: for columns c1..cn, the OR of
/// "c1..ck-1 equal, ck beyond" for each k. Spelled out rather than a row
/// comparison, which cannot mix directions.
fn after_condition(sql: &mut Sql, sort: TicketSort, cursor: &TicketCursor) -> String {
    let columns = sort_columns(sort);
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, _)| match i {
            i if i + 1 == columns.len() => sql.value(cursor.id.to_string()),
            i => sql.value(cursor.keys[i]),
        })
        .collect();
    let arms: Vec<String> = (0..columns.len())
        .map(|k| {
            let mut parts: Vec<String> = (0..k)
                .map(|j| format!("t.{} = {}", columns[j].0, values[j]))
                .collect();
            let beyond = match columns[k].1 {
                Direction::Ascending => ">",
                Direction::Descending => "<",
            };
            parts.push(format!("t.{} {beyond} {}", columns[k].0, values[k]));
            format!("({})", parts.join(" AND "))
        })
        .collect();
    format!("({})", arms.join(" OR "))
}

impl Store {
    /// Up to `limit` tickets `filter` selects in `context`, in `sort` order,
    /// after `after` (which must belong to `sort`).
    pub async fn list_tickets_page(
        &self,
        filter: &TicketFilter,
        context: &FilterContext,
        sort: TicketSort,
        after: Option<&TicketCursor>,
        limit: usize,
    ) -> Result<Vec<Ticket>, StoreError> {
        filter.check()?;
        let mut sql = Sql::default();
        let mut conditions = filter_conditions(&mut sql, filter, context);
        if let Some(cursor) = after {
            cursor.check(sort)?;
            conditions.push(after_condition(&mut sql, sort, cursor));
        }
        let limit = sql.value(limit as i64);
        sql.push(&format!(
            "SELECT {} FROM tickets t WHERE {} ORDER BY {} LIMIT {limit}",
            ticket_columns("t"),
            all_of(&conditions),
            order_by(sort),
        ));
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::ticket)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::TicketId;

    #[test]
    fn a_cursor_continues_after_each_key_in_turn() {
        let cursor = TicketCursor {
            sort: TicketSort::Priority,
            keys: [3, 500],
            id: TicketId::new_random(),
        };
        let mut sql = Sql::default();
        let condition = after_condition(&mut sql, TicketSort::Priority, &cursor);
        assert_eq!(
            condition,
            "((t.priority_rank < $1) OR (t.priority_rank = $1 AND t.sla_due_at > $2) \
             OR (t.priority_rank = $1 AND t.sla_due_at = $2 AND t.id > $3))"
        );
        let mut sql = Sql::default();
        let created = TicketCursor {
            sort: TicketSort::Created,
            ..cursor
        };
        assert_eq!(
            after_condition(&mut sql, TicketSort::Created, &created),
            "((t.created_at < $1) OR (t.created_at = $1 AND t.id < $2))"
        );
        assert_eq!(order_by(TicketSort::Due), "t.sla_due_at ASC, t.id ASC");
    }

    #[test]
    fn ticket_columns_are_qualified() {
        let columns = ticket_columns("t");
        assert!(columns.starts_with("t.id, t.title, "), "{columns}");
        assert!(columns.ends_with("t.sla_due_at, t.sla_json"), "{columns}");
        assert_eq!(columns.matches("t.").count(), 16);
    }
}
