//! In-process presence, for all-in-one mode: one process is the whole cluster, so
//! entries never need to expire (a session's cleanup always runs).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use dashmap::DashMap;
use vigor_common::Id;

use super::{Members, PresenceEntry, PresenceError, PresenceStore};

/// In-process presence table.
#[derive(Default)]
pub struct MemoryPresence {
    /// Scope → user → sessions.
    scopes: DashMap<String, HashMap<Id, HashSet<Id>>>,
}

impl MemoryPresence {
    /// An empty table.
    pub fn new() -> MemoryPresence {
        MemoryPresence::default()
    }
}

#[async_trait]
impl PresenceStore for MemoryPresence {
    async fn join(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError> {
        let mut users = self.scopes.entry(scope.to_owned()).or_default();
        let sessions = users.entry(user).or_default();
        let first = sessions.is_empty();
        sessions.insert(session);
        Ok(first)
    }

    async fn leave(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError> {
        let Some(mut users) = self.scopes.get_mut(scope) else {
            return Ok(false);
        };
        let Some(sessions) = users.get_mut(&user) else {
            return Ok(false);
        };
        if !sessions.remove(&session) {
            return Ok(false);
        }
        let last = sessions.is_empty();
        if last {
            users.remove(&user);
        }
        let empty = users.is_empty();
        drop(users);
        if empty {
            self.scopes.remove_if(scope, |_, users| users.is_empty());
        }
        Ok(last)
    }

    async fn members(&self, scope: &str, limit: usize) -> Result<Members, PresenceError> {
        let Some(users) = self.scopes.get(scope) else {
            return Ok(Members::default());
        };
        Ok(Members {
            users: users.keys().take(limit).copied().collect(),
            total: users.len(),
        })
    }

    async fn refresh(&self, _entries: &[PresenceEntry]) -> Result<(), PresenceError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn make() -> Option<Arc<dyn PresenceStore>> {
        Some(Arc::new(MemoryPresence::new()))
    }

    crate::presence_conformance!(make(), expires: false);
}
