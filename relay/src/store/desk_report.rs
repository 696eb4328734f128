//! Help desk metrics (`triage report`) as SQL aggregates, the same on
//! SQLite and PostgreSQL: COUNT/SUM with GROUP BY, and percentiles by
//! `ROW_NUMBER() OVER (ORDER BY …)` against the group's `COUNT(*) OVER`,
//! so a figure never needs the tickets in memory. The definitions are in
//! `triage_shared::desk_report`.
//!
//! What the aggregates read is kept beside each ticket (migration
//! `20250801000000_desk_report.sql`): [`desk_facts`] folds a ticket's
//! history into those columns on every write, in `sla::refresh`, with the
//! SLA clocks, so "first response" is the moment that stops the
//! first-response clock and "met" is the resolution clock's verdict.
//! Ratings are counted from the `rated` events by their exact JSON (made
//! by the same serializer the store writes with).

use super::rows::{int, text};
use super::sql::Sql;
use super::{Store, StoreError};
use crate::agent_updates::is_technician;
use std::collections::HashMap;
use triage_shared::desk_report::{
    Backlog, Day, DeflectionRate, DeskReport, GroupFigures, Headline, LabelCount, Percentiles,
    Ratio, ReportBy, Satisfaction, AGE_BUCKETS_MS, DAY_MS, MAX_REPORT_DAYS, MAX_REPORT_GROUPS,
    MAX_REPORT_HOSTS, MAX_REPORT_LABEL_LEN, MAX_REPORT_RULES, RESOLUTION_BUCKETS_MS,
    RESOLUTION_BUCKET_LABELS,
};
use triage_shared::sla::ClockStatus;
use triage_shared::text::{clean, shortened};
use triage_shared::ticket::{Source, Status, Ticket, TicketEvent, TicketEventKind, Tier};
use triage_shared::time::Timestamp;

/// What the report reads of one ticket, folded from its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DeskFacts {
    pub first_response_at: Option<Timestamp>,
    pub first_resolved_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub resolution_met: Option<bool>,
    pub escalations: i64,
    pub reopens: i64,
}

fn active(status: Status) -> bool {
    matches!(status, Status::Open | Status::InProgress | Status::Waiting)
}

fn done(status: Status) -> bool {
    matches!(status, Status::Resolved | Status::Closed)
}

/// Folds `events` (in history order), the first public technician comment
/// and the resolution clock into [`DeskFacts`]. `ticket` is its state after
/// the write. A resolution is a move from an active status to resolved or
/// closed; resolved → closed only confirms it.
pub(super) fn desk_facts(
    ticket: &Ticket,
    events: &[TicketEvent],
    first_reply: Option<Timestamp>,
    resolution: &ClockStatus,
) -> DeskFacts {
    let mut facts = DeskFacts::default();
    let mut first_status_by_technician = None;
    let mut last_resolved = None;
    for e in events {
        match &e.event {
            TicketEventKind::StatusChanged { from, to } => {
                if is_technician(&e.actor) && first_status_by_technician.is_none() {
                    first_status_by_technician = Some(e.at);
                }
                if active(*from) && done(*to) {
                    facts.first_resolved_at.get_or_insert(e.at);
                    last_resolved = Some(e.at);
                }
                if done(*from) && *to == Status::Open {
                    facts.reopens += 1;
                }
            }
            TicketEventKind::Escalated { .. } => facts.escalations += 1,
            _ => {}
        }
    }
    facts.first_response_at = match (first_reply, first_status_by_technician) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if done(ticket.status) {
        facts.resolved_at = last_resolved;
        facts.resolution_met = last_resolved.map(|_| !resolution.breached(resolution.as_of));
    }
    facts
}

/// Longest health rule name taken from a description.
const MAX_RULE_LEN: usize = 32;

/// The health rule a `health_alert` ticket names, as the agent writes it:
/// "… raised the `disk` alert for …". Lowercase letters, digits, `_` and
/// `-` only; anything else is no rule.
pub(super) fn alert_rule(ticket: &Ticket) -> Option<String> {
    if ticket.source != Source::HealthAlert {
        return None;
    }
    let (_, after) = ticket.description.split_once("raised the `")?;
    let (rule, _) = after.split_once("` alert")?;
    let fits = !rule.is_empty()
        && rule.len() <= MAX_RULE_LEN
        && rule
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    fits.then(|| rule.to_string())
}

