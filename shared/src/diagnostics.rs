//! A point-in-time diagnostics snapshot of an endpoint. The agent fills it
//! from sysinfo; the relay stores it on tickets; the CLI renders it.

use crate::limits::{MAX_SNAPSHOT_ITEMS, MAX_SNAPSHOT_STRING_LEN};
use crate::text::InvalidInput;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: Timestamp,
    pub os: OsInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub disks: Vec<DiskInfo>,
    pub networks: Vec<NetworkInfo>,
    pub top_by_cpu: Vec<ProcessInfo>,
    pub top_by_memory: Vec<ProcessInfo>,
    /// Temperature sensors; empty where the platform reports none.
    pub components: Vec<ComponentInfo>,
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsInfo {
    pub name: String,
    pub version: String,
    pub kernel: String,
    pub hostname: String,
    pub uptime_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    pub model: String,
    pub physical_cores: Option<u32>,
    pub logical_cores: u32,
    pub usage_percent: f32,
    /// 1, 5 and 15 minute load averages (zero where the platform has none).
    pub load_average: [f64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryInfo {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub name: String,
    pub mount_point: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub removable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub name: String,
    pub mac: String,
    pub addresses: Vec<String>,
    pub received_bytes: u64,
    pub transmitted_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    pub cpu_percent: f32,
    pub memory_bytes: u64,
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub label: String,
    pub temperature_c: Option<f32>,
    pub max_c: Option<f32>,
    pub critical_c: Option<f32>,
}

fn check_str(field: &'static str, s: &str) -> Result<(), InvalidInput> {
    if s.len() > MAX_SNAPSHOT_STRING_LEN {
        return Err(InvalidInput::new(
            field,
            format!("string longer than {MAX_SNAPSHOT_STRING_LEN} bytes"),
        ));
    }
    Ok(())
}

fn check_len<T>(field: &'static str, items: &[T]) -> Result<(), InvalidInput> {
    if items.len() > MAX_SNAPSHOT_ITEMS {
        return Err(InvalidInput::new(
            field,
            format!("{} entries; the limit is {MAX_SNAPSHOT_ITEMS}", items.len()),
        ));
    }
    Ok(())
}

impl Snapshot {
    /// Bounds every list and string, so a snapshot from the network cannot
    /// grow the store or a terminal without limit.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let o = &self.os;
        for s in [&o.name, &o.version, &o.kernel, &o.hostname, &self.cpu.model] {
            check_str("snapshot.os", s)?;
        }
        check_len("snapshot.disks", &self.disks)?;
        for d in &self.disks {
            for s in [&d.name, &d.mount_point, &d.file_system] {
                check_str("snapshot.disks", s)?;
            }
        }
        check_len("snapshot.networks", &self.networks)?;
        for n in &self.networks {
            check_len("snapshot.networks.addresses", &n.addresses)?;
            for s in std::iter::once(&n.name).chain([&n.mac]).chain(&n.addresses) {
                check_str("snapshot.networks", s)?;
            }
        }
        for (field, list) in [
            ("snapshot.top_by_cpu", &self.top_by_cpu),
            ("snapshot.top_by_memory", &self.top_by_memory),
        ] {
            check_len(field, list)?;
            for p in list {
                check_str(field, &p.name)?;
                check_str(field, p.user.as_deref().unwrap_or(""))?;
            }
        }
        check_len("snapshot.components", &self.components)?;
        for c in &self.components {
            check_str("snapshot.components", &c.label)?;
        }
        check_len("snapshot.users", &self.users)?;
        for u in &self.users {
            check_str("snapshot.users", u)?;
        }
        Ok(())
    }

    /// A readable multi-section report for a terminal.
    pub fn render_text(&self) -> String {
        crate::report::render_snapshot(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Snapshot {
        Snapshot {
            taken_at: Timestamp(0),
            os: OsInfo {
                name: "Debian".into(),
                version: "12".into(),
                kernel: "6.1".into(),
                hostname: "host-7".into(),
                uptime_secs: 93_784,
            },
            cpu: CpuInfo {
                model: "Test CPU".into(),
                physical_cores: Some(2),
                logical_cores: 4,
                usage_percent: 12.5,
                load_average: [0.5, 0.4, 0.3],
            },
            memory: MemoryInfo {
                total_bytes: 8 << 30,
                used_bytes: 2 << 30,
                available_bytes: 6 << 30,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            disks: vec![DiskInfo {
                name: "vda".into(),
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 100 << 30,
                available_bytes: 25 << 30,
                removable: false,
            }],
            networks: vec![NetworkInfo {
                name: "eth0".into(),
                mac: "00:11:22:33:44:55".into(),
                addresses: vec!["10.0.0.7/24".into()],
                received_bytes: 1 << 20,
                transmitted_bytes: 512,
            }],
            top_by_cpu: vec![ProcessInfo {
                pid: 42,
                name: "outlook".into(),
                cpu_percent: 99.0,
                memory_bytes: 1 << 30,
                user: Some("alice".into()),
            }],
            top_by_memory: vec![],
            components: vec![],
            users: vec!["alice".into()],
        }
    }

    #[test]
    fn render_names_every_section_and_value() {
        let text = sample().render_text();
        for needle in [
            "host-7",
            "Debian 12",
            "1day 2h 3m 4s",
            "Test CPU",
            "2 physical / 4 logical",
            "8.0 GiB",
            "ext4",
            "75%",
            "10.0.0.7/24",
            "outlook",
            "alice",
            "(none reported by this platform)",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn render_neutralises_terminal_escapes() {
        let mut s = sample();
        s.os.hostname = "evil\u{1b}[2J".into();
        assert!(!s.render_text().contains('\u{1b}'));
    }

    #[test]
    fn validate_bounds_lists_and_strings() {
        let mut s = sample();
        assert!(s.validate().is_ok());
        s.users = vec!["u".into(); MAX_SNAPSHOT_ITEMS];
        assert!(s.validate().is_ok());
        s.users.push("one too many".into());
        assert!(s.validate().is_err());
        let mut s = sample();
        s.os.hostname = "h".repeat(MAX_SNAPSHOT_STRING_LEN + 1);
        assert!(s.validate().is_err());
    }
}
