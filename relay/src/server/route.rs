//! Every request, described once: who may send it ([`Audience`]), what the
//! audit log keeps of it ([`AuditRule`]) and how it is answered ([`Shape`]).
//!
//! Pure, and exhaustive on purpose: there is no `_` arm, so a new request
//! does not compile until it has all three. `authz::authorize` reads the
//! audience from here, the dispatcher the audit rule. Adding a request:
//! a row here, a sample in the test below, a handler arm in `dispatch`.

use crate::audit::{agent_actor, technician_actor, Subject};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::protocol::Request;
use triage_shared::roles::Action;

/// The kind of peer a request is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    Anyone,
    Unenrolled,
    Agent,
    Technician(Action),
}

/// What the audit log keeps of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AuditRule {
    /// No entry; each row says why.
    Unaudited,
    /// The dispatcher records the outcome after the handler (refused or
    /// not), with what the handler adds in its `AuditNote`.
    Dispatcher(Subject),
    /// The handler records its own entries once past authorization: the
    /// ones shared with the offline commands (`crate::admin`, `org`,
    /// `revocation`) and the streamed ones, whose entry must land before
    /// the last frame. The dispatcher records only a refusal by
    /// authorization.
    Handler(Subject),
}

impl AuditRule {
    /// The subject an entry (at least a refusal) is recorded under.
    pub(super) fn subject(&self) -> Option<&Subject> {
        match self {
            AuditRule::Unaudited => None,
            AuditRule::Dispatcher(s) | AuditRule::Handler(s) => Some(s),
        }
    }
}

/// How a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One response frame, which the dispatcher sends.
    Unary,
    /// The handler writes every frame itself (and so its own audit entry,
    /// before the last one).
    Streamed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    pub audience: Audience,
    pub audit: AuditRule,
    pub shape: Shape,
}

fn unary(audience: Audience, audit: AuditRule) -> Route {
    Route {
        audience,
        audit,
        shape: Shape::Unary,
    }
}

fn streamed(audience: Audience, audit: AuditRule) -> Route {
    Route {
        audience,
        audit,
        shape: Shape::Streamed,
    }
}

fn by_dispatcher(action: &'static str, target: String) -> AuditRule {
    AuditRule::Dispatcher(Subject { action, target })
}

fn by_handler(action: &'static str, target: String) -> AuditRule {
    AuditRule::Handler(Subject { action, target })
}