/// The SQL of a `--by` group: fixed text per grouping, never a value.
fn group_expr(by: ReportBy) -> &'static str {
    match by {
        ReportBy::Tier => "tier",
        ReportBy::Category => "category",
        ReportBy::Assignee => "COALESCE(assignee, '-')",
        ReportBy::Host => "COALESCE(hostname, '-')",
    }
}

/// A label from the store, safe to show and within its bound.
fn label(raw: &str) -> String {
    shortened(&clean(raw), MAX_REPORT_LABEL_LEN).to_string()
}

/// The window and grouping one report is computed for.
struct Scope {
    since: i64,
    until: i64,
    /// The group expression and the groups to compute, when grouped.
    groups: Option<(&'static str, Vec<String>)>,
}

impl Scope {
    /// `column` within the window, and within the chosen groups.
    fn conditions(&self, sql: &mut Sql, column: &str) -> String {
        let since = sql.value(self.since);
        let until = sql.value(self.until);
        let mut text = format!("{column} >= {since} AND {column} <= {until}");
        if let Some((expr, groups)) = &self.groups {
            let list = sql.list(groups.iter().map(String::as_str));
            text.push_str(&format!(" AND {expr} IN ({list})"));
        }
        text
    }

    /// The group expression as the column `g` (`''` for the whole).
    fn select_group(&self) -> &'static str {
        match &self.groups {
            Some((expr, _)) => expr,
            None => "''",
        }
    }

    fn group_by(&self) -> &'static str {
        match &self.groups {
            Some(_) => " GROUP BY g",
            None => "",
        }
    }

    fn partition(&self) -> String {
        match &self.groups {
            Some((expr, _)) => format!("PARTITION BY {expr} "),
            None => String::new(),
        }
    }
}

impl Store {
    /// The report over the `window_ms` before `now` (checked by the
    /// caller), headline figures grouped `by` one field when asked.
    pub async fn desk_report(
        &self,
        window_ms: u64,
        by: Option<ReportBy>,
        now: Timestamp,
    ) -> Result<DeskReport, StoreError> {
        triage_shared::desk_report::check_window(window_ms)?;
        let since = now.millis().saturating_sub(window_ms as i64);
        let whole = Scope {
            since,
            until: now.millis(),
            groups: None,
        };
        let overall = self.headlines(&whole).await?.remove("").unwrap_or_default();
        let (groups, groups_omitted) = match by {
            Some(by) => self.grouped(&whole, by).await?,
            None => (Vec::new(), 0),
        };
        let (health_alerts, alerts_by_rule, alerts_by_host) = self.alerts(&whole).await?;
        Ok(DeskReport {
            since: Timestamp(since),
            until: now,
            by,
            overall,
            groups,
            groups_omitted,
            reopen_rate: self.reopen_rate(&whole).await?,
            backlog: self.backlog(now).await?,
            health_alerts,
            alerts_by_rule,
            alerts_by_host,
            satisfaction: self.satisfaction(&whole).await?,
            deflection: self.deflection(&whole).await?,
            days: self.days(&whole).await?,
            resolution_histogram: self.resolution_histogram(&whole).await?,
        })
    }

