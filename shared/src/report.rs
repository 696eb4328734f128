//! Text rendering of a live [`DiagnosticsReport`], one section at a time, so
//! `triage diag --section …` (CLI) and `triage-agent diagnose --section …`
//! print the same thing.
//!
//! [`Snapshot::render_text`](crate::diagnostics::Snapshot::render_text) is
//! the same rendering with every snapshot section.
//! Every string from the endpoint goes through [`clean`], so a hostile report
//! cannot drive the terminal.

use crate::diagnostics::{ProcessInfo, Snapshot};
use crate::remote::{DiagnosticsReport, Package, Section, Service};
use crate::size::human_bytes;
use crate::text::clean;
use crate::time::human_duration;
use std::fmt::Write as _;
use std::time::Duration;

/// Renders the asked `sections` of `report`, in the canonical order of
/// [`Section::ALL`] whatever order they were asked in. Empty `sections`
/// means everything; then `software` and `services` appear only when the
/// report carries them (the agent collects them only when asked).
pub fn render_sections(report: &DiagnosticsReport, sections: &[Section]) -> String {
    render(&report.snapshot, Some(report), sections)
}

/// Renders a whole snapshot: every section it has.
pub fn render_snapshot(snapshot: &Snapshot) -> String {
    render(snapshot, None, &[])
}

fn render(s: &Snapshot, report: Option<&DiagnosticsReport>, sections: &[Section]) -> String {
    let everything = sections.is_empty();
    let installed = report.and_then(|r| r.software.as_ref());
    let units = report.and_then(|r| r.services.as_ref());
    let mut out = String::new();
    let _ = writeln!(out, "Snapshot taken {}", s.taken_at);
    for section in Section::ALL {
        if !everything && !sections.contains(&section) {
            continue;
        }
        match section {
            Section::Os => os(&mut out, s),
            Section::Cpu => cpu(&mut out, s),
            Section::Memory => memory(&mut out, s),
            Section::Disks => disks(&mut out, s),
            Section::Network => network(&mut out, s),
            Section::Processes => processes(&mut out, s),
            Section::Components => components(&mut out, s),
            Section::Users => users(&mut out, s),
            Section::Software => match installed {
                Some(list) => software(&mut out, list),
                None if everything => {}
                None => {
                    let _ = writeln!(
                        out,
                        "\n== Installed software\n  (no package database found on this endpoint)"
                    );
                }
            },
            Section::Services => match units {
                Some(list) => services(&mut out, list),
                None if everything => {}
                None => {
                    let _ = writeln!(
                        out,
                        "\n== Services\n  (systemd is not running on this endpoint)"
                    );
                }
            },
        }
    }
    out
}

fn os(out: &mut String, s: &Snapshot) {
    let o = &s.os;
    let _ = writeln!(
        out,
        "\n== System\n  host     {}\n  os       {} {}\n  kernel   {}\n  uptime   {}",
        clean(&o.hostname),
        clean(&o.name),
        clean(&o.version),
        clean(&o.kernel),
        human_duration(Duration::from_secs(o.uptime_secs))
    );
}

fn cpu(out: &mut String, s: &Snapshot) {
    let c = &s.cpu;
    let cores = match c.physical_cores {
        Some(p) => format!("{p} physical / {} logical", c.logical_cores),
        None => format!("{} logical", c.logical_cores),
    };
    let _ = writeln!(
        out,
        "\n== CPU\n  model    {}\n  cores    {cores}\n  usage    {:.1}%\n  load     {:.2} {:.2} {:.2}",
        clean(&c.model),
        c.usage_percent,
        c.load_average[0],
        c.load_average[1],
        c.load_average[2]
    );
}

fn memory(out: &mut String, s: &Snapshot) {
    let m = &s.memory;
    let _ = writeln!(
        out,
        "\n== Memory\n  total    {}\n  used     {}\n  avail    {}\n  swap     {} of {}",
        human_bytes(m.total_bytes),
        human_bytes(m.used_bytes),
        human_bytes(m.available_bytes),
        human_bytes(m.swap_used_bytes),
        human_bytes(m.swap_total_bytes)
    );
}

fn disks(out: &mut String, s: &Snapshot) {
    let _ = writeln!(out, "\n== Disks");
    let _ = writeln!(
        out,
        "  {:<24} {:<10} {:>10} {:>10} {:>5}",
        "MOUNT", "FS", "SIZE", "FREE", "USE%"
    );
    for d in &s.disks {
        let used_pct = if d.total_bytes == 0 {
            0.0
        } else {
            100.0 * (d.total_bytes - d.available_bytes.min(d.total_bytes)) as f64
                / d.total_bytes as f64
        };
        let _ = writeln!(
            out,
            "  {:<24} {:<10} {:>10} {:>10} {:>4.0}%",
            clean(&d.mount_point),
            clean(&d.file_system),
            human_bytes(d.total_bytes),
            human_bytes(d.available_bytes),
            used_pct
        );
    }
}