/// The route of one request.
pub(super) fn route(request: &Request) -> Route {
    use Audience::{Agent, Anyone, Technician, Unenrolled};
    use AuditRule::Unaudited;
    match request {
        // Reads only the caller's own identity.
        Request::WhoAmI => unary(Anyone, Unaudited),
        Request::Enroll { hostname, .. } => unary(
            Unenrolled,
            by_dispatcher("enroll", format!("host:{hostname}")),
        ),
        // Too frequent to be worth an entry; it only moves `last_seen`.
        Request::Heartbeat => unary(Agent, Unaudited),
        // The ticket's own history records its filing.
        Request::SubmitTicket { .. } => unary(Agent, Unaudited),
        // Agent updates: comments and resolutions (health readings) are too
        // frequent and land in the ticket's history; a screenshot is bytes
        // from an endpoint stored on a ticket, like `--attach`.
        Request::SubmitUpdate { ticket, update, .. } => match update {
            AgentUpdate::Screenshot(_) => unary(
                Agent,
                by_dispatcher("ticket.screenshot", format!("ticket:{ticket}")),
            ),
            AgentUpdate::Comment(_) | AgentUpdate::Resolve(_) => unary(Agent, Unaudited),
            // The employee's own words and answers: the ticket's history
            // records them under `employee:NAME`.
            AgentUpdate::Reply { .. }
            | AgentUpdate::Fixed { .. }
            | AgentUpdate::NotFixed { .. } => unary(Agent, Unaudited),
            // Kept beside the ticket, which `tickets show` lists.
            AgentUpdate::ArticlesViewed { .. } => unary(Agent, Unaudited),
        },
        // Reads only what the agent itself filed.
        Request::MyTickets { .. } => unary(Agent, Unaudited),
        // Reads only what the agent itself filed, as its employees see it.
        Request::TicketNews { .. } => unary(Agent, Unaudited),

        // Reads.
        Request::ListTickets { .. } | Request::ShowTicket { .. } => {
            unary(Technician(Action::ViewTickets), Unaudited)
        }
        Request::Comment { id, .. } => unary(
            Technician(Action::CommentTicket),
            by_dispatcher("ticket.comment", format!("ticket:{id}")),
        ),
        // Hidden from the employee, so its entry must not read like a
        // public comment's.
        Request::Note { id, .. } => unary(
            Technician(Action::CommentTicket),
            by_dispatcher("ticket.note", format!("ticket:{id}")),
        ),
        // The ticket's history (events) records who did these.
        Request::Assign { .. } => unary(Technician(Action::AssignTicket), Unaudited),
        Request::Escalate { .. } => unary(Technician(Action::EscalateTicket), Unaudited),
        Request::ChangeStatus { .. } => unary(Technician(Action::ChangeTicketStatus), Unaudited),
        Request::SetPriority { .. } => unary(Technician(Action::ChangeTicketPriority), Unaudited),
        // Every technician works to the policy, so every one may read it.
        Request::ShowSla => unary(Technician(Action::ViewTickets), Unaudited),
        // A new policy moves every open ticket's due times.
        Request::SetSla { .. } => unary(
            Technician(Action::ManageSla),
            by_dispatcher("sla.set", "sla-policy".into()),
        ),

        // A read.
        Request::ListAgents => unary(Technician(Action::ViewAgents), Unaudited),
        // Reads: a page of the list, or the one endpoint or ticket a name
        // means. What is then done to it is audited by its own request.
        Request::ListAgentsPage { .. } => unary(Technician(Action::ViewAgents), Unaudited),
        Request::ResolveAgent { .. } => unary(Technician(Action::ViewAgents), Unaudited),
        Request::ResolveTicket { .. } => unary(Technician(Action::ViewTickets), Unaudited),
        // Reads of the queue, as `ListTickets` and `ShowTicket` are.
        Request::ListTicketsPage { .. }
        | Request::SearchTickets { .. }
        | Request::SimilarTickets { .. } => unary(Technician(Action::ViewTickets), Unaudited),
        // Reads of the endpoint list, as `ListAgentsPage` is.
        Request::ListAgentsFiltered { .. } | Request::CountAgents { .. } => {
            unary(Technician(Action::ViewAgents), Unaudited)
        }
        // A read that goes on: each event it shows is already in the
        // history of its ticket.
        Request::WatchQueue { .. } => streamed(Technician(Action::ViewTickets), Unaudited),
        // A liveness check that reads nothing on the endpoint and changes
        // nothing: whoever may see an agent listed as online may ask
        // whether it answers, as often as they like.
        Request::PingAgent { .. } => unary(Technician(Action::ViewAgents), Unaudited),
        // The handler writes the intent entry first; the outcome is the
        // dispatcher's.
        Request::Diagnose { agent, .. } => unary(
            Technician(Action::RunDiagnostics),
            by_dispatcher("diag", format!("agent:{agent}")),
        ),

        // Technicians pick assignees from this list; it holds nothing secret.
        Request::ListTechnicians => unary(Technician(Action::ViewTickets), Unaudited),
        // `crate::admin` records these, for the offline commands too.
        Request::RegisterTechnician { name, .. } => unary(
            Technician(Action::RegisterTechnician),
            by_handler("technician.register", format!("technician:{name}")),
        ),
        Request::CreateEnrollmentToken { .. } => unary(
            Technician(Action::CreateEnrollmentToken),
            by_handler("token.create", "enrollment-token".into()),
        ),
        // Reading the log does not grow it.
        Request::ListAudit { .. } => unary(Technician(Action::ViewAudit), Unaudited),
        // An unsigned draft; nothing changes until it is signed and published.
        Request::ExportRoster { .. } => unary(Technician(Action::ManageOrg), Unaudited),
        // `crate::org` records these, for the offline commands too.
        Request::PublishRoster { roster } => unary(
            Technician(Action::ManageOrg),
            by_handler(
                "roster.publish",
                format!("roster:{}", roster.roster.version),
            ),
        ),
        Request::PublishRotation { rotation } => unary(
            Technician(Action::ManageOrg),
            by_handler(
                "org.rotate",
                format!("org-key:{}", rotation.rotation.new_key),
            ),
        ),
        // Signed by the org key; every technician's CLI checks it before
        // approving. A read.
        Request::CurrentRoster => unary(Technician(Action::ViewTickets), Unaudited),
        // `crate::revocation` records these, for the offline commands too.
        Request::RemoveTechnician { name } => unary(
            Technician(Action::RemoveTechnician),
            by_handler("technician.remove", technician_actor(name)),
        ),
        Request::SetTechnicianRoles { name, .. } => unary(
            Technician(Action::SetTechnicianRoles),
            by_handler("technician.roles", technician_actor(name)),
        ),
        Request::RemoveAgent { agent } => unary(
            Technician(Action::RemoveAgent),
            by_handler("agent.remove", agent_actor(*agent)),
        ),
        // A read; never a secret.
        Request::ListTokens => unary(Technician(Action::ListTokens), Unaudited),
        Request::RevokeToken { id } => unary(
            Technician(Action::RevokeToken),
            by_handler("token.revoke", format!("token:{id}")),
        ),

        Request::AttachScript { script, .. } => unary(
            Technician(Action::AttachScript),
            by_dispatcher(
                "script.attach",
                format!("script:{}", script.manifest.script_id),
            ),
        ),
        // Anyone who works tickets may read the scripts on them; approvers
        // must, to review what they sign.
        Request::ListScripts { .. } | Request::ShowScript { .. } => {
            unary(Technician(Action::ViewTickets), Unaudited)
        }
        Request::ApproveScript { approval, .. } => unary(
            Technician(Action::ApproveScript),
            by_dispatcher(
                "script.approve",
                format!("script:{}", approval.approval.script_id),
            ),
        ),
        // Intent first, outcome before the last frame (`handlers::scripts`).
        Request::RunScript { script, .. } => streamed(
            Technician(Action::RunScript),
            by_handler("script.run", format!("script:{script}")),
        ),

        // Intent first, outcome before the last frame (`handlers::transfers`).
        Request::PullLogs { agent, .. } => streamed(
            Technician(Action::PullLogs),
            by_handler("log.pull", format!("agent:{agent}")),
        ),
        Request::Screenshot { agent, .. } => streamed(
            Technician(Action::TakeScreenshot),
            by_handler("screenshot", format!("agent:{agent}")),
        ),
        // Whoever may read a ticket may ask; the handler then checks the
        // attachment's kind against the role that makes such a file
        // (`authz::authorize_fetch`) and records the download.
        Request::FetchAttachment { ticket, .. } => streamed(
            Technician(Action::ViewTickets),
            by_handler("attachment.fetch", format!("ticket:{ticket}")),
        ),

        // Notifications decide what leaves the relay and where to: each
        // change is on record (never a secret, only whether one is set).
        // A password in the URL's user part is not for the log.
        Request::AddWebhook { url, .. } => unary(
            Technician(Action::ManageNotifications),
            by_dispatcher(
                "webhook.add",
                format!("url:{}", crate::store::redact_url(url)),
            ),
        ),
        // A read; secrets are never in it.
        Request::ListWebhooks => unary(Technician(Action::ManageNotifications), Unaudited),
        Request::RemoveWebhook { id } => unary(
            Technician(Action::ManageNotifications),
            by_dispatcher("webhook.remove", format!("webhook:{id}")),
        ),
        // It sends a request out of the relay, so it is on record too.
        Request::TestWebhook { id } => unary(
            Technician(Action::ManageNotifications),
            by_dispatcher("webhook.test", format!("webhook:{id}")),
        ),
        Request::SetTechnicianEmail { name, .. } => unary(
            Technician(Action::ManageNotifications),
            by_dispatcher("notify.email", technician_actor(name)),
        ),
        Request::SetTierEmail { tier, .. } => unary(
            Technician(Action::ManageNotifications),
            by_dispatcher("notify.tier_email", format!("tier:{tier}")),
        ),
        // A technician's own reading list: it sends them mail they chose
        // and shows nothing they could not already see.
        Request::FollowTicket { .. } => unary(Technician(Action::ViewTickets), Unaudited),

        // The knowledge base. Reads are every technician's; each version
        // of an article keeps its author, and retiring is on record.
        Request::ListArticles { .. }
        | Request::ShowArticle { .. }
        | Request::SearchArticles { .. }
        | Request::TicketArticles { .. }
        | Request::DraftArticle { .. } => unary(Technician(Action::ViewTickets), Unaudited),
        // The article's own history names who wrote each version.
        Request::AddArticle { .. } | Request::EditArticle { .. } => {
            unary(Technician(Action::WriteArticles), Unaudited)
        }
        Request::RetireArticle { id } => unary(
            Technician(Action::RetireArticles),
            by_dispatcher("kb.retire", format!("article:{id}")),
        ),
        // A resolve: the ticket's history records it, as `ChangeStatus`.
        Request::ResolveWithArticle { .. } => {
            unary(Technician(Action::ChangeTicketStatus), Unaudited)
        }
        // The Get help window, through its agent: public articles only,
        // and "This solved it", which the metrics count.
        Request::SuggestArticles { .. }
        | Request::ReadArticle { .. }
        | Request::RecordDeflection { .. } => unary(Agent, Unaudited),
        // A read of counts over tickets every technician may list; it
        // changes nothing and names no one's endpoint.
        Request::DeskReport { .. } => unary(Technician(Action::ViewTickets), Unaudited),
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
