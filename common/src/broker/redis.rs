//! The Redis pub/sub broker, for distributed mode: a message published on one node
//! reaches the subscribers on every node.
//!
//! Each process holds ONE subscriber connection, whatever the number of local
//! subscriptions, and publishes on a second connection (a connection in subscribe
//! mode cannot publish). Two tasks own the subscriber connection:
//!
//! - the *router* reads every pub/sub message and hands it to the local subscribers
//!   of its channel through `LocalSubscribers` (non-blocking, so one slow reader
//!   never delays the others);
//! - the *manager* keeps the channels Redis knows in line with the channels that have
//!   local subscribers: it SUBSCRIBEs a channel when its first local subscriber
//!   appears and UNSUBSCRIBEs it when the last one is dropped. All (UN)SUBSCRIBEs go
//!   through this one task, in order, so a subscribe racing an unsubscribe of the
//!   same channel cannot be lost; after a reconnect (fred's reconnect policy
//!   re-establishes the connection) it subscribes every wanted channel again.
//!
//! `subscribe` returns once Redis has run the SUBSCRIBE (confirmed by a PING
//! answered behind it on the same connection), so every message published after it
//! returns is delivered. Channel names are prefixed with the key
//! prefix, so several deployments (or tests) can share one Redis. Both tasks stop
//! when the broker is dropped; the subscriptions then answer `None`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::prelude::{Client, ClientLike, EventInterface, PubsubInterface, Value};
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    count_dropped, Broker, BrokerError, BrokerSubscription, LocalSubscribers, Message,
    DEFAULT_SUBSCRIPTION_CAPACITY,
};
use crate::bus::redis::redis_client;

/// Pub/sub messages fred buffers for the router before it reports a lag.
const ROUTER_BUFFER: usize = 4096;
/// Backoff of the manager after a failed (UN)SUBSCRIBE.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Options of a [`RedisBroker`].
#[derive(Debug, Clone)]
pub struct RedisBrokerOptions {
    /// Messages each subscription buffers before new ones are dropped.
    pub capacity: usize,
    /// How long `subscribe` waits for Redis to confirm a new channel.
    pub subscribe_timeout: Duration,
}

impl Default for RedisBrokerOptions {
    fn default() -> Self {
        RedisBrokerOptions {
            capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            subscribe_timeout: Duration::from_secs(5),
        }
    }
}

/// Redis pub/sub broker.
pub struct RedisBroker {
    publisher: Client,
    prefix: String,
    shared: Arc<Shared>,
    subscribe_timeout: Duration,
    /// Stops the router and the manager when the broker is dropped.
    _stop: DropGuard,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the manager: the wanted channels changed.
    changed: Notify,
    /// Wakes `subscribe` calls waiting for the manager to finish a round.
    synced: Notify,
    capacity: usize,
}

struct State {
    /// Local subscribers by full Redis channel name.
    local: LocalSubscribers,
    /// Channels Redis confirmed for the subscriber connection.
    subscribed: HashSet<String>,
    /// Finished manager rounds, and the error of the last one.
    rounds: u64,
    last_error: Option<String>,
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every update under this lock is a few map operations that cannot leave
        // the state inconsistent, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RedisBroker {
    /// Connects to the Redis at `url`; channel names get `prefix` in front.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisBroker, BrokerError> {
        RedisBroker::connect_with(url, prefix, RedisBrokerOptions::default()).await
    }

    /// [`RedisBroker::connect`] with options.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        options: RedisBrokerOptions,
    ) -> Result<RedisBroker, BrokerError> {
        let publisher = redis_client(url, 32).map_err(backend)?;
        publisher.init().await.map_err(backend)?;
        let subscriber = redis_client(url, ROUTER_BUFFER).map_err(backend)?;
        if let Err(error) = subscriber.init().await {
            let _ = publisher.quit().await;
            return Err(backend(error));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                local: LocalSubscribers::default(),
                subscribed: HashSet::new(),
                rounds: 0,
                last_error: None,
                closed: false,
            }),
            changed: Notify::new(),
            synced: Notify::new(),
            capacity: options.capacity.max(1),
        });
        let stop = CancellationToken::new();
        // Both receivers exist before any SUBSCRIBE, so no message or reconnect is missed.
        tokio::spawn(route(
            subscriber.message_rx(),
            shared.clone(),
            stop.clone(),
            prefix.to_owned(),
        ));
        tokio::spawn(manage(
            subscriber.clone(),
            subscriber.reconnect_rx(),
            publisher.clone(),
            shared.clone(),
            stop.clone(),
        ));
        Ok(RedisBroker {
            publisher,
            prefix: prefix.to_owned(),
            shared,
            subscribe_timeout: options.subscribe_timeout,
            _stop: stop.drop_guard(),
        })
    }

    /// How many local subscriptions `channel` has on this node.
    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.shared.state().local.count(&self.key(channel))
    }

    fn key(&self, channel: &str) -> String {
        format!("{}{channel}", self.prefix)
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<(), BrokerError> {
        self.publisher
            .publish::<i64, _, _>(self.key(channel), payload)
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn subscribe(&self, channel: &str) -> Result<BrokerSubscription, BrokerError> {
        let key = self.key(channel);
        let (subscription, confirmed, start_round) = {
            let mut state = self.shared.state();
            if state.closed {
                return Err(BrokerError::Closed);
            }
            let (id, receiver, dropped) = state.local.add(&key, self.shared.capacity);
            let guard = Unsubscribe {
                shared: self.shared.clone(),
                key: key.clone(),
                id,
            };
            let subscription = BrokerSubscription::new(receiver, dropped, Box::new(guard));
            (subscription, state.subscribed.contains(&key), state.rounds)
        };
        if confirmed {
            return Ok(subscription);
        }
        self.shared.changed.notify_one();
        let deadline = Instant::now() + self.subscribe_timeout;
        loop {
            let synced = self.shared.synced.notified();
            tokio::pin!(synced);
            synced.as_mut().enable();
            {
                let state = self.shared.state();
                if state.closed {
                    return Err(BrokerError::Closed);
                }
                if state.subscribed.contains(&key) {
                    return Ok(subscription);
                }
                // A round that started after our subscriber was added failed.
                if state.rounds >= start_round + 2 {
                    if let Some(error) = &state.last_error {
                        return Err(BrokerError::Backend(error.clone()));
                    }
                }
            }
            if tokio::time::timeout_at(deadline, synced).await.is_err() {
                return Err(BrokerError::Backend(format!(
                    "Redis did not confirm SUBSCRIBE {key} in time"
                )));
            }
        }
    }

    async fn ping(&self) -> Result<(), BrokerError> {
        self.publisher
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(backend)
    }
}

fn backend(error: fred::error::Error) -> BrokerError {
    BrokerError::Backend(error.to_string())
}

/// Removes its subscriber when the subscription is dropped, and asks the manager to
/// UNSUBSCRIBE when it was the channel's last.
struct Unsubscribe {
    shared: Arc<Shared>,
    key: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let last = self.shared.state().local.remove(&self.key, self.id);
        if last {
            self.shared.changed.notify_one();
        }
    }
}

