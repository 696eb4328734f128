use super::*;
use triage_shared::error::ErrorKind;
use triage_shared::transfer::TransferEnd;

fn start(len: Option<u64>) -> TransferFrame {
    TransferFrame::Start(TransferStart {
        name: "/var/log/syslog".into(),
        upper_bound: len,
        exact: len.is_some(),
    })
}

fn end(data: &[u8], reason: EndReason) -> TransferFrame {
    TransferFrame::End(TransferEnd {
        bytes: data.len() as u64,
        sha256: ContentDigest::of(data),
        reason,
    })
}

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn target(&self) -> PathBuf {
        self.tmp.path().join("syslog.txt")
    }
    fn partial(&self) -> PathBuf {
        PartialFile::partial_path(&self.target())
    }
    fn receiver(&self) -> Receiver<'static> {
        Receiver::new(
            Output::File(PartialFile::create(&self.target()).unwrap()),
            true,
        )
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

#[test]
fn a_verified_body_is_renamed_from_partial_to_the_file() {
    let d = Dir::new();
    let mut r = d.receiver();
    assert_eq!(r.accept(start(Some(11))).unwrap(), None);
    r.accept(TransferFrame::Chunk(b"hello ".to_vec())).unwrap();
    r.accept(TransferFrame::KeepAlive).unwrap();
    r.accept(TransferFrame::Chunk(b"world".to_vec())).unwrap();
    assert_eq!(d.names(), ["syslog.txt.partial"]);
    let reason = r.accept(end(b"hello world", EndReason::Complete)).unwrap();
    assert_eq!(reason, Some(EndReason::Complete));
    let got = r.finish(EndReason::Complete).unwrap();
    assert_eq!(got.saved.as_deref(), Some(d.target().as_path()));
    assert_eq!(got.bytes, 11);
    assert_eq!(got.name.as_deref(), Some("/var/log/syslog"));
    assert_eq!(std::fs::read(d.target()).unwrap(), b"hello world");
    assert_eq!(d.names(), ["syslog.txt"]);
}

#[test]
fn a_digest_mismatch_leaves_no_file_behind() {
    let d = Dir::new();
    let mut r = d.receiver();
    r.accept(start(None)).unwrap();
    r.accept(TransferFrame::Chunk(b"hello".to_vec())).unwrap();
    let err = r.accept(end(b"hellO", EndReason::Complete)).unwrap_err();
    drop(r);
    let text = err.to_string();
    assert!(matches!(err, CliError::TransferFailed { .. }), "{text}");
    assert!(text.contains("did not arrive intact"), "{text}");
    assert!(text.contains("nothing was saved to"), "{text}");
    assert!(d.names().is_empty(), "{:?}", d.names());
}

#[test]
fn a_disconnect_part_way_removes_the_partial_file() {
    let d = Dir::new();
    let mut r = d.receiver();
    r.accept(start(Some(100))).unwrap();
    r.accept(TransferFrame::Chunk(vec![1; 40])).unwrap();
    assert!(d.partial().exists());
    assert_eq!(r.bytes(), 40);
    let err = r.fail("agent a (pc) disconnected after sending 40 bytes".into());
    assert!(
        err.to_string()
            .starts_with("agent a (pc) disconnected after sending 40 bytes; nothing was saved"),
        "{err}"
    );
    assert!(!d.partial().exists() && !d.target().exists());
}

