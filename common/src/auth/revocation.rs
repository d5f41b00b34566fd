//! Ended sessions, learnt by every verifier of the cluster within a second.
//!
//! Access tokens are verified locally, without asking the auth service, so a
//! token would otherwise keep working until it expires (up to
//! [`MAX_ACCESS_TOKEN_TTL_SECS`]) after its session ended. When a session ends —
//! sign-out, revocation (RFC 7009), sign-out everywhere, a password or email
//! change, deactivation, deletion — the auth service announces it
//! ([`SessionsEnded`]) on the broker channel [`CHANNEL`]. Every process that
//! verifies tokens listens ([`listen`]): its [`Verifier`](super::Verifier) records
//! the notice in its [`Revocations`] and refuses the tokens it names from then on,
//! and the hub closes the user's open WebSockets with 4003.
//!
//! A notice names sessions (refresh families; every user token carries its `sid`)
//! and/or a time: every token of the user issued at or before it, except the
//! session that made the change. It is kept as long as a token it refuses could
//! still be unexpired, then forgotten, so memory holds at most the notices of
//! the last quarter of an hour.
//!
//! The broker is at-most-once: a process that was disconnected from it when a
//! notice went out keeps accepting that session's access tokens until they expire
//! (at most 15 minutes). The session's refresh tokens are revoked in the auth
//! database either way, so nothing extends it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Claims;
use crate::broker::{notice, Broker, BrokerError};
use crate::config::MAX_ACCESS_TOKEN_TTL_SECS;
use crate::id::Id;

/// The broker channel of [`SessionsEnded`] notices (not a hub channel: no client
/// can subscribe to it).
pub const CHANNEL: &str = "auth.sessions_ended";

/// How long a notice is kept: the longest access-token lifetime and the
/// verifiers' clock leeway.
pub const KEEP_FOR: Duration =
    Duration::from_secs(MAX_ACCESS_TOKEN_TTL_SECS + super::verifier::MAX_LEEWAY.as_secs());

/// Sessions of one user that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsEnded {
    /// The user.
    pub user_id: Id,
    /// These sessions ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Id>,
    /// Every token of the user issued at or before this time (unix seconds)
    /// ended, except those of `except`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_until: Option<i64>,
    /// The session that survives `issued_until` (the one that changed the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Id>,
}

impl SessionsEnded {
    /// One session of `user_id` ended.
    pub fn session(user_id: Id, session: Id) -> SessionsEnded {
        SessionsEnded {
            user_id,
            sessions: vec![session],
            issued_until: None,
            except: None,
        }
    }

    /// Every session of `user_id` started until now ended, except `except`.
    pub fn all(user_id: Id, except: Option<Id>) -> SessionsEnded {
        SessionsEnded {
            user_id,
            sessions: Vec::new(),
            issued_until: Some(chrono::Utc::now().timestamp()),
            except,
        }
    }

    /// Whether a token of this user, issued at `issued_at` in `session`, ended.
    pub fn ends(&self, session: Option<Id>, issued_at: i64) -> bool {
        if session.is_some_and(|s| self.sessions.contains(&s)) {
            return true;
        }
        self.issued_until.is_some_and(|until| {
            issued_at <= until && (session.is_none() || session != self.except)
        })
    }
}

/// What one user's notices amount to.
#[derive(Debug, Default)]
struct Ended {
    sessions: HashSet<Id>,
    /// The latest `issued_until` and its exception: a later notice of that kind
    /// covers every token the earlier one did, but the earlier one's exception.
    issued_until: Option<(i64, Option<Id>)>,
    /// Unix seconds after which no token these notices refuse can be unexpired.
    forget_after: i64,
}

/// The ended sessions a process knows of; see the module documentation.
#[derive(Debug, Default)]
pub struct Revocations {
    users: DashMap<Id, Ended>,
    /// Notices recorded since the last sweep.
    since_sweep: AtomicUsize,
}

/// Records between two sweeps of forgotten notices.
const SWEEP_EVERY: usize = 1024;

impl Revocations {
    /// No notices.
    pub fn new() -> Revocations {
        Revocations::default()
    }

    /// Records `notice`.
    pub fn record(&self, notice: &SessionsEnded) {
        let now = chrono::Utc::now().timestamp();
        if self.since_sweep.fetch_add(1, Ordering::Relaxed) >= SWEEP_EVERY {
            self.since_sweep.store(0, Ordering::Relaxed);
            self.users.retain(|_, ended| ended.forget_after > now);
        }
        let mut ended = self.users.entry(notice.user_id).or_default();
        ended.sessions.extend(notice.sessions.iter().copied());
        if let Some(until) = notice.issued_until {
            if ended
                .issued_until
                .is_none_or(|(earlier, _)| until >= earlier)
            {
                ended.issued_until = Some((until, notice.except));
            }
        }
        ended.forget_after = now + KEEP_FOR.as_secs() as i64;
    }

