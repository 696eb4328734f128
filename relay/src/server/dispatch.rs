//! One request in, its answer out:
//!
//! ```text
//! current peer (fresh roles) ─► route (route.rs) ─► authorize (authz.rs)
//!     ─► handler (handlers/*) ─► audit entry, if the route says the
//!        dispatcher records it ─► the one response (unary requests)
//! ```
//!
//! A refusal by authorization changes nothing and is recorded under the
//! route's subject, whoever records the request otherwise. Streamed
//! requests write their own frames and audit entries. Every request is
//! counted and timed here, by kind and outcome (`crate::metrics`).

use super::handlers::{
    admin, agents, desk_report, kb, notify, queue, scripts, sla, tickets, transfers, watch,
};
use super::request::{to_remote, AuditNote, Peer, Responder};
use super::route::{route, AuditRule};
use super::{authz, login_budget, revoke, Shared};
use crate::audit::{self, Subject};
use crate::metrics::{Outcome, StoreQuery};
use crate::store::StoreError;
use serde_json::{json, Value};
use std::time::Instant;
use tracing::info;
use triage_shared::protocol::{Request, RequestKind, Response, SessionIdentity};
use triage_shared::time::Timestamp;

/// Whether a refusal of an unenrolled peer gets its own audit entry: at
/// most `REFUSED_ENROLLMENTS_PER_WINDOW` a minute, the next one recorded
/// saying how many were skipped (anyone with a key can be refused, so
/// every refusal recorded would let a stranger grow the log without end).
fn within_refusal_budget(shared: &Shared, peer: &Peer, refused: bool, details: &mut Value) -> bool {
    if !refused || !matches!(peer.identity, SessionIdentity::Unenrolled) {
        return true;
    }
    match shared.refused_enrollments.admit(std::time::Instant::now()) {
        login_budget::Admission::Record { suppressed } => {
            if suppressed > 0 {
                details["refused_unenrolled_not_recorded_before_this"] = suppressed.into();
            }
            true
        }
        login_budget::Admission::Suppress => false,
    }
}

/// Whether a request reached its handler (its outcome is then what it
/// answered) or was turned away before.
enum Reached {
    Handler,
    Refused,
}

/// `recv` is the rest of the request stream: a followed log pull reads its
/// end as "stop"; other requests ignore it.
///
/// The one place requests are counted and timed (`triage_requests_total`,
/// `triage_request_duration_seconds`): three relaxed atomic adds, and two
/// more for the peer lookup's store latency.
pub(super) async fn execute(
    shared: &Shared,
    peer: &Peer,
    request: Request,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let started = Instant::now();
    let kind = RequestKind::from(&request);
    let outcome = match run(shared, peer, request, recv, out).await {
        Reached::Refused => Outcome::Refused,
        Reached::Handler => out.error_sent().map_or(Outcome::Ok, Outcome::Error),
    };
    shared
        .metrics
        .requests
        .record(kind, outcome, started.elapsed());
}

async fn run(
    shared: &Shared,
    peer: &Peer,
    request: Request,
    recv: quinn::RecvStream,
    out: &mut Responder,
) -> Reached {
    // Roles and removal as the store holds them now, not as at the hello.
    let looked_up = Instant::now();
    let current = revoke::current_peer(shared, peer).await;
    if !matches!(peer.identity, SessionIdentity::Unenrolled) {
        shared
            .store
            .metrics()
            .query(StoreQuery::PeerAccess, looked_up.elapsed());
    }
    let peer = match current {
        Ok(current) => current,
        Err(refusal) => {
            info!(reason = %refusal, "request refused: the peer's access changed");
            out.send(&Response::Error(refusal)).await;
            return Reached::Refused;
        }
    };
    let peer = &peer;
    let route = route(&request);
    let actor = peer.audit_actor();
    if let Err(refusal) = authz::authorize_audience(&peer.identity, request.name(), route.audience)
    {
        info!(reason = %refusal, "request refused");
        if let Some(Subject { action, target }) = route.audit.subject() {
            let outcome = audit::refused(&refusal);
            let mut details = json!({});
            if within_refusal_budget(shared, peer, true, &mut details) {
                audit::record(&shared.store, &actor, action, target, &outcome, details).await;
            }
        }
        out.send(&Response::Error(refusal)).await;
        return Reached::Refused;
    }
    let mut note = AuditNote::default();
    let result = match handle(shared, peer, request, recv, out, &mut note).await {
        Answer::Streamed => return Reached::Handler,
        Answer::Unary(result) => result,
    };
    let response = result.map_err(to_remote);
    if let AuditRule::Dispatcher(Subject { action, target }) = &route.audit {
        let outcome = match (&response, note.outcome) {
            (Err(e), _) => audit::refused(e),
            (Ok(_), Some(outcome)) => outcome,
            (Ok(_), None) => "ok".into(),
        };
        let mut details = if note.details.is_null() {
            json!({})
        } else {
            note.details
        };
        if within_refusal_budget(shared, peer, response.is_err(), &mut details) {
            audit::record(&shared.store, &actor, action, target, &outcome, details).await;
        }
    }
    let response = match response {
        Ok(r) => r,
        Err(refusal) => {
            info!(reason = %refusal, "request refused");
            Response::Error(refusal)
        }
    };
    out.send(&response).await;
    Reached::Handler
}

