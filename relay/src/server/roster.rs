//! Getting the organisation's signed roster (and any org key rotations) to
//! agents. The relay cannot sign either; it only delivers the newest it
//! has: to each agent when it connects, and to every connected agent when
//! a newer roster appears in the store (checked every [`ROSTER_REFRESH`],
//! or at once when this process published it). Rotations go first, oldest
//! first, so an agent that pinned an old key follows them to the key the
//! roster is signed with. The agent decides whether to take any of it.

use super::agent_link::{self, AGENT_REPLY_TIMEOUT};
use super::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use triage_shared::approval::roster::SignedRotation;
use triage_shared::approval::SignedRoster;
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::AgentId;

/// How often the relay looks for a roster published by another process
/// (`triage-relay org sign-roster`, or another relay on the same database).
pub const ROSTER_REFRESH: Duration = Duration::from_secs(5);

/// What an agent is offered: every rotation, then the newest roster.
struct Offer {
    rotations: Vec<SignedRotation>,
    roster: SignedRoster,
}

async fn current(shared: &Shared) -> Option<Offer> {
    let roster = match shared.store.latest_roster().await {
        Ok(Some(r)) => r,
        Ok(None) => return None,
        Err(e) => {
            warn!(error = %e, "cannot read the organisation roster");
            return None;
        }
    };
    let rotations = shared.store.rotations().await.unwrap_or_else(|e| {
        warn!(error = %e, "cannot read the organisation key rotations");
        Vec::new()
    });
    Some(Offer { rotations, roster })
}

/// Sends the newest stored roster, if any, to one agent.
pub(super) async fn push_current(shared: &Shared, agent: AgentId) {
    match current(shared).await {
        Some(offer) => push(shared, agent, &offer).await,
        None => debug!(%agent, "no organisation roster to push yet"),
    }
}

async fn push(shared: &Shared, agent: AgentId, offer: &Offer) {
    for rotation in &offer.rotations {
        let command = AgentCommand::RotateOrgKey(Box::new(rotation.clone()));
        ask(shared, agent, &command).await;
    }
    let command = AgentCommand::InstallRoster(Box::new(offer.roster.clone()));
    ask(shared, agent, &command).await;
}

async fn ask(shared: &Shared, agent: AgentId, command: &AgentCommand) {
    let name = command.name();
    let mut stream = match agent_link::open(shared, agent, command).await {
        Ok(stream) => stream,
        Err(e) => {
            debug!(%agent, command = name, reason = %e, "not pushed");
            return;
        }
    };
    match stream.next(AGENT_REPLY_TIMEOUT).await {
        Ok(Some(AgentReply::RosterInstalled { version })) => {
            info!(%agent, version, "agent installed the organisation roster");
        }
        Ok(Some(AgentReply::OrgKeyRotated { key })) => {
            debug!(%agent, org_key = %key, "agent follows the organisation key");
        }
        // Typically "not newer than the highest seen": nothing to do.
        Ok(Some(AgentReply::Error(e))) => {
            debug!(%agent, command = name, reason = %e, "agent kept what it trusts")
        }
        Ok(Some(other)) => warn!(%agent, reply = ?other, "unexpected answer to a push"),
        Ok(None) => warn!(%agent, command = name, "agent closed a push without answering"),
        Err(e) => debug!(%agent, command = name, reason = %e, "push got no answer"),
    }
}

/// Pushes a newer roster to every connected agent whenever one appears.
pub(super) async fn refresh_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ROSTER_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
            _ = shared.roster_published.notified() => {}
        }
        let Some(offer) = current(&shared).await else {
            continue;
        };
        let version = offer.roster.roster.version;
        if version <= shared.roster_pushed.load(Ordering::Acquire) {
            continue;
        }
        shared.roster_pushed.store(version, Ordering::Release);
        let agents = shared.registry.online_agents();
        info!(
            version,
            agents = agents.len(),
            "pushing a new organisation roster"
        );
        let offer = Arc::new(offer);
        let mut pushes = JoinSet::new();
        for agent in agents {
            let (shared, offer) = (Arc::clone(&shared), Arc::clone(&offer));
            pushes.spawn(async move { push(&shared, agent, &offer).await });
        }
        // Every push is bounded by the link's timeouts; stop ends them early.
        tokio::select! {
            _ = stop.changed() => { pushes.shutdown().await; return; }
            _ = async { while pushes.join_next().await.is_some() {} } => {}
        }
    }
}
