//! The pure half of diagnostics: from what the probe read to a [`Snapshot`]
//! that always passes `Snapshot::validate()`. Ranking, ordering, clamping and
//! number hygiene live here so they can be tested with made-up machines.

use std::cmp::Ordering;
use triage_shared::diagnostics::{
    ComponentInfo, CpuInfo, DiskInfo, MemoryInfo, NetworkInfo, OsInfo, ProcessInfo, Snapshot,
};
use triage_shared::limits::{MAX_SNAPSHOT_ITEMS, MAX_SNAPSHOT_STRING_LEN, TOP_PROCESSES};
use triage_shared::text::truncate_at_char_boundary;
use triage_shared::time::Timestamp;

/// Everything the probe read, before ranking and clamping. `processes` is
/// every process, in any order.
#[derive(Debug, Clone)]
pub struct RawSample {
    pub taken_at: Timestamp,
    pub os: OsInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub disks: Vec<DiskInfo>,
    pub networks: Vec<NetworkInfo>,
    pub processes: Vec<ProcessInfo>,
    pub components: Vec<ComponentInfo>,
    pub users: Vec<String>,
}

/// NaN and infinities (which some platforms report for idle or vanished
/// processes) become zero, so sorting and rendering stay sane.
pub fn finite_or_zero(v: f32) -> f32 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

fn finite(v: Option<f32>) -> Option<f32> {
    v.filter(|t| t.is_finite())
}

/// The `n` busiest processes: highest CPU first, then most memory, then lowest pid.
pub fn top_by_cpu(processes: &[ProcessInfo], n: usize) -> Vec<ProcessInfo> {
    top(processes, n, |a, b| {
        finite_or_zero(b.cpu_percent)
            .total_cmp(&finite_or_zero(a.cpu_percent))
            .then(b.memory_bytes.cmp(&a.memory_bytes))
            .then(a.pid.cmp(&b.pid))
    })
}

/// The `n` processes holding the most memory, ties broken by lowest pid.
pub fn top_by_memory(processes: &[ProcessInfo], n: usize) -> Vec<ProcessInfo> {
    top(processes, n, |a, b| {
        b.memory_bytes.cmp(&a.memory_bytes).then(a.pid.cmp(&b.pid))
    })
}

fn top(
    processes: &[ProcessInfo],
    n: usize,
    order: impl Fn(&ProcessInfo, &ProcessInfo) -> Ordering,
) -> Vec<ProcessInfo> {
    let mut sorted: Vec<ProcessInfo> = processes.to_vec();
    sorted.sort_by(order);
    sorted.truncate(n);
    for p in &mut sorted {
        p.cpu_percent = finite_or_zero(p.cpu_percent);
    }
    sorted
}

/// Ranks the processes, orders everything deterministically, and clamps.
pub fn assemble(raw: RawSample) -> Snapshot {
    let mut networks = raw.networks;
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut disks = raw.disks;
    disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    let mut components = raw.components;
    for c in &mut components {
        c.temperature_c = finite(c.temperature_c);
        c.max_c = finite(c.max_c);
        c.critical_c = finite(c.critical_c);
    }
    let mut users = raw.users;
    users.sort();
    users.dedup();
    let mut cpu = raw.cpu;
    cpu.usage_percent = finite_or_zero(cpu.usage_percent).min(100.0);
    cpu.load_average = cpu
        .load_average
        .map(|l| if l.is_finite() { l.max(0.0) } else { 0.0 });
    clamp(Snapshot {
        taken_at: raw.taken_at,
        os: raw.os,
        cpu,
        memory: raw.memory,
        disks,
        networks,
        top_by_cpu: top_by_cpu(&raw.processes, TOP_PROCESSES),
        top_by_memory: top_by_memory(&raw.processes, TOP_PROCESSES),
        components,
        users,
    })
}

fn clamp_str(s: &mut String) {
    truncate_at_char_boundary(s, MAX_SNAPSHOT_STRING_LEN);
}

fn clamp_list<T>(list: &mut Vec<T>) {
    list.truncate(MAX_SNAPSHOT_ITEMS);
}

