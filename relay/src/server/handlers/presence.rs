//! **Pure**: the online/offline half of `agents list` filters, which the
//! store cannot answer (the registry knows who is connected). Online
//! endpoints are few and all in memory: they are sorted and paged here.
//! Offline ones are most of the store: their pages are scanned, skipping
//! the online ones, within [`OFFLINE_SCAN_BUDGET`] rows a request, so a
//! fleet that is nearly all online cannot make one request read it all;
//! a page cut short by the budget says where to go on (`next`).

use crate::store::AgentRecord;
use triage_shared::queue::{AgentCount, Presence};
use triage_shared::selector::AgentCursor;
use triage_shared::AgentId;

/// Rows one offline listing reads at most.
pub(in crate::server) const OFFLINE_SCAN_BUDGET: usize = 2_000;
/// Rows asked of the store at a time while scanning.
pub(in crate::server) const SCAN_BATCH: usize = 501;

pub(in crate::server) fn cursor_of(agent: &AgentRecord) -> AgentCursor {
    AgentCursor {
        hostname: agent.hostname.clone(),
        id: agent.id,
    }
}

/// The online page: `online` (the matching records of every connected
/// endpoint) in (hostname, id) order, after `after`, one more than `len`
/// at most.
pub(in crate::server) fn online_page(
    mut online: Vec<AgentRecord>,
    after: Option<&AgentCursor>,
    len: usize,
) -> Vec<AgentRecord> {
    online.sort_by(|a, b| (&a.hostname, a.id.to_string()).cmp(&(&b.hostname, b.id.to_string())));
    online
        .into_iter()
        .filter(|a| {
            after.is_none_or(|c| (&a.hostname, a.id.to_string()) > (&c.hostname, c.id.to_string()))
        })
        .take(len + 1)
        .collect()
}

/// What an offline scan does next.
#[derive(Debug, PartialEq)]
pub(in crate::server) enum ScanStep {
    /// Ask the store for `batch` more rows after `after`.
    More { after: AgentCursor, batch: usize },
    /// The page, and where the next one starts.
    Done {
        agents: Vec<AgentRecord>,
        next: Option<AgentCursor>,
    },
}

/// An offline listing in progress: the offline rows found so far, and how
/// many rows it has read.
#[derive(Debug)]
pub(in crate::server) struct OfflineScan {
    len: usize,
    budget: usize,
    read: usize,
    found: Vec<AgentRecord>,
}

impl OfflineScan {
    pub(in crate::server) fn new(len: usize, budget: usize) -> OfflineScan {
        OfflineScan {
            len,
            budget,
            read: 0,
            found: Vec::new(),
        }
    }

    /// Rows to ask for first.
    pub(in crate::server) fn first_batch(&self) -> usize {
        SCAN_BATCH.min(self.budget).max(1)
    }

    /// Takes the `batch` rows the store answered for `asked`.
    pub(in crate::server) fn feed(
        &mut self,
        batch: Vec<AgentRecord>,
        asked: usize,
        is_online: impl Fn(AgentId) -> bool,
    ) -> ScanStep {
        let exhausted = batch.len() < asked;
        let last = batch.last().map(cursor_of);
        for agent in batch {
            self.read += 1;
            if is_online(agent.id) {
                continue;
            }
            self.found.push(agent);
            if self.found.len() > self.len {
                // One more than the page: the page ends at the one before.
                self.found.truncate(self.len);
                let next = self.found.last().map(cursor_of);
                return self.done(next);
            }
        }
        match last {
            _ if exhausted => self.done(None),
            Some(after) if self.read < self.budget => ScanStep::More {
                after,
                batch: SCAN_BATCH.min(self.budget - self.read),
            },
            // Out of budget: a short page, and the next starts after the
            // last row read.
            last => self.done(last),
        }
    }

    fn done(&mut self, next: Option<AgentCursor>) -> ScanStep {
        ScanStep::Done {
            agents: std::mem::take(&mut self.found),
            next,
        }
    }
}

