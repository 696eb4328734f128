use super::*;
use crate::codec::{decode_frame, encode};

fn start(upper_bound: Option<u64>) -> TransferFrame {
    TransferFrame::Start(TransferStart {
        name: "/var/log/syslog".into(),
        upper_bound,
        exact: upper_bound.is_some(),
    })
}

fn end_of(data: &[u8], reason: EndReason) -> TransferFrame {
    TransferFrame::End(TransferEnd {
        bytes: data.len() as u64,
        sha256: ContentDigest::of(data),
        reason,
    })
}

#[test]
fn a_full_chunk_fits_in_a_frame_and_round_trips() {
    let frame = TransferFrame::Chunk(vec![0xA5; TRANSFER_CHUNK_LEN]);
    let encoded = encode(&frame).unwrap();
    assert!(encoded.len() <= MAX_FRAME_LEN + 4);
    // serde_bytes keeps the encoding to the bytes plus a short length.
    assert!(encoded.len() < TRANSFER_CHUNK_LEN + 16, "{}", encoded.len());
    assert_eq!(decode_frame::<TransferFrame>(&encoded).unwrap(), frame);
}

#[test]
fn a_well_formed_body_is_accepted_and_counted() {
    let mut check = TransferCheck::default();
    assert_eq!(check.accept(&start(Some(5))).unwrap(), Step::Started);
    assert_eq!(
        check.accept(&TransferFrame::Chunk(b"he".to_vec())).unwrap(),
        Step::Data(2)
    );
    assert_eq!(
        check.accept(&TransferFrame::KeepAlive).unwrap(),
        Step::KeepAlive
    );
    check
        .accept(&TransferFrame::Chunk(b"llo".to_vec()))
        .unwrap();
    assert_eq!(check.bytes(), 5);
    assert_eq!(
        check
            .accept(&end_of(b"hello", EndReason::Complete))
            .unwrap(),
        Step::Ended(EndReason::Complete)
    );
    assert!(check.is_finished());
    assert_eq!(
        check.accept(&TransferFrame::KeepAlive),
        Err(TransferError::AfterEnd)
    );
}

#[test]
fn a_digest_or_count_that_does_not_match_is_refused() {
    let mut check = TransferCheck::default();
    check.accept(&start(None)).unwrap();
    check
        .accept(&TransferFrame::Chunk(b"hello".to_vec()))
        .unwrap();
    let err = check
        .accept(&end_of(b"hellO", EndReason::Complete))
        .unwrap_err();
    assert!(matches!(err, TransferError::DigestMismatch { .. }), "{err}");

    let mut check = TransferCheck::default();
    check.accept(&start(None)).unwrap();
    check
        .accept(&TransferFrame::Chunk(b"hello".to_vec()))
        .unwrap();
    let err = check
        .accept(&end_of(b"hello!", EndReason::Complete))
        .unwrap_err();
    assert_eq!(
        err,
        TransferError::CountMismatch {
            claimed: 6,
            counted: 5
        }
    );
}

#[test]
fn frames_out_of_order_or_oversized_are_refused() {
    let mut check = TransferCheck::default();
    assert_eq!(
        check.accept(&TransferFrame::Chunk(b"x".to_vec())),
        Err(TransferError::NotStarted)
    );
    check.accept(&start(None)).unwrap();
    assert_eq!(check.accept(&start(None)), Err(TransferError::StartedTwice));
    assert_eq!(
        check.accept(&TransferFrame::Chunk(Vec::new())),
        Err(TransferError::EmptyChunk)
    );
    assert!(check
        .accept(&TransferFrame::Chunk(vec![0; TRANSFER_CHUNK_LEN]))
        .is_ok());
    assert_eq!(
        check.accept(&TransferFrame::Chunk(vec![0; TRANSFER_CHUNK_LEN + 1])),
        Err(TransferError::ChunkTooLarge {
            len: TRANSFER_CHUNK_LEN + 1
        })
    );
}

#[test]
fn bytes_beyond_the_announced_bound_are_refused() {
    let mut check = TransferCheck::default();
    check.accept(&start(Some(3))).unwrap();
    check
        .accept(&TransferFrame::Chunk(b"abc".to_vec()))
        .unwrap();
    assert_eq!(
        check.accept(&TransferFrame::Chunk(b"d".to_vec())),
        Err(TransferError::BeyondBound { bytes: 4, bound: 3 })
    );
}

#[test]
fn log_queries_are_bounded_at_each_limit() {
    let ok = LogQuery::whole("/var/log/syslog");
    assert_eq!(ok.validate(), Ok(()));
    assert!(ok.is_unfiltered());
    let field = |q: LogQuery| q.validate().unwrap_err().field;
    assert_eq!(field(LogQuery::whole(" ")), "path");
    assert_eq!(field(LogQuery::whole("/var/log/a\0b")), "path");
    let long = format!("/{}", "a".repeat(MAX_LOG_PATH_LEN - 1));
    assert_eq!(LogQuery::whole(long.clone()).validate(), Ok(()));
    assert_eq!(field(LogQuery::whole(format!("{long}a"))), "path");

    let tail = |n| LogQuery {
        tail: Some(n),
        ..ok.clone()
    };
    assert_eq!(tail(MAX_TAIL_LINES).validate(), Ok(()));
    assert_eq!(tail(0).validate(), Ok(()));
    assert_eq!(field(tail(MAX_TAIL_LINES + 1)), "tail");
    assert!(!tail(1).is_unfiltered());

    let since = |s| LogQuery {
        since_secs: Some(s),
        ..ok.clone()
    };
    assert_eq!(since(MAX_SINCE_SECS).validate(), Ok(()));
    assert_eq!(field(since(MAX_SINCE_SECS + 1)), "since");

    let grep = |p: String| LogQuery {
        grep: Some(p),
        ..ok.clone()
    };
    assert_eq!(grep("e".repeat(MAX_GREP_LEN)).validate(), Ok(()));
    assert_eq!(field(grep("e".repeat(MAX_GREP_LEN + 1))), "grep");
    assert_eq!(field(grep(String::new())), "grep");
}

#[test]
fn digests_and_ids_print_and_parse() {
    let d = ContentDigest::of(b"abc");
    assert_eq!(
        d.to_string(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(d.to_string().parse::<ContentDigest>().unwrap(), d);
    assert!("sha256:12".parse::<ContentDigest>().is_err());
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<ContentDigest>(&json).unwrap(), d);
    let id = AttachmentId::new_random();
    assert_eq!(id.to_string().parse::<AttachmentId>().unwrap(), id);
    assert_eq!("log".parse::<AttachmentKind>(), Ok(AttachmentKind::Log));
    assert!("pdf".parse::<AttachmentKind>().is_err());
}

#[test]
fn the_hasher_counts_what_it_hashes() {
    let mut h = ContentHasher::default();
    h.update(b"ab");
    h.update(b"c");
    assert_eq!(h.finish(), (3, ContentDigest::of(b"abc")));
}