    /// The groups with the most tickets filed in the window, among those
    /// with anything in it, and how many more there were.
    async fn grouped(
        &self,
        whole: &Scope,
        by: ReportBy,
    ) -> Result<(Vec<GroupFigures>, u64), StoreError> {
        let expr = group_expr(by);
        let mut sql = Sql::default();
        let since = sql.value(whole.since);
        let until = sql.value(whole.until);
        let touched = [
            "created_at",
            "first_response_at",
            "resolved_at",
            "first_resolved_at",
        ]
        .map(|c| format!("({c} >= {since} AND {c} <= {until})"))
        .join(" OR ");
        sql.push(&format!(
            "SELECT g, COUNT(*) OVER () AS group_count, volume FROM ( \
               SELECT {expr} AS g, \
                 SUM(CASE WHEN created_at >= {since} AND created_at <= {until} THEN 1 ELSE 0 END) AS volume \
               FROM tickets WHERE {touched} GROUP BY {expr} \
             ) grouped ORDER BY volume DESC, g LIMIT {}",
            sql_limit(MAX_REPORT_GROUPS)
        ));
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut total = 0;
        let mut ranked = Vec::with_capacity(rows.len());
        for row in &rows {
            total = int(row, "group_count")?;
            ranked.push((count(row, "volume")?, text(row, "g")?));
        }
        // Ties by name as bytes, the same on both backends (PostgreSQL's
        // collation may order punctuation otherwise).
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let names: Vec<String> = ranked.into_iter().map(|(_, name)| name).collect();
        if names.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let scope = Scope {
            since: whole.since,
            until: whole.until,
            groups: Some((expr, names.clone())),
        };
        let mut figures = self.headlines(&scope).await?;
        let groups = names
            .into_iter()
            .map(|name| GroupFigures {
                label: label(&name),
                figures: figures.remove(&name).unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        let omitted = (total.max(0) as u64).saturating_sub(groups.len() as u64);
        Ok((groups, omitted))
    }

    /// The headline figures of each group in `scope` (`""` for the whole).
    async fn headlines(&self, scope: &Scope) -> Result<HashMap<String, Headline>, StoreError> {
        let mut out: HashMap<String, Headline> = HashMap::new();
        let g = scope.select_group();
        let group_by = scope.group_by();

        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "created_at");
        sql.push(&format!(
            "SELECT {g} AS g, COUNT(*) AS n FROM tickets WHERE {window}{group_by}"
        ));
        for row in sql.query().fetch_all(&self.pool).await? {
            out.entry(text(&row, "g")?).or_default().volume = count(&row, "n")?;
        }

        for (column, first) in [("first_response_at", true), ("resolved_at", false)] {
            for (group, p) in self.percentiles(scope, column).await? {
                let h = out.entry(group).or_default();
                if first {
                    h.first_response = p;
                } else {
                    h.resolution = p;
                }
            }
        }

        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "resolved_at");
        sql.push(&format!(
            "SELECT {g} AS g, COUNT(*) AS n, \
               COALESCE(SUM(CASE WHEN resolution_met = 1 THEN 1 ELSE 0 END), 0) AS met \
             FROM tickets WHERE {window}{group_by}"
        ));
        for row in sql.query().fetch_all(&self.pool).await? {
            out.entry(text(&row, "g")?).or_default().sla_compliance = Ratio {
                part: count(&row, "met")?,
                of: count(&row, "n")?,
            };
        }

        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "first_resolved_at");
        let l1 = sql.value(Tier::L1.as_str());
        sql.push(&format!(
            "SELECT {g} AS g, COUNT(*) AS n, \
               COALESCE(SUM(CASE WHEN tier = {l1} AND escalations = 0 AND reopens = 0 \
                 THEN 1 ELSE 0 END), 0) AS fcr \
             FROM tickets WHERE {window}{group_by}"
        ));
        for row in sql.query().fetch_all(&self.pool).await? {
            out.entry(text(&row, "g")?)
                .or_default()
                .first_contact_resolution = Ratio {
                part: count(&row, "fcr")?,
                of: count(&row, "n")?,
            };
        }
        Ok(out)
    }

    /// Nearest-rank p50 and p90 of `column - created_at` over tickets with
    /// `column` in the window, per group: each row ranked within its group,
    /// and only the two ranks wanted read back.
    async fn percentiles(
        &self,
        scope: &Scope,
        column: &str,
    ) -> Result<Vec<(String, Percentiles)>, StoreError> {
        let g = scope.select_group();
        let partition = scope.partition();
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, column);
        sql.push(&format!(
            "SELECT g, n, rn, d FROM ( \
               SELECT {g} AS g, {column} - created_at AS d, \
                 ROW_NUMBER() OVER ({partition}ORDER BY {column} - created_at, id) AS rn, \
                 COUNT(*) OVER ({partition}) AS n \
               FROM tickets WHERE {window} \
             ) ranked \
             WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 90 + 99) / 100"
        ));
        let mut out: HashMap<String, Percentiles> = HashMap::new();
        for row in sql.query().fetch_all(&self.pool).await? {
            let n = int(&row, "n")?;
            let rn = int(&row, "rn")?;
            let d = int(&row, "d")?.max(0) as u64;
            let p = out.entry(text(&row, "g")?).or_default();
            p.count = n.max(0) as u64;
            if rn == (n * 50 + 99) / 100 {
                p.p50_ms = Some(d);
            }
            if rn == (n * 90 + 99) / 100 {
                p.p90_ms = Some(d);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Of tickets first resolved in the window, those reopened since.
    async fn reopen_rate(&self, scope: &Scope) -> Result<Ratio, StoreError> {
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "first_resolved_at");
        sql.push(&format!(
            "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN reopens > 0 THEN 1 ELSE 0 END), 0) AS reopened \
             FROM tickets WHERE {window}"
        ));
        let row = sql.query().fetch_one(&self.pool).await?;
        Ok(Ratio {
            part: count(&row, "reopened")?,
            of: count(&row, "n")?,
        })
    }

    /// Active tickets now, per tier and age bucket.
    async fn backlog(&self, now: Timestamp) -> Result<Vec<Backlog>, StoreError> {
        let mut sql = Sql::default();
        let statuses =
            sql.list([Status::Open, Status::InProgress, Status::Waiting].map(|s| s.as_str()));
        // An age under a bound is a filing after `now - bound`.
        let [a, b, c] = AGE_BUCKETS_MS.map(|ms| sql.value(now.millis() - ms as i64));
        sql.push(&format!(
            "SELECT tier, CASE WHEN created_at > {a} THEN 0 WHEN created_at > {b} THEN 1 \
               WHEN created_at > {c} THEN 2 ELSE 3 END AS bucket, COUNT(*) AS n \
             FROM tickets WHERE status IN ({statuses}) GROUP BY tier, bucket"
        ));
        let mut backlog: Vec<Backlog> = Tier::ALL
            .iter()
            .map(|&tier| Backlog {
                tier,
                by_age: [0; 4],
            })
            .collect();
        for row in sql.query().fetch_all(&self.pool).await? {
            let Ok(tier) = text(&row, "tier")?.parse::<Tier>() else {
                continue;
            };
            let bucket = (int(&row, "bucket")?.clamp(0, 3)) as usize;
            if let Some(b) = backlog.iter_mut().find(|b| b.tier == tier) {
                b.by_age[bucket] += count(&row, "n")?;
            }
        }
        Ok(backlog)
    }

    /// Health alert tickets filed in the window: how many, the top rules
    /// and the top hosts.
    async fn alerts(
        &self,
        scope: &Scope,
    ) -> Result<(u64, Vec<LabelCount>, Vec<LabelCount>), StoreError> {
        let mut tops = Vec::new();
        for (expr, limit) in [
            ("COALESCE(alert_rule, 'unknown')", MAX_REPORT_RULES),
            ("COALESCE(hostname, '-')", MAX_REPORT_HOSTS),
        ] {
            let mut sql = Sql::default();
            let window = scope.conditions(&mut sql, "created_at");
            let source = sql.value(Source::HealthAlert.as_str());
            sql.push(&format!(
                "SELECT {expr} AS g, COUNT(*) AS n FROM tickets \
                 WHERE source = {source} AND {window} GROUP BY {expr} \
                 ORDER BY n DESC, g LIMIT {}",
                sql_limit(limit)
            ));
            let mut top = Vec::new();
            for row in sql.query().fetch_all(&self.pool).await? {
                top.push(LabelCount {
                    label: label(&text(&row, "g")?),
                    count: count(&row, "n")?,
                });
            }
            top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
            tops.push(top);
        }
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "created_at");
        let source = sql.value(Source::HealthAlert.as_str());
        sql.push(&format!(
            "SELECT COUNT(*) AS n FROM tickets WHERE source = {source} AND {window}"
        ));
        let total = count(&sql.query().fetch_one(&self.pool).await?, "n")?;
        let hosts = tops.pop().unwrap_or_default();
        let rules = tops.pop().unwrap_or_default();
        Ok((total, rules, hosts))
    }

    /// The `rated` events of the window, counted per score by their JSON.
    async fn satisfaction(&self, scope: &Scope) -> Result<Satisfaction, StoreError> {
        let encodings = (1..=5u8)
            .map(|score| super::rows::to_json(&TicketEventKind::Rated { score }))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "occurred_at");
        let list = sql.list(encodings.iter().map(String::as_str));
        sql.push(&format!(
            "SELECT event_json, COUNT(*) AS n FROM ticket_events \
             WHERE {window} AND event_json IN ({list}) GROUP BY event_json"
        ));
        let mut satisfaction = Satisfaction::default();
        for row in sql.query().fetch_all(&self.pool).await? {
            let json = text(&row, "event_json")?;
            if let Some(i) = encodings.iter().position(|e| *e == json) {
                satisfaction.by_score[i] = count(&row, "n")?;
            }
        }
        Ok(satisfaction)
    }

    async fn deflection(&self, scope: &Scope) -> Result<DeflectionRate, StoreError> {
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "at");
        sql.push(&format!(
            "SELECT COUNT(*) AS n FROM kb_deflections WHERE {window}"
        ));
        let deflections = count(&sql.query().fetch_one(&self.pool).await?, "n")?;
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "created_at");
        let source = sql.value(Source::Employee.as_str());
        sql.push(&format!(
            "SELECT COUNT(*) AS n FROM tickets WHERE source = {source} AND {window}"
        ));
        let employee_tickets = count(&sql.query().fetch_one(&self.pool).await?, "n")?;
        Ok(DeflectionRate {
            deflections,
            employee_tickets,
        })
    }

    /// Per UTC day of the window: tickets filed by source, and resolution
    /// clocks stopped (met or not).
    async fn days(&self, scope: &Scope) -> Result<Vec<Day>, StoreError> {
        let origin = scope.since.div_euclid(DAY_MS as i64) * DAY_MS as i64;
        let mut days: std::collections::BTreeMap<i64, Day> = Default::default();

        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "created_at");
        let from = sql.value(origin);
        sql.push(&format!(
            "SELECT (created_at - {from}) / {DAY_MS} AS d, source, COUNT(*) AS n \
             FROM tickets WHERE {window} GROUP BY d, source"
        ));
        for row in sql.query().fetch_all(&self.pool).await? {
            let index = int(&row, "d")?;
            let Ok(source) = text(&row, "source")?.parse::<Source>() else {
                continue;
            };
            let entry = days
                .entry(index)
                .or_insert_with(|| Day::new(Timestamp(origin + index * DAY_MS as i64)));
            entry.filed[triage_shared::desk_report::source_index(source)] += count(&row, "n")?;
        }

        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "resolved_at");
        let from = sql.value(origin);
        sql.push(&format!(
            "SELECT (resolved_at - {from}) / {DAY_MS} AS d, COUNT(*) AS n, \
               COALESCE(SUM(CASE WHEN resolution_met = 1 THEN 1 ELSE 0 END), 0) AS met \
             FROM tickets WHERE {window} GROUP BY d"
        ));
        for row in sql.query().fetch_all(&self.pool).await? {
            let index = int(&row, "d")?;
            let entry = days
                .entry(index)
                .or_insert_with(|| Day::new(Timestamp(origin + index * DAY_MS as i64)));
            entry.sla = Ratio {
                part: count(&row, "met")?,
                of: count(&row, "n")?,
            };
        }
        Ok(days.into_values().take(MAX_REPORT_DAYS).collect())
    }

    /// Tickets whose resolution clock stopped in the window, per bucket of
    /// time to resolve.
    async fn resolution_histogram(&self, scope: &Scope) -> Result<Vec<u64>, StoreError> {
        let mut sql = Sql::default();
        let window = scope.conditions(&mut sql, "resolved_at");
        let cases: String = RESOLUTION_BUCKETS_MS
            .iter()
            .enumerate()
            .map(|(i, &bound)| {
                let bound = sql.value(bound as i64);
                format!("WHEN resolved_at - created_at < {bound} THEN {i} ")
            })
            .collect();
        let last = RESOLUTION_BUCKETS_MS.len();
        sql.push(&format!(
            "SELECT bucket, COUNT(*) AS n FROM ( \
               SELECT CASE {cases}ELSE {last} END AS bucket FROM tickets WHERE {window} \
             ) bucketed GROUP BY bucket"
        ));
        let mut histogram = vec![0; RESOLUTION_BUCKET_LABELS.len()];
        for row in sql.query().fetch_all(&self.pool).await? {
            let bucket = int(&row, "bucket")?.clamp(0, last as i64) as usize;
            histogram[bucket] = count(&row, "n")?;
        }
        Ok(histogram)
    }
}