    /// Whether the token with `claims` belongs to an ended session.
    pub fn refuses(&self, claims: &Claims) -> bool {
        if self.users.is_empty() {
            return false;
        }
        let Some(user) = claims.user_id() else {
            return false;
        };
        let Some(ended) = self.users.get(&user) else {
            return false;
        };
        if claims.sid.is_some_and(|sid| ended.sessions.contains(&sid)) {
            return true;
        }
        ended.issued_until.is_some_and(|(until, except)| {
            claims.iat <= until && (claims.sid.is_none() || claims.sid != except)
        })
    }

    /// How many users have notices kept.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no notice is kept.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Announces `notice` to every process.
pub async fn announce(broker: &dyn Broker, notice: &SessionsEnded) -> Result<(), BrokerError> {
    notice::announce(broker, CHANNEL, notice).await
}

/// Subscribes to the notices and hands each to `on_notice` until `shutdown`;
/// returns once subscribed (so no notice published after it is missed), with the
/// task that reads them.
pub async fn listen<F>(
    broker: &dyn Broker,
    shutdown: CancellationToken,
    on_notice: F,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, BrokerError>
where
    F: Fn(SessionsEnded) + Send + 'static,
{
    notice::listen(broker, CHANNEL, shutdown, on_notice).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::broker::memory::MemoryBroker;

    fn id(raw: i64) -> Id {
        Id::from_i64(raw)
    }

    fn claims(user: i64, sid: Option<i64>, iat: i64) -> Claims {
        Claims {
            iss: "https://vigor.test".into(),
            sub: user.to_string(),
            aud: "vigor".into(),
            exp: iat + 900,
            iat,
            jti: "j".into(),
            scope: "api".into(),
            roles: Vec::new(),
            client_id: "vigor-web".into(),
            sid: sid.map(Id::from_i64),
            auth_time: None,
        }
    }

    #[test]
    fn an_ended_session_refuses_its_tokens_only() {
        let revocations = Revocations::new();
        let now = chrono::Utc::now().timestamp();
        revocations.record(&SessionsEnded::session(id(1), id(10)));
        assert!(revocations.refuses(&claims(1, Some(10), now)));
        assert!(!revocations.refuses(&claims(1, Some(11), now)));
        assert!(
            !revocations.refuses(&claims(2, Some(10), now)),
            "another user's"
        );
    }

    #[test]
    fn ending_all_sessions_spares_the_exception_and_later_tokens() {
        let revocations = Revocations::new();
        let notice = SessionsEnded::all(id(1), Some(id(10)));
        let until = notice.issued_until.unwrap();
        revocations.record(&notice);
        assert!(revocations.refuses(&claims(1, Some(11), until)));
        assert!(revocations.refuses(&claims(1, None, until - 60)));
        assert!(
            !revocations.refuses(&claims(1, Some(10), until)),
            "the exception"
        );
        assert!(
            !revocations.refuses(&claims(1, Some(11), until + 1)),
            "signed in after"
        );
        // A later notice without exception covers the earlier exception too.
        revocations.record(&SessionsEnded {
            issued_until: Some(until + 5),
            ..SessionsEnded::all(id(1), None)
        });
        assert!(revocations.refuses(&claims(1, Some(10), until)));
        // An older notice arriving late does not undo it.
        revocations.record(&SessionsEnded {
            issued_until: Some(until - 100),
            ..SessionsEnded::all(id(1), Some(id(10)))
        });
        assert!(revocations.refuses(&claims(1, Some(10), until)));
    }

    #[test]
    fn the_notice_itself_says_what_it_ends() {
        let notice = SessionsEnded::all(id(1), Some(id(10)));
        let until = notice.issued_until.unwrap();
        assert!(notice.ends(Some(id(11)), until));
        assert!(!notice.ends(Some(id(10)), until));
        assert!(!notice.ends(Some(id(11)), until + 1));
        assert!(SessionsEnded::session(id(1), id(3)).ends(Some(id(3)), 0));
    }

    #[tokio::test]
    async fn notices_reach_listeners_through_the_broker() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
        let revocations = Arc::new(Revocations::new());
        let shutdown = CancellationToken::new();
        let sink = revocations.clone();
        let task = listen(&*broker, shutdown.clone(), move |notice| {
            sink.record(&notice)
        })
        .await
        .unwrap();
        let task = tokio::spawn(task);
        let now = chrono::Utc::now().timestamp();
        announce(&*broker, &SessionsEnded::session(id(7), id(70)))
            .await
            .unwrap();
        for _ in 0..100 {
            if revocations.refuses(&claims(7, Some(70), now)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(revocations.refuses(&claims(7, Some(70), now)));
        shutdown.cancel();
        task.await.unwrap();
    }
}
