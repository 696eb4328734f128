//! `triage audit`: paging through the relay's audit log and verifying its
//! hash chain locally. Pure: the command sends what [`AuditPager::request`]
//! says and hands each answer to [`AuditPager::accept`] until it is done.
//!
//! Verification uses `triage_shared::audit::verify_chain`, the same code the
//! relay uses, over every entry from the first. It proves no entry was
//! edited, removed or reordered; it cannot tell whether entries were cut off
//! the end, since nothing outside the relay records the last hash (compare
//! the printed last hash with an earlier run to catch that).

use crate::error::CliError;
use std::collections::VecDeque;
use triage_shared::audit::{verify_chain, AuditEntry};
use triage_shared::protocol::Request;
use triage_shared::time::Timestamp;

/// Entries asked for per request (the relay's list limit).
pub const AUDIT_PAGE: u32 = triage_shared::limits::MAX_LIST_ITEMS as u32;

/// Asks for the log page by page, oldest first, until a short page.
#[derive(Debug, Clone)]
pub struct AuditPager {
    after_seq: u64,
    since: Option<Timestamp>,
    page_size: u32,
    done: bool,
}

impl AuditPager {
    pub fn new(since: Option<Timestamp>, page_size: u32) -> Self {
        AuditPager {
            after_seq: 0,
            since,
            page_size: page_size.max(1),
            done: false,
        }
    }

    /// The next request, or `None` once the last page was seen.
    pub fn request(&self) -> Option<Request> {
        (!self.done).then_some(Request::ListAudit {
            after_seq: self.after_seq,
            since: self.since,
            limit: self.page_size,
        })
    }

    /// Takes one page. A page must not be longer than asked for and must
    /// move forward, so a confused or hostile relay cannot keep the command
    /// looping.
    pub fn accept(&mut self, page: &[AuditEntry]) -> Result<(), CliError> {
        if page.len() > self.page_size as usize {
            return Err(CliError::AuditPaging(format!(
                "asked for {} entries, got {}",
                self.page_size,
                page.len()
            )));
        }
        if let Some(last) = page.last() {
            if last.seq <= self.after_seq {
                return Err(CliError::AuditPaging(format!(
                    "asked for entries after {}, got one ending at {}",
                    self.after_seq, last.seq
                )));
            }
            self.after_seq = last.seq;
        }
        if page.len() < self.page_size as usize {
            self.done = true;
        }
        Ok(())
    }
}

/// The newest `limit` entries of a log read oldest first, in bounded memory.
#[derive(Debug, Clone)]
pub struct Newest {
    limit: usize,
    entries: VecDeque<AuditEntry>,
}

impl Newest {
    pub fn new(limit: usize) -> Self {
        Newest {
            limit,
            entries: VecDeque::new(),
        }
    }

    pub fn extend(&mut self, page: impl IntoIterator<Item = AuditEntry>) {
        for e in page {
            if self.entries.len() == self.limit {
                self.entries.pop_front();
            }
            if self.limit > 0 {
                self.entries.push_back(e);
            }
        }
    }

    pub fn into_vec(self) -> Vec<AuditEntry> {
        self.entries.into()
    }
}

