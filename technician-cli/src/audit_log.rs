//! `triage audit`: paging through the relay's audit log and verifying its
//! hash chain locally. Pure: the command sends what [`AuditPager::request`]
//! says and hands each answer to [`AuditPager::accept`] until it is done.
//!
//! Verification uses `triage_shared::audit::verify_chain`, the same code the
//! relay uses, over every entry from the first. It proves no entry was
//! edited, removed or reordered. A cut tail, or a chain rewritten from some
//! entry on, verifies by itself; so each CLI remembers the newest entry it
//! saw ([`SeenHead`], in the home's `audit-head`) and every read of the log
//! checks that the relay still has that entry with that hash
//! ([`check_head`]) before the remembered head moves on ([`HeadTracker`]).

use crate::error::CliError;
use serde::{Deserialize, Serialize};
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

/// The newest entry of one relay's log that this CLI has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenHead {
    /// The relay's certificate fingerprint.
    pub relay: String,
    pub seq: u64,
    pub hash: String,
}

/// Whether the relay's log still extends `remembered`: `found` is the
/// relay's entry at `remembered.seq` (`None`: it has none), `newest` the
/// newest entry it sent (for the message).
pub fn check_head(
    remembered: &SeenHead,
    found: Option<&AuditEntry>,
    newest: Option<&AuditEntry>,
) -> Result<(), CliError> {
    let relay_has = match found {
        Some(e) if e.seq == remembered.seq && e.hash == remembered.hash => return Ok(()),
        Some(e) if e.seq == remembered.seq => {
            format!("the relay's entry {} now has hash {}", e.seq, e.hash)
        }
        _ => match newest {
            Some(last) if last.seq < remembered.seq => format!(
                "the relay's log now ends at entry {} (hash {})",
                last.seq, last.hash
            ),
            _ => format!("the relay has no entry {} any more", remembered.seq),
        },
    };
    Err(CliError::AuditRewound {
        seq: remembered.seq,
        hash: remembered.hash.clone(),
        relay_has,
    })
}

/// Follows one read of the log: what the relay has at the remembered
/// entry, and its newest entry, to check and then move the head on.
#[derive(Debug, Clone)]
pub struct HeadTracker {
    relay: String,
    remembered: Option<SeenHead>,
    found: Option<AuditEntry>,
    newest: Option<AuditEntry>,
}

impl HeadTracker {
    pub fn new(relay: String, remembered: Option<SeenHead>) -> Self {
        HeadTracker {
            relay,
            remembered,
            found: None,
            newest: None,
        }
    }

    pub fn observe(&mut self, page: &[AuditEntry]) {
        if let Some(r) = &self.remembered {
            if let Some(e) = page.iter().find(|e| e.seq == r.seq) {
                self.found = Some(e.clone());
            }
        }
        if let Some(last) = page.last() {
            self.newest = Some(last.clone());
        }
    }

    /// The request that fetches the remembered entry, when this read did
    /// not include it (e.g. `--since` started after it).
    pub fn probe(&self) -> Option<Request> {
        match (&self.remembered, &self.found) {
            (Some(r), None) => Some(Request::ListAudit {
                after_seq: r.seq.saturating_sub(1),
                since: None,
                limit: 1,
            }),
            _ => None,
        }
    }

    /// Takes the answer to [`HeadTracker::probe`].
    pub fn probed(&mut self, page: &[AuditEntry]) {
        if let Some(r) = &self.remembered {
            self.found = page.iter().find(|e| e.seq == r.seq).cloned();
        }
    }

    /// Checks the read against the remembered head; on success, the head to
    /// remember now (`None`: keep the one there is).
    pub fn finish(&self) -> Result<Option<SeenHead>, CliError> {
        if let Some(r) = &self.remembered {
            check_head(r, self.found.as_ref(), self.newest.as_ref())?;
        }
        let newer = self
            .newest
            .as_ref()
            .filter(|n| self.remembered.as_ref().is_none_or(|r| n.seq > r.seq));
        Ok(newer.map(|n| SeenHead {
            relay: self.relay.clone(),
            seq: n.seq,
            hash: n.hash.clone(),
        }))
    }
}

