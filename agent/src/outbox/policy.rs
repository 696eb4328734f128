//! Pure parts of the outbox: file names (which carry the queue order and the
//! kind of message) and what to drop when the outbox is full.

use std::cmp::Ordering;
use uuid::Uuid;

/// What a queued message is, as far as the size bound cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A ticket a person asked for: never dropped.
    EmployeeTicket,
    /// A ticket the health monitor filed.
    AlertTicket,
    /// A comment or resolve on a ticket (from the health monitor).
    Update,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::EmployeeTicket => "employee",
            Kind::AlertTicket => "alert",
            Kind::Update => "update",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::EmployeeTicket, Kind::AlertTicket, Kind::Update]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// File names end in this; anything else in the directory is not a message.
pub const SUFFIX: &str = ".msg";

/// A message file's name, `{seq:020}-{kind}-{uuid}.msg`: sorting by name is
/// queue order, and the kind is known without reading the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub seq: u64,
    pub kind: Kind,
    pub id: Uuid,
}

impl Name {
    pub fn file_name(&self) -> String {
        format!(
            "{:020}-{}-{}{SUFFIX}",
            self.seq,
            self.kind.as_str(),
            self.id.as_hyphenated()
        )
    }

    /// Reads a file name back; `None` for anything that is not a message
    /// file (temporary files start with a dot and never parse).
    pub fn parse(file_name: &str) -> Option<Name> {
        let stem = file_name.strip_suffix(SUFFIX)?;
        let (seq, rest) = stem.split_once('-')?;
        let (kind, id) = rest.split_once('-')?;
        if seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Name {
            seq: seq.parse().ok()?,
            kind: Kind::parse(kind)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seq, self.id).cmp(&(other.seq, other.id))
    }
}

/// The next sequence number: the clock in microseconds, but always after
/// everything already queued, so a clock that steps back cannot reorder.
pub fn next_seq(now_micros: u64, highest_queued: Option<u64>) -> u64 {
    match highest_queued {
        Some(h) => now_micros.max(h.saturating_add(1)),
        None => now_micros,
    }
}

/// What to do with a new message of kind `new` when `queued` (oldest
/// first) already holds messages and at most `max` may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Queue it after dropping these (indexes into `queued`, oldest first).
    Accept { drop: Vec<usize> },
    /// Full, and the new message is a health message: it is not queued.
    DropNew,
    /// Full of employee tickets: refuse the new one rather than drop any.
    Refuse,
}

/// The drop policy: oldest health updates go first, then oldest health
/// alert tickets (only to make room for a ticket); employee tickets never.
/// A new update never pushes out a ticket.
pub fn admit(queued: &[Kind], new: Kind, max: usize) -> Admission {
    let excess = (queued.len() + 1).saturating_sub(max.max(1));
    if excess == 0 {
        return Admission::Accept { drop: Vec::new() };
    }
    let of = |kind: Kind| {
        queued
            .iter()
            .enumerate()
            .filter(move |(_, k)| **k == kind)
            .map(|(i, _)| i)
    };
    let victims: Vec<usize> = match new {
        Kind::Update => of(Kind::Update).take(excess).collect(),
        Kind::AlertTicket | Kind::EmployeeTicket => of(Kind::Update)
            .chain(of(Kind::AlertTicket))
            .take(excess)
            .collect(),
    };
    if victims.len() == excess {
        Admission::Accept { drop: victims }
    } else if new == Kind::EmployeeTicket {
        Admission::Refuse
    } else {
        Admission::DropNew
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::*;

    #[test]
    fn names_round_trip_and_sort_in_queue_order() {
        let a = Name {
            seq: 5,
            kind: EmployeeTicket,
            id: Uuid::new_v4(),
        };
        let b = Name {
            seq: 40,
            kind: Update,
            id: Uuid::new_v4(),
        };
        assert_eq!(Name::parse(&a.file_name()), Some(a.clone()));
        assert!(a.file_name() < b.file_name(), "names sort as text, too");
        assert!(a < b);
        for junk in [
            ".tmp-123",
            "notes.txt",
            "1-employee-x.msg",
            "0000000000000000000x-update-00000000-0000-0000-0000-000000000000.msg",
            "00000000000000000001-other-00000000-0000-0000-0000-000000000000.msg",
        ] {
            assert_eq!(Name::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn sequence_numbers_never_go_back() {
        assert_eq!(next_seq(100, None), 100);
        assert_eq!(next_seq(100, Some(50)), 100);
        assert_eq!(next_seq(100, Some(100)), 101);
        assert_eq!(next_seq(100, Some(500)), 501);
        assert_eq!(next_seq(0, Some(u64::MAX)), u64::MAX);
    }

    #[test]
    fn below_the_bound_everything_is_accepted() {
        let queued = [EmployeeTicket, Update];
        assert_eq!(
            admit(&queued, EmployeeTicket, 3),
            Admission::Accept { drop: vec![] }
        );
    }

    #[test]
    fn at_the_bound_the_oldest_update_goes_first() {
        let queued = [EmployeeTicket, AlertTicket, Update, Update];
        assert_eq!(
            admit(&queued, EmployeeTicket, 4),
            Admission::Accept { drop: vec![2] }
        );
        assert_eq!(
            admit(&queued, Update, 4),
            Admission::Accept { drop: vec![2] }
        );
        // Over the bound (it was lowered): as many as needed.
        assert_eq!(
            admit(&queued, AlertTicket, 2),
            Admission::Accept {
                drop: vec![2, 3, 1]
            }
        );
    }

    #[test]
    fn alert_tickets_go_only_once_no_update_is_left_and_only_for_a_ticket() {
        let queued = [AlertTicket, EmployeeTicket, AlertTicket];
        assert_eq!(
            admit(&queued, EmployeeTicket, 3),
            Admission::Accept { drop: vec![0] }
        );
        assert_eq!(
            admit(&queued, AlertTicket, 3),
            Admission::Accept { drop: vec![0] }
        );
        assert_eq!(admit(&queued, Update, 3), Admission::DropNew);
    }

    #[test]
    fn employee_tickets_are_never_dropped() {
        let queued = [EmployeeTicket, EmployeeTicket];
        assert_eq!(admit(&queued, EmployeeTicket, 2), Admission::Refuse);
        assert_eq!(admit(&queued, AlertTicket, 2), Admission::DropNew);
        assert_eq!(admit(&queued, Update, 2), Admission::DropNew);
        assert_eq!(
            admit(&[], EmployeeTicket, 0),
            Admission::Accept { drop: vec![] }
        );
    }
}
