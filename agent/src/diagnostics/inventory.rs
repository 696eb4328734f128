//! Installed software and services, read from the platform's own tools
//! (`dpkg-query` or `rpm`; `systemctl`). The parsers are pure and bound what
//! they return; [`software`] and [`services`] run the tools with a timeout
//! and give `None` (and a log line) when a tool is absent, fails or hangs.

use crate::runner::Group;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};
use triage_shared::remote::{Package, Service};
use triage_shared::text::shortened;

/// Packages listed at most (a busy desktop has 2 000–4 000).
pub const MAX_PACKAGES: usize = 5000;
/// Services listed at most.
pub const MAX_SERVICES: usize = 1000;
/// Longest package name, version, service name or state kept, in bytes.
pub const MAX_FIELD_LEN: usize = 64;
/// Longest service description kept, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 128;
/// How long one listing command may take.
pub const LISTING_TIMEOUT: Duration = Duration::from_secs(20);
/// Most output read from one listing command.
pub const MAX_LISTING_OUTPUT: u64 = 8 * 1024 * 1024;
/// Where systemd leaves a mark when it is the running init.
const SYSTEMD_RUNTIME_DIR: &str = "/run/systemd/system";

const DPKG_ARGS: [&str; 3] = ["-W", "-f", "${Package}\t${Version}\n"];
const RPM_ARGS: [&str; 3] = ["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"];
const SYSTEMCTL_ARGS: [&str; 6] = [
    "list-units",
    "--type=service",
    "--all",
    "--no-legend",
    "--plain",
    "--no-pager",
];

/// `NAME<TAB>VERSION` lines (both the dpkg and the rpm format above), sorted
/// by name, without duplicates, at most [`MAX_PACKAGES`].
pub fn parse_packages(text: &str) -> Vec<Package> {
    let mut packages: Vec<Package> = text
        .lines()
        .filter_map(|line| {
            let (name, version) = line.split_once('\t')?;
            let name = name.trim();
            (!name.is_empty()).then(|| Package {
                name: shortened(name, MAX_FIELD_LEN).to_string(),
                version: shortened(version.trim(), MAX_FIELD_LEN).to_string(),
            })
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    packages.dedup();
    if packages.len() > MAX_PACKAGES {
        warn!(
            found = packages.len(),
            limit = MAX_PACKAGES,
            "more packages than the report lists"
        );
        packages.truncate(MAX_PACKAGES);
    }
    packages
}

/// `systemctl list-units --type=service --all --no-legend --plain` lines:
/// `UNIT LOAD ACTIVE SUB DESCRIPTION…`. Units systemd could not find (LOAD
/// `not-found`) are noise and skipped; `.service` is dropped from names.
pub fn parse_services(text: &str) -> Vec<Service> {
    let mut services: Vec<Service> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().peekable();
            // Older systemd marks failed units with a bullet even when --plain.
            if words.peek().is_some_and(|w| *w == "●" || *w == "*") {
                words.next();
            }
            let unit = words.next()?;
            let load = words.next()?;
            let active = words.next()?;
            let _sub = words.next()?;
            let name = unit.strip_suffix(".service")?;
            if load == "not-found" || name.is_empty() {
                return None;
            }
            let description = words.collect::<Vec<_>>().join(" ");
            Some(Service {
                name: shortened(name, MAX_FIELD_LEN).to_string(),
                state: shortened(active, MAX_FIELD_LEN).to_string(),
                description: shortened(&description, MAX_DESCRIPTION_LEN).to_string(),
            })
        })
        .collect();
    if services.len() > MAX_SERVICES {
        warn!(
            found = services.len(),
            limit = MAX_SERVICES,
            "more services than the report lists"
        );
        services.truncate(MAX_SERVICES);
    }
    services
}

/// Installed packages from dpkg or rpm; `None` where neither is installed or
/// the listing failed.
pub async fn software() -> Option<Vec<Package>> {
    let path = std::env::var_os("PATH");
    let find = |name| crate::runner::plan::find_on_path(name, path.as_deref());
    if let Some(dpkg) = find("dpkg-query") {
        return capture(&dpkg, &DPKG_ARGS, LISTING_TIMEOUT)
            .await
            .map(|t| parse_packages(&t));
    }
    if let Some(rpm) = find("rpm") {
        return capture(&rpm, &RPM_ARGS, LISTING_TIMEOUT)
            .await
            .map(|t| parse_packages(&t));
    }
    debug!("no package database (dpkg or rpm) on this endpoint");
    None
}

/// Services from systemd; `None` where systemd is not the running init.
pub async fn services() -> Option<Vec<Service>> {
    if !Path::new(SYSTEMD_RUNTIME_DIR).is_dir() {
        debug!("systemd is not running on this endpoint");
        return None;
    }
    let systemctl =
        crate::runner::plan::find_on_path("systemctl", std::env::var_os("PATH").as_deref())?;
    capture(&systemctl, &SYSTEMCTL_ARGS, LISTING_TIMEOUT)
        .await
        .map(|t| parse_services(&t))
}