/// Cuts every list to [`MAX_SNAPSHOT_ITEMS`] and every string to
/// [`MAX_SNAPSHOT_STRING_LEN`] bytes: the exact bounds `validate()` checks.
pub fn clamp(mut s: Snapshot) -> Snapshot {
    for field in [
        &mut s.os.name,
        &mut s.os.version,
        &mut s.os.kernel,
        &mut s.os.hostname,
        &mut s.cpu.model,
    ] {
        clamp_str(field);
    }
    clamp_list(&mut s.disks);
    for d in &mut s.disks {
        for field in [&mut d.name, &mut d.mount_point, &mut d.file_system] {
            clamp_str(field);
        }
    }
    clamp_list(&mut s.networks);
    for n in &mut s.networks {
        clamp_str(&mut n.name);
        clamp_str(&mut n.mac);
        clamp_list(&mut n.addresses);
        n.addresses.iter_mut().for_each(clamp_str);
    }
    for list in [&mut s.top_by_cpu, &mut s.top_by_memory] {
        clamp_list(list);
        for p in list.iter_mut() {
            clamp_str(&mut p.name);
            if let Some(user) = &mut p.user {
                clamp_str(user);
            }
        }
    }
    clamp_list(&mut s.components);
    s.components
        .iter_mut()
        .for_each(|c| clamp_str(&mut c.label));
    clamp_list(&mut s.users);
    s.users.iter_mut().for_each(clamp_str);
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn process(pid: u32, cpu: f32, memory: u64) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: format!("p{pid}"),
            cpu_percent: cpu,
            memory_bytes: memory,
            user: None,
        }
    }

    pub(crate) fn raw() -> RawSample {
        RawSample {
            taken_at: Timestamp(1),
            os: OsInfo {
                name: "Linux".into(),
                version: "1".into(),
                kernel: "6".into(),
                hostname: "h".into(),
                uptime_secs: 5,
            },
            cpu: CpuInfo {
                model: "cpu".into(),
                physical_cores: Some(1),
                logical_cores: 2,
                usage_percent: 3.0,
                load_average: [0.1; 3],
            },
            memory: MemoryInfo {
                total_bytes: 10,
                used_bytes: 5,
                available_bytes: 5,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            disks: vec![],
            networks: vec![],
            processes: vec![],
            components: vec![],
            users: vec![],
        }
    }

    #[test]
    fn busiest_processes_come_first_and_the_list_is_capped() {
        let procs: Vec<_> = (0..50)
            .map(|i| process(i, i as f32, 1000 - i as u64))
            .collect();
        let top = top_by_cpu(&procs, TOP_PROCESSES);
        assert_eq!(top.len(), TOP_PROCESSES);
        assert_eq!(top[0].pid, 49);
        assert!(top.windows(2).all(|w| w[0].cpu_percent >= w[1].cpu_percent));
        let top = top_by_memory(&procs, TOP_PROCESSES);
        assert_eq!(top.len(), TOP_PROCESSES);
        assert_eq!(top[0].pid, 0);
        assert!(top
            .windows(2)
            .all(|w| w[0].memory_bytes >= w[1].memory_bytes));
    }

    #[test]
    fn fewer_processes_than_the_cap_are_all_listed() {
        let procs = vec![process(1, 1.0, 1), process(2, 2.0, 2)];
        assert_eq!(top_by_cpu(&procs, TOP_PROCESSES).len(), 2);
    }

    #[test]
    fn ties_are_broken_deterministically() {
        let procs = vec![
            process(9, 5.0, 10),
            process(3, 5.0, 10),
            process(4, 5.0, 20),
        ];
        let pids: Vec<u32> = top_by_cpu(&procs, 3).iter().map(|p| p.pid).collect();
        assert_eq!(pids, [4, 3, 9]);
        let pids: Vec<u32> = top_by_memory(&procs, 3).iter().map(|p| p.pid).collect();
        assert_eq!(pids, [4, 3, 9]);
    }

    #[test]
    fn nan_cpu_usage_ranks_as_idle_and_is_reported_as_zero() {
        let procs = vec![
            process(1, f32::NAN, 1),
            process(2, 0.5, 1),
            process(3, f32::INFINITY, 1),
        ];
        let top = top_by_cpu(&procs, 3);
        assert_eq!(top[0].pid, 2);
        assert!(top.iter().all(|p| p.cpu_percent.is_finite()));
    }

    #[test]
    fn oversized_input_is_clamped_until_it_validates() {
        let long = "é".repeat(MAX_SNAPSHOT_STRING_LEN); // twice the byte limit
        let mut r = raw();
        r.os.hostname = long.clone();
        r.cpu.model = long.clone();
        r.disks = vec![
            DiskInfo {
                name: long.clone(),
                mount_point: long.clone(),
                file_system: long.clone(),
                total_bytes: 1,
                available_bytes: 1,
                removable: true
            };
            MAX_SNAPSHOT_ITEMS + 5
        ];
        r.networks = (0..MAX_SNAPSHOT_ITEMS + 5)
            .map(|i| NetworkInfo {
                name: format!("if{i}{long}"),
                mac: long.clone(),
                addresses: vec![long.clone(); MAX_SNAPSHOT_ITEMS + 1],
                received_bytes: 0,
                transmitted_bytes: 0,
            })
            .collect();
        r.processes = (0..1000)
            .map(|i| ProcessInfo {
                user: Some(long.clone()),
                name: long.clone(),
                ..process(i, 1.0, 1)
            })
            .collect();
        r.components = vec![
            ComponentInfo {
                label: long.clone(),
                temperature_c: Some(f32::NAN),
                max_c: None,
                critical_c: Some(90.0)
            };
            MAX_SNAPSHOT_ITEMS + 1
        ];
        r.users = (0..MAX_SNAPSHOT_ITEMS + 10)
            .map(|i| format!("{i}{long}"))
            .collect();
        let snap = assemble(r);
        snap.validate().expect("clamped snapshot validates");
        assert_eq!(snap.users.len(), MAX_SNAPSHOT_ITEMS);
        assert_eq!(snap.disks.len(), MAX_SNAPSHOT_ITEMS);
        assert_eq!(snap.networks[0].addresses.len(), MAX_SNAPSHOT_ITEMS);
        assert_eq!(snap.os.hostname.len(), MAX_SNAPSHOT_STRING_LEN);
        assert_eq!(snap.components[0].temperature_c, None);
        assert_eq!(snap.components[0].critical_c, Some(90.0));
    }

    #[test]
    fn values_exactly_at_the_limits_are_kept_whole() {
        let at_limit = "u".repeat(MAX_SNAPSHOT_STRING_LEN);
        let mut r = raw();
        r.users = (0..MAX_SNAPSHOT_ITEMS)
            .map(|i| format!("{i:0>width$}", width = MAX_SNAPSHOT_STRING_LEN))
            .collect();
        r.os.kernel = at_limit.clone();
        let snap = assemble(r);
        assert_eq!(snap.users.len(), MAX_SNAPSHOT_ITEMS);
        assert_eq!(snap.os.kernel, at_limit);
        snap.validate().unwrap();
    }

    #[test]
    fn lists_are_ordered_and_users_deduplicated() {
        let net = |name: &str| NetworkInfo {
            name: name.into(),
            mac: String::new(),
            addresses: vec![],
            received_bytes: 0,
            transmitted_bytes: 0,
        };
        let mut r = raw();
        r.networks = vec![net("wlan0"), net("eth0"), net("lo")];
        r.users = vec!["bob".into(), "alice".into(), "bob".into()];
        r.cpu.usage_percent = f32::NAN;
        r.cpu.load_average = [f64::NAN, -1.0, 2.0];
        let snap = assemble(r);
        let names: Vec<&str> = snap.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["eth0", "lo", "wlan0"]);
        assert_eq!(snap.users, ["alice", "bob"]);
        assert_eq!(snap.cpu.usage_percent, 0.0);
        assert_eq!(snap.cpu.load_average, [0.0, 0.0, 2.0]);
    }
}
