//! `triage audit`: list the relay's audit log, or verify its hash chain
//! here, on the technician's machine (the relay is not trusted to say its
//! own log is intact). Paging and verification are in [`crate::audit_log`].

use super::{connect, print_json, terminal_width, unexpected, Connected, Out};
use crate::args::AuditArgs;
use crate::audit_log::{self, AuditPager, Newest, AUDIT_PAGE};
use crate::error::CliError;
use crate::home::Home;
use crate::render;
use std::time::Duration;
use triage_shared::audit::AuditEntry;
use triage_shared::protocol::Response;
use triage_shared::time::Timestamp;

pub async fn run(home: &Home, args: AuditArgs, out: Out<'_>) -> Result<(), CliError> {
    let conn = connect(home).await?;
    let result = execute(&conn, args, out).await;
    conn.close().await;
    result
}

async fn execute(conn: &Connected, args: AuditArgs, out: Out<'_>) -> Result<(), CliError> {
    if args.wants_verify() {
        let mut all = Vec::new();
        read_log(conn, None, |page| all.extend(page)).await?;
        writeln!(out, "{}", audit_log::verify(&all)?)?;
        return Ok(());
    }
    let since = args.since.map(|d| since(Timestamp::now(), d));
    let mut newest = Newest::new(args.limit as usize);
    read_log(conn, since, |page| newest.extend(page)).await?;
    let entries = newest.into_vec();
    if args.json {
        return print_json(out, &entries);
    }
    out.write_all(render::audit_table(&entries, terminal_width()).as_bytes())?;
    Ok(())
}

/// Hands every entry at or after `since` to `take`, a page at a time, oldest first.
async fn read_log(
    conn: &Connected,
    since: Option<Timestamp>,
    mut take: impl FnMut(Vec<AuditEntry>),
) -> Result<(), CliError> {
    let mut pager = AuditPager::new(since, AUDIT_PAGE);
    while let Some(request) = pager.request() {
        match conn.ask(&request).await? {
            Response::Audit(page) => {
                pager.accept(&page)?;
                take(page);
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
