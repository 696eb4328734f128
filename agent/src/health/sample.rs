//! What the health rules look at, and where it comes from: a
//! [`SampleSource`]. The daemon uses [`SysinfoSource`] (the real machine)
//! unless a test hands it another one, such as a [`FakeSource`] it can
//! change while the daemon runs.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use sysinfo::{Components, CpuRefreshKind, Disks, System};

/// One reading of the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSample {
    pub disks: Vec<DiskSample>,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    /// All CPUs together, 0–100.
    pub cpu_percent: f64,
    /// The 5-minute load average (0 where the platform has none).
    pub load_average_5m: f64,
    pub logical_cores: u32,
    pub components: Vec<ComponentSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskSample {
    pub mount_point: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSample {
    pub label: String,
    pub celsius: Option<f64>,
    /// The sensor's own critical temperature, where it reports one.
    pub critical_celsius: Option<f64>,
}

const GIB: u64 = 1 << 30;

impl HealthSample {
    /// A machine with nothing wrong: one half-empty 100 GiB disk at `/`,
    /// 8 GiB of memory with 6 available, no swap, 4 idle cores, no sensors.
    /// Tests start from this and change one thing.
    pub fn healthy() -> HealthSample {
        HealthSample {
            disks: vec![DiskSample {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 100 * GIB,
                available_bytes: 50 * GIB,
            }],
            memory_total_bytes: 8 * GIB,
            memory_available_bytes: 6 * GIB,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            cpu_percent: 5.0,
            load_average_5m: 0.2,
            logical_cores: 4,
            components: Vec::new(),
        }
    }

    /// Sets (or adds) the disk mounted at `mount_point`.
    pub fn with_disk(mut self, mount_point: &str, total_bytes: u64, available_bytes: u64) -> Self {
        let disk = DiskSample {
            mount_point: mount_point.into(),
            file_system: "ext4".into(),
            total_bytes,
            available_bytes,
        };
        match self.disks.iter_mut().find(|d| d.mount_point == mount_point) {
            Some(d) => *d = disk,
            None => self.disks.push(disk),
        }
        self
    }
}

/// Where samples come from. `sample` may block (sysinfo does), so the
/// monitor calls it on a blocking thread.
pub trait SampleSource: Send + 'static {
    fn sample(&mut self) -> HealthSample;
}

/// The real machine, through sysinfo. CPU usage is the difference between
/// two readings, so the first sample reports what sysinfo has (usually 0)
/// and later ones the usage since the one before.
pub struct SysinfoSource {
    system: System,
    disks: Disks,
    components: Components,
}

impl Default for SysinfoSource {
    fn default() -> Self {
        let mut system = System::new();
        system.refresh_cpu_list(CpuRefreshKind::nothing().with_cpu_usage());
        SysinfoSource {
            system,
            disks: Disks::new_with_refreshed_list(),
            components: Components::new_with_refreshed_list(),
        }
    }
}

impl SampleSource for SysinfoSource {
    fn sample(&mut self) -> HealthSample {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        // Mounts come and go; the list is rebuilt each time.
        self.disks = Disks::new_with_refreshed_list();
        self.components.refresh(true);
        let load = System::load_average();
        HealthSample {
            disks: self
                .disks
                .list()
                .iter()
                .map(|d| DiskSample {
                    mount_point: d.mount_point().display().to_string(),
                    file_system: d.file_system().to_string_lossy().into_owned(),
                    total_bytes: d.total_space(),
                    available_bytes: d.available_space(),
                })
                .collect(),
            memory_total_bytes: self.system.total_memory(),
            memory_available_bytes: self.system.available_memory(),
            swap_total_bytes: self.system.total_swap(),
            swap_used_bytes: self.system.used_swap(),
            cpu_percent: f64::from(self.system.global_cpu_usage()),
            load_average_5m: load.five,
            logical_cores: u32::try_from(self.system.cpus().len()).unwrap_or(u32::MAX),
            components: self
                .components
                .list()
                .iter()
                .map(|c| ComponentSample {
                    label: c.label().to_string(),
                    celsius: c.temperature().map(f64::from),
                    critical_celsius: c.critical().map(f64::from),
                })
                .collect(),
        }
    }
}

/// A sample source a test controls: every sample is a copy of the shared
/// value, which the test may change at any time (clones share it).
#[derive(Debug, Clone)]
pub struct FakeSource(Arc<Mutex<HealthSample>>);

impl FakeSource {
    pub fn new(sample: HealthSample) -> FakeSource {
        FakeSource(Arc::new(Mutex::new(sample)))
    }

    pub fn set(&self, sample: HealthSample) {
        *self.lock() = sample;
    }

    pub fn update(&self, change: impl FnOnce(&mut HealthSample)) {
        change(&mut self.lock());
    }

    pub fn current(&self) -> HealthSample {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthSample> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SampleSource for FakeSource {
    fn sample(&mut self) -> HealthSample {
        self.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_machine_can_be_sampled() {
        let mut source = SysinfoSource::default();
        let first = source.sample();
        let second = source.sample();
        assert!(second.memory_total_bytes > 0);
        assert!(second.memory_available_bytes <= second.memory_total_bytes);
        assert!(second.logical_cores > 0);
        assert!(
            (0.0..=100.0).contains(&second.cpu_percent),
            "{}",
            second.cpu_percent
        );
        assert!(!first.disks.is_empty(), "no disks found");
    }

    #[test]
    fn a_fake_source_follows_its_handle() {
        let handle = FakeSource::new(HealthSample::healthy());
        let mut source = handle.clone();
        assert_eq!(source.sample(), HealthSample::healthy());
        handle.update(|s| s.cpu_percent = 99.0);
        assert_eq!(source.sample().cpu_percent, 99.0);
        handle.set(HealthSample::healthy().with_disk("/var", 10, 1));
        let disks = source.sample().disks;
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[1].mount_point, "/var");
        let replaced = HealthSample::healthy().with_disk("/", 10, 9);
        assert_eq!(replaced.disks.len(), 1);
        assert_eq!(replaced.disks[0].available_bytes, 9);
    }
}