/// What `CountAgents` answers: of the endpoints the filter's other parts
/// select (`matching`, of which `online` are connected), those its
/// presence selects, and how many of those are online.
pub(in crate::server) fn count(presence: Presence, matching: u64, online: u64) -> AgentCount {
    let online = online.min(matching);
    match presence {
        Presence::Any => AgentCount { matching, online },
        Presence::Online => AgentCount {
            matching: online,
            online,
        },
        Presence::Offline => AgentCount {
            matching: matching - online,
            online: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;
    use triage_shared::time::Timestamp;

    fn agent(hostname: &str) -> AgentRecord {
        AgentRecord {
            id: AgentId::new_random(),
            public_key: KeyPair::generate().public_key(),
            hostname: hostname.into(),
            os: "Debian 12".into(),
            enrolled_at: Timestamp(0),
            last_seen: None,
            removed_at: None,
        }
    }

    fn names(agents: &[AgentRecord]) -> Vec<&str> {
        agents.iter().map(|a| a.hostname.as_str()).collect()
    }

    #[test]
    fn online_pages_are_sorted_and_start_after_the_cursor() {
        let all = vec![agent("c"), agent("a"), agent("b"), agent("d")];
        let first = online_page(all.clone(), None, 2);
        assert_eq!(names(&first), ["a", "b", "c"]);
        let next = online_page(all, Some(&cursor_of(&first[1])), 2);
        assert_eq!(names(&next), ["c", "d"]);
    }

    #[test]
    fn an_offline_scan_skips_online_rows_and_stops_at_one_more_than_the_page() {
        let rows: Vec<_> = ["a", "b", "c", "d", "e"].map(agent).into();
        let online = [rows[0].id, rows[2].id];
        let mut scan = OfflineScan::new(2, OFFLINE_SCAN_BUDGET);
        let step = scan.feed(rows.clone(), 5, |id| online.contains(&id));
        assert_eq!(
            step,
            ScanStep::Done {
                agents: vec![rows[1].clone(), rows[3].clone()],
                next: Some(cursor_of(&rows[3])),
            }
        );
    }

    #[test]
    fn an_offline_scan_that_reads_everything_has_no_next_page() {
        let rows: Vec<_> = ["a", "b"].map(agent).into();
        let mut scan = OfflineScan::new(5, OFFLINE_SCAN_BUDGET);
        let step = scan.feed(rows.clone(), 10, |_| false);
        assert_eq!(
            step,
            ScanStep::Done {
                agents: rows,
                next: None
            }
        );
    }

    #[test]
    fn an_offline_scan_out_of_budget_returns_a_short_page_that_goes_on() {
        let rows: Vec<_> = ["a", "b", "c", "d"].map(agent).into();
        let mut scan = OfflineScan::new(10, 6);
        assert_eq!(scan.first_batch(), 6);
        // A full batch, all online: not done, and the next batch is what
        // the budget leaves.
        let step = scan.feed(rows[..2].to_vec(), 2, |_| true);
        assert_eq!(
            step,
            ScanStep::More {
                after: cursor_of(&rows[1]),
                batch: 4
            }
        );
        let step = scan.feed(rows[2..].to_vec(), 2, |_| true);
        assert_eq!(
            step,
            ScanStep::More {
                after: cursor_of(&rows[3]),
                batch: 2
            }
        );
        let more: Vec<_> = ["e", "f"].map(agent).into();
        let step = scan.feed(more.clone(), 2, |_| true);
        // Empty, but not the end: the next page starts after "f".
        assert_eq!(
            step,
            ScanStep::Done {
                agents: vec![],
                next: Some(cursor_of(&more[1]))
            }
        );
    }

    #[test]
    fn counts_follow_the_presence_asked_for() {
        assert_eq!(
            count(Presence::Any, 10, 3),
            AgentCount {
                matching: 10,
                online: 3
            }
        );
        assert_eq!(
            count(Presence::Online, 10, 3),
            AgentCount {
                matching: 3,
                online: 3
            }
        );
        assert_eq!(
            count(Presence::Offline, 10, 3),
            AgentCount {
                matching: 7,
                online: 0
            }
        );
    }
}
