//! Who is online where, cluster-wide.
//!
//! A session that subscribes to `presence:chat:{id}` is *present* there until it
//! unsubscribes or disconnects. A [`PresenceStore`] records sessions per scope
//! (the presence channel's name) and answers whether a join was the user's first
//! session there and a leave its last: those are the moments the hub publishes
//! `presence.join` / `presence.leave`, so a user with three tabs open joins once.
//!
//! All-in-one mode keeps the table in memory ([`memory::MemoryPresence`]); the
//! distributed store is Redis ([`redis::RedisPresence`]), where every entry has an
//! expiry that its node renews ([`PresenceStore::refresh`], every third of the
//! TTL): the sessions of a node that crashed disappear after at most the TTL
//! (without `presence.leave` events — there is nobody left to send them).

pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use vigor_common::Id;

/// Why the presence store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("presence store: {0}")]
pub struct PresenceError(pub String);

/// The users present in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Members {
    /// Up to the requested limit of them.
    pub users: Vec<Id>,
    /// How many there are in all.
    pub total: usize,
}

/// One session's presence, as a node renews it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresenceEntry {
    /// The presence channel's name.
    pub scope: Arc<str>,
    /// The user.
    pub user: Id,
    /// The session.
    pub session: Id,
}

/// Sessions present per scope.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Records `session` of `user` in `scope`; true when it is the user's first
    /// session there.
    async fn join(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError>;

    /// Removes `session` of `user` from `scope`; true when it was recorded and was
    /// the user's last session there.
    async fn leave(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError>;

    /// The users present in `scope`, at most `limit` of them.
    async fn members(&self, scope: &str, limit: usize) -> Result<Members, PresenceError>;

    /// Renews this node's live entries so that they do not expire. An entry that
    /// already left (or expired) is not brought back.
    async fn refresh(&self, entries: &[PresenceEntry]) -> Result<(), PresenceError>;
}

/// The conformance suite every [`PresenceStore`] passes. Backends under test
/// expire entries after [`conformance::TTL`] without a refresh.
#[doc(hidden)]
// Test code shipped for the backends' tests: a panic there is a failing test.
#[allow(clippy::unwrap_used)]
pub mod conformance {
    use std::time::Duration;

    use super::*;

    /// Entry lifetime of the backend under test (ignored by backends that do not expire).
    pub const TTL: Duration = Duration::from_millis(600);

    fn id(n: i64) -> Id {
        Id::from_i64(n)
    }

    /// The first session of a user joins, the last one leaves.
    pub async fn first_join_and_last_leave_are_reported(store: Arc<dyn PresenceStore>) {
        let scope = "presence:chat:1";
        assert!(
            store.join(scope, id(1), id(101)).await.unwrap(),
            "first session"
        );
        assert!(
            !store.join(scope, id(1), id(102)).await.unwrap(),
            "second session"
        );
        assert!(
            !store.join(scope, id(1), id(101)).await.unwrap(),
            "a repeated join"
        );
        assert!(store.join(scope, id(2), id(201)).await.unwrap());
        let members = store.members(scope, 10).await.unwrap();
        let mut users = members.users.clone();
        users.sort();
        assert_eq!((users, members.total), (vec![id(1), id(2)], 2));

        assert!(
            !store.leave(scope, id(1), id(101)).await.unwrap(),
            "one session left"
        );
        assert!(
            store.leave(scope, id(1), id(102)).await.unwrap(),
            "the last session"
        );
        assert!(
            !store.leave(scope, id(1), id(102)).await.unwrap(),
            "a repeated leave"
        );
        assert!(
            !store.leave(scope, id(3), id(301)).await.unwrap(),
            "never joined"
        );
        assert_eq!(store.members(scope, 10).await.unwrap().users, vec![id(2)]);
    }

    /// Scopes are independent and the member list honours its limit.
    pub async fn scopes_are_independent_and_lists_are_limited(store: Arc<dyn PresenceStore>) {
        for n in 1..=5 {
            store
                .join("presence:community:1", id(n), id(100 + n))
                .await
                .unwrap();
        }
        store
            .join("presence:community:2", id(9), id(109))
            .await
            .unwrap();
        let members = store.members("presence:community:1", 3).await.unwrap();
        assert_eq!((members.users.len(), members.total), (3, 5));
        assert_eq!(
            store
                .members("presence:community:2", 10)
                .await
                .unwrap()
                .users,
            vec![id(9)]
        );
        assert_eq!(
            store.members("presence:community:3", 10).await.unwrap(),
            Members::default()
        );
    }

    /// Refreshed entries stay; entries of a silent node expire (backends with expiry).
    pub async fn refreshed_entries_stay_and_silent_ones_expire(store: Arc<dyn PresenceStore>) {
        let scope = "presence:chat:7";
        store.join(scope, id(1), id(11)).await.unwrap();
        store.join(scope, id(2), id(21)).await.unwrap();
        let kept = [PresenceEntry {
            scope: scope.into(),
            user: id(1),
            session: id(11),
        }];
        for _ in 0..4 {
            tokio::time::sleep(TTL / 3).await;
            store.refresh(&kept).await.unwrap();
        }
        // TTL * 4/3 later: user 2 was never refreshed.
        assert_eq!(store.members(scope, 10).await.unwrap().users, vec![id(1)]);
        // Its session is gone, so its next join is a first one again.
        assert!(store.join(scope, id(2), id(21)).await.unwrap());
        // A refresh does not bring back a session that left.
        assert!(store.leave(scope, id(1), id(11)).await.unwrap());
        store.refresh(&kept).await.unwrap();
        assert_eq!(store.members(scope, 10).await.unwrap().users, vec![id(2)]);
    }

    /// Instantiates the suite: `$make` gives `Option<Arc<dyn PresenceStore>>`
    /// (`None` skips); `$expires` says whether the backend expires entries.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! presence_conformance {
        ($make:expr, expires: $expires:expr) => {
            #[tokio::test]
            async fn first_join_and_last_leave_are_reported() {
                let Some(store) = $make else { return };
                $crate::presence::conformance::first_join_and_last_leave_are_reported(store).await;
            }

            #[tokio::test]
            async fn scopes_are_independent_and_lists_are_limited() {
                let Some(store) = $make else { return };
                $crate::presence::conformance::scopes_are_independent_and_lists_are_limited(store)
                    .await;
            }

            #[tokio::test]
            async fn refreshed_entries_stay_and_silent_ones_expire() {
                if !$expires {
                    return;
                }
                let Some(store) = $make else { return };
                $crate::presence::conformance::refreshed_entries_stay_and_silent_ones_expire(store)
                    .await;
            }
        };
    }
}