/// The router: every pub/sub message to the local subscribers of its channel.
async fn route(
    mut messages: broadcast::Receiver<fred::types::Message>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    prefix: String,
) {
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            received = messages.recv() => received,
        };
        match received {
            Ok(message) => {
                let key: &str = &message.channel;
                let Some(channel) = key.strip_prefix(&prefix) else {
                    continue;
                };
                let routed = Message {
                    channel: channel.to_owned(),
                    payload: message.value.clone().into_bytes().unwrap_or_default(),
                };
                shared.state().local.deliver(key, &routed, "redis");
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "broker router lagged behind Redis: messages dropped"
                );
                count_dropped("redis", missed);
            }
            // The client quit: the manager is shutting down too.
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// The manager: keeps Redis's subscriptions equal to the channels wanted locally.
async fn manage(
    subscriber: Client,
    mut reconnects: broadcast::Receiver<fred::types::config::Server>,
    publisher: Client,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let mut retry = RETRY_MIN;
    let mut retry_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = shared.changed.notified() => {}
            reconnect = reconnects.recv() => match reconnect {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    // A new connection has no subscriptions: make them all again.
                    shared.state().subscribed.clear();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = sleep_until(retry_at) => {}
        }
        match reconcile(&subscriber, &shared).await {
            Ok(()) => {
                retry = RETRY_MIN;
                retry_at = None;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?retry, "broker (un)subscribe failed");
                retry_at = Some(Instant::now() + retry);
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
    {
        let mut state = shared.state();
        state.closed = true;
        state.local.clear();
    }
    shared.synced.notify_waiters();
    let _ = subscriber.quit().await;
    let _ = publisher.quit().await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One round: UNSUBSCRIBE channels nobody here wants, SUBSCRIBE the new ones.
async fn reconcile(subscriber: &Client, shared: &Shared) -> Result<(), fred::error::Error> {
    let (wanted, unwanted) = {
        let mut state = shared.state();
        let wanted: Vec<String> = state
            .local
            .keys()
            .filter(|key| !state.subscribed.contains(*key))
            .cloned()
            .collect();
        let unwanted: Vec<String> = state
            .subscribed
            .iter()
            .filter(|key| !state.local.contains(key))
            .cloned()
            .collect();
        // Forget them before the command: a subscriber arriving meanwhile must wait
        // for the next round's SUBSCRIBE, not trust a subscription being removed.
        for key in &unwanted {
            state.subscribed.remove(key);
        }
        (wanted, unwanted)
    };
    let mut failure = None;
    if !unwanted.is_empty() {
        if let Err(error) = subscriber.unsubscribe(unwanted.clone()).await {
            let mut state = shared.state();
            for key in unwanted {
                if !state.local.contains(&key) {
                    // Still subscribed as far as we know: retried next round.
                    state.subscribed.insert(key);
                }
            }
            failure = Some(error);
        }
    }
    if !wanted.is_empty() {
        // fred answers SUBSCRIBE as soon as it is written, not when Redis has run
        // it; a PING behind it on the same connection answers only after it ran.
        let confirmed = async {
            subscriber.subscribe(wanted.clone()).await?;
            subscriber.ping::<Value>(None).await.map(drop)
        };
        match confirmed.await {
            Ok(()) => shared.state().subscribed.extend(wanted),
            Err(error) => failure = Some(error),
        }
    }
    let in_sync = {
        let mut state = shared.state();
        state.rounds += 1;
        state.last_error = failure.as_ref().map(ToString::to_string);
        state.local.keys().all(|key| state.subscribed.contains(key))
            && state.subscribed.iter().all(|key| state.local.contains(key))
    };
    shared.synced.notify_waiters();
    match failure {
        Some(error) => Err(error),
        None => {
            // Subscribers came or went while the commands were in flight.
            if !in_sync {
                shared.changed.notify_one();
            }
            Ok(())
        }
    }
}
