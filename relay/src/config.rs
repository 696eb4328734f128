//! Where the relay keeps its state, and its long-lived identity.
//!
//! A data directory holds `relay.key` (the Ed25519 identity, mode 0600),
//! `relay.db` (the default SQLite store, with SQLite's `-wal` and `-shm`
//! beside it, all mode 0600) and `public-addr` (the address the last
//! `serve` was reachable at, so offline commands can write tokens).
//!
//! The store holds the ticket history, enrollment token hashes and the
//! audit log, so its files are made 0600 whatever the umask, and tightened
//! again on every start. A directory that group or others can read or
//! write is used but warned about (`chmod 700 DIR`): it may be one the
//! administrator chose on purpose.

use crate::error::RelayError;
use crate::store::Store;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use triage_shared::identity::KeyPair;

pub const KEY_FILE: &str = "relay.key";
pub const DB_FILE: &str = "relay.db";
pub const PUBLIC_ADDR_FILE: &str = "public-addr";
/// What SQLite keeps next to `relay.db` in WAL mode.
pub const DB_SIDE_SUFFIXES: [&str; 2] = ["-wal", "-shm"];
/// The mode of every store file.
pub const DB_FILE_MODE: u32 = 0o600;

/// Whether a data directory with permission bits `mode` lets group or
/// others read or write it (and so list or replace the store's files).
pub fn dir_is_exposed(mode: u32) -> bool {
    mode & 0o066 != 0
}

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Holds relay.key, relay.db and public-addr; created if missing.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `None` => SQLite file `relay.db` in `data_dir`; or `postgres://...`.
    pub database_url: Option<String>,
    /// `host:port` written into tokens; `None` => the address actually bound.
    pub public_addr: Option<String>,
    /// Connection and request limits (`server::admission`).
    pub limits: crate::server::Limits,
    /// How often `sla.toml` is checked for changes and SLA crossings are
    /// recorded (`server::sla_clock`).
    pub sla_check_every: std::time::Duration,
    /// Webhooks and mail: timings, retries, SMTP (`notify`).
    pub notify: crate::notify::NotifyConfig,
    /// A resolved ticket untouched this long is closed by the relay
    /// (`--auto-close-after`; `server::auto_close`).
    pub auto_close_after: std::time::Duration,
    /// The Prometheus endpoint (`--metrics-listen`); off by default.
    pub metrics: MetricsConfig,
}

/// Where and how `GET /metrics` is served (`server::metrics_http`).
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// The TCP address (`--metrics-listen`); `None`: no endpoint. Port 0
    /// picks one ([`RelayHandle::metrics_addr`](crate::RelayHandle::metrics_addr) says which).
    pub listen: Option<SocketAddr>,
    /// Allow a `listen` address that is not a loopback address
    /// (`--metrics-listen-public`); without it such an address is refused.
    pub public: bool,
    /// How long the store's counts (agents enrolled, tickets) are reused
    /// between scrapes.
    pub counts_max_age: std::time::Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            public: false,
            counts_max_age: crate::metrics::COUNTS_MAX_AGE,
        }
    }
}

/// The default of [`RelayConfig::sla_check_every`]: an SLA event is at
/// most this late.
pub const SLA_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl RelayConfig {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        RelayConfig {
            data_dir: data_dir.into(),
            listen,
            database_url: None,
            public_addr: None,
            limits: crate::server::Limits::default(),
            sla_check_every: SLA_CHECK_EVERY,
            notify: crate::notify::NotifyConfig::default(),
            auto_close_after: crate::server::DEFAULT_AUTO_CLOSE_AFTER,
            metrics: MetricsConfig::default(),
        }
    }
}