#[test]
fn a_body_cut_at_the_endpoint_limit_is_not_kept() {
    let d = Dir::new();
    let mut r = d.receiver();
    r.accept(start(None)).unwrap();
    r.accept(TransferFrame::Chunk(b"abc".to_vec())).unwrap();
    let limit = EndReason::LimitReached { limit: 3 };
    assert_eq!(r.accept(end(b"abc", limit)).unwrap(), Some(limit));
    let err = r.finish(limit).unwrap_err();
    assert!(
        matches!(err, CliError::LimitReached { limit: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max_log_bytes"), "{err}");
    assert!(d.names().is_empty());
}

#[test]
fn a_stopped_follow_is_kept() {
    let d = Dir::new();
    let mut r = d.receiver();
    r.accept(start(None)).unwrap();
    r.accept(TransferFrame::Chunk(b"line\n".to_vec())).unwrap();
    r.accept(end(b"line\n", EndReason::Stopped)).unwrap();
    r.finish(EndReason::Stopped).unwrap();
    assert_eq!(std::fs::read(d.target()).unwrap(), b"line\n");
}

#[test]
fn stdout_gets_bytes_as_they_come_and_a_failure_says_they_are_incomplete() {
    let mut out: Vec<u8> = Vec::new();
    {
        let mut r = Receiver::new(Output::Stdout(&mut out), false);
        r.accept(start(None)).unwrap();
        r.accept(TransferFrame::Chunk(b"abc".to_vec())).unwrap();
        let err = r.accept(end(b"abd", EndReason::Complete)).unwrap_err();
        assert!(
            err.to_string().contains("what was printed is incomplete"),
            "{err}"
        );
    }
    assert_eq!(out, b"abc");
    let mut out: Vec<u8> = Vec::new();
    let mut r = Receiver::new(Output::Stdout(&mut out), false);
    r.accept(start(Some(2))).unwrap();
    r.accept(TransferFrame::Chunk(b"ok".to_vec())).unwrap();
    r.accept(end(b"ok", EndReason::Complete)).unwrap();
    assert_eq!(r.finish(EndReason::Complete).unwrap().saved, None);
    assert_eq!(out, b"ok");
}

#[test]
fn a_terminal_gets_clean_text_while_the_digest_covers_the_raw_bytes() {
    let raw: &[u8] = "ok \u{1b}[2J\u{9b}31m€\n".as_bytes();
    // Cut after the ESC, inside the C1 control and inside the euro sign.
    let pieces = [&raw[..4], &raw[4..8], &raw[8..14], &raw[14..]];
    let mut out: Vec<u8> = Vec::new();
    let mut r = Receiver::new(Output::stdout(&mut out, true), false);
    r.accept(start(Some(raw.len() as u64))).unwrap();
    for piece in pieces {
        r.accept(TransferFrame::Chunk(piece.to_vec())).unwrap();
    }
    r.accept(end(raw, EndReason::Complete)).unwrap();
    let got = r.finish(EndReason::Complete).unwrap();
    assert_eq!(got.sha256, ContentDigest::of(raw));
    assert_eq!(got.bytes, raw.len() as u64);
    assert_eq!(String::from_utf8(out).unwrap(), "ok \\x1b[2J\\u{9b}31m€\n");
    // Not a terminal: byte for byte.
    let mut out: Vec<u8> = Vec::new();
    let mut r = Receiver::new(Output::stdout(&mut out, false), false);
    r.accept(start(None)).unwrap();
    r.accept(TransferFrame::Chunk(raw.to_vec())).unwrap();
    r.accept(end(raw, EndReason::Complete)).unwrap();
    r.finish(EndReason::Complete).unwrap();
    assert_eq!(out, raw);
}

#[test]
fn relay_errors_are_refusals_before_the_body_and_failures_after() {
    let mut out: Vec<u8> = Vec::new();
    let r = Receiver::new(Output::Stdout(&mut out), false);
    let offline = RemoteError::new(ErrorKind::Unavailable, "agent a is offline");
    let err = r.remote_error(offline.clone());
    assert_eq!(err.to_string(), "the relay refused: agent a is offline");
    let d = Dir::new();
    let mut r = d.receiver();
    r.accept(start(None)).unwrap();
    r.accept(TransferFrame::Chunk(b"x".to_vec())).unwrap();
    let err = r.remote_error(offline);
    assert!(matches!(err, CliError::TransferFailed { .. }), "{err}");
    assert!(d.names().is_empty());
}

#[test]
fn output_must_be_a_file_name() {
    let d = Dir::new();
    let err = PartialFile::create(d.tmp.path()).err().unwrap();
    assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
    assert_eq!(
        PartialFile::partial_path(Path::new("/tmp/x.log")),
        PathBuf::from("/tmp/x.log.partial")
    );
}
