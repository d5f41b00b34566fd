//! Notices between processes: small JSON messages on a broker channel that every
//! process listening to it acts on (ended sessions, revoked channel access).
//!
//! The broker is at-most-once, so a notice is a hint to act *now*; what it
//! announces is also true in the owning service's database, and the caches it
//! clears expire on their own. One [`announce`] and one [`listen`] serve every
//! kind of notice, so each kind is only its type and its channel name.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Broker, BrokerError};

/// Publishes `notice` as JSON on the broker channel `channel`.
pub async fn announce<T: Serialize>(
    broker: &dyn Broker,
    channel: &str,
    notice: &T,
) -> Result<(), BrokerError> {
    let payload = serde_json::to_vec(notice)
        .map_err(|e| BrokerError::Backend(format!("cannot encode a notice: {e}")))?;
    broker.publish(channel, payload.into()).await
}

/// Subscribes to the notices on `channel` and hands each to `on_notice` until
/// `shutdown`; returns once subscribed (so no notice published after it is
/// missed), with the task that reads them. A notice that does not parse as `T`
/// is logged and skipped.
pub async fn listen<T, F>(
    broker: &dyn Broker,
    channel: &'static str,
    shutdown: CancellationToken,
    on_notice: F,
) -> Result<impl Future<Output = ()> + Send + 'static, BrokerError>
where
    T: DeserializeOwned,
    F: Fn(T) + Send + 'static,
{
    let mut subscription = broker.subscribe(channel).await?;
    Ok(async move {
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = subscription.recv() => message,
            };
            let Some(message) = message else { return };
            match serde_json::from_slice::<T>(&message.payload) {
                Ok(notice) => on_notice(notice),
                Err(error) => tracing::warn!(%error, channel, "ignoring a malformed notice"),
            }
        }
    })
}