/// Runs `program` with fixed `args` and returns its stdout (at most
/// [`MAX_LISTING_OUTPUT`] bytes, lossily UTF-8), or `None` with a log line
/// if it cannot start, fails, or outlives `timeout` (then it is killed with
/// everything it started: it runs in a process group of its own).
pub async fn capture(program: &Path, args: &[&str], timeout: Duration) -> Option<String> {
    let shown = program.display().to_string();
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(program = %shown, error = %e, "cannot run a listing command");
            return None;
        }
    };
    // Killed when this function returns, whichever way; forgotten once the
    // leader is reaped, so a reused id is never signalled.
    let mut group = Group::new(child.id());
    let mut stdout = child.stdout.take()?;
    let work = async {
        let mut bytes = Vec::new();
        (&mut stdout)
            .take(MAX_LISTING_OUTPUT)
            .read_to_end(&mut bytes)
            .await?;
        drop(stdout);
        let status = child.wait().await?;
        group.kill_and_forget();
        Ok::<_, std::io::Error>((bytes, status))
    };
    let result = tokio::time::timeout(timeout, work).await;
    // On timeout the leader is not reaped yet, so its group id is still ours.
    drop(group);
    match result {
        Ok(Ok((bytes, status))) if status.success() => {
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Ok(Ok((_, status))) => {
            warn!(program = %shown, %status, "a listing command failed");
            None
        }
        Ok(Err(e)) => {
            warn!(program = %shown, error = %e, "reading a listing command failed");
            None
        }
        Err(_) => {
            warn!(program = %shown, ?timeout, "a listing command took too long and was stopped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_output_is_parsed_sorted_and_bounded() {
        let text = "zlib1g\t1:1.2.13.dfsg-1\nadduser\t3.134\n\nbroken-line-without-tab\n\t1.0\nadduser\t3.134\n";
        let packages = parse_packages(text);
        assert_eq!(
            packages,
            [
                Package {
                    name: "adduser".into(),
                    version: "3.134".into()
                },
                Package {
                    name: "zlib1g".into(),
                    version: "1:1.2.13.dfsg-1".into()
                },
            ]
        );
        // A package that is known but not installed has an empty version.
        assert_eq!(parse_packages("gone\t\n")[0].version, "");
    }

    #[test]
    fn rpm_output_is_parsed() {
        let text = "bash\t5.2.26-3.fc40\nopenssl-libs\t3.2.1-2.fc40\n";
        let packages = parse_packages(text);
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].name, "bash");
        assert_eq!(packages[1].version, "3.2.1-2.fc40");
    }

    #[test]
    fn package_lists_and_fields_are_bounded() {
        let many: String = (0..MAX_PACKAGES + 1)
            .map(|i| format!("pkg{i:06}\t1.0\n"))
            .collect();
        assert_eq!(parse_packages(&many).len(), MAX_PACKAGES);
        let exactly: String = (0..MAX_PACKAGES)
            .map(|i| format!("pkg{i:06}\t1.0\n"))
            .collect();
        assert_eq!(parse_packages(&exactly).len(), MAX_PACKAGES);
        let long = format!("{}\t{}\n", "n".repeat(500), "v".repeat(500));
        let p = &parse_packages(&long)[0];
        assert_eq!(
            (p.name.len(), p.version.len()),
            (MAX_FIELD_LEN, MAX_FIELD_LEN)
        );
    }

    #[test]
    fn systemctl_output_is_parsed() {
        let text = "\
cron.service                 loaded    active   running Regular background program processing daemon
cups.service                 loaded    failed   failed  CUPS Scheduler
● nfs.service                loaded    failed   failed  NFS server
plymouth.service             not-found inactive dead    plymouth.service
ssh.service                  loaded    inactive dead    OpenBSD Secure Shell server
session-1.scope              loaded    active   running Session 1 of user alice
truncated-line.service loaded
";
        let services = parse_services(text);
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cron", "cups", "nfs", "ssh"]);
        assert_eq!(services[0].state, "active");
        assert_eq!(
            services[0].description,
            "Regular background program processing daemon"
        );
        assert_eq!(services[1].state, "failed");
        assert_eq!(services[3].state, "inactive");
    }

    #[test]
    fn service_lists_and_descriptions_are_bounded() {
        let many: String = (0..MAX_SERVICES + 5)
            .map(|i| format!("s{i}.service loaded active running Something\n"))
            .collect();
        assert_eq!(parse_services(&many).len(), MAX_SERVICES);
        let long = format!("x.service loaded active running {}\n", "d ".repeat(200));
        assert!(parse_services(&long)[0].description.len() <= MAX_DESCRIPTION_LEN);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_listing_that_hangs_is_stopped_with_its_children_and_gives_none() {
        let tmp = tempfile::tempdir().unwrap();
        let pid_file = tmp.path().join("child.pid");
        let script = format!("sleep 300 & echo $! > '{}'; wait", pid_file.display());
        let hung = capture(
            Path::new("/bin/sh"),
            &["-c", &script],
            // Ample time for the shell to start its child; the kill is what is tested.
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(hung, None);
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            crate::test_support::gone(pid).await,
            "the listing's child {pid} survived"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_listing_that_fails_or_cannot_start_gives_none() {
        let failed = capture(
            Path::new("/bin/sh"),
            &["-c", "echo partial; exit 2"],
            LISTING_TIMEOUT,
        )
        .await;
        assert_eq!(failed, None);
        let missing = capture(Path::new("/nonexistent/dpkg-query"), &[], LISTING_TIMEOUT).await;
        assert_eq!(missing, None);
        let fine = capture(
            Path::new("/bin/sh"),
            &["-c", "printf 'a\\tb\\n'"],
            LISTING_TIMEOUT,
        )
        .await;
        assert_eq!(fine.as_deref(), Some("a\tb\n"));
    }
}