/// A relay data directory that exists, addressed by its absolute path.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Creates the directory if needed (private to its owner on Unix).
    pub fn create(path: &Path) -> Result<DataDir, RelayError> {
        if !path.exists() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(path)
                .map_err(RelayError::io("create data directory", path))?;
        }
        let path = fs::canonicalize(path).map_err(RelayError::io("open data directory", path))?;
        warn_if_dir_is_exposed(&path);
        Ok(DataDir { path })
    }

    /// `relay.db` in this directory.
    pub fn db_path(&self) -> PathBuf {
        self.path.join(DB_FILE)
    }

    /// Opens the store at `given`, or the SQLite file here; that file and
    /// SQLite's side files are made private to the relay's user.
    pub async fn open_store(&self, given: Option<&str>) -> Result<Store, RelayError> {
        let url = self.database_url(given)?;
        if given.is_some() {
            return Ok(Store::open(&url).await?);
        }
        // Made 0600 before SQLite opens it: SQLite gives its -wal and -shm
        // files the mode of the database file, so none is ever readable.
        self.secure_db_files()?;
        let store = Store::open(&url).await?;
        // Only by path from here: opening and closing the database file in
        // a process that has SQLite using it drops that process's POSIX
        // locks on it, which breaks SQLite's locking against other processes.
        self.make_db_files_private()?;
        Ok(store)
    }

    /// Creates `relay.db` (empty, 0600) if it is missing, and sets 0600 on
    /// it and on its side files that exist (an older relay, or a umask,
    /// may have left them readable).
    pub fn secure_db_files(&self) -> Result<(), RelayError> {
        let db = self.db_path();
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, DB_FILE_MODE);
        options
            .open(&db)
            .map_err(RelayError::io("create the database file", &db))?;
        self.make_db_files_private()
    }

    /// Sets 0600 on `relay.db` and its side files that exist, by path.
    fn make_db_files_private(&self) -> Result<(), RelayError> {
        let db = self.db_path();
        let mut files = vec![db.clone()];
        for suffix in DB_SIDE_SUFFIXES {
            let mut name = db.as_os_str().to_os_string();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        for file in files {
            make_private(&file)?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn key_path(&self) -> PathBuf {
        self.path.join(KEY_FILE)
    }

    /// The URL of the default SQLite store, created on first use.
    pub fn sqlite_url(&self) -> Result<String, RelayError> {
        let db = self.path.join(DB_FILE);
        let text = db.to_str().ok_or_else(|| {
            RelayError::Config(format!(
                "{} is not valid UTF-8; pick another data directory",
                db.display()
            ))
        })?;
        Ok(format!("sqlite://{}?mode=rwc", escape_url_path(text)))
    }

    /// The database to use: the one given, or the SQLite file in this directory.
    pub fn database_url(&self, given: Option<&str>) -> Result<String, RelayError> {
        match given {
            Some(url) => Ok(url.to_string()),
            None => self.sqlite_url(),
        }
    }

    /// Loads the relay identity, making it on first use. The same key gives
    /// the same certificate fingerprint, so tokens stay valid across restarts.
    pub fn load_or_create_key(&self) -> Result<KeyPair, RelayError> {
        let path = self.key_path();
        match fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path);
                KeyPair::from_file_text(&text).map_err(|source| RelayError::BadKey { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create_key(),
            Err(e) => Err(RelayError::io("read relay key", path)(e)),
        }
    }

    /// Writes a new key to a private temporary file and links it into place,
    /// so a concurrent start never sees a half-written key and never
    /// replaces one that another process just made.
    fn create_key(&self) -> Result<KeyPair, RelayError> {
        let path = self.key_path();
        let tmp = self
            .path
            .join(format!(".{KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
        let key = KeyPair::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut f| {
            f.write_all(key.to_file_text().as_bytes())
                .and_then(|_| f.sync_all())
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(RelayError::io("write relay key", &tmp)(e));
        }
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "made a new relay identity");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.load_or_create_key(),
            Err(e) => Err(RelayError::io("write relay key", path)(e)),
        }
    }

    pub fn write_public_addr(&self, addr: &str) -> Result<(), RelayError> {
        // Written aside and renamed, so a reader never sees a half-written file.
        let path = self.path.join(PUBLIC_ADDR_FILE);
        let tmp = self.path.join(format!(
            ".{PUBLIC_ADDR_FILE}.{}",
            uuid::Uuid::new_v4().simple()
        ));
        fs::write(&tmp, format!("{addr}\n")).map_err(RelayError::io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            RelayError::io("write", path)(e)
        })
    }

    /// The address the last `serve` recorded, if any.
    pub fn read_public_addr(&self) -> Result<Option<String>, RelayError> {
        let path = self.path.join(PUBLIC_ADDR_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RelayError::io("read", path)(e)),
        }
    }
}

