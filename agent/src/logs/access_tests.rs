use super::*;
use std::os::unix::fs::symlink;

/// A temp dir holding `allowed/` (the allow-list, with `app.log` in it)
/// and `secret` beside it, outside the list.
struct Tree {
    tmp: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("allowed")).unwrap();
        std::fs::write(tmp.path().join("allowed/app.log"), b"line 1\nline 2\n").unwrap();
        std::fs::write(tmp.path().join("secret"), b"password\n").unwrap();
        Tree { tmp }
    }

    fn allowed(&self) -> PathBuf {
        self.tmp.path().join("allowed")
    }

    fn list(&self) -> AllowList {
        AllowList::new(&[self.allowed()])
    }

    fn at(&self, rel: &str) -> String {
        self.tmp.path().join(rel).display().to_string()
    }
}

#[test]
fn a_regular_file_under_the_list_opens_with_its_length() {
    let t = Tree::new();
    let opened = t.list().open(&t.at("allowed/app.log")).unwrap();
    assert_eq!(opened.len, 14);
    assert_eq!(
        opened.path,
        std::fs::canonicalize(t.at("allowed/app.log")).unwrap()
    );
}

#[test]
fn traversal_out_of_the_list_is_refused() {
    let t = Tree::new();
    for path in [
        t.at("allowed/../secret"),
        t.at("allowed/../../etc/shadow"),
        "/etc/shadow".to_string(),
        "/var/log/../../etc/shadow".to_string(),
    ] {
        let err = t.list().open(&path).unwrap_err();
        assert!(matches!(err, LogRefusal::Outside { .. }), "{path}: {err}");
        assert_eq!(err.to_remote().kind, ErrorKind::Forbidden);
        assert!(err.to_string().contains("allow-list"), "{err}");
    }
}

#[test]
fn a_symlink_pointing_out_of_the_list_is_refused() {
    let t = Tree::new();
    symlink(t.at("secret"), t.at("allowed/innocent.log")).unwrap();
    let err = t.list().open(&t.at("allowed/innocent.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Outside { .. }), "{err}");
    // A symlinked directory leading out is refused the same way.
    std::fs::create_dir(t.at("elsewhere")).unwrap();
    std::fs::write(t.at("elsewhere/x.log"), b"x").unwrap();
    symlink(t.at("elsewhere"), t.at("allowed/dir")).unwrap();
    let err = t.list().open(&t.at("allowed/dir/x.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Outside { .. }), "{err}");
}

#[test]
fn a_symlink_that_stays_inside_the_list_is_followed() {
    let t = Tree::new();
    symlink(t.at("allowed/app.log"), t.at("allowed/current.log")).unwrap();
    let opened = t.list().open(&t.at("allowed/current.log")).unwrap();
    assert!(opened.path.ends_with("app.log"));
}

#[test]
fn a_device_reached_through_a_symlink_is_refused() {
    let t = Tree::new();
    symlink("/dev/null", t.at("allowed/null.log")).unwrap();
    let err = t.list().open(&t.at("allowed/null.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Outside { .. }), "{err}");
    // Even with /dev itself on the list, a device is not a log file.
    let wide = AllowList::new(&[t.allowed(), PathBuf::from("/dev")]);
    let err = wide.open(&t.at("allowed/null.log")).unwrap_err();
    assert!(
        matches!(err, LogRefusal::NotRegular { kind: "device", .. }),
        "{err}"
    );
    assert_eq!(err.to_remote().kind, ErrorKind::Forbidden);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let t = Tree::new();
    let fifo = t.at("allowed/pipe.log");
    let c = std::ffi::CString::new(fifo.clone()).unwrap();
    // SAFETY: a valid NUL-terminated path and a plain mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = t.list().open(&fifo).unwrap_err();
    assert!(
        matches!(err, LogRefusal::NotRegular { kind: "FIFO", .. }),
        "{err}"
    );
}

#[test]
fn a_socket_and_a_directory_are_refused() {
    let t = Tree::new();
    let sock = t.at("allowed/app.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let err = t.list().open(&sock).unwrap_err();
    assert!(
        matches!(err, LogRefusal::NotRegular { kind: "socket", .. }),
        "{err}"
    );
    let err = t.list().open(&t.at("allowed")).unwrap_err();
    assert!(
        matches!(
            err,
            LogRefusal::NotRegular {
                kind: "directory",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_missing_file_is_named_only_inside_the_list() {
    let t = Tree::new();
    let err = t.list().open(&t.at("allowed/nope.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Missing { .. }), "{err}");
    assert_eq!(err.to_remote().kind, ErrorKind::NotFound);
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Outside the list, absence is not confirmed.
    let err = t.list().open(&t.at("nope.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Outside { .. }), "{err}");
}

#[test]
fn relative_journal_and_empty_list_requests_are_refused() {
    let t = Tree::new();
    assert!(matches!(
        t.list().open("allowed/app.log"),
        Err(LogRefusal::NotAbsolute(_))
    ));
    let err = t.list().open("journal:sshd").unwrap_err();
    assert!(matches!(err, LogRefusal::Journal(_)), "{err}");
    assert_eq!(err.to_remote().kind, ErrorKind::InvalidInput);
    let none = AllowList::new(&[t.tmp.path().join("does-not-exist")]);
    assert!(matches!(
        none.open(&t.at("allowed/app.log")),
        Err(LogRefusal::NothingAllowed)
    ));
    let empty = AllowList::new(&[]);
    assert!(matches!(
        empty.open(&t.at("allowed/app.log")),
        Err(LogRefusal::NothingAllowed)
    ));
}

#[test]
fn a_sibling_with_a_longer_name_is_not_inside() {
    let t = Tree::new();
    std::fs::create_dir(t.at("allowed-not")).unwrap();
    std::fs::write(t.at("allowed-not/x.log"), b"x").unwrap();
    let err = t.list().open(&t.at("allowed-not/x.log")).unwrap_err();
    assert!(matches!(err, LogRefusal::Outside { .. }), "{err}");
}

#[test]
fn the_identity_tells_a_replaced_file_apart() {
    let t = Tree::new();
    let first = t.list().open(&t.at("allowed/app.log")).unwrap();
    std::fs::rename(t.at("allowed/app.log"), t.at("allowed/app.log.1")).unwrap();
    std::fs::write(t.at("allowed/app.log"), b"new\n").unwrap();
    let second = t.list().open(&t.at("allowed/app.log")).unwrap();
    assert_ne!(first.identity, second.identity);
}
