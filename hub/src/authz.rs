//! Who may do what on a channel.
//!
//! Authorization belongs to the service that owns the data (ARCHITECTURE.md:
//! "never only at the gateway"), so the hub asks a [`ChannelAuthorizer`]. The
//! default one, [`Rules`], decides the channels the hub understands by itself and
//! asks the owning service for the rest:
//!
//! - `user:{id}`: that user may subscribe, nobody else; nobody publishes (the
//!   services push through [`crate::Hub::publish`]);
//! - `leaderboard:{board}:{window}` and its challenge instances
//!   (`…:challenge:{id}`): any signed-in user may subscribe; a community's
//!   instance (`…:community:{id}`): whoever may subscribe to `community:{id}`;
//! - `chat:{id}` and `community:{id}`: the [`ChannelRule`] the owning service
//!   registered (the social service: members may subscribe and type; chat
//!   messages are published by the service after storing them, not by clients);
//! - `presence:{scope}`: whoever may subscribe to the scope's channel.
//!
//! Anything without a rule is denied. [`CachedAuthorizer`] keeps *grants* for a
//! short time so that a reconnect storm does not become a storm of calls to the
//! owning service; denials are not cached (a user just added to a chat can
//! subscribe at once), and the per-connection rate limit bounds how often a client
//! can ask. A grant is checked when subscribing: revoking it does not end a live
//! subscription by itself. The social service announces removals
//! ([`vigor_common::access::AccessRevoked`]); the hub then forgets the grants
//! ([`CachedAuthorizer::forget`]) and ends the subscriptions
//! ([`crate::Hub::revoke_access`]) on every node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use tokio::time::Instant;
use vigor_common::Id;

use crate::auth::Principal;
use crate::channel::{BoardScope, Channel, ChannelKind};

/// What a user may do on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// Receive its events.
    pub subscribe: bool,
    /// Send `publish` frames to it.
    pub publish: bool,
    /// Send `typing` frames to it.
    pub typing: bool,
}

impl Access {
    /// Nothing.
    pub const DENY: Access = Access {
        subscribe: false,
        publish: false,
        typing: false,
    };
    /// Subscribe only.
    pub const READ: Access = Access {
        subscribe: true,
        publish: false,
        typing: false,
    };
    /// Subscribe and type (chat members).
    pub const MEMBER: Access = Access {
        subscribe: true,
        publish: false,
        typing: true,
    };
    /// Everything.
    pub const FULL: Access = Access {
        subscribe: true,
        publish: true,
        typing: true,
    };
}

/// Why a decision could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot authorize: {0}")]
pub struct AuthzError(pub String);

/// Decides what a user may do on a channel.
#[async_trait]
pub trait ChannelAuthorizer: Send + Sync + 'static {
    /// What `principal` may do on `channel`.
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError>;
}

/// The rule an owning service registers for its channels.
#[async_trait]
pub trait ChannelRule: Send + Sync + 'static {
    /// What `principal` may do on `channel` (one of the kinds it was registered for).
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError>;
}

/// The channel kinds whose rules come from an owning service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `chat:{id}`.
    Chat,
    /// `community:{id}`.
    Community,
}

/// The default authorizer: built-in rules plus the rules services register.
#[derive(Default)]
pub struct Rules {
    owners: RwLock<HashMap<RuleKind, Arc<dyn ChannelRule>>>,
}

impl Rules {
    /// Rules with nothing registered: chats and communities are denied.
    pub fn new() -> Rules {
        Rules::default()
    }

    /// Makes `rule` decide channels of `kind` (replacing an earlier one).
    pub fn register(&self, kind: RuleKind, rule: Arc<dyn ChannelRule>) {
        self.owners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(kind, rule);
    }

    fn rule(&self, kind: RuleKind) -> Option<Arc<dyn ChannelRule>> {
        self.owners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&kind)
            .cloned()
    }

    async fn owned(
        &self,
        kind: RuleKind,
        principal: &Principal,
        channel: &Channel,
    ) -> Result<Access, AuthzError> {
        // The lock is released before the rule runs: it may call another service.
        match self.rule(kind) {
            Some(rule) => rule.access(principal, channel).await,
            None => Ok(Access::DENY),
        }
    }

    /// Read access to a channel that follows `inner` (its presence, its
    /// community's leaderboards): granted to whoever may subscribe to `inner`.
    async fn read_with(
        &self,
        kind: RuleKind,
        principal: &Principal,
        inner: &Channel,
    ) -> Result<Access, AuthzError> {
        let access = self.owned(kind, principal, inner).await?;
        Ok(if access.subscribe {
            Access::READ
        } else {
            Access::DENY
        })
    }
}

