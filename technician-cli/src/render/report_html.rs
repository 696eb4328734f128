//! `triage report --html FILE`: one self-contained page. Five charts as
//! inline SVG drawn with plotters' SVG backend (which escapes the text it
//! writes), the figures as tables (escaped here), inline CSS, no scripts
//! and nothing fetched when it is opened.

use super::desk_report::{group_cells, percentiles_text, ratio_text};
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use triage_shared::desk_report::{
    source_index, DeskReport, AGE_BUCKETS, DAY_MS, MAX_REPORT_DAYS, RESOLUTION_BUCKET_LABELS,
};
use triage_shared::text::clean;
use triage_shared::ticket::Source;
use triage_shared::time::Timestamp;

/// The ids of the five charts, in page order.
pub const CHART_IDS: [&str; 5] = [
    "chart-tickets-per-day",
    "chart-resolution-time",
    "chart-sla-compliance",
    "chart-backlog",
    "chart-alerting-hosts",
];

const CHART_SIZE: (u32, u32) = (1100, 360);
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 4] = [
    RGBColor(0x2b, 0x6c, 0xb0),
    RGBColor(0xe0, 0x7b, 0x39),
    RGBColor(0x4c, 0xa3, 0x6b),
    RGBColor(0xb0, 0x3a, 0x48),
];

/// Text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// One chart as an `<svg>` element, without the namespace URL (inline SVG
/// in HTML needs none, and the page names no outside address).
fn svg(draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let mut text = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut text, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into))
    };
    match drawn {
        Ok(()) => text.replace(" xmlns=\"http://www.w3.org/2000/svg\"", ""),
        Err(e) => format!(
            "<svg width=\"{}\" height=\"40\"><text x=\"10\" y=\"25\">chart not drawn: {}</text></svg>",
            CHART_SIZE.0,
            escape(&e.to_string())
        ),
    }
}

fn segment_label(labels: &[String], v: &SegmentValue<i32>) -> String {
    // Labels under the middle of their bar; the edges stay bare.
    match v {
        SegmentValue::CenterOf(i) => usize::try_from(*i)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default(),
        SegmentValue::Exact(_) | SegmentValue::Last => String::new(),
    }
}

/// Every day of the window, oldest first: (label, tickets filed per
/// source, SLA part and whole).
fn dense_days(r: &DeskReport) -> Vec<(String, [u64; 3], (u64, u64))> {
    let day = DAY_MS as i64;
    let first = r.since.millis().div_euclid(day);
    let last = r.until.millis().div_euclid(day);
    let count = ((last - first + 1).max(1) as usize).min(MAX_REPORT_DAYS);
    let mut days: Vec<(String, [u64; 3], (u64, u64))> = (0..count)
        .map(|i| {
            let at = Timestamp((first + i as i64) * day).to_string();
            (at.get(5..10).unwrap_or("").to_string(), [0; 3], (0, 0))
        })
        .collect();
    for d in &r.days {
        let index = d.day.millis().div_euclid(day) - first;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) {
            slot.1 = d.filed;
            slot.2 = (d.sla.part, d.sla.of);
        }
    }
    days
}

fn tickets_per_day(r: &DeskReport) -> String {
    let days = dense_days(r);
    let labels: Vec<String> = days.iter().map(|d| d.0.clone()).collect();
    let top = days
        .iter()
        .map(|d| d.1.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    svg(|root| {
        let n = days.len() as i32;
        let mut chart = ChartBuilder::on(root)
            .caption("Tickets per day by source", (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top.max(1) + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len().min(15))
            .x_label_formatter(&|v| segment_label(&labels, v))
            .y_desc("tickets")
            .draw()?;
        for (k, source) in Source::ALL.iter().enumerate() {
            let color = PALETTE[k];
            let s = source_index(*source);
            let bars = days.iter().enumerate().filter_map(|(i, d)| {
                let below: u64 = d.1[..s].iter().sum();
                (d.1[s] > 0).then(|| {
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), below),
                            (SegmentValue::Exact(i as i32 + 1), below + d.1[s]),
                        ],
                        color.filled(),
                    )
                })
            });
            chart
                .draw_series(bars)?
                .label(source.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

fn resolution_time(r: &DeskReport) -> String {
    let labels: Vec<String> = RESOLUTION_BUCKET_LABELS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let top = r.resolution_histogram.iter().copied().max().unwrap_or(0);
    svg(|root| {
        let n = labels.len() as i32;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Time to resolve (tickets resolved in the window)",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top.max(1) + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|v| segment_label(&labels, v))
            .y_desc("tickets")
            .draw()?;
        chart.draw_series(r.resolution_histogram.iter().enumerate().map(|(i, &n)| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i as i32), 0),
                    (SegmentValue::Exact(i as i32 + 1), n),
                ],
                PALETTE[0].filled(),
            )
        }))?;
        Ok(())
    })
}

