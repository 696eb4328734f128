//! Walking a list the relay hands out a page at a time (endpoints,
//! tickets): what to ask next, and checks that each page moves forward, so
//! a relay that repeats a cursor or sends empty pages without end cannot
//! keep the CLI asking.

use crate::error::CliError;

/// Pages in a row that may come back empty while the relay says more
/// follow: a filtered endpoint list skips what does not match a page at a
/// time, so a few are normal; thousands are not.
pub const MAX_EMPTY_PAGES: u32 = 1000;

#[derive(Debug)]
pub struct Pager<C> {
    taken: usize,
    limit: usize,
    after: Option<C>,
    done: bool,
    empty_run: u32,
    what: &'static str,
}

impl<C: Clone + PartialEq> Pager<C> {
    /// Up to `limit` items (all, up to `max`, when `None`) of the list of
    /// `what` ("endpoint", "ticket"), named in errors.
    pub fn new(limit: Option<usize>, max: usize, what: &'static str) -> Pager<C> {
        Pager {
            taken: 0,
            limit: limit.unwrap_or(max).min(max),
            after: None,
            done: limit == Some(0),
            empty_run: 0,
            what,
        }
    }

    /// Where the next page starts and how many to ask for, or `None` when
    /// the walk is over.
    pub fn next(&self) -> Option<(Option<C>, u32)> {
        (!self.done).then(|| {
            let wanted = u32::try_from(self.limit - self.taken).unwrap_or(u32::MAX);
            (self.after.clone(), wanted)
        })
    }

    /// Takes one page and where the next starts; returns the items that
    /// fit the limit.
    pub fn take<T>(&mut self, mut page: Vec<T>, next: Option<C>) -> Result<Vec<T>, CliError> {
        let stalled = next.is_some() && next == self.after;
        self.empty_run = if page.is_empty() {
            self.empty_run + 1
        } else {
            0
        };
        if stalled || (next.is_some() && self.empty_run > MAX_EMPTY_PAGES) {
            return Err(CliError::Relay(format!(
                "the relay's {} list did not move on to a next page; try again, and tell the relay admin if it persists",
                self.what
            )));
        }
        page.truncate(self.limit - self.taken);
        self.taken += page.len();
        self.after = next;
        self.done = self.after.is_none() || self.taken >= self.limit;
        Ok(page)
    }

    pub fn taken(&self) -> usize {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_fetched_until_the_relay_says_it_was_the_last() {
        let mut pager: Pager<u32> = Pager::new(None, 100, "ticket");
        assert_eq!(pager.next(), Some((None, 100)));
        assert_eq!(pager.take(vec!["a", "b"], Some(2)).unwrap(), ["a", "b"]);
        assert_eq!(pager.next(), Some((Some(2), 98)));
        assert_eq!(pager.take(vec!["c"], None).unwrap(), ["c"]);
        assert_eq!(pager.next(), None);
        assert_eq!(pager.taken(), 3);
    }

    #[test]
    fn a_limit_stops_the_paging_and_asks_for_no_more_than_it_needs() {
        let mut pager: Pager<u32> = Pager::new(Some(3), 100, "endpoint");
        assert_eq!(pager.next(), Some((None, 3)));
        pager.take(vec![1, 2], Some(2)).unwrap();
        assert_eq!(pager.next(), Some((Some(2), 1)));
        // A relay that sends more than asked is cut to the limit.
        assert_eq!(pager.take(vec![3, 4], Some(4)).unwrap(), [3]);
        assert_eq!(pager.next(), None);
        assert!(Pager::<u32>::new(Some(0), 10, "x").next().is_none());
        assert_eq!(
            Pager::<u32>::new(Some(50), 10, "x").next(),
            Some((None, 10))
        );
    }

    #[test]
    fn a_relay_that_does_not_move_on_is_refused() {
        let mut pager: Pager<u32> = Pager::new(None, 100, "endpoint");
        pager.take(vec![1], Some(1)).unwrap();
        let err = pager.take(vec![1], Some(1)).unwrap_err();
        assert!(
            err.to_string().contains("endpoint list did not move on"),
            "{err}"
        );
        // Empty pages that move on are fine for a while, not for ever.
        let mut pager: Pager<u32> = Pager::new(None, 100, "endpoint");
        for cursor in 0..MAX_EMPTY_PAGES {
            pager.take(Vec::<u32>::new(), Some(cursor)).unwrap();
        }
        let err = pager
            .take(Vec::<u32>::new(), Some(MAX_EMPTY_PAGES))
            .unwrap_err();
        assert!(matches!(err, CliError::Relay(_)), "{err}");
        // An empty last page ends the walk.
        let mut pager: Pager<u32> = Pager::new(None, 100, "ticket");
        pager.take(Vec::<u32>::new(), None).unwrap();
        assert!(pager.next().is_none());
    }
}
