//! Which agents are connected right now, and on which connection.
//!
//! Technician requests for an agent are routed through this table. Only
//! agent daemons are registered (one-shot agent processes such as `help`
//! never are). A daemon may briefly hold two connections (a reconnect
//! racing the old connection's timeout): the newest one is used, and the
//! agent counts as online until its last connection ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use triage_shared::AgentId;

pub struct Registry<C = quinn::Connection> {
    inner: Mutex<Inner<C>>,
}

struct Inner<C> {
    next_ticket: u64,
    agents: HashMap<AgentId, Vec<(u64, C)>>,
}

impl<C: Clone> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            inner: Mutex::new(Inner {
                next_ticket: 0,
                agents: HashMap::new(),
            }),
        }
    }
}

/// Keeps an agent's connection registered until it is dropped.
#[must_use = "the agent is unregistered when this is dropped"]
pub struct Registration<C: Clone = quinn::Connection> {
    registry: Arc<Registry<C>>,
    agent: AgentId,
    ticket: u64,
}

impl<C: Clone> Registry<C> {
    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every change is a single push or retain), so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `connection` as the agent's newest.
    pub fn register(self: &Arc<Self>, agent: AgentId, connection: C) -> Registration<C> {
        let mut inner = self.lock();
        inner.next_ticket += 1;
        let ticket = inner.next_ticket;
        inner
            .agents
            .entry(agent)
            .or_default()
            .push((ticket, connection));
        Registration {
            registry: Arc::clone(self),
            agent,
            ticket,
        }
    }

    /// The agent's newest connection.
    pub fn connection(&self, agent: AgentId) -> Option<C> {
        self.lock()
            .agents
            .get(&agent)
            .and_then(|c| c.last())
            .map(|(_, c)| c.clone())
    }

    pub fn is_online(&self, agent: AgentId) -> bool {
        self.lock().agents.contains_key(&agent)
    }

    /// Every agent with a connection now.
    pub fn online_agents(&self) -> Vec<AgentId> {
        self.lock().agents.keys().copied().collect()
    }

    pub fn online_count(&self) -> usize {
        self.lock().agents.len()
    }
}

impl<C: Clone> Drop for Registration<C> {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        if let Some(list) = inner.agents.get_mut(&self.agent) {
            list.retain(|(ticket, _)| *ticket != self.ticket);
            if list.is_empty() {
                inner.agents.remove(&self.agent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_connection_wins_and_agent_stays_online_until_the_last_ends() {
        let registry = Arc::new(Registry::<&'static str>::default());
        let agent = AgentId::new_random();
        assert!(!registry.is_online(agent));
        let first = registry.register(agent, "first");
        let second = registry.register(agent, "second");
        assert_eq!(registry.connection(agent), Some("second"));
        drop(second);
        assert_eq!(registry.connection(agent), Some("first"));
        assert!(registry.is_online(agent));
        drop(first);
        assert!(!registry.is_online(agent));
        assert_eq!(registry.connection(agent), None);
        assert_eq!(registry.online_count(), 0);
    }

    #[test]
    fn dropping_an_old_connection_keeps_the_newer_one() {
        let registry = Arc::new(Registry::<&'static str>::default());
        let (a, b) = (AgentId::new_random(), AgentId::new_random());
        let old = registry.register(a, "old");
        let _new = registry.register(a, "new");
        let _other = registry.register(b, "other");
        drop(old);
        assert_eq!(registry.connection(a), Some("new"));
        assert_eq!(registry.online_count(), 2);
        let mut online = registry.online_agents();
        online.sort_by_key(|id| id.to_string());
        let mut expected = vec![a, b];
        expected.sort_by_key(|id| id.to_string());
        assert_eq!(online, expected);
    }
}
