//! Getting the organisation's signed policy to agents. The relay cannot
//! sign policies; it only delivers the newest one it has: to each agent
//! when it connects, and to every connected agent when a newer version
//! appears in the store (checked every [`POLICY_REFRESH`], or at once when
//! this process published it). The agent decides whether to install it.

use super::agent_link::{self, AGENT_REPLY_TIMEOUT};
use super::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use triage_shared::approval::SignedPolicy;
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::AgentId;

/// How often the relay looks for a policy published by another process
/// (`triage-relay org sign-policy`, or another relay on the same database).
pub const POLICY_REFRESH: Duration = Duration::from_secs(5);

/// Sends the newest stored policy, if any, to one agent.
pub(super) async fn push_current(shared: &Shared, agent: AgentId) {
    match shared.store.latest_policy().await {
        Ok(Some(policy)) => push(shared, agent, &policy).await,
        Ok(None) => debug!(%agent, "no organisation policy to push yet"),
        Err(e) => warn!(error = %e, %agent, "cannot read the organisation policy"),
    }
}

async fn push(shared: &Shared, agent: AgentId, policy: &SignedPolicy) {
    let version = policy.policy.version;
    let command = AgentCommand::InstallPolicy(Box::new(policy.clone()));
    let mut stream = match agent_link::open(shared, agent, &command).await {
        Ok(stream) => stream,
        Err(e) => {
            debug!(%agent, version, reason = %e, "policy not pushed");
            return;
        }
    };
    match stream.next(AGENT_REPLY_TIMEOUT).await {
        Ok(Some(AgentReply::PolicyInstalled { version })) => {
            info!(%agent, version, "agent installed the organisation policy");
        }
        // Typically "not newer than the installed version": nothing to do.
        Ok(Some(AgentReply::Error(e))) => {
            debug!(%agent, version, reason = %e, "agent kept its policy")
        }
        Ok(Some(other)) => warn!(%agent, reply = ?other, "unexpected answer to a policy push"),
        Ok(None) => warn!(%agent, "agent closed the policy push without answering"),
        Err(e) => debug!(%agent, reason = %e, "policy push got no answer"),
    }
}

/// Pushes a newer policy to every connected agent whenever one appears.
pub(super) async fn refresh_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(POLICY_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
            _ = shared.policy_published.notified() => {}
        }
        let latest = match shared.store.latest_policy().await {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                warn!(error = %e, "cannot read the organisation policy");
                continue;
            }
        };
        let version = latest.policy.version;
        if version <= shared.policy_pushed.load(Ordering::Acquire) {
            continue;
        }
        shared.policy_pushed.store(version, Ordering::Release);
        let agents = shared.registry.online_agents();
        info!(
            version,
            agents = agents.len(),
            "pushing a new organisation policy"
        );
        let latest = Arc::new(latest);
        let mut pushes = JoinSet::new();
        for agent in agents {
            let (shared, latest) = (Arc::clone(&shared), Arc::clone(&latest));
            pushes.spawn(async move { push(&shared, agent, &latest).await });
        }
        // Every push is bounded by the link's timeouts; stop ends them early.
        tokio::select! {
            _ = stop.changed() => { pushes.shutdown().await; return; }
            _ = async { while pushes.join_next().await.is_some() {} } => {}
        }
    }
}