#[async_trait]
impl ChannelAuthorizer for Rules {
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError> {
        match channel.kind() {
            ChannelKind::User(id) if *id == principal.user_id => Ok(Access::READ),
            ChannelKind::User(_) => Ok(Access::DENY),
            ChannelKind::Leaderboard {
                scope: Some(BoardScope::Community(id)),
                ..
            } => {
                self.read_with(RuleKind::Community, principal, &Channel::community(*id))
                    .await
            }
            ChannelKind::Leaderboard { .. } => Ok(Access::READ),
            ChannelKind::Chat(_) => self.owned(RuleKind::Chat, principal, channel).await,
            ChannelKind::Community(_) => self.owned(RuleKind::Community, principal, channel).await,
            ChannelKind::Presence(scope) => {
                let inner = scope.channel();
                let kind = match inner.kind() {
                    ChannelKind::Chat(_) => RuleKind::Chat,
                    _ => RuleKind::Community,
                };
                self.read_with(kind, principal, &inner).await
            }
        }
    }
}

/// Reuses grants of an inner authorizer for a short time.
///
/// The grants sit in a `moka` cache bounded to `capacity` entries (when full, the
/// least useful go, not all of them) that also drops each after `ttl`; the
/// deadline kept beside each grant is what decides, on the hub's clock.
pub struct CachedAuthorizer {
    inner: Arc<dyn ChannelAuthorizer>,
    ttl: Duration,
    grants: Cache<(Id, Arc<str>), (Access, Instant)>,
    /// Bumped by every [`CachedAuthorizer::forget`]: an answer that was on its way
    /// while grants were forgotten may predate the revocation, so it is not kept.
    forgets: AtomicU64,
}

impl CachedAuthorizer {
    /// Caches at most `capacity` grants of `inner` for `ttl` each.
    pub fn new(
        inner: Arc<dyn ChannelAuthorizer>,
        ttl: Duration,
        capacity: usize,
    ) -> CachedAuthorizer {
        let mut grants = Cache::builder().max_capacity(capacity.max(1) as u64);
        if !ttl.is_zero() {
            grants = grants.time_to_live(ttl);
        }
        CachedAuthorizer {
            inner,
            ttl,
            forgets: AtomicU64::new(0),
            grants: grants.build(),
        }
    }

    /// How many grants are cached (after pending evictions have run).
    pub fn len(&self) -> usize {
        self.grants.run_pending_tasks();
        usize::try_from(self.grants.entry_count()).unwrap_or(usize::MAX)
    }

    /// Whether no grant is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets `user`'s grants for `channels` and for their presence channels
    /// (the user lost access: the next check asks the owning service again).
    pub fn forget(&self, user: Id, channels: &[Channel]) {
        self.forgets.fetch_add(1, Ordering::SeqCst);
        for channel in channels {
            self.grants.invalidate(&(user, channel.shared_name()));
            if let Some(presence) = channel.presence_channel() {
                self.grants.invalidate(&(user, presence.shared_name()));
            }
        }
    }
}

#[async_trait]
impl ChannelAuthorizer for CachedAuthorizer {
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError> {
        let key = (principal.user_id, channel.shared_name());
        if let Some((access, until)) = self.grants.get(&key) {
            if until > Instant::now() {
                return Ok(access);
            }
        }
        let forgets = self.forgets.load(Ordering::SeqCst);
        let access = self.inner.access(principal, channel).await?;
        let current = forgets == self.forgets.load(Ordering::SeqCst);
        if access != Access::DENY && !self.ttl.is_zero() && current {
            self.grants.insert(key, (access, Instant::now() + self.ttl));
        } else {
            self.grants.invalidate(&key);
        }
        Ok(access)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::channel::PresenceScope;

    fn principal(id: i64) -> Principal {
        Principal {
            user_id: Id::from_i64(id),
            roles: vec!["user".into()],
            expires_at: SystemTime::now() + Duration::from_secs(600),
            token: Default::default(),
            bearer: Default::default(),
        }
    }

    /// Members of chat 1 are users 1 and 2; counts its calls.
    #[derive(Default)]
    struct ChatMembers {
        calls: AtomicUsize,
    }

    #[async_trait]
    impl ChannelRule for ChatMembers {
        async fn access(
            &self,
            principal: &Principal,
            channel: &Channel,
        ) -> Result<Access, AuthzError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let member = channel.name() == "chat:1" && [1, 2].contains(&principal.user_id.as_i64());
            Ok(if member { Access::MEMBER } else { Access::DENY })
        }
    }

