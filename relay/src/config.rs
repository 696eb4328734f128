//! Where the relay keeps its state, and its long-lived identity.
//!
//! A data directory holds `relay.key` (the Ed25519 identity, mode 0600),
//! `relay.db` (the default SQLite store) and `public-addr` (the address the
//! last `serve` was reachable at, so offline commands can write tokens).

use crate::error::RelayError;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use triage_shared::identity::KeyPair;

pub const KEY_FILE: &str = "relay.key";
pub const DB_FILE: &str = "relay.db";
pub const PUBLIC_ADDR_FILE: &str = "public-addr";

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
}

impl RelayConfig {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        RelayConfig {
            data_dir: data_dir.into(),
            listen,
            database_url: None,
            public_addr: None,
            limits: crate::server::Limits::default(),
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
        Ok(DataDir { path })
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
