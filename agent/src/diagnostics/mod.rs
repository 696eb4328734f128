//! Local diagnostics. [`collect`] reads the machine through sysinfo (this
//! file: the only part that touches the system) and hands a [`RawSample`] to
//! [`shape::assemble`], which ranks, orders and clamps it into a snapshot that
//! always passes `Snapshot::validate()`.
//!
//! `collect` blocks for about [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`]: CPU
//! usage is a difference between two readings, so it takes two. Call it from
//! `spawn_blocking` in async code. It is for one-shot processes
//! (`triage-agent diagnose`), which have no earlier reading; the daemon keeps
//! a [`warm::WarmCollector`], whose previous reading is the first of the two.
//!
//! [`live::report`] answers the relay's live diagnostics: the snapshot plus
//! the [`inventory`] of software and services when those sections are asked.

pub mod inventory;
pub mod live;
pub mod sessions;
pub mod shape;
pub mod warm;

use shape::RawSample;
use sysinfo::{
    Components, Disks, Networks, ProcessRefreshKind, ProcessesToUpdate, System, ThreadKind,
    UpdateKind, Users,
};
use triage_shared::diagnostics::{
    ComponentInfo, CpuInfo, DiskInfo, MemoryInfo, NetworkInfo, OsInfo, ProcessInfo, Snapshot,
};
use triage_shared::time::Timestamp;

const UNKNOWN: &str = "unknown";

/// A real snapshot of this machine, sampled from cold (blocks ~200 ms).
pub fn collect() -> Snapshot {
    let mut system = System::new();
    // First readings; the differences to the second ones are the usage.
    refresh_usage(&mut system);
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    shape::assemble(probe(&mut system))
}

/// Reads CPU and per-process times. Usage is computed between two calls.
fn refresh_usage(system: &mut System) {
    let process_kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet);
    // Not `refresh_cpu_list`: that drops the CPUs and with them the earlier reading.
    system.refresh_cpu_usage();
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, process_kind);
}

/// Takes the second reading (the first is already in `system`) and the rest.
fn probe(system: &mut System) -> RawSample {
    refresh_usage(system);
    system.refresh_memory();

    RawSample {
        taken_at: Timestamp::now(),
        os: os_info(),
        cpu: cpu_info(system),
        memory: MemoryInfo {
            total_bytes: system.total_memory(),
            used_bytes: system.used_memory(),
            available_bytes: system.available_memory(),
            swap_total_bytes: system.total_swap(),
            swap_used_bytes: system.used_swap(),
        },
        disks: disks(),
        networks: networks(),
        processes: processes(system),
        components: components(),
        users: sessions::logged_in_users(),
    }
}

fn os_info() -> OsInfo {
    let or_unknown = |v: Option<String>| {
        v.filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| UNKNOWN.to_string())
    };
    OsInfo {
        name: or_unknown(System::name()),
        version: or_unknown(System::os_version()),
        kernel: or_unknown(System::kernel_version()),
        // The real name, not the sanitized one sent at enrollment.
        hostname: or_unknown(System::host_name()),
        uptime_secs: System::uptime(),
    }
}

fn cpu_info(system: &System) -> CpuInfo {
    let cpus = system.cpus();
    let model = cpus
        .iter()
        .map(|c| c.brand().trim())
        .find(|b| !b.is_empty())
        .unwrap_or(UNKNOWN);
    let load = System::load_average();
    CpuInfo {
        model: model.to_string(),
        physical_cores: System::physical_core_count().and_then(|n| u32::try_from(n).ok()),
        logical_cores: u32::try_from(cpus.len()).unwrap_or(u32::MAX),
        usage_percent: system.global_cpu_usage(),
        load_average: [load.one, load.five, load.fifteen],
    }
}

fn disks() -> Vec<DiskInfo> {
    Disks::new_with_refreshed_list()
        .list()
        .iter()
        .map(|d| DiskInfo {
            name: d.name().to_string_lossy().into_owned(),
            mount_point: d.mount_point().display().to_string(),
            file_system: d.file_system().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            available_bytes: d.available_space(),
            removable: d.is_removable(),
        })
        .collect()
}

fn networks() -> Vec<NetworkInfo> {
    Networks::new_with_refreshed_list()
        .list()
        .iter()
        .map(|(name, data)| NetworkInfo {
            name: name.clone(),
            mac: data.mac_address().to_string(),
            // IpNetwork displays as `address/prefix`.
            addresses: data.ip_networks().iter().map(|n| n.to_string()).collect(),
            received_bytes: data.total_received(),
            transmitted_bytes: data.total_transmitted(),
        })
        .collect()
}

fn processes(system: &System) -> Vec<ProcessInfo> {
    let users = Users::new_with_refreshed_list();
    system
        .processes()
        .values()
        // Threads of one program share its memory; listing them would repeat it.
        .filter(|p| p.thread_kind() != Some(ThreadKind::Userland))
        .map(|p| ProcessInfo {
            pid: p.pid().as_u32(),
            name: p.name().to_string_lossy().into_owned(),
            cpu_percent: p.cpu_usage(),
            memory_bytes: p.memory(),
            user: p
                .user_id()
                .and_then(|uid| users.get_user_by_id(uid))
                .map(|u| u.name().to_string()),
        })
        .collect()
}

fn components() -> Vec<ComponentInfo> {
    Components::new_with_refreshed_list()
        .list()
        .iter()
        .map(|c| ComponentInfo {
            label: c.label().to_string(),
            temperature_c: c.temperature(),
            max_c: c.max(),
            critical_c: c.critical(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_hostname() -> String {
        let out = std::process::Command::new("hostname")
            .output()
            .expect("`hostname` runs");
        String::from_utf8(out.stdout)
            .expect("hostname is text")
            .trim()
            .to_string()
    }

    #[test]
    fn snapshot_of_this_machine_is_real_and_valid() {
        let snap = collect();
        snap.validate()
            .expect("a collected snapshot always validates");
        assert_eq!(snap.os.hostname, system_hostname());
        assert!(snap.memory.total_bytes > 0);
        assert!(!snap.disks.is_empty(), "no disks found");
        assert!(snap.cpu.logical_cores > 0);
        assert!(
            !snap.top_by_memory.is_empty()
                && snap.top_by_memory.len() <= triage_shared::limits::TOP_PROCESSES
        );
        let me = std::process::id();
        let everyone = processes(&{
            let mut s = System::new();
            s.refresh_processes(ProcessesToUpdate::All, true);
            s
        });
        assert!(
            everyone.iter().any(|p| p.pid == me),
            "this test process is not listed"
        );
    }
}