    fn channel(name: &str) -> Channel {
        name.parse().unwrap()
    }

    #[tokio::test]
    async fn built_in_rules_and_deny_by_default() {
        let rules = Rules::new();
        let alice = principal(1);
        assert_eq!(
            rules.access(&alice, &channel("user:1")).await.unwrap(),
            Access::READ
        );
        assert_eq!(
            rules.access(&alice, &channel("user:2")).await.unwrap(),
            Access::DENY
        );
        assert_eq!(
            rules
                .access(&alice, &channel("leaderboard:xp:weekly"))
                .await
                .unwrap(),
            Access::READ
        );
        assert_eq!(
            rules.access(&alice, &channel("chat:1")).await.unwrap(),
            Access::DENY
        );
        assert_eq!(
            rules.access(&alice, &channel("community:1")).await.unwrap(),
            Access::DENY
        );
        assert_eq!(
            rules
                .access(&alice, &channel("presence:chat:1"))
                .await
                .unwrap(),
            Access::DENY
        );
    }

    #[tokio::test]
    async fn registered_rules_decide_their_channels_and_presence() {
        let rules = Rules::new();
        rules.register(RuleKind::Chat, Arc::new(ChatMembers::default()));
        assert_eq!(
            rules
                .access(&principal(2), &channel("chat:1"))
                .await
                .unwrap(),
            Access::MEMBER
        );
        assert_eq!(
            rules
                .access(&principal(3), &channel("chat:1"))
                .await
                .unwrap(),
            Access::DENY
        );
        let presence = Channel::presence(PresenceScope::Chat(Id::from_i64(1)));
        assert_eq!(
            rules.access(&principal(2), &presence).await.unwrap(),
            Access::READ
        );
        assert_eq!(
            rules.access(&principal(3), &presence).await.unwrap(),
            Access::DENY
        );
        // Communities still have no rule.
        assert_eq!(
            rules
                .access(&principal(2), &channel("community:1"))
                .await
                .unwrap(),
            Access::DENY
        );
    }

    /// Members of community 1: users 1 and 2.
    struct CommunityMembers;

    #[async_trait]
    impl ChannelRule for CommunityMembers {
        async fn access(
            &self,
            principal: &Principal,
            channel: &Channel,
        ) -> Result<Access, AuthzError> {
            let member =
                channel.name() == "community:1" && [1, 2].contains(&principal.user_id.as_i64());
            Ok(if member { Access::MEMBER } else { Access::DENY })
        }
    }

    #[tokio::test]
    async fn a_community_board_follows_the_community_and_a_challenge_board_is_public() {
        let rules = Rules::new();
        let board = channel("leaderboard:xp:weekly:community:1");
        // Without social's rule, nobody.
        assert_eq!(
            rules.access(&principal(1), &board).await.unwrap(),
            Access::DENY
        );
        rules.register(RuleKind::Community, Arc::new(CommunityMembers));
        assert_eq!(
            rules.access(&principal(2), &board).await.unwrap(),
            Access::READ
        );
        assert_eq!(
            rules.access(&principal(3), &board).await.unwrap(),
            Access::DENY
        );
        assert_eq!(
            rules
                .access(&principal(3), &channel("leaderboard:xp:weekly:community:2"))
                .await
                .unwrap(),
            Access::DENY
        );
        assert_eq!(
            rules
                .access(&principal(3), &channel("leaderboard:xp:weekly:challenge:5"))
                .await
                .unwrap(),
            Access::READ
        );
    }