fn network(out: &mut String, s: &Snapshot) {
    let _ = writeln!(out, "\n== Network");
    for n in &s.networks {
        let addrs: Vec<String> = n.addresses.iter().map(|a| clean(a)).collect();
        let _ = writeln!(
            out,
            "  {:<12} {}  rx {}  tx {}  [{}]",
            clean(&n.name),
            clean(&n.mac),
            human_bytes(n.received_bytes),
            human_bytes(n.transmitted_bytes),
            addrs.join(", ")
        );
    }
}

fn processes(out: &mut String, s: &Snapshot) {
    let tables: [(&str, &[ProcessInfo]); 2] = [
        ("Top processes by CPU", &s.top_by_cpu),
        ("Top processes by memory", &s.top_by_memory),
    ];
    for (title, list) in tables {
        let _ = writeln!(
            out,
            "\n== {title}\n  {:>8} {:>7} {:>10}  {:<12} NAME",
            "PID", "CPU%", "MEM", "USER"
        );
        for p in list {
            let _ = writeln!(
                out,
                "  {:>8} {:>7.1} {:>10}  {:<12} {}",
                p.pid,
                p.cpu_percent,
                human_bytes(p.memory_bytes),
                clean(p.user.as_deref().unwrap_or("-")),
                clean(&p.name)
            );
        }
    }
}

fn components(out: &mut String, s: &Snapshot) {
    let _ = writeln!(out, "\n== Temperatures");
    if s.components.is_empty() {
        let _ = writeln!(out, "  (none reported by this platform)");
    }
    for c in &s.components {
        let t = |v: Option<f32>| v.map(|v| format!("{v:.0}°C")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:<32} {:>6}  max {:>6}  critical {:>6}",
            clean(&c.label),
            t(c.temperature_c),
            t(c.max_c),
            t(c.critical_c)
        );
    }
}

fn users(out: &mut String, s: &Snapshot) {
    let users: Vec<String> = s.users.iter().map(|u| clean(u)).collect();
    let _ = writeln!(
        out,
        "\n== Logged-in users\n  {}",
        if users.is_empty() {
            "(none)".to_string()
        } else {
            users.join(", ")
        }
    );
}

fn software(out: &mut String, list: &[Package]) {
    let _ = writeln!(out, "\n== Installed software ({} packages)", list.len());
    for p in list {
        let _ = writeln!(out, "  {:<40} {}", clean(&p.name), clean(&p.version));
    }
}

/// Failed services first (they are why anyone looks), then the rest in the
/// agent's order.
fn services(out: &mut String, list: &[Service]) {
    let failed = list.iter().filter(|s| s.state == "failed").count();
    let _ = writeln!(
        out,
        "\n== Services ({} listed, {failed} failed)\n  {:<40} {:<10} DESCRIPTION",
        list.len(),
        "NAME",
        "STATE"
    );
    let (bad, rest): (Vec<&Service>, Vec<&Service>) =
        list.iter().partition(|s| s.state == "failed");
    for s in bad.into_iter().chain(rest) {
        let _ = writeln!(
            out,
            "  {:<40} {:<10} {}",
            clean(&s.name),
            clean(&s.state),
            clean(&s.description)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::tests::sample;

    fn report() -> DiagnosticsReport {
        DiagnosticsReport {
            snapshot: sample(),
            software: Some(vec![Package {
                name: "openssl".into(),
                version: "3.0.11-1".into(),
            }]),
            services: Some(vec![
                Service {
                    name: "cron".into(),
                    state: "active".into(),
                    description: "Regular background program processing daemon".into(),
                },
                Service {
                    name: "cups".into(),
                    state: "failed".into(),
                    description: "CUPS Scheduler".into(),
                },
            ]),
        }
    }

    #[test]
    fn everything_matches_the_snapshot_rendering_plus_the_extra_sections() {
        let mut r = report();
        r.software = None;
        r.services = None;
        assert_eq!(render_sections(&r, &[]), r.snapshot.render_text());
        let full = render_sections(&report(), &[]);
        assert!(full.contains("openssl") && full.contains("cups"), "{full}");
    }

    #[test]
    fn only_the_asked_sections_are_printed_in_canonical_order() {
        let text = render_sections(&report(), &[Section::Services, Section::Disks]);
        assert!(text.contains("== Disks") && text.contains("== Services"));
        assert!(text.find("== Disks") < text.find("== Services"));
        for absent in ["== System", "== CPU", "== Memory", "openssl", "outlook"] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
    }

    #[test]
    fn failed_services_come_first() {
        let text = render_sections(&report(), &[Section::Services]);
        assert!(text.contains("2 listed, 1 failed"), "{text}");
        assert!(text.find("cups") < text.find("cron"), "{text}");
    }

    #[test]
    fn an_asked_section_the_endpoint_cannot_provide_says_so() {
        let mut r = report();
        r.software = None;
        r.services = None;
        let text = render_sections(&r, &[Section::Software, Section::Services]);
        assert!(text.contains("no package database"), "{text}");
        assert!(text.contains("systemd is not running"), "{text}");
    }

    #[test]
    fn hostile_strings_cannot_drive_the_terminal() {
        let mut r = report();
        if let Some(list) = r.software.as_mut() {
            list[0].name = "evil\u{1b}[2J".into();
        }
        assert!(!render_sections(&r, &[Section::Software]).contains('\u{1b}'));
    }
}
