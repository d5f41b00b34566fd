//! Revoked channel access, learnt by every gateway node within a second.
//!
//! The hub caches the social service's "may this user read this chat" answers
//! for `hub.authz_cache_ttl_ms`, and a subscription, once granted, lives as long
//! as the WebSocket. So when a member is removed from a community or chat, is
//! banned, or leaves, the social service announces it ([`AccessRevoked`]) on the
//! broker channel [`CHANNEL`]; every hub listens ([`listen`]), forgets the
//! cached grants of those channels and drops the user's subscriptions to them,
//! so a removed member stops receiving at once instead of after the cache's TTL.
//!
//! The broker is at-most-once: a node that was disconnected from it when the
//! notice went out keeps the subscription until the session ends. Membership
//! itself lives in the social database, so every later subscribe, send or
//! history read is refused either way.

use std::future::Future;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::broker::{notice, Broker, BrokerError};
use crate::id::Id;

/// The broker channel of [`AccessRevoked`] notices (not a hub channel: no client
/// can subscribe to it).
pub const CHANNEL: &str = "social.access_revoked";

/// A user lost access to some hub channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRevoked {
    /// The user.
    pub user_id: Id,
    /// The hub channels (`chat:{id}`, `community:{id}`) the user may no longer read.
    pub channels: Vec<String>,
}

/// Announces `notice` to every gateway node (the social service calls this
/// after the membership change is stored).
pub async fn publish(broker: &dyn Broker, notice: &AccessRevoked) -> Result<(), BrokerError> {
    notice::announce(broker, CHANNEL, notice).await
}

/// Subscribes to the notices and hands each to `on_notice` until `shutdown`;
/// returns once subscribed (so no notice published after it is missed), with the
/// task that reads them.
pub async fn listen<F>(
    broker: &dyn Broker,
    shutdown: CancellationToken,
    on_notice: F,
) -> Result<impl Future<Output = ()> + Send + 'static, BrokerError>
where
    F: Fn(AccessRevoked) + Send + 'static,
{
    notice::listen(broker, CHANNEL, shutdown, on_notice).await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::broker::memory::MemoryBroker;

    #[test]
    fn the_notice_has_the_documented_shape() {
        let notice = AccessRevoked {
            user_id: Id::from_i64(7),
            channels: vec!["chat:123".into(), "community:5".into()],
        };
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"user_id":"7","channels":["chat:123","community:5"]})
        );
        assert_eq!(
            serde_json::from_value::<AccessRevoked>(json).unwrap(),
            notice
        );
    }

    #[tokio::test]
    async fn notices_reach_listeners_and_malformed_ones_are_skipped() {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let sink = seen.clone();
        let task = listen(&*broker, shutdown.clone(), move |notice| {
            sink.lock().unwrap().push(notice)
        })
        .await
        .unwrap();
        let task = tokio::spawn(task);
        broker
            .publish(CHANNEL, bytes::Bytes::from_static(b"{\"user_id\":1}"))
            .await
            .unwrap();
        let notice = AccessRevoked {
            user_id: Id::from_i64(3),
            channels: vec!["chat:9".into()],
        };
        publish(&*broker, &notice).await.unwrap();
        for _ in 0..100 {
            if !seen.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*seen.lock().unwrap(), vec![notice]);
        shutdown.cancel();
        task.await.unwrap();
    }
}
