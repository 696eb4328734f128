//! `triage report` as text: the headline figures, then the backlog, the
//! health alerts and the `--by` groups as tables. Labels come from the
//! relay and are cleaned by `table`.

use crate::text::table;
use std::fmt::Write;
use std::time::Duration;
use triage_shared::desk_report::{DeskReport, GroupFigures, Percentiles, Ratio, AGE_BUCKETS};
use triage_shared::time::human_duration;

/// A duration for people, to the minute once it is over one.
pub fn duration_text(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    if d.as_secs() < 60 {
        return human_duration(d);
    }
    human_duration(Duration::from_secs(d.as_secs() / 60 * 60))
}

pub fn percentiles_text(p: &Percentiles) -> String {
    match (p.p50_ms, p.p90_ms) {
        (Some(p50), Some(p90)) => format!(
            "{} / {} ({} tickets)",
            duration_text(p50),
            duration_text(p90),
            p.count
        ),
        _ => "-".into(),
    }
}

pub fn ratio_text(r: Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{p:.1}% ({} of {})", r.part, r.of),
        None => "-".into(),
    }
}

fn short(p: Option<u64>) -> String {
    p.map(duration_text).unwrap_or_else(|| "-".into())
}

fn percent(r: Ratio) -> String {
    r.percent()
        .map(|p| format!("{p:.1}%"))
        .unwrap_or_else(|| "-".into())
}

/// One `--by` group's cells, as the text table and the HTML page list
/// them: label, filed, the four percentiles, then SLA and FCR as `ratio`
/// writes them.
pub fn group_cells(g: &GroupFigures, ratio: fn(Ratio) -> String) -> Vec<String> {
    let f = &g.figures;
    vec![
        g.label.clone(),
        f.volume.to_string(),
        short(f.first_response.p50_ms),
        short(f.first_response.p90_ms),
        short(f.resolution.p50_ms),
        short(f.resolution.p90_ms),
        ratio(f.sla_compliance),
        ratio(f.first_contact_resolution),
    ]
}

