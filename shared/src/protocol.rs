//! Messages. A peer opens one QUIC connection, sends [`Hello`] on its first
//! bidirectional stream and reads a [`Welcome`]; after that every request is
//! its own bidirectional stream: one [`Request`] frame, then [`Response`]
//! frames, then the stream ends.
//!
//! These types are encoded with bincode, which is positional: append new
//! variants at the end and never reorder, or bump [`PROTOCOL_VERSION`].
//! Internally tagged serde enums do not work with bincode; keep the default
//! (external) tagging.

use crate::agent_update::AgentUpdate;
use crate::approval::roster::SignedRotation;
use crate::approval::{
    Interpreter, Roster, ScriptDigest, ScriptId, SignedApproval, SignedRoster, SignedScript,
};
use crate::audit::AuditEntry;
use crate::desk_report::{DeskReport, ReportBy};
use crate::diagnostics::Snapshot;
use crate::identity::PublicKey;
use crate::ids::{AgentId, TicketId, UpdateId};
use crate::kb::{
    Article, ArticleChange, ArticleContent, ArticleCursor, ArticleDraft, ArticleFilter, ArticleHit,
    ArticleId, ArticleSummary, Deflection, PublicArticle, Suggestion, TicketArticles,
};
use crate::notify::{NotifyEvent, WebhookSummary, WebhookTestResult};
use crate::queue::{
    AgentCount, AgentFilter, SearchHit, SearchQuery, SimilarTicket, TicketCursor, TicketFilter,
    TicketSort, WatchFrame,
};
use crate::remote::{DiagnosticsReport, RunEvent, ScriptRunRecord, Section};
use crate::roles::Role;
use crate::selector::{AgentCursor, AgentSelector, TicketRef};
use crate::ticket::{
    Comment, EmployeeTicket, NewTicket, Priority, Status, StatusAction, Ticket, TicketEvent, Tier,
};
use crate::time::Timestamp;
use crate::token_id::TokenId;
use crate::transfer::{AttachmentId, AttachmentSummary, LogQuery, TransferFrame};
use serde::{Deserialize, Serialize};

// Kept here for code that still names them by this path.
pub use crate::error::{ErrorKind, RemoteError};

pub const PROTOCOL_VERSION: u16 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerKind {
    /// The agent daemon: it serves the commands the relay routes to it.
    Agent,
    Technician,
    /// An agent process that submits but never serves commands (`help`,
    /// outbox delivery outside the daemon). Authenticated like an agent,
    /// but never a routing target and not counted as online.
    AgentOneShot,
}

/// The first frame on a connection. `version` comes first so that any
/// future layout can still be told apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u16,
    pub peer: PeerKind,
    pub software: String,
}

