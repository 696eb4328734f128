//! Agent requests: enrollment (a token for an agent id bound to the key),
//! heartbeats and the technicians' agent list. Live diagnostics (`diag`)
//! and pings (`ping`) sit beside this.

use super::presence::{self, OfflineScan, ScanStep, OFFLINE_SCAN_BUDGET};
use super::queue::{capped, split_page};
use crate::resolve::{self, AGENT_PAGE_LEN};
use crate::server::request::{AuditNote, Peer};
use crate::server::Shared;
use crate::store::{AgentRecord, StoreError};
use serde_json::json;
use tracing::info;
use triage_shared::limits::{MAX_LIST_ITEMS, MAX_NAME_LEN, MAX_SNAPSHOT_STRING_LEN};
use triage_shared::protocol::{AgentSummary, ErrorKind, RemoteError, Response};
use triage_shared::queue::{AgentFilter, Presence};
use triage_shared::selector::{AgentCursor, AgentSelector};
use triage_shared::ticket::check_text;
use triage_shared::time::Timestamp;
use triage_shared::token::{EnrollmentToken, TokenSecret};

pub(in crate::server) use super::diag::diagnose;
pub(in crate::server) use super::ping::ping;

#[allow(clippy::too_many_arguments)] // the fields of the request, plus where it is recorded
pub(in crate::server) async fn enroll(
    shared: &Shared,
    peer: &Peer,
    token_secret: &str,
    hostname: &str,
    os: &str,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    check_text("hostname", hostname, MAX_NAME_LEN, false)?;
    check_text("os", os, MAX_SNAPSHOT_STRING_LEN, true)?;
    let secret = parse_secret(token_secret)?;
    let agent_id = shared
        .store
        .enroll(&secret.hash_hex(), &peer.key, hostname, os, now)
        .await?;
    note.details = json!({ "agent_id": agent_id.to_string(), "os": os });
    info!(%agent_id, %hostname, "agent enrolled");
    Ok(Response::Enrolled { agent_id })
}

pub(in crate::server) async fn heartbeat(
    shared: &Shared,
    peer: &Peer,
    now: Timestamp,
) -> Result<Response, StoreError> {
    shared.store.touch_agent(peer.agent_id()?, now).await?;
    Ok(Response::Ok)
}

/// The first page only; `page` has the rest.
pub(in crate::server) async fn list(shared: &Shared) -> Result<Response, StoreError> {
    let agents = shared.store.list_agents(MAX_LIST_ITEMS).await?;
    let summaries = agents.into_iter().map(|a| summary(shared, a)).collect();
    Ok(Response::Agents(summaries))
}

pub(in crate::server) async fn page(
    shared: &Shared,
    after: Option<&AgentCursor>,
    limit: u32,
) -> Result<Response, StoreError> {
    let (agents, next) = resolve::agent_page(&shared.store, after, limit).await?;
    let agents = agents.into_iter().map(|a| summary(shared, a)).collect();
    Ok(Response::AgentPage { agents, next })
}

pub(in crate::server) async fn resolve(
    shared: &Shared,
    selector: &AgentSelector,
) -> Result<Response, StoreError> {
    let agent = resolve::agent(&shared.store, selector).await?;
    Ok(Response::AgentMatch(summary(shared, agent)))
}

pub(in crate::server) async fn filtered(
    shared: &Shared,
    filter: &AgentFilter,
    after: Option<&AgentCursor>,
    limit: u32,
) -> Result<Response, StoreError> {
    filter.check()?;
    if let Some(cursor) = after {
        cursor.check()?;
    }
    let len = capped(limit, AGENT_PAGE_LEN as u32);
    let (agents, next) = match filter.presence {
        Presence::Any => {
            let fetched = shared
                .store
                .list_agents_filtered(filter, after, len + 1)
                .await?;
            split_page(fetched, len, presence::cursor_of)
        }
        Presence::Online => {
            let online = shared
                .store
                .agents_among(&shared.registry.online_agents(), filter)
                .await?;
            split_page(
                presence::online_page(online, after, len),
                len,
                presence::cursor_of,
            )
        }
        Presence::Offline => offline_page(shared, filter, after, len).await?,
    };
    let agents = agents.into_iter().map(|a| summary(shared, a)).collect();
    Ok(Response::AgentPage { agents, next })
}

/// Scans the store's pages for offline endpoints, within the budget.
async fn offline_page(
    shared: &Shared,
    filter: &AgentFilter,
    after: Option<&AgentCursor>,
    len: usize,
) -> Result<(Vec<AgentRecord>, Option<AgentCursor>), StoreError> {
    let mut scan = OfflineScan::new(len, OFFLINE_SCAN_BUDGET);
    let mut after = after.cloned();
    let mut batch = scan.first_batch();
    loop {
        let rows = shared
            .store
            .list_agents_filtered(filter, after.as_ref(), batch)
            .await?;
        match scan.feed(rows, batch, |id| shared.registry.is_online(id)) {
            ScanStep::More {
                after: more,
                batch: next_batch,
            } => {
                after = Some(more);
                batch = next_batch;
            }
            ScanStep::Done { agents, next } => return Ok((agents, next)),
        }
    }
}

pub(in crate::server) async fn count(
    shared: &Shared,
    filter: &AgentFilter,
) -> Result<Response, StoreError> {
    filter.check()?;
    let matching = shared.store.count_agents_matching(filter).await?;
    let online = shared
        .store
        .agents_among(&shared.registry.online_agents(), filter)
        .await?
        .len() as u64;
    Ok(Response::AgentCount(presence::count(
        filter.presence,
        matching,
        online,
    )))
}

/// An agent as technicians see it listed: with whether it is connected now.
fn summary(shared: &Shared, agent: AgentRecord) -> AgentSummary {
    AgentSummary {
        online: shared.registry.is_online(agent.id),
        id: agent.id,
        hostname: agent.hostname,
        os: agent.os,
        enrolled_at: agent.enrolled_at,
        last_seen: agent.last_seen,
    }
}

/// Accepts the bare 64-hex secret, or a whole token pasted as it was handed out.
fn parse_secret(text: &str) -> Result<TokenSecret, RemoteError> {
    let text = text.trim();
    let parsed = match text.parse::<EnrollmentToken>() {
        Ok(token) => Ok(token.secret),
        Err(_) => TokenSecret::from_hex(text),
    };
    parsed.map_err(|_| {
        RemoteError::new(
            ErrorKind::InvalidToken,
            "this is not an enrollment token; copy the whole token printed by `triage-relay token`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_secret_is_read_bare_or_from_a_whole_token() {
        let secret = TokenSecret::generate();
        assert_eq!(parse_secret(&secret.to_hex()).unwrap(), secret);
        let whole = format!(
            "triage://relay:4433?fp={}&token={}",
            "ab".repeat(32),
            secret.to_hex()
        );
        assert_eq!(parse_secret(&whole).unwrap(), secret);
        assert_eq!(
            parse_secret("nonsense").unwrap_err().kind,
            ErrorKind::InvalidToken
        );
    }
}
