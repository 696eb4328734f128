//! `triage audit`: list the relay's audit log, export it as JSON lines, or
//! verify its hash chain here, on the technician's machine (the relay is
//! not trusted to say its own log is intact). Paging, verification and the
//! remembered head are in [`crate::audit_log`].
//!
//! Every read of the log checks that the relay still has the newest entry
//! this CLI saw before, unchanged, and then remembers the newest entry it
//! sees now (the home's `audit-head`).

use super::{connect, print_json, terminal_width, unexpected, Connected, Out};
use crate::args::{AuditArgs, AuditCommand, AuditExportArgs};
use crate::audit_log::{self, AuditPager, HeadTracker, Newest, AUDIT_PAGE};
use crate::error::CliError;
use crate::home::Home;
use crate::receive::PartialFile;
use crate::render;
use std::time::Duration;
use triage_shared::audit::AuditEntry;
use triage_shared::protocol::Response;
use triage_shared::time::Timestamp;

pub async fn run(home: &Home, args: AuditArgs, out: Out<'_>) -> Result<(), CliError> {
    let conn = connect(home).await?;
    let result = execute(home, &conn, args, out).await;
    conn.close().await;
    result
}

async fn execute(
    home: &Home,
    conn: &Connected,
    args: AuditArgs,
    out: Out<'_>,
) -> Result<(), CliError> {
    let remembered = home.load_audit_head(&conn.relay.fingerprint)?;
    let mut head = HeadTracker::new(conn.relay.fingerprint.to_string(), remembered);
    if args.wants_verify() {
        let mut all = Vec::new();
        read_log(conn, None, &mut head, |page| {
            all.extend(page);
            Ok(())
        })
        .await?;
        let line = audit_log::verify(&all)?;
        settle_head(home, conn, &mut head).await?;
        writeln!(out, "{line}")?;
        return Ok(());
    }
    if let Some(AuditCommand::Export(export)) = args.command {
        return export_log(home, conn, export, &mut head, out).await;
    }
    let since = args.since.map(|d| since(Timestamp::now(), d));
    let mut newest = Newest::new(args.limit as usize);
    read_log(conn, since, &mut head, |page| {
        newest.extend(page);
        Ok(())
    })
    .await?;
    let entries = newest.into_vec();
    // Shown even when the check fails: the technician needs to see the log.
    let checked = settle_head(home, conn, &mut head).await;
    if args.json {
        print_json(out, &entries)?;
    } else {
        out.write_all(render::audit_table(&entries, terminal_width()).as_bytes())?;
    }
    checked
}

/// `triage audit export`: every entry from `--since` on, one JSON object a
/// line, written page by page (memory stays bounded however long the log).
async fn export_log(
    home: &Home,
    conn: &Connected,
    args: AuditExportArgs,
    head: &mut HeadTracker,
    out: Out<'_>,
) -> Result<(), CliError> {
    let since = args.since.map(|d| since(Timestamp::now(), d));
    match &args.output {
        None => {
            read_log(conn, since, head, |page| {
                for e in &page {
                    out.write_all(audit_log::export_line(e)?.as_bytes())?;
                }
                Ok(())
            })
            .await?;
            settle_head(home, conn, head).await
        }
        Some(path) => {
            // Named FILE only once every page arrived and the head checked out.
            let mut file = PartialFile::create(path)?;
            read_log(conn, since, head, |page| {
                for e in &page {
                    file.write(audit_log::export_line(e)?.as_bytes())?;
                }
                Ok(())
            })
            .await?;
            settle_head(home, conn, head).await?;
            file.commit()?;
            Ok(())
        }
    }
}

/// Checks the relay still has the remembered entry (fetching it if this
/// read did not include it) and remembers the newest one seen.
async fn settle_head(
    home: &Home,
    conn: &Connected,
    head: &mut HeadTracker,
) -> Result<(), CliError> {
    if let Some(request) = head.probe() {
        match conn.ask(&request).await? {
            Response::Audit(page) => head.probed(&page),
            _ => return Err(unexpected(&request)),
        }
    }
    if let Some(next) = head.finish()? {
        home.save_audit_head(&next)?;
    }
    Ok(())
}

/// Hands every entry at or after `since` to `take`, a page at a time, oldest first.
async fn read_log(
    conn: &Connected,
    since: Option<Timestamp>,
    head: &mut HeadTracker,
    mut take: impl FnMut(Vec<AuditEntry>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut pager = AuditPager::new(since, AUDIT_PAGE);
    while let Some(request) = pager.request() {
        match conn.ask(&request).await? {
            Response::Audit(page) => {
                pager.accept(&page)?;
                head.observe(&page);
                take(page)?;
            }
            _ => return Err(unexpected(&request)),
        }
    }
    Ok(())
}

/// The moment `ago` before `now`.
pub fn since(now: Timestamp, ago: Duration) -> Timestamp {
    let ms = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
    Timestamp(now.millis().saturating_sub(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_counts_back_from_now_without_overflow() {
        assert_eq!(
            since(Timestamp(10_000), Duration::from_secs(3)),
            Timestamp(7_000)
        );
        assert_eq!(since(Timestamp(0), Duration::MAX), Timestamp(-i64::MAX));
    }
}