/// A limit written into the SQL: a named constant, never a value sent.
fn sql_limit(limit: usize) -> String {
    limit.to_string()
}

/// A count column (never negative).
fn count(row: &sqlx::any::AnyRow, column: &str) -> Result<u64, StoreError> {
    Ok(int(row, column)?.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::sla::ClockState;
    use triage_shared::ticket::{Category, Priority};
    use triage_shared::TicketId;

    fn ticket(status: Status, source: Source, description: &str) -> Ticket {
        Ticket {
            id: TicketId::new_random(),
            title: "t".into(),
            description: description.into(),
            category: Category::Network,
            priority: Priority::Normal,
            status,
            tier: Tier::L1,
            source,
            agent_id: None,
            hostname: None,
            requester: "alice".into(),
            assignee: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(0),
            sla: None,
        }
    }

    fn event(actor: &str, at: i64, event: TicketEventKind) -> TicketEvent {
        TicketEvent {
            actor: actor.into(),
            at: Timestamp(at),
            event,
        }
    }

    fn status(from: Status, to: Status) -> TicketEventKind {
        TicketEventKind::StatusChanged { from, to }
    }

    fn clock(used_ms: u64, target_ms: u64) -> ClockStatus {
        ClockStatus {
            target_ms,
            state: ClockState::Stopped,
            used_ms,
            as_of: Timestamp(0),
            due_at: None,
            warn_at: None,
            warn_ms: target_ms,
        }
    }

    #[test]
    fn a_history_folds_into_response_resolutions_reopens_and_escalations() {
        let events = [
            event("alice", 0, TicketEventKind::Created),
            // The agent's status change is no response.
            event("agent:x", 5, status(Status::Open, Status::Waiting)),
            event("bob", 20, status(Status::Waiting, Status::InProgress)),
            event(
                "bob",
                25,
                TicketEventKind::Escalated {
                    from: Tier::L1,
                    to: Tier::L2,
                },
            ),
            event("bob", 30, status(Status::InProgress, Status::Resolved)),
            event("employee:alice", 40, status(Status::Resolved, Status::Open)),
            event("bob", 50, status(Status::Open, Status::Resolved)),
            // Closing a resolved ticket is no new resolution.
            event(
                "relay:auto-close",
                60,
                status(Status::Resolved, Status::Closed),
            ),
        ];
        let closed = ticket(Status::Closed, Source::Employee, "");
        let facts = desk_facts(&closed, &events, Some(Timestamp(15)), &clock(10, 100));
        assert_eq!(
            facts,
            DeskFacts {
                first_response_at: Some(Timestamp(15)),
                first_resolved_at: Some(Timestamp(30)),
                resolved_at: Some(Timestamp(50)),
                resolution_met: Some(true),
                escalations: 1,
                reopens: 1,
            }
        );
        // Reopened and not resolved again: the clock runs, nothing stopped.
        let open = ticket(Status::Open, Source::Employee, "");
        let facts = desk_facts(&open, &events[..6], None, &clock(200, 100));
        assert_eq!(facts.first_response_at, Some(Timestamp(20)));
        assert_eq!(facts.first_resolved_at, Some(Timestamp(30)));
        assert_eq!((facts.resolved_at, facts.resolution_met), (None, None));
        // Over its target: missed.
        let facts = desk_facts(&closed, &events, None, &clock(100, 100));
        assert_eq!(facts.resolution_met, Some(false));
    }

    #[test]
    fn the_alert_rule_is_read_from_the_agents_description_and_nothing_else() {
        let alert = |d: &str| alert_rule(&ticket(Status::Open, Source::HealthAlert, d));
        assert_eq!(
            alert("The health monitor on pc-1 raised the `disk` alert for /var.\n\nMeasured: 96%"),
            Some("disk".into())
        );
        assert_eq!(alert("raised the `Disk; DROP` alert"), None);
        assert_eq!(alert("no rule here"), None);
        assert_eq!(
            alert(&format!("raised the `{}` alert", "a".repeat(33))),
            None
        );
        let employee = ticket(Status::Open, Source::Employee, "raised the `disk` alert");
        assert_eq!(alert_rule(&employee), None);
    }
}
