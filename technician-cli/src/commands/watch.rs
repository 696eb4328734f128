//! `triage tickets watch`: the live queue.
//!
//! One watch stream per connection: the relay sends `Head` (the newest
//! event number), the CLI lists the tickets that match now, then prints
//! each event as it comes. When the connection drops (a relay restart, a
//! network blip) it connects again with [`Backoff`] and resumes after the
//! last event it printed, so nothing is lost or printed twice. Refusals
//! (a bad filter, an unknown `--agent`) end the watch: trying again would
//! only be refused again. Ctrl-C ends it cleanly.

use super::stream::ctrl_c;
use super::{connect, terminal_width, unexpected, Connected, Out};
use crate::args::WatchArgs;
use crate::error::CliError;
use crate::home::Home;
use crate::pager::Pager;
use crate::render::{self, WatchLine};
use std::time::Duration;
use triage_shared::client::ClientError;
use triage_shared::codec::{read_frame, write_frame};
use triage_shared::protocol::{ErrorKind, Request, Response};
use triage_shared::queue::{TicketFilter, TicketSort, WatchFrame};
use triage_shared::time::Timestamp;

/// The first wait before connecting again; it doubles after each failure.
pub const RECONNECT_FIRST: Duration = Duration::from_millis(500);
/// The longest wait between attempts to connect again.
pub const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// How long the relay may take to answer a watch with its `Head`.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Most tickets the opening list shows, whatever a relay hands out.
pub const MAX_OPENING_TICKETS: usize = super::tickets::MAX_LISTED_TICKETS;

/// Waits between attempts to connect again: [`RECONNECT_FIRST`], doubling
/// up to [`RECONNECT_MAX`], and back to the first once a watch is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: RECONNECT_FIRST,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(RECONNECT_MAX);
        wait
    }

    pub fn reset(&mut self) {
        self.next = RECONNECT_FIRST;
    }
}

/// Why one connection's watch ended.
#[derive(Debug)]
enum Ended {
    /// The connection or stream broke; worth connecting again.
    Lost(CliError),
    /// Refused, or something that will not get better by trying again.
    Fatal(CliError),
}

/// Errors a new connection may cure.
fn is_transient(e: &CliError) -> bool {
    matches!(
        e,
        CliError::Unreachable { .. } | CliError::Client(_) | CliError::NoAnswer { .. }
    )
}

impl From<CliError> for Ended {
    fn from(e: CliError) -> Self {
        if is_transient(&e) {
            Ended::Lost(e)
        } else {
            Ended::Fatal(e)
        }
    }
}

impl From<ClientError> for Ended {
    fn from(e: ClientError) -> Self {
        CliError::from(e).into()
    }
}

/// What the watch has shown so far, carried across connections.
#[derive(Debug, Default)]
struct Progress {
    /// The newest event number handled; `None` before the first `Head`.
    last: Option<u64>,
    /// Whether the opening list of tickets was printed.
    listed: bool,
}

pub async fn run(home: &Home, args: WatchArgs, out: Out<'_>) -> Result<(), CliError> {
    tokio::select! {
        result = follow(home, &args, out) => result,
        // Dropping the watch closes its connection; nothing is left to save.
        () = ctrl_c() => Ok(()),
    }
}