/// One line of `triage audit export`: the entry as `--json` shows it.
pub fn export_line(entry: &AuditEntry) -> Result<String, CliError> {
    let mut line = serde_json::to_string(entry)?;
    line.push('\n');
    Ok(line)
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

    fn head(log: &[AuditEntry], seq: u64) -> SeenHead {
        let e = &log[seq as usize - 1];
        SeenHead {
            relay: "fp".into(),
            seq: e.seq,
            hash: e.hash.clone(),
        }
    }

    /// Reads `log` with a tracker the way the commands do, probing when needed.
    fn track(
        log: &[AuditEntry],
        remembered: Option<SeenHead>,
        since: Option<Timestamp>,
    ) -> Result<Option<SeenHead>, CliError> {
        let (read, _) = page_through(log, since, 3);
        let mut t = HeadTracker::new("fp".into(), remembered);
        t.observe(&read);
        if let Some(probe) = t.probe() {
            let page = answer(log, &probe);
            t.probed(&page);
        }
        t.finish()
    }

    #[test]
    fn a_log_that_grew_extends_the_head_and_moves_it_on() {
        let log = log(7);
        let seen = head(&log[..4], 4);
        let next = track(&log, Some(seen.clone()), None).unwrap().unwrap();
        assert_eq!((next.seq, next.hash.as_str()), (7, log[6].hash.as_str()));
        // Nothing new: the head stays.
        assert_eq!(track(&log[..4], Some(seen), None).unwrap(), None);
        // First read: trust on first use.
        assert_eq!(track(&log, None, None).unwrap().unwrap().seq, 7);
        assert_eq!(track(&[], None, None).unwrap(), None);
    }

    #[test]
    fn a_cut_tail_is_named_with_what_the_relay_has_now() {
        let log = log(7);
        let seen = head(&log, 7);
        let err = track(&log[..5], Some(seen.clone()), None).unwrap_err();
        assert!(
            matches!(err, CliError::AuditRewound { seq: 7, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("entry 7 had hash"), "{text}");
        assert!(text.contains("now ends at entry 5"), "{text}");
        // One entry short is caught too (the boundary).
        assert!(track(&log[..6], Some(seen.clone()), None).is_err());
        let empty = track(&[], Some(seen), None).unwrap_err().to_string();
        assert!(empty.contains("no entry 7"), "{empty}");
    }

    #[test]
    fn a_rewritten_chain_is_caught_even_when_it_grew_past_the_head() {
        let log = log(7);
        let seen = head(&log, 5);
        // The relay rebuilt entries 4.. with other contents and a valid chain.
        let mut forged: Vec<AuditEntry> = log[..3].to_vec();
        for i in 3..9 {
            let mut e = log[0].clone();
            e.action = format!("forged{i}");
            let next = chain_after(forged.last(), e);
            forged.push(next);
        }
        assert!(verify(&forged).is_ok(), "the forgery chains by itself");
        let err = track(&forged, Some(seen), None).unwrap_err().to_string();
        assert!(err.contains("entry 5 now has hash"), "{err}");
    }

    #[test]
    fn a_read_that_starts_after_the_head_fetches_it_to_check() {
        let log = log(10);
        let seen = head(&log, 3);
        let since = Some(log[6].at);
        let next = track(&log, Some(seen.clone()), since).unwrap().unwrap();
        assert_eq!(next.seq, 10);
        let mut rewritten = log.clone();
        rewritten[2].hash = "00".repeat(32);
        assert!(track(&rewritten, Some(seen), since).is_err());
    }

    #[test]
    fn an_export_line_is_one_json_entry() {
        let log = log(2);
        let line = export_line(&log[1]).unwrap();
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let back: AuditEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(back, log[1]);
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