fn sla_compliance(r: &DeskReport) -> String {
    let days = dense_days(r);
    let labels: Vec<String> = days.iter().map(|d| d.0.clone()).collect();
    let points: Vec<(i32, f64)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.2 .1 > 0)
        .map(|(i, d)| (i as i32, d.2 .0 as f64 * 100.0 / d.2 .1 as f64))
        .collect();
    svg(|root| {
        let n = days.len().max(2) as i32;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "SLA compliance per day (resolution clocks stopped)",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0..n - 1, 0f64..100f64)?;
        chart
            .configure_mesh()
            .x_labels(labels.len().min(15))
            .x_label_formatter(&|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| labels.get(i))
                    .cloned()
                    .unwrap_or_default()
            })
            .y_label_formatter(&|p| format!("{p:.0}%"))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            points.clone(),
            PALETTE[2].stroke_width(2),
        )))?;
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 4, PALETTE[2].filled())),
        )?;
        Ok(())
    })
}

fn backlog(r: &DeskReport) -> String {
    let labels: Vec<String> = r.backlog.iter().map(|b| b.tier.to_string()).collect();
    let top = r.backlog.iter().map(|b| b.total()).max().unwrap_or(0);
    svg(|root| {
        let n = labels.len().max(1) as i32;
        let mut chart = ChartBuilder::on(root)
            .caption("Backlog by tier and age (active tickets now)", (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top.max(1) + 1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|v| segment_label(&labels, v))
            .y_desc("tickets")
            .draw()?;
        for (k, age) in AGE_BUCKETS.iter().enumerate() {
            let color = PALETTE[k];
            let bars = r.backlog.iter().enumerate().filter_map(|(i, b)| {
                let below: u64 = b.by_age[..k].iter().sum();
                (b.by_age[k] > 0).then(|| {
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), below),
                            (SegmentValue::Exact(i as i32 + 1), below + b.by_age[k]),
                        ],
                        color.filled(),
                    )
                })
            });
            chart.draw_series(bars)?.label(*age).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

fn alerting_hosts(r: &DeskReport) -> String {
    // Top host first, at the top of the chart.
    let hosts: Vec<_> = r.alerts_by_host.iter().rev().collect();
    let labels: Vec<String> = hosts.iter().map(|h| clean(&h.label)).collect();
    let top = hosts.iter().map(|h| h.count).max().unwrap_or(0);
    svg(|root| {
        let n = labels.len().max(1) as i32;
        let mut chart = ChartBuilder::on(root)
            .caption("Top alerting hosts (health alert tickets)", (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(180)
            .build_cartesian_2d(0u64..top.max(1) + 1, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(labels.len().max(1))
            .y_label_formatter(&|v| segment_label(&labels, v))
            .x_desc("tickets")
            .draw()?;
        chart.draw_series(hosts.iter().enumerate().map(|(i, h)| {
            Rectangle::new(
                [
                    (0, SegmentValue::Exact(i as i32)),
                    (h.count, SegmentValue::Exact(i as i32 + 1)),
                ],
                PALETTE[3].filled(),
            )
        }))?;
        Ok(())
    })
}

fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1160px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;margin:8px 0}\
th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}\
th{background:#f3f3f3}figure{margin:16px 0}figcaption{font-size:13px;color:#555}\
.note{font-size:13px;color:#555}";

/// The whole page, made at `made`.
pub fn page(r: &DeskReport, made: Timestamp) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = writeln!(
        out,
        "<title>Help desk report {} to {}</title><style>{STYLE}</style></head><body>",
        r.since, r.until
    );
    let _ = writeln!(
        out,
        "<h1>Help desk report</h1><p class=\"note\">{} to {}; made {made} by <code>triage report</code>.</p>",
        r.since, r.until
    );
    let satisfaction = match r.satisfaction.mean() {
        Some(mean) => format!("{mean:.2} of 5 ({} ratings)", r.satisfaction.count()),
        None => "-".into(),
    };
    let figures = vec![
        vec!["Tickets filed".into(), r.overall.volume.to_string()],
        vec![
            "First response p50 / p90".into(),
            percentiles_text(&r.overall.first_response),
        ],
        vec![
            "Time to resolve p50 / p90".into(),
            percentiles_text(&r.overall.resolution),
        ],
        vec![
            "SLA compliance".into(),
            ratio_text(r.overall.sla_compliance),
        ],
        vec![
            "First-contact resolution".into(),
            ratio_text(r.overall.first_contact_resolution),
        ],
        vec!["Reopen rate".into(), ratio_text(r.reopen_rate)],
        vec!["Satisfaction".into(), satisfaction],
        vec![
            "Self-service deflection".into(),
            ratio_text(r.deflection.rate()),
        ],
        vec!["Health alerts".into(), r.health_alerts.to_string()],
    ];
    out.push_str("<h2>Figures</h2>\n");
    table(&mut out, &["Figure", "Value"], &figures);

    let charts = [
        tickets_per_day(r),
        resolution_time(r),
        sla_compliance(r),
        backlog(r),
        alerting_hosts(r),
    ];
    out.push_str("<h2>Charts</h2>\n");
    for (id, chart) in CHART_IDS.iter().zip(charts) {
        let _ = writeln!(out, "<figure id=\"{id}\">{chart}</figure>");
    }

    if !r.alerts_by_rule.is_empty() {
        out.push_str("<h2>Health alerts by rule</h2>\n");
        let rows: Vec<Vec<String>> = r
            .alerts_by_rule
            .iter()
            .map(|l| vec![l.label.clone(), l.count.to_string()])
            .collect();
        table(&mut out, &["Rule", "Tickets"], &rows);
    }
    if !r.alerts_by_host.is_empty() {
        out.push_str("<h2>Health alerts by host</h2>\n");
        let rows: Vec<Vec<String>> = r
            .alerts_by_host
            .iter()
            .map(|l| vec![l.label.clone(), l.count.to_string()])
            .collect();
        table(&mut out, &["Host", "Tickets"], &rows);
    }
    if let Some(by) = r.by {
        let _ = writeln!(out, "<h2>By {}</h2>", escape(by.as_str()));
        let rows: Vec<Vec<String>> = r
            .groups
            .iter()
            .map(|g| group_cells(g, ratio_text))
            .collect();
        table(
            &mut out,
            &[
                by.as_str(),
                "Filed",
                "First response p50",
                "p90",
                "Resolve p50",
                "p90",
                "SLA",
                "FCR",
            ],
            &rows,
        );
        if r.groups_omitted > 0 {
            let _ = writeln!(
                out,
                "<p class=\"note\">… and {} more groups not shown.</p>",
                r.groups_omitted
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::desk_report::tests::sample;

    #[test]
    fn the_page_holds_five_charts_escapes_ticket_text_and_names_no_outside_address() {
        let html = page(&sample(), Timestamp(1_702_592_000_000));
        for id in CHART_IDS {
            assert!(html.contains(&format!("<figure id=\"{id}\"><svg")), "{id}");
        }
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(!html.contains("chart not drawn"), "{html}");
        // The hostname `<script>` is text in the chart and the table.
        assert!(!html.contains("<script"), "a hostname came out as markup");
        assert!(html.matches("&lt;script&gt;").count() >= 2, "{html}");
        assert!(!html.contains("&amp;lt;"), "escaped twice");
        for outside in ["http://", "https://", "src=", "<link", "@import", "url("] {
            assert!(!html.contains(outside), "{outside}");
        }
        // Control characters from the relay are gone.
        assert!(!html.contains('\u{1b}'));
        assert!(html.contains("75.0% (3 of 4)"));
    }

    #[test]
    fn an_empty_report_still_draws_every_chart() {
        let mut r = sample();
        r.days.clear();
        r.alerts_by_host.clear();
        r.resolution_histogram = vec![0; RESOLUTION_BUCKET_LABELS.len()];
        let html = page(&r, Timestamp(0));
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(!html.contains("chart not drawn"), "{html}");
    }
}