impl Hello {
    pub fn new(peer: PeerKind) -> Self {
        Hello {
            version: PROTOCOL_VERSION,
            peer,
            software: format!("triage {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Welcome {
    Accepted {
        version: u16,
        identity: SessionIdentity,
    },
    Refused(RemoteError),
}

/// Who the relay decided the peer is, from its TLS key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SessionIdentity {
    /// A key the relay does not know yet: it may only enroll.
    Unenrolled,
    Agent {
        id: AgentId,
        hostname: String,
    },
    Technician {
        name: String,
        roles: Vec<Role>,
    },
}

// A request is decoded once and handled in place, so the size of the largest
// variant (a ticket with its snapshot) costs nothing worth boxing for.
//
// `name()` is the variant's name in snake_case (`IntoStaticStr`);
// `RequestKind` is the same list without the fields, to walk every kind
// (named the same way: the relay's metrics label requests by it).
#[allow(clippy::large_enum_variant)]
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::EnumDiscriminants,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[strum_discriminants(
    name(RequestKind),
    derive(strum::EnumIter, strum::IntoStaticStr),
    strum(serialize_all = "snake_case")
)]
pub enum Request {
    /// Any peer: who am I to the relay.
    WhoAmI,
    /// Unenrolled agent: trade a token for an agent id bound to this key.
    Enroll {
        token_secret: String,
        hostname: String,
        os: String,
    },
    /// Agent: still here.
    Heartbeat,
    /// Agent: file a ticket (idempotent on the ticket id).
    SubmitTicket {
        ticket: NewTicket,
        snapshot: Option<Snapshot>,
    },
    ListTickets {
        status: Option<Status>,
        limit: u32,
    },
    ShowTicket {
        id: TicketId,
    },
    Comment {
        id: TicketId,
        text: String,
    },
    Assign {
        id: TicketId,
        assignee: String,
    },
    Escalate {
        id: TicketId,
        note: Option<String>,
    },
    ChangeStatus {
        id: TicketId,
        action: StatusAction,
        note: Option<String>,
    },
    /// The first page of `ListAgentsPage` only; kept for CLIs that predate it.
    ListAgents,
    RegisterTechnician {
        name: String,
        roles: Vec<Role>,
        public_key: PublicKey,
    },
    CreateEnrollmentToken {
        uses: u32,
        ttl_secs: u64,
    },
    ListTechnicians,
    /// Technician: attach a script they signed to a ticket.
    AttachScript {
        script: SignedScript,
        content: Vec<u8>,
    },
    ListScripts {
        ticket: TicketId,
    },
    ShowScript {
        ticket: TicketId,
        script: ScriptId,
    },
    /// Approver: an approval they signed for the ticket's agent.
    ApproveScript {
        ticket: TicketId,
        approval: SignedApproval,
    },
    /// Answered by `Response::Run` frames ending in `Finished` or `Refused`.
    RunScript {
        ticket: TicketId,
        script: ScriptId,
    },
    /// Audit entries with `seq > after_seq` (and at or after `since`), oldest first.
    ListAudit {
        after_seq: u64,
        since: Option<Timestamp>,
        limit: u32,
    },
    /// Live diagnostics on an online agent; `attach` stores the result on a ticket.
    Diagnose {
        agent: AgentId,
        sections: Vec<Section>,
        attach: Option<TicketId>,
    },
    /// Agent: update a ticket it filed (idempotent on the update id).
    SubmitUpdate {
        id: UpdateId,
        ticket: TicketId,
        update: AgentUpdate,
    },
    /// Technician: stream a log file from an online agent, answered by
    /// `Response::Transfer` frames (or one `Error`). The technician may
    /// finish their sending half to stop a `follow`.
    PullLogs {
        agent: AgentId,
        query: LogQuery,
        attach: Option<TicketId>,
    },
    /// Technician: a screenshot from an online agent, if its policy and
    /// user allow; answered like `PullLogs`.
    Screenshot {
        agent: AgentId,
        attach: Option<TicketId>,
    },
    /// Technician: the content of a file attached to a ticket, answered
    /// by `Response::Transfer` frames.
    FetchAttachment {
        ticket: TicketId,
        attachment: AttachmentId,
    },
    /// Agent: the tickets this agent filed for `requester`, newest first,
    /// at most `limit` (≤ [`crate::limits::MAX_MY_TICKETS`]); answered by
    /// `Response::MyTickets`.
    MyTickets {
        requester: String,
        limit: u32,
    },
    /// Technician: an internal note on a ticket, which the employee never sees.
    Note {
        id: TicketId,
        text: String,
    },
    /// Technician: is this agent reachable right now? The relay sends it a
    /// `Ping` and answers `Response::AgentPong`. A read-only liveness check:
    /// nothing is stored or audited.
    PingAgent {
        agent: AgentId,
    },
    /// Admin: the roster to sign next (version, every technician who may
    /// author or approve, valid for `validity_secs`). Unsigned: it is signed
    /// off the relay host, where the org key lives.
    ExportRoster {
        validity_secs: u64,
    },
    /// Admin: store a roster signed with the org key and push it to agents.
    PublishRoster {
        roster: Box<SignedRoster>,
    },
    /// The newest signed roster the relay holds; the CLI verifies it with
    /// the org key it pinned before trusting a word of it.
    CurrentRoster,
    /// Admin: store an org key rotation signed by the current key and push it.
    PublishRotation {
        rotation: Box<SignedRotation>,
    },
    /// Admin: take a technician's access away at once. Their row stays
    /// (marked removed) so the audit log and ticket history keep their name.
    RemoveTechnician {
        name: String,
    },
    /// Admin: replace a technician's roles; effective on their next request.
    SetTechnicianRoles {
        name: String,
        roles: Vec<Role>,
    },
    /// Admin: unenroll an agent. Its key is refused from then on; its
    /// tickets stay.
    RemoveAgent {
        agent: AgentId,
    },
    /// Admin: every enrollment token, newest first; answered by `Response::Tokens`.
    ListTokens,
    /// Admin: a token id (or a unique prefix of at least
    /// [`crate::token_id::MIN_TOKEN_ID_PREFIX`] hex digits) that may no
    /// longer enroll.
    RevokeToken {
        id: String,
    },
    /// Technician: the one endpoint a selector names, among all of them;
    /// answered by `Response::AgentMatch`, or `NotFound` / an "ambiguous"
    /// `InvalidInput` naming the candidates.
    ResolveAgent {
        selector: AgentSelector,
    },
    /// Technician: the one ticket a reference names; answered by
    /// `Response::TicketMatch`.
    ResolveTicket {
        reference: TicketRef,
    },
    /// Technician: one page of the endpoint list, by hostname then id,
    /// starting after `after`; answered by `Response::AgentPage`. `limit`
    /// 0 means as many as the relay allows on a page. Supersedes
    /// `ListAgents`, which answers the first page only.
    ListAgentsPage {
        after: Option<AgentCursor>,
        limit: u32,
    },
    /// Technician: one page of the tickets `filter` selects, in `sort`
    /// order, starting after `after`; answered by `Response::TicketPage`.
    /// `limit` 0 means as many as the relay allows
    /// ([`crate::queue::MAX_TICKET_PAGE`]). Supersedes `ListTickets`.
    ListTicketsPage {
        filter: TicketFilter,
        sort: TicketSort,
        after: Option<TicketCursor>,
        limit: u32,
    },
    /// Technician: the tickets whose text best matches `query`, among
    /// those `filter` selects, best first; answered by `Response::SearchHits`.
    SearchTickets {
        query: SearchQuery,
        filter: TicketFilter,
        limit: u32,
    },
    /// Technician: resolved tickets whose text is most like this one's;
    /// answered by `Response::Similar`.
    SimilarTickets {
        ticket: TicketId,
        limit: u32,
    },
    /// Technician: one page of the endpoints `filter` selects, by
    /// hostname then id; answered by `Response::AgentPage`, which may hold
    /// fewer than `limit` (even none) while `next` is set.
    ListAgentsFiltered {
        filter: AgentFilter,
        after: Option<AgentCursor>,
        limit: u32,
    },
    /// Technician: how many endpoints `filter` selects; answered by
    /// `Response::AgentCount`.
    CountAgents {
        filter: AgentFilter,
    },
    /// Technician: the live queue, answered by `Response::Watch` frames
    /// until the technician finishes their sending half: a `Head`, then
    /// each event on a ticket `filter` selects. `after` resumes after that
    /// event sequence number (a watch that reconnects).
    WatchQueue {
        filter: TicketFilter,
        after: Option<u64>,
    },
    /// Technician: the SLA policy in force, as `sla.toml` text.
    ShowSla,
    /// Admin: check `text` as an SLA policy and put it in force (the relay
    /// writes it to its `sla.toml`); answered with the policy as shown.
    SetSla {
        text: String,
    },
    /// Technician: change a ticket's priority; its SLA clocks keep the
    /// time used and measure it against the new priority's targets.
    SetPriority {
        id: TicketId,
        priority: Priority,
        note: Option<String>,
    },
    /// `webhooks add` (admin): POST these events to `url`, signed with
    /// `secret` (HMAC-SHA256) when one is given. Answered `WebhookAdded`.
    AddWebhook {
        url: String,
        events: Vec<NotifyEvent>,
        secret: Option<String>,
    },
    /// `webhooks list` (admin): every webhook with its delivery counts.
    ListWebhooks,
    /// `webhooks remove` (admin): by id or unique prefix; its pending
    /// deliveries are dropped.
    RemoveWebhook {
        id: String,
    },
    /// `webhooks test` (admin): one signed `test` delivery, sent at once;
    /// answered `WebhookTested` with what the receiver said.
    TestWebhook {
        id: String,
    },
    /// `technicians email NAME ADDR` (admin): where mail for this
    /// technician goes and for which events; `None` stops it.
    SetTechnicianEmail {
        name: String,
        address: Option<String>,
        events: Vec<NotifyEvent>,
    },
    /// `tiers email TIER ADDR` (admin): the queue address of a support
    /// tier, mailed about tickets currently in that tier.
    SetTierEmail {
        tier: Tier,
        address: Option<String>,
        events: Vec<NotifyEvent>,
    },
    /// `tickets follow|unfollow ID`: the calling technician watches a
    /// ticket (mail for the events of their own address) or stops.
    FollowTicket {
        id: TicketId,
        follow: bool,
    },
    /// Agents only: the tickets this agent filed that changed at or after
    /// `since` (`Timestamp(0)`: all of them), oldest change first, at most
    /// [`crate::news::MAX_NEWS_TICKETS`]; `Response::TicketNews`. The
    /// agent's catch-up after it was offline.
    TicketNews {
        since: Timestamp,
    },
    /// `kb add`: a new article; answered `Article`.
    AddArticle {
        draft: ArticleDraft,
    },
    /// `kb list`: a page of articles, newest change first, after `after`
    /// (the last of the page before); answered `Articles`. `limit` 0 means
    /// as many as the relay allows ([`crate::kb::MAX_ARTICLE_PAGE`]).
    ListArticles {
        filter: ArticleFilter,
        after: Option<ArticleCursor>,
        limit: u32,
    },
    /// `kb show`: one article, at `version` or its newest; `Article`.
    ShowArticle {
        id: ArticleId,
        version: Option<u32>,
    },
    /// `kb search`: active articles (internal ones included) whose text
    /// best matches `query`; `ArticleHits`.
    SearchArticles {
        query: SearchQuery,
        limit: u32,
    },
    /// `kb edit`: a new version on top of `change.base_version`; `Article`.
    EditArticle {
        id: ArticleId,
        change: ArticleChange,
    },
    /// `kb retire`: never offered or suggested again (kept, and shown by
    /// `kb show`); `Article`.
    RetireArticle {
        id: ArticleId,
    },
    /// `tickets resolve --kb`: resolve the ticket naming the article that
    /// solved it, in one change; answered as `ChangeStatus` is.
    ResolveWithArticle {
        id: TicketId,
        note: Option<String>,
        article: ArticleId,
    },
    /// `tickets show`: the articles matching a ticket, those its employee
    /// read before filing it, and the one that solved it; `TicketArticles`.
    TicketArticles {
        ticket: TicketId,
    },
    /// Agents only, for the Get help window: public, active articles
    /// matching what the employee is typing; `Suggestions`.
    SuggestArticles {
        text: String,
    },
    /// Agents only: one public, active article; `PublicArticle`.
    ReadArticle {
        id: ArticleId,
    },
    /// Agents only: "This solved it" (idempotent on the deflection id); `Ok`.
    RecordDeflection {
        deflection: Deflection,
    },
    /// `kb add --from-ticket`: an article's first draft from a ticket's
    /// title, description and resolution note; `ArticleDraft`.
    DraftArticle {
        ticket: TicketId,
    },
    /// Technician: help desk metrics over the last `window_ms` (1 day to 2
    /// years, [`crate::desk_report::check_window`]), headline figures
    /// grouped `by` one field when asked; `Response::DeskReport`.
    DeskReport {
        window_ms: u64,
        by: Option<ReportBy>,
    },
}

impl Request {
    /// A short name for logs and audit entries.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Response {
    Ok,
    Identity(SessionIdentity),
    Enrolled {
        agent_id: AgentId,
    },
    TicketStored {
        id: TicketId,
        created: bool,
    },
    Tickets(Vec<Ticket>),
    Ticket(Box<TicketDetail>),
    Agents(Vec<AgentSummary>),
    Token {
        token: String,
        expires_at: Timestamp,
        uses: u32,
    },
    Technicians(Vec<TechnicianSummary>),
    Error(RemoteError),
    ScriptAttached {
        script: ScriptId,
        digest: ScriptDigest,
    },
    Scripts(Vec<ScriptSummary>),
    Script(Box<ScriptDetail>),
    Run(RunEvent),
    Audit(Vec<AuditEntry>),
    Diagnostics(Box<DiagnosticsReport>),
    /// One frame of a streamed body (log pull, screenshot, attachment).
    Transfer(TransferFrame),
    MyTickets(Vec<EmployeeTicket>),
    /// The answer to `Request::PingAgent`: the agent answered its `Ping`.
    AgentPong {
        /// How long the relay's own relay → agent → relay hop took, in
        /// microseconds (the rest of the technician's round trip is theirs).
        agent_micros: u64,
    },
    RosterDraft(Box<Roster>),
    CurrentRoster(Option<Box<SignedRoster>>),
    /// The answer to `Request::ListTokens`.
    Tokens(Vec<TokenSummary>),
    /// The answer to `Request::ResolveAgent`.
    AgentMatch(AgentSummary),
    /// The answer to `Request::ResolveTicket`.
    TicketMatch(TicketId),
    /// The answer to `Request::ListAgentsPage`: `next` is where the next
    /// page starts, `None` on the last page.
    AgentPage {
        agents: Vec<AgentSummary>,
        next: Option<AgentCursor>,
    },
    /// The answer to `Request::ListTicketsPage`.
    TicketPage {
        tickets: Vec<Ticket>,
        next: Option<TicketCursor>,
    },
    /// The answer to `Request::SearchTickets`, best first.
    SearchHits(Vec<SearchHit>),
    /// The answer to `Request::SimilarTickets`, most alike first.
    Similar(Vec<SimilarTicket>),
    /// The answer to `Request::CountAgents`.
    AgentCount(AgentCount),
    /// One frame of a `Request::WatchQueue` stream.
    Watch(WatchFrame),
    /// The answer to `ShowSla` and `SetSla`: the policy in force, every
    /// setting spelled out; `from_file` is false for the built-in defaults.
    SlaPolicy {
        text: String,
        from_file: bool,
    },
    Webhooks(Vec<WebhookSummary>),
    WebhookAdded(WebhookSummary),
    WebhookTested(WebhookTestResult),
    /// The answer to `Request::TicketNews`: the relay's clock when it read
    /// (`since` for the next catch-up) and whether more changed after the
    /// last ticket returned (ask again from its `updated_at`).
    TicketNews {
        as_of: Timestamp,
        tickets: Vec<crate::news::TicketNews>,
        more: bool,
    },
    Article(Box<Article>),
    /// A page of `ListArticles`; `next` is where the next page starts.
    Articles {
        articles: Vec<ArticleSummary>,
        next: Option<ArticleCursor>,
    },
    ArticleHits(Vec<ArticleHit>),
    TicketArticles(TicketArticles),
    Suggestions(Vec<Suggestion>),
    PublicArticle(Box<PublicArticle>),
    ArticleDraft(Box<ArticleContent>),
    /// The answer to `Request::DeskReport`.
    DeskReport(Box<DeskReport>),
}

impl Response {
    /// A short name for error messages ("the relay answered with `tickets`").
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// An enrollment token as `tokens list` shows it; never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub id: TokenId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub uses_left: u32,
    pub created_by: String,
    /// When an admin revoked it; `None` while it may still enroll.
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
}

impl TokenSummary {
    /// Its state in a word: a revocation is named before expiry or use.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else if self.uses_left == 0 {
            "used up"
        } else {
            "usable"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptSummary {
    pub script_id: ScriptId,
    pub ticket_id: TicketId,
    pub author: String,
    pub interpreter: Interpreter,
    pub digest: ScriptDigest,
    pub description: String,
    pub created_at: Timestamp,
    /// Approvals on record that have not expired.
    pub live_approvals: u32,
    pub runs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptDetail {
    pub script: SignedScript,
    pub content: Vec<u8>,
    pub approvals: Vec<SignedApproval>,
    pub runs: Vec<ScriptRunRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub comments: Vec<Comment>,
    pub events: Vec<TicketEvent>,
    pub snapshot: Option<Snapshot>,
    /// Live diagnostics a technician attached later, oldest first.
    pub attached_diagnostics: Vec<AttachedDiagnostics>,
    /// Script runs on this ticket, oldest first.
    pub script_runs: Vec<ScriptRunRecord>,
    /// Files stored on the ticket (pulled logs, screenshots), oldest first.
    pub attachments: Vec<AttachmentSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedDiagnostics {
    pub taken_at: Timestamp,
    pub taken_by: String,
    pub report: DiagnosticsReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: AgentId,
    pub hostname: String,
    pub os: String,
    pub enrolled_at: Timestamp,
    pub last_seen: Option<Timestamp>,
    pub online: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianSummary {
    pub name: String,
    pub roles: Vec<Role>,
    pub public_key: PublicKey,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_frame, encode};

    #[test]
    fn hello_starts_with_its_version() {
        let frame = encode(&Hello::new(PeerKind::Agent)).unwrap();
        // bincode's varint encodes small u16 values as a single byte.
        assert_eq!(frame[4], PROTOCOL_VERSION as u8);
        let back: Hello = decode_frame(&frame).unwrap();
        assert_eq!(back.peer, PeerKind::Agent);
    }

    #[test]
    fn ticket_history_survives_bincode() {
        use crate::ticket::{TicketEventKind, Tier};
        // Internally tagged serde enums fail in bincode; this keeps them out.
        let events = vec![
            TicketEvent {
                actor: "a".into(),
                at: Timestamp(1),
                event: TicketEventKind::Created,
            },
            TicketEvent {
                actor: "a".into(),
                at: Timestamp(2),
                event: TicketEventKind::Escalated {
                    from: Tier::L1,
                    to: Tier::L2,
                },
            },
        ];
        let back: Vec<TicketEvent> = decode_frame(&encode(&events).unwrap()).unwrap();
        assert_eq!(back, events);
    }

    #[test]
    fn detail_with_snapshot_round_trips() {
        let snap = crate::diagnostics::tests::sample();
        let resp = Response::Error(RemoteError::new(ErrorKind::NotFound, "no ticket"));
        let back: Response = decode_frame(&encode(&resp).unwrap()).unwrap();
        assert_eq!(back, resp);
        let req = Request::SubmitTicket {
            ticket: NewTicket {
                id: TicketId::new_random(),
                title: "t".into(),
                description: "d".into(),
                category: crate::ticket::Category::Other,
                priority: crate::ticket::Priority::Low,
                source: crate::ticket::Source::Employee,
                requester: "alice".into(),
            },
            snapshot: Some(snap),
        };
        let back: Request = decode_frame(&encode(&req).unwrap()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn request_names_are_the_snake_case_variant_names() {
        // Audit entries, logs and refusals carry these; they must not drift.
        let named = [
            (Request::WhoAmI, "who_am_i"),
            (Request::Heartbeat, "heartbeat"),
            (
                Request::CreateEnrollmentToken {
                    uses: 1,
                    ttl_secs: 1,
                },
                "create_enrollment_token",
            ),
            (Request::CurrentRoster, "current_roster"),
            (
                Request::SetTechnicianRoles {
                    name: "bob".into(),
                    roles: vec![],
                },
                "set_technician_roles",
            ),
            (Request::ListTokens, "list_tokens"),
        ];
        for (request, name) in named {
            assert_eq!(request.name(), name);
            let kind: &'static str = RequestKind::from(&request).into();
            assert_eq!(kind, name, "a kind is named as its request is");
        }
        let ping = Request::PingAgent {
            agent: AgentId::new_random(),
        };
        assert_eq!(RequestKind::from(&ping), RequestKind::PingAgent);
    }

    #[test]
    fn agent_ping_and_pong_round_trip_and_are_named() {
        let req = Request::PingAgent {
            agent: AgentId::new_random(),
        };
        assert_eq!(req.name(), "ping_agent");
        let back: Request = decode_frame(&encode(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        for agent_micros in [0, 1_234, u64::MAX] {
            let resp = Response::AgentPong { agent_micros };
            let back: Response = decode_frame(&encode(&resp).unwrap()).unwrap();
            assert_eq!(back, resp);
        }
    }

    #[test]
    fn revocation_requests_are_appended_after_ping_and_round_trip() {
        let requests = [
            Request::RemoveTechnician { name: "bob".into() },
            Request::SetTechnicianRoles {
                name: "bob".into(),
                roles: vec![Role::L1],
            },
            Request::RemoveAgent {
                agent: AgentId::new_random(),
            },
            Request::ListTokens,
            Request::RevokeToken {
                id: "0123456789abcdef".into(),
            },
        ];
        // After the roster requests (28 to 31).
        for (tag, req) in (32u8..).zip(&requests) {
            let frame = encode(req).unwrap();
            assert_eq!(frame[4], tag, "{}", req.name());
            let back: Request = decode_frame(&frame).unwrap();
            assert_eq!(&back, req);
        }
        let tokens = Response::Tokens(vec![TokenSummary {
            id: "0123456789abcdef".parse().unwrap(),
            created_at: Timestamp(1),
            expires_at: Timestamp(2),
            uses_left: 3,
            created_by: "relay-admin".into(),
            revoked_at: Some(Timestamp(4)),
            revoked_by: Some("technician:alice".into()),
        }]);
        let frame = encode(&tokens).unwrap();
        assert_eq!(frame[4], 21, "Tokens follows the roster responses (19, 20)");
        assert_eq!(decode_frame::<Response>(&frame).unwrap(), tokens);
        let revoked = encode(&RemoteError::new(ErrorKind::Revoked, "x")).unwrap();
        assert_eq!(revoked[4], 11, "Revoked follows Internal (10)");
    }

    #[test]
    fn token_state_names_revocation_before_expiry_and_use() {
        let token = |uses_left, expires_at, revoked_at: Option<i64>| TokenSummary {
            id: "0123456789abcdef".parse().unwrap(),
            created_at: Timestamp(0),
            expires_at: Timestamp(expires_at),
            uses_left,
            created_by: "relay-admin".into(),
            revoked_at: revoked_at.map(Timestamp),
            revoked_by: None,
        };
        let now = Timestamp(100);
        assert_eq!(token(1, 200, None).state(now), "usable");
        assert_eq!(token(0, 200, None).state(now), "used up");
        assert_eq!(token(1, 100, None).state(now), "expired");
        assert_eq!(token(0, 50, Some(60)).state(now), "revoked");
    }

    #[test]
    fn new_variants_are_appended_so_older_tags_keep_their_numbers() {
        // bincode writes the variant index first (a one-byte varint here,
        // after the 4-byte frame length): appending keeps every older index.
        let ping = encode(&Request::PingAgent {
            agent: AgentId::new_random(),
        })
        .unwrap();
        assert_eq!(ping[4], 27, "PingAgent follows Note (26)");
        let note = encode(&Request::Note {
            id: TicketId::new_random(),
            text: String::new(),
        })
        .unwrap();
        assert_eq!(note[4], 26);
        let pong = encode(&Response::AgentPong { agent_micros: 1 }).unwrap();
        assert_eq!(pong[4], 18, "AgentPong follows MyTickets (17)");
    }
}