pub fn desk_report_text(r: &DeskReport, width: usize) -> String {
    let mut out = String::new();
    let days = r.until.millis().saturating_sub(r.since.millis()) / 86_400_000;
    let _ = writeln!(
        out,
        "Help desk report, {} to {} ({days}d)",
        r.since, r.until
    );
    let satisfaction = match r.satisfaction.mean() {
        Some(mean) => format!("{mean:.2} of 5 ({} ratings)", r.satisfaction.count()),
        None => "-".into(),
    };
    let headline = [
        ("Tickets filed", r.overall.volume.to_string()),
        (
            "First response p50 / p90",
            percentiles_text(&r.overall.first_response),
        ),
        (
            "Time to resolve p50 / p90",
            percentiles_text(&r.overall.resolution),
        ),
        ("SLA compliance", ratio_text(r.overall.sla_compliance)),
        (
            "First-contact resolution",
            ratio_text(r.overall.first_contact_resolution),
        ),
        ("Reopen rate", ratio_text(r.reopen_rate)),
        ("Satisfaction", satisfaction),
        ("Self-service deflection", ratio_text(r.deflection.rate())),
        ("Health alerts", r.health_alerts.to_string()),
    ];
    let rows: Vec<Vec<String>> = headline
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    out.push('\n');
    out.push_str(&table(&["FIGURE", "VALUE"], &rows, width));

    let mut headers = vec!["BACKLOG"];
    headers.extend(AGE_BUCKETS);
    headers.push("TOTAL");
    let rows: Vec<Vec<String>> = r
        .backlog
        .iter()
        .map(|b| {
            let mut row = vec![b.tier.to_string()];
            row.extend(b.by_age.iter().map(u64::to_string));
            row.push(b.total().to_string());
            row
        })
        .collect();
    out.push('\n');
    out.push_str(&table(&headers, &rows, width));

    if !r.alerts_by_rule.is_empty() {
        let rows: Vec<Vec<String>> = r
            .alerts_by_rule
            .iter()
            .map(|l| vec![l.label.clone(), l.count.to_string()])
            .collect();
        out.push('\n');
        out.push_str(&table(&["ALERT RULE", "TICKETS"], &rows, width));
    }
    if !r.alerts_by_host.is_empty() {
        let rows: Vec<Vec<String>> = r
            .alerts_by_host
            .iter()
            .map(|l| vec![l.label.clone(), l.count.to_string()])
            .collect();
        out.push('\n');
        out.push_str(&table(&["ALERTING HOST", "TICKETS"], &rows, width));
    }
    if let Some(by) = r.by {
        let by = by.as_str().to_ascii_uppercase();
        let rows: Vec<Vec<String>> = r.groups.iter().map(|g| group_cells(g, percent)).collect();
        out.push('\n');
        if rows.is_empty() {
            out.push_str("Nothing in the window to group.\n");
        } else {
            out.push_str(&table(
                &[
                    by.as_str(),
                    "FILED",
                    "FR P50",
                    "FR P90",
                    "RES P50",
                    "RES P90",
                    "SLA",
                    "FCR",
                ],
                &rows,
                width,
            ));
        }
        if r.groups_omitted > 0 {
            let _ = writeln!(
                out,
                "… and {} more; the {} with the most tickets are shown.",
                r.groups_omitted,
                r.groups.len()
            );
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use triage_shared::desk_report::*;
    use triage_shared::ticket::Tier;
    use triage_shared::time::Timestamp;

    pub(crate) fn sample() -> DeskReport {
        let headline = Headline {
            volume: 7,
            first_response: Percentiles {
                count: 5,
                p50_ms: Some(600_000),
                p90_ms: Some(5_400_000),
            },
            resolution: Percentiles {
                count: 4,
                p50_ms: Some(7_200_000),
                p90_ms: Some(90_000_000),
            },
            sla_compliance: Ratio { part: 3, of: 4 },
            first_contact_resolution: Ratio { part: 2, of: 4 },
        };
        DeskReport {
            since: Timestamp(1_700_000_000_000),
            until: Timestamp(1_700_000_000_000 + 30 * 86_400_000),
            by: Some(ReportBy::Host),
            overall: headline.clone(),
            groups: vec![GroupFigures {
                label: "pc\u{1b}[2J".into(),
                figures: headline,
            }],
            groups_omitted: 2,
            reopen_rate: Ratio { part: 1, of: 4 },
            backlog: Tier::ALL
                .iter()
                .map(|&tier| Backlog {
                    tier,
                    by_age: [1, 0, 2, 0],
                })
                .collect(),
            health_alerts: 2,
            alerts_by_rule: vec![LabelCount {
                label: "disk".into(),
                count: 2,
            }],
            alerts_by_host: vec![LabelCount {
                label: "<script>".into(),
                count: 2,
            }],
            satisfaction: Satisfaction {
                by_score: [0, 0, 1, 0, 2],
            },
            deflection: DeflectionRate {
                deflections: 1,
                employee_tickets: 3,
            },
            days: vec![Day {
                day: Timestamp(1_699_920_000_000),
                filed: [3, 2, 2],
                sla: Ratio { part: 1, of: 1 },
            }],
            resolution_histogram: vec![0, 1, 0, 2, 1, 0, 0],
        }
    }

    #[test]
    fn the_text_report_shows_every_figure_humanized() {
        let out = desk_report_text(&sample(), 120);
        for want in [
            "Tickets filed              7",
            "First response p50 / p90   10m / 1h 30m (5 tickets)",
            "Time to resolve p50 / p90  2h / 1day 1h (4 tickets)",
            "SLA compliance             75.0% (3 of 4)",
            "First-contact resolution   50.0% (2 of 4)",
            "Reopen rate                25.0% (1 of 4)",
            "Satisfaction               4.33 of 5 (3 ratings)",
            "Self-service deflection    25.0% (1 of 4)",
            "l2       1    0     2     0    3",
            "disk        2",
            "… and 2 more",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
}