async fn follow(home: &Home, args: &WatchArgs, out: Out<'_>) -> Result<(), CliError> {
    let filter = args.filter.to_filter();
    let mut progress = Progress::default();
    let mut backoff = Backoff::default();
    loop {
        let reason =
            match watch_once(home, &filter, args.json, &mut progress, &mut backoff, out).await {
                Ended::Fatal(e) => return Err(e),
                // Before the first event number, there is nothing to resume:
                // a relay that cannot be reached at all is an error to report.
                Ended::Lost(e) if progress.last.is_none() => return Err(e),
                Ended::Lost(e) => e,
            };
        let wait = backoff.next_wait();
        eprintln!(
            "lost the connection to the relay ({reason}); connecting again in {:.1} s",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    }
}

/// One connection's watch, until it breaks or is refused.
async fn watch_once(
    home: &Home,
    filter: &TicketFilter,
    json: bool,
    progress: &mut Progress,
    backoff: &mut Backoff,
    out: Out<'_>,
) -> Ended {
    let conn = match connect(home).await {
        Ok(conn) => conn,
        Err(e) => return e.into(),
    };
    let ended = watch_on(&conn, filter, json, progress, backoff, out).await;
    conn.close().await;
    ended
}

async fn watch_on(
    conn: &Connected,
    filter: &TicketFilter,
    json: bool,
    progress: &mut Progress,
    backoff: &mut Backoff,
    out: Out<'_>,
) -> Ended {
    let request = Request::WatchQueue {
        filter: filter.clone(),
        after: progress.last,
    };
    let (mut send, mut recv) = match conn.session.connection().open_bi().await {
        Ok(stream) => stream,
        Err(e) => return ClientError::from(e).into(),
    };
    if let Err(e) = write_frame(&mut send, &request).await {
        return ClientError::from(e).into();
    }
    // The sending half stays open: finishing it tells the relay to stop.
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_frame::<_, Response>(&mut recv)).await
    {
        Err(_) => {
            return Ended::Lost(CliError::NoAnswer {
                what: "the watch",
                secs: HEAD_TIMEOUT.as_secs(),
            })
        }
        Ok(Ok(Some(Response::Watch(WatchFrame::Head { seq })))) => seq,
        Ok(Ok(Some(Response::Error(e)))) => return refused(e),
        Ok(Ok(Some(_))) => return Ended::Fatal(unexpected(&request)),
        Ok(Ok(None)) => return stream_ended(),
        Ok(Err(e)) => return ClientError::from(e).into(),
    };
    backoff.reset();
    match progress.last {
        Some(after) => {
            eprintln!("connected again; resuming after event {after}");
            if json {
                if let Err(e) = print(out, json_line(&WatchLine::Reconnected { after })) {
                    return Ended::Fatal(e);
                }
            }
        }
        None => progress.last = Some(head),
    }
    if !progress.listed {
        if let Err(e) = list_matching(conn, filter, json, out).await {
            return e.into();
        }
        progress.listed = true;
    }
    loop {
        let frame = match read_frame::<_, Response>(&mut recv).await {
            Ok(Some(Response::Watch(frame))) => frame,
            Ok(Some(Response::Error(e))) => return refused(e),
            Ok(Some(_)) => return Ended::Fatal(unexpected(&request)),
            Ok(None) => return stream_ended(),
            Err(e) => return ClientError::from(e).into(),
        };
        let text = match &frame {
            WatchFrame::Head { .. } => continue,
            WatchFrame::Event(event) => {
                progress.last = Some(event.seq);
                if json {
                    json_line(&WatchLine::Event(event))
                } else {
                    Ok(render::watch_event_line(event))
                }
            }
            &WatchFrame::Lagged {
                skipped,
                resume_after,
            } => {
                progress.last = Some(resume_after);
                if json {
                    json_line(&WatchLine::Lagged {
                        skipped,
                        resume_after,
                    })
                } else {
                    Ok(render::watch_lagged_line(skipped))
                }
            }
        };
        if let Err(e) = print(out, text) {
            return Ended::Fatal(e);
        }
    }
}

/// A relay refusal ends the watch, except when the relay is only busy or
/// briefly without its store.
fn refused(e: triage_shared::protocol::RemoteError) -> Ended {
    match e.kind {
        ErrorKind::Unavailable | ErrorKind::Internal => Ended::Lost(e.into()),
        _ => Ended::Fatal(e.into()),
    }
}

/// The relay finished the stream without a refusal (it is shutting down).
fn stream_ended() -> Ended {
    Ended::Lost(CliError::Client(ClientError::Protocol(
        "the relay ended the watch stream".into(),
    )))
}

fn json_line(line: &WatchLine<'_>) -> Result<String, CliError> {
    Ok(render::watch_json_line(line)?)
}

/// Writes one piece and flushes it, so a reader of a pipe sees each line
/// as it happens.
fn print(out: Out<'_>, text: Result<String, CliError>) -> Result<(), CliError> {
    out.write_all(text?.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The tickets `filter` selects now, newest first: the table of
/// `tickets list`, or one `{"ticket": …}` line each.
async fn list_matching(
    conn: &Connected,
    filter: &TicketFilter,
    json: bool,
    out: Out<'_>,
) -> Result<(), CliError> {
    let mut pager = Pager::new(None, MAX_OPENING_TICKETS, "ticket");
    let mut rows = Vec::new();
    while let Some((after, limit)) = pager.next() {
        let request = Request::ListTicketsPage {
            filter: filter.clone(),
            sort: TicketSort::Created,
            after,
            limit,
        };
        let page = match conn.ask(&request).await? {
            Response::TicketPage { tickets, next } => pager.take(tickets, next)?,
            _ => return Err(unexpected(&request)),
        };
        if json {
            for ticket in &page {
                print(out, json_line(&WatchLine::Ticket(ticket)))?;
            }
        } else {
            rows.extend(page);
        }
    }
    if !json {
        let table = render::ticket_table(&rows, Timestamp::now(), terminal_width());
        print(out, Ok(table))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_wait_longer_each_time_up_to_a_bound() {
        let mut backoff = Backoff::default();
        let waits: Vec<_> = (0..7).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), RECONNECT_FIRST);
    }

    #[test]
    fn only_connection_trouble_is_worth_connecting_again() {
        let lost = CliError::Unreachable {
            addr: "127.0.0.1:1".into(),
            detail: "timed out".into(),
        };
        assert!(matches!(Ended::from(lost), Ended::Lost(_)));
        let refused_filter = CliError::Relay("--status is given 9 times".into());
        assert!(matches!(Ended::from(refused_filter), Ended::Fatal(_)));
        let busy = triage_shared::protocol::RemoteError::new(ErrorKind::Unavailable, "busy");
        assert!(matches!(refused(busy), Ended::Lost(_)));
        let bad = triage_shared::protocol::RemoteError::new(ErrorKind::InvalidInput, "bad");
        assert!(matches!(refused(bad), Ended::Fatal(_)));
    }
}