/// Verifies the whole log; the line to print when it is intact.
pub fn verify(entries: &[AuditEntry]) -> Result<String, CliError> {
    verify_chain(entries).map_err(CliError::AuditBroken)?;
    Ok(match entries.last() {
        None => "audit log intact: 0 entries (it is empty)".into(),
        Some(last) => format!(
            "audit log intact: {} entries, last hash {}",
            entries.len(),
            last.hash
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::audit::chain_after;

    fn log(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let e = AuditEntry {
                seq: 0,
                at: Timestamp(i as i64 * 1000),
                actor: "technician:alice".into(),
                action: format!("act{i}"),
                target: "ticket:1".into(),
                outcome: "ok".into(),
                details: "{}".into(),
                prev_hash: String::new(),
                hash: String::new(),
            };
            let next = chain_after(out.last(), e);
            out.push(next);
        }
        out
    }

    /// What a relay answers to `ListAudit`.
    fn answer(log: &[AuditEntry], request: &Request) -> Vec<AuditEntry> {
        let Request::ListAudit {
            after_seq,
            since,
            limit,
        } = request
        else {
            panic!("{request:?}");
        };
        log.iter()
            .filter(|e| e.seq > *after_seq && since.is_none_or(|s| e.at >= s))
            .take(*limit as usize)
            .cloned()
            .collect()
    }

    /// Pages through `log` like the command; returns the entries and the requests made.
    fn page_through(
        log: &[AuditEntry],
        since: Option<Timestamp>,
        size: u32,
    ) -> (Vec<AuditEntry>, Vec<Request>) {
        let mut pager = AuditPager::new(since, size);
        let (mut all, mut asked) = (Vec::new(), Vec::new());
        while let Some(request) = pager.request() {
            let page = answer(log, &request);
            pager.accept(&page).unwrap();
            asked.push(request);
            all.extend(page);
        }
        (all, asked)
    }

    fn after_seqs(asked: &[Request]) -> Vec<u64> {
        asked
            .iter()
            .map(|r| match r {
                Request::ListAudit { after_seq, .. } => *after_seq,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn paging_reads_every_entry_and_stops_on_a_short_page() {
        let log = log(7);
        let (all, asked) = page_through(&log, None, 3);
        assert_eq!(all, log);
        assert_eq!(after_seqs(&asked), vec![0, 3, 6]);
        // A log that fills its last page exactly needs one more, empty, page.
        let (all, asked) = page_through(&log[..6], None, 3);
        assert_eq!((all.len(), after_seqs(&asked)), (6, vec![0, 3, 6]));
        let (all, asked) = page_through(&[], None, 3);
        assert_eq!((all.len(), asked.len()), (0, 1));
    }

    #[test]
    fn since_is_sent_with_every_page() {
        let log = log(10);
        let (all, asked) = page_through(&log, Some(Timestamp(5_000)), 2);
        assert_eq!(all.first().unwrap().seq, 6);
        assert_eq!(all.len(), 5);
        assert!(asked.iter().all(|r| matches!(
            r,
            Request::ListAudit {
                since: Some(Timestamp(5_000)),
                limit: 2,
                ..
            }
        )));
    }

    #[test]
    fn a_relay_that_repeats_or_overfills_pages_is_stopped() {
        let log = log(5);
        let mut pager = AuditPager::new(None, 2);
        pager.accept(&log[..2]).unwrap();
        let err = pager.accept(&log[..2]).unwrap_err();
        assert!(matches!(err, CliError::AuditPaging(_)), "{err}");
        let mut pager = AuditPager::new(None, 2);
        assert!(pager.accept(&log[..3]).is_err());
    }

    #[test]
    fn an_intact_log_verifies_and_names_its_last_hash() {
        let log = log(7);
        let (all, _) = page_through(&log, None, 3);
        let line = verify(&all).unwrap();
        assert_eq!(
            line,
            format!("audit log intact: 7 entries, last hash {}", log[6].hash)
        );
        assert!(verify(&[]).unwrap().contains("0 entries"));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut log = log(7);
        log[4].outcome = "ok (edited)".into();
        let (all, _) = page_through(&log, None, 3);
        let err = verify(&all).unwrap_err();
        assert!(
            matches!(err, CliError::AuditBroken(ref b) if b.seq == 5),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("audit entry 5 is not intact"),
            "{err}"
        );
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut log = log(7);
        log.remove(2);
        let (all, _) = page_through(&log, None, 3);
        assert!(verify(&all).unwrap_err().to_string().contains("entry 4"));
    }

    #[test]
    fn newest_keeps_the_last_entries_in_order() {
        let log = log(7);
        let mut newest = Newest::new(3);
        newest.extend(log[..2].to_vec());
        newest.extend(log[2..].to_vec());
        let kept: Vec<u64> = newest.into_vec().iter().map(|e| e.seq).collect();
        assert_eq!(kept, vec![5, 6, 7]);
        let mut none = Newest::new(0);
        none.extend(log);
        assert!(none.into_vec().is_empty());
    }
}