/// Escapes the characters that would end or confuse the path of a URL.
fn escape_url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// Sets [`DB_FILE_MODE`] on `path` if it exists.
#[cfg(unix)]
fn make_private(path: &Path) -> Result<(), RelayError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RelayError::io("inspect", path)(e)),
    };
    if !meta.is_file() {
        return Err(RelayError::Config(format!(
            "{} is not a regular file; move it away so that the relay can keep its database there",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o777 != DB_FILE_MODE {
        fs::set_permissions(path, fs::Permissions::from_mode(DB_FILE_MODE))
            .map_err(RelayError::io("set mode 0600 on", path))?;
        tracing::info!(path = %path.display(), "made a store file private to the relay's user (0600)");
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> Result<(), RelayError> {
    Ok(())
}

#[cfg(unix)]
fn warn_if_dir_is_exposed(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o777;
        if dir_is_exposed(mode) {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{mode:o}"),
                "the relay's data directory {} can be read or written by other users; run `chmod 700 {}`",
                dir.display(),
                dir.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_dir_is_exposed(_dir: &Path) {}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "relay key is readable by other users; run `chmod 600` on it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// The address to tell peers when none was configured: the bound address,
/// with a wildcard IP replaced by loopback (a wildcard cannot be dialled).
pub fn reachable_addr(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("nested/data")).unwrap();
        let first = data.load_or_create_key().unwrap();
        let second = data.load_or_create_key().unwrap();
        assert_eq!(first.public_key(), second.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(data.key_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(data.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from(KEY_FILE)]);
    }

    #[test]
    fn a_corrupt_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(dir.path()).unwrap();
        fs::write(data.key_path(), "garbage").unwrap();
        assert!(matches!(
            data.load_or_create_key(),
            Err(RelayError::BadKey { .. })
        ));
        assert_eq!(fs::read_to_string(data.key_path()).unwrap(), "garbage");
    }

    #[test]
    fn sqlite_url_is_absolute_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(&dir.path().join("with space?")).unwrap();
        let url = data.sqlite_url().unwrap();
        assert!(url.starts_with("sqlite:///"), "{url}");
        assert!(url.ends_with("with%20space%3F/relay.db?mode=rwc"), "{url}");
    }

    #[test]
    fn public_addr_round_trips_and_is_absent_at_first() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(dir.path()).unwrap();
        assert_eq!(data.read_public_addr().unwrap(), None);
        data.write_public_addr("relay.example.com:4433").unwrap();
        assert_eq!(
            data.read_public_addr().unwrap().as_deref(),
            Some("relay.example.com:4433")
        );
    }

    #[test]
    fn a_directory_open_to_group_or_others_is_warned_about() {
        assert!(dir_is_exposed(0o755));
        assert!(dir_is_exposed(0o750));
        assert!(dir_is_exposed(0o702));
        assert!(!dir_is_exposed(0o700));
        assert!(!dir_is_exposed(0o711), "traversal alone lists nothing");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_store_files_are_private_even_in_a_world_readable_directory() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let data = DataDir::create(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // Open, after the migrations wrote: SQLite's WAL files are there.
        let store = data.open_store(None).await.unwrap();
        assert_eq!(mode(&data.db_path()), 0o600);
        let side: Vec<PathBuf> = fs::read_dir(data.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("relay.db-"))
            .collect();
        assert!(!side.is_empty(), "the store runs in WAL mode");
        for file in &side {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        store.close().await;
        // A database an older relay left readable is tightened at the next start.
        fs::set_permissions(data.db_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let store = data.open_store(None).await.unwrap();
        assert_eq!(mode(&data.db_path()), 0o600);
        store.close().await;
    }

    #[test]
    fn wildcard_listen_address_is_advertised_as_loopback() {
        assert_eq!(
            reachable_addr("0.0.0.0:4433".parse().unwrap()),
            "127.0.0.1:4433".parse().unwrap()
        );
        assert_eq!(
            reachable_addr("[::]:1".parse().unwrap()),
            "[::1]:1".parse().unwrap()
        );
        assert_eq!(
            reachable_addr("10.0.0.5:9".parse().unwrap()),
            "10.0.0.5:9".parse().unwrap()
        );
    }
}