    /// [`ChatMembers`] behind a cache keeping grants for 10 s.
    fn cached_members() -> (Arc<ChatMembers>, CachedAuthorizer) {
        let rule = Arc::new(ChatMembers::default());
        let rules = Rules::new();
        rules.register(RuleKind::Chat, rule.clone());
        let cached = CachedAuthorizer::new(Arc::new(rules), Duration::from_secs(10), 100);
        (rule, cached)
    }

    #[tokio::test(start_paused = true)]
    async fn grants_are_cached_for_the_ttl_and_denials_are_not() {
        let (rule, cached) = cached_members();
        let chat = channel("chat:1");
        for _ in 0..3 {
            assert_eq!(
                cached.access(&principal(1), &chat).await.unwrap(),
                Access::MEMBER
            );
        }
        assert_eq!(rule.calls.load(Ordering::SeqCst), 1);
        for _ in 0..3 {
            assert_eq!(
                cached.access(&principal(3), &chat).await.unwrap(),
                Access::DENY
            );
        }
        assert_eq!(rule.calls.load(Ordering::SeqCst), 4);
        tokio::time::advance(Duration::from_secs(11)).await;
        cached.access(&principal(1), &chat).await.unwrap();
        assert_eq!(rule.calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn forgotten_grants_are_asked_again_and_others_stay() {
        let (rule, cached) = cached_members();
        let chat = channel("chat:1");
        let presence = channel("presence:chat:1");
        for who in [1, 2] {
            cached.access(&principal(who), &chat).await.unwrap();
            cached.access(&principal(who), &presence).await.unwrap();
        }
        assert_eq!(rule.calls.load(Ordering::SeqCst), 4);
        cached.forget(Id::from_i64(1), std::slice::from_ref(&chat));
        // User 1 is asked again, for the chat and its presence; user 2 is not.
        cached.access(&principal(1), &chat).await.unwrap();
        cached.access(&principal(1), &presence).await.unwrap();
        cached.access(&principal(2), &chat).await.unwrap();
        cached.access(&principal(2), &presence).await.unwrap();
        assert_eq!(rule.calls.load(Ordering::SeqCst), 6);
    }

    /// Answers "member" once `release` is notified, counting its calls.
    #[derive(Default)]
    struct SlowMembers {
        calls: AtomicUsize,
        started: tokio::sync::Notify,
        release: tokio::sync::Notify,
    }

    #[async_trait]
    impl ChannelRule for SlowMembers {
        async fn access(&self, _: &Principal, _: &Channel) -> Result<Access, AuthzError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.started.notify_one();
            self.release.notified().await;
            Ok(Access::MEMBER)
        }
    }

    #[tokio::test]
    async fn an_answer_in_flight_while_grants_are_forgotten_is_not_kept() {
        let rule = Arc::new(SlowMembers::default());
        let rules = Rules::new();
        rules.register(RuleKind::Chat, rule.clone());
        let cached = Arc::new(CachedAuthorizer::new(
            Arc::new(rules),
            Duration::from_secs(60),
            100,
        ));
        let chat = channel("chat:1");
        let asking = tokio::spawn({
            let (cached, chat) = (cached.clone(), chat.clone());
            async move { cached.access(&principal(1), &chat).await }
        });
        rule.started.notified().await;
        // The revocation lands while the (older) answer is on its way.
        cached.forget(Id::from_i64(1), std::slice::from_ref(&chat));
        rule.release.notify_one();
        assert_eq!(asking.await.unwrap().unwrap(), Access::MEMBER);
        // Not cached: the next check asks the owner again.
        let again = tokio::spawn({
            let (cached, chat) = (cached.clone(), chat.clone());
            async move { cached.access(&principal(1), &chat).await }
        });
        tokio::time::timeout(Duration::from_secs(5), rule.started.notified())
            .await
            .expect("the owner is asked again");
        rule.release.notify_one();
        again.await.unwrap().unwrap();
        assert_eq!(rule.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let cached = CachedAuthorizer::new(Arc::new(Rules::new()), Duration::from_secs(60), 10);
        for id in 1..=100 {
            cached
                .access(&principal(id), &channel(&format!("user:{id}")))
                .await
                .unwrap();
            assert!(cached.len() <= 10);
        }
    }
}
