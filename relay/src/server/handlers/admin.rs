//! Admin requests: technicians and their roles, enrollment tokens, the
//! audit log, the org roster and key rotations, and revocation. Most of
//! the work is in `crate::admin`, `crate::org` and `crate::revocation`,
//! shared with the offline commands and `RelayHandle`, which also write
//! the audit entries; a removal here also closes the removed peer's
//! connections at once.

use crate::server::handshake;
use crate::server::request::{list_limit, Peer};
use crate::server::Shared;
use crate::store::StoreError;
use crate::{admin, audit, org, revocation};
use std::time::Duration;
use triage_shared::approval::roster::SignedRotation;
use triage_shared::approval::SignedRoster;
use triage_shared::identity::PublicKey;
use triage_shared::limits::{MAX_FRAME_LEN, MAX_LIST_ITEMS};
use triage_shared::protocol::Response;
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;
use triage_shared::AgentId;

/// Room left in a frame for everything but the audit entries of a page.
const AUDIT_PAGE_BUDGET: usize = MAX_FRAME_LEN - 64 * 1024;

pub(in crate::server) async fn register_technician(
    shared: &Shared,
    peer: &Peer,
    name: &str,
    roles: &[Role],
    public_key: PublicKey,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let by = peer.audit_actor();
    admin::register_technician(&shared.store, name, roles, public_key, &by, now).await?;
    Ok(Response::Ok)
}

pub(in crate::server) async fn create_token(
    shared: &Shared,
    peer: &Peer,
    uses: u32,
    ttl_secs: u64,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let ttl = Duration::from_secs(ttl_secs);
    let by = peer.audit_actor();
    // No org key from here: the store may have been changed. The
    // technician's CLI adds the key it pinned itself.
    let request = admin::TokenRequest {
        uses,
        ttl,
        org: None,
    };
    let (token, expires_at) =
        admin::mint_token(&shared.store, &shared.locator, request, &by, now).await?;
    Ok(Response::Token {
        token: token.to_string(),
        expires_at,
        uses,
    })
}

pub(in crate::server) async fn list_technicians(shared: &Shared) -> Result<Response, StoreError> {
    Ok(Response::Technicians(
        shared.store.list_technicians(MAX_LIST_ITEMS).await?,
    ))
}

pub(in crate::server) async fn list_audit(
    shared: &Shared,
    after_seq: u64,
    since: Option<Timestamp>,
    limit: u32,
) -> Result<Response, StoreError> {
    let entries = shared
        .store
        .audit_entries(after_seq, since, list_limit(limit))
        .await?;
    Ok(Response::Audit(audit::fit_page(entries, AUDIT_PAGE_BUDGET)))
}

pub(in crate::server) async fn export_roster(
    shared: &Shared,
    validity_secs: u64,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let validity = Duration::from_secs(validity_secs);
    let roster = org::export_roster(&shared.store, now, validity).await?;
    Ok(Response::RosterDraft(Box::new(roster)))
}

pub(in crate::server) async fn publish_roster(
    shared: &Shared,
    peer: &Peer,
    roster: &SignedRoster,
    now: Timestamp,
) -> Result<Response, StoreError> {
    org::publish_roster(&shared.store, roster, &peer.audit_actor(), now).await?;
    shared.roster_published.notify_one();
    Ok(Response::Ok)
}

pub(in crate::server) async fn current_roster(shared: &Shared) -> Result<Response, StoreError> {
    Ok(Response::CurrentRoster(
        shared.store.latest_roster().await?.map(Box::new),
    ))
}

pub(in crate::server) async fn publish_rotation(
    shared: &Shared,
    peer: &Peer,
    rotation: &SignedRotation,
    now: Timestamp,
) -> Result<Response, StoreError> {
    org::publish_rotation(&shared.store, rotation, &peer.audit_actor(), now).await?;
    Ok(Response::Ok)
}

pub(in crate::server) async fn remove_technician(
    shared: &Shared,
    peer: &Peer,
    name: &str,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let removed =
        revocation::remove_technician(&shared.store, name, &peer.audit_actor(), now).await?;
    let refusal = handshake::technician_removed(&removed.name, now);
    shared.revocations.announce(removed.public_key, &refusal);
    Ok(Response::Ok)
}

pub(in crate::server) async fn set_technician_roles(
    shared: &Shared,
    peer: &Peer,
    name: &str,
    roles: &[Role],
) -> Result<Response, StoreError> {
    revocation::set_technician_roles(&shared.store, name, roles, &peer.audit_actor()).await?;
    Ok(Response::Ok)
}

pub(in crate::server) async fn remove_agent(
    shared: &Shared,
    peer: &Peer,
    agent: AgentId,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let removed = revocation::remove_agent(&shared.store, agent, &peer.audit_actor(), now).await?;
    let refusal = handshake::agent_removed(removed.id, &removed.hostname, now);
    shared.revocations.announce(removed.public_key, &refusal);
    Ok(Response::Ok)
}

pub(in crate::server) async fn list_tokens(shared: &Shared) -> Result<Response, StoreError> {
    Ok(Response::Tokens(
        shared.store.list_tokens(MAX_LIST_ITEMS).await?,
    ))
}

pub(in crate::server) async fn revoke_token(
    shared: &Shared,
    peer: &Peer,
    id: &str,
    now: Timestamp,
) -> Result<Response, StoreError> {
    revocation::revoke_token(&shared.store, id, &peer.audit_actor(), now).await?;
    Ok(Response::Ok)
}