/// How a handler answered (the route's `Shape`).
enum Answer {
    /// One response, which the dispatcher records and sends.
    Unary(Result<Response, StoreError>),
    /// The handler sent every frame and wrote its own audit entries.
    Streamed,
}

/// The handler of each request, by domain.
async fn handle(
    shared: &Shared,
    peer: &Peer,
    request: Request,
    recv: quinn::RecvStream,
    out: &mut Responder,
    note: &mut AuditNote,
) -> Answer {
    let now = Timestamp::now();
    let answer = match request {
        Request::WhoAmI => Ok(Response::Identity(peer.identity.clone())),

        Request::SubmitTicket { ticket, snapshot } => {
            tickets::submit(shared, peer, ticket, snapshot, now).await
        }
        Request::ListTickets { status, limit } => tickets::list(shared, status, limit).await,
        Request::ShowTicket { id } => tickets::show(shared, id).await,
        Request::Comment { id, text } => tickets::comment(shared, peer, id, &text, now).await,
        Request::Note { id, text } => tickets::note(shared, peer, id, &text, now).await,
        Request::Assign { id, assignee } => tickets::assign(shared, peer, id, &assignee, now).await,
        Request::Escalate { id, note: text } => {
            tickets::escalate(shared, peer, id, text.as_deref(), now).await
        }
        Request::ChangeStatus {
            id,
            action,
            note: text,
        } => tickets::change_status(shared, peer, id, action, text.as_deref(), now).await,
        Request::SetPriority {
            id,
            priority,
            note: text,
        } => tickets::set_priority(shared, peer, id, priority, text.as_deref(), now).await,
        Request::ShowSla => sla::show(shared),
        Request::SetSla { text } => sla::set(shared, &text),
        Request::MyTickets { requester, limit } => {
            tickets::my_tickets(shared, peer, &requester, limit).await
        }
        Request::SubmitUpdate { id, ticket, update } => {
            tickets::submit_update(shared, peer, id, ticket, update, now, note).await
        }
        Request::TicketNews { since } => tickets::ticket_news(shared, peer, since, now).await,

        Request::Enroll {
            token_secret,
            hostname,
            os,
        } => agents::enroll(shared, peer, &token_secret, &hostname, &os, now, note).await,
        Request::Heartbeat => agents::heartbeat(shared, peer, now).await,
        Request::ListAgents => agents::list(shared).await,
        Request::ListAgentsPage { after, limit } => {
            agents::page(shared, after.as_ref(), limit).await
        }
        Request::ResolveAgent { selector } => agents::resolve(shared, &selector).await,
        Request::ResolveTicket { reference } => tickets::resolve(shared, &reference).await,
        Request::PingAgent { agent } => agents::ping(shared, agent).await,
        Request::ListTicketsPage {
            filter,
            sort,
            after,
            limit,
        } => queue::list_page(shared, peer, &filter, sort, after.as_ref(), limit, now).await,
        Request::SearchTickets {
            query,
            filter,
            limit,
        } => queue::search(shared, peer, &query, &filter, limit, now).await,
        Request::SimilarTickets { ticket, limit } => queue::similar(shared, ticket, limit).await,
        Request::ListAgentsFiltered {
            filter,
            after,
            limit,
        } => agents::filtered(shared, &filter, after.as_ref(), limit).await,
        Request::CountAgents { filter } => agents::count(shared, &filter).await,
        Request::WatchQueue { filter, after } => {
            watch::watch(shared, peer, filter, after, recv, out).await;
            return Answer::Streamed;
        }
        Request::Diagnose {
            agent,
            sections,
            attach,
        } => agents::diagnose(shared, peer, agent, sections, attach, note).await,

        Request::RegisterTechnician {
            name,
            roles,
            public_key,
        } => admin::register_technician(shared, peer, &name, &roles, public_key, now).await,
        Request::CreateEnrollmentToken { uses, ttl_secs } => {
            admin::create_token(shared, peer, uses, ttl_secs, now).await
        }
        Request::ListTechnicians => admin::list_technicians(shared).await,
        Request::ListAudit {
            after_seq,
            since,
            limit,
        } => admin::list_audit(shared, after_seq, since, limit).await,
        Request::ExportRoster { validity_secs } => {
            admin::export_roster(shared, validity_secs, now).await
        }
        Request::PublishRoster { roster } => {
            admin::publish_roster(shared, peer, &roster, now).await
        }
        Request::CurrentRoster => admin::current_roster(shared).await,
        Request::PublishRotation { rotation } => {
            admin::publish_rotation(shared, peer, &rotation, now).await
        }
        Request::RemoveTechnician { name } => {
            admin::remove_technician(shared, peer, &name, now).await
        }
        Request::SetTechnicianRoles { name, roles } => {
            admin::set_technician_roles(shared, peer, &name, &roles).await
        }
        Request::RemoveAgent { agent } => admin::remove_agent(shared, peer, agent, now).await,
        Request::ListTokens => admin::list_tokens(shared).await,
        Request::RevokeToken { id } => admin::revoke_token(shared, peer, &id, now).await,

        Request::AttachScript { script, content } => {
            scripts::attach(shared, peer, script, content, now, note).await
        }
        Request::ListScripts { ticket } => scripts::list(shared, ticket, now).await,
        Request::ShowScript { ticket, script } => scripts::show(shared, ticket, script).await,
        Request::ApproveScript { ticket, approval } => {
            scripts::approve(shared, peer, ticket, approval, now, note).await
        }
        Request::RunScript { ticket, script } => {
            scripts::run(shared, peer, ticket, script, out).await;
            return Answer::Streamed;
        }

        Request::PullLogs {
            agent,
            query,
            attach,
        } => {
            transfers::pull_logs(shared, peer, agent, query, attach, recv, out).await;
            return Answer::Streamed;
        }
        Request::Screenshot { agent, attach } => {
            transfers::screenshot(shared, peer, agent, attach, recv, out).await;
            return Answer::Streamed;
        }
        Request::FetchAttachment { ticket, attachment } => {
            transfers::fetch_attachment(shared, peer, ticket, attachment, out).await;
            return Answer::Streamed;
        }

        Request::AddWebhook {
            url,
            events,
            secret,
        } => notify::add_webhook(shared, peer, &url, &events, secret.as_deref(), now, note).await,
        Request::ListWebhooks => notify::list_webhooks(shared).await,
        Request::RemoveWebhook { id } => notify::remove_webhook(shared, &id, now, note).await,
        Request::TestWebhook { id } => notify::test_webhook(shared, &id, now, note).await,
        Request::SetTechnicianEmail {
            name,
            address,
            events,
        } => notify::set_technician_email(shared, &name, address.as_deref(), &events, note).await,
        Request::SetTierEmail {
            tier,
            address,
            events,
        } => notify::set_tier_email(shared, tier, address.as_deref(), &events, note).await,
        Request::FollowTicket { id, follow } => {
            notify::follow_ticket(shared, peer, id, follow, now).await
        }

        Request::AddArticle { draft } => kb::add(shared, peer, draft, now).await,
        Request::ListArticles {
            filter,
            after,
            limit,
        } => kb::list(shared, filter, after, limit).await,
        Request::ShowArticle { id, version } => kb::show(shared, id, version).await,
        Request::SearchArticles { query, limit } => kb::search(shared, query, limit).await,
        Request::EditArticle { id, change } => kb::edit(shared, peer, id, change, now).await,
        Request::RetireArticle { id } => kb::retire(shared, peer, id, now).await,
        Request::ResolveWithArticle { id, note, article } => {
            kb::resolve_with_article(shared, peer, id, note.as_deref(), article, now).await
        }
        Request::TicketArticles { ticket } => kb::ticket_articles(shared, ticket).await,
        Request::DraftArticle { ticket } => kb::draft(shared, ticket).await,
        Request::SuggestArticles { text } => kb::suggest(shared, &text).await,
        Request::ReadArticle { id } => kb::read(shared, id).await,
        Request::RecordDeflection { deflection } => {
            kb::deflected(shared, peer, deflection, now).await
        }
        Request::DeskReport { window_ms, by } => {
            desk_report::report(shared, window_ms, by, now).await
        }
    };
    Answer::Unary(answer)
}
