//! Receiving connections, many per task.
//!
//! A task owns a group of connections (`--conns-per-task`): it opens them one
//! after another, reports the group ready, then reads all of them — one reading
//! future per connection, polled by the task only when its socket woke it — until
//! told to stop. Grouping keeps the per-connection cost of the generator small
//! (one latency histogram and one set of counters per group, not per connection)
//! and lets 20,000 idle connections live in a few hundred tasks. Connections are
//! [`crate::lean`] clients: a read hands over every message it brought, in place,
//! and answers the server's heartbeat pings.
//!
//! The hot loop does no JSON parsing and no allocation: a message is searched
//! for this run's stamp ([`crate::stamp`]), its latency recorded, and counters
//! bumped; the shared delivered counter is updated in batches.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::accounts::TokenPool;
use crate::lean::{Conn, Incoming};
use crate::session::{self, Endpoint, Target};
use crate::stamp::{Clock, StampFinder};
use crate::stats::Latencies;

/// How often a group publishes its delivered count to the shared counter.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// What each receiving connection subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// Connection `i` subscribes to channel `i % channels`.
    Channels,
    /// Each Vigor session subscribes to its own `user:{id}` channel (always
    /// allowed); baseline connections join the room `idle`.
    OwnUser,
}

/// Channel names: `template` with `{n}` replaced by `base + index`.
#[derive(Debug, Clone)]
pub struct ChannelNames {
    names: Arc<[String]>,
}

impl ChannelNames {
    /// `count` names from `template` (which must contain `{n}` when `count > 1`).
    pub fn new(template: &str, base: u64, count: usize) -> anyhow::Result<ChannelNames> {
        if count == 0 {
            anyhow::bail!("--channels must be at least 1");
        }
        if count > 1 && !template.contains("{n}") {
            anyhow::bail!("--channel-template {template:?} has no {{n}} for {count} channels");
        }
        let names = (0..count)
            .map(|i| template.replace("{n}", &(base + i as u64).to_string()))
            .collect();
        Ok(ChannelNames { names })
    }

    /// Channels with these names (at least one).
    pub fn from_names(names: Vec<String>) -> anyhow::Result<ChannelNames> {
        if names.is_empty() {
            anyhow::bail!("no channels");
        }
        Ok(ChannelNames {
            names: names.into(),
        })
    }

    /// The name of channel `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// How many channels there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none (never, once built).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Everything the groups share.
pub struct Plan {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Tokens (Vigor only).
    pub tokens: Option<TokenPool>,
    /// The channels.
    pub channels: ChannelNames,
    /// What to subscribe to.
    pub subscription: Subscription,
    /// Client read buffer per connection.
    pub buffer_bytes: usize,
    /// Bounds concurrent handshakes across groups.
    pub connect_limit: Semaphore,
    /// This run's stamp tag.
    pub run: u32,
    /// The shared clock.
    pub clock: Clock,
    /// Connections ready per channel (for the expected delivery count).
    pub ready_per_channel: Vec<AtomicU64>,
    /// Stamped messages delivered so far (updated every [`FLUSH_EVERY`]).
    pub delivered: AtomicU64,
}

/// A group's setup, sent once its connections are open.
#[derive(Debug, Default)]
pub struct Setup {
    /// Time from TCP connect to subscribed, per ready connection.
    pub connect_times: Vec<Duration>,
    /// Connections that failed.
    pub failures: usize,
    /// The first failure, for the report.
    pub first_error: Option<String>,
}

/// What a group saw while reading.
#[derive(Debug, Default)]
pub struct Received {
    /// Latencies of this run's stamped messages.
    pub latencies: Latencies,
    /// This run's stamped messages.
    pub delivered: u64,
    /// Text frames without this run's stamp.
    pub other_frames: u64,
    /// Connections the server closed or that failed while reading.
    pub closed: u64,
    /// When the last stamped message arrived, in clock nanoseconds.
    pub last_delivery_nanos: u64,
}

/// Runs one group: opens connections `indices`, reports its [`Setup`] on `ready`,
/// then reads until `stop` (or until every connection has closed).
pub async fn run_group(
    plan: Arc<Plan>,
    indices: Range<usize>,
    ready: mpsc::Sender<Setup>,
    stop: CancellationToken,
) -> Received {
    let mut setup = Setup::default();
    let mut conns = Vec::with_capacity(indices.len());
    for index in indices {
        let opened = tokio::select! {
            _ = stop.cancelled() => return Received::default(),
            opened = open_one(&plan, index) => opened,
        };
        match opened {
            Ok((conn, took)) => {
                setup.connect_times.push(took);
                conns.push(conn);
            }
            Err(error) => {
                setup.failures += 1;
                if setup.first_error.is_none() {
                    setup.first_error = Some(format!("{error:#}"));
                }
            }
        }
    }
    // The receiver may have given up (setup failed elsewhere): keep going, `stop` ends us.
    let _ = ready.send(setup).await;
    // Dropping the sender lets the receiver see when every group has reported.
    drop(ready);
    read(&plan, conns, &stop).await
}

/// Opens connection `index` and subscribes it; returns it and how long that took.
async fn open_one(plan: &Plan, index: usize) -> anyhow::Result<(Conn, Duration)> {
    let _permit = plan
        .connect_limit
        .acquire()
        .await
        .map_err(|_| anyhow::anyhow!("connect limit closed"))?;
    let started = Instant::now();
    let channel = index % plan.channels.len();
    let ws = match plan.endpoint.target {
        Target::Vigor => {
            let token = plan
                .tokens
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("Vigor connections need tokens"))?
                .get(index);
            let (mut ws, user) =
                session::open_vigor(&plan.endpoint, token, plan.buffer_bytes).await?;
            match plan.subscription {
                Subscription::Channels => {
                    session::subscribe(&mut ws, 1, plan.channels.name(channel)).await?
                }
                Subscription::OwnUser => {
                    session::subscribe(&mut ws, 1, &format!("user:{user}")).await?
                }
            }
            ws
        }
        Target::Baseline => {
            let room = match plan.subscription {
                Subscription::Channels => plan.channels.name(channel),
                Subscription::OwnUser => "idle",
            };
            let url = plan.endpoint.baseline_url(room, false);
            session::open_lean(plan.endpoint.addr, &url, None, plan.buffer_bytes).await?
        }
    };
    let took = started.elapsed();
    if plan.subscription == Subscription::Channels {
        plan.ready_per_channel[channel].fetch_add(1, Ordering::Relaxed);
    }
    Ok((ws, took))
}

/// The hot loop: every message of every connection of the group.
async fn read(plan: &Plan, conns: Vec<Conn>, stop: &CancellationToken) -> Received {
    // Shared by the group's reading futures, which the one task polls in turn:
    // the lock is never contended.
    let received = Mutex::new(Received::default());
    let finder = StampFinder::new();
    let mut readers: FuturesUnordered<_> = conns
        .into_iter()
        .map(|conn| read_one(plan, conn, &finder, &received))
        .collect();
    let mut flushed = 0u64;
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            _ = flush.tick() => {
                let delivered = lock(&received).delivered;
                plan.delivered.fetch_add(delivered - flushed, Ordering::Relaxed);
                flushed = delivered;
            }
            // A reader ends when its connection does.
            Some(()) = readers.next(), if !readers.is_empty() => lock(&received).closed += 1,
        }
    }
    drop(readers);
    let received = received.into_inner().unwrap_or_else(|e| e.into_inner());
    plan.delivered
        .fetch_add(received.delivered - flushed, Ordering::Relaxed);
    received
}

/// Reads one connection until it closes, recording into the group's `received`.
async fn read_one(plan: &Plan, mut conn: Conn, finder: &StampFinder, received: &Mutex<Received>) {
    let mut stamps = Vec::new();
    let mut other = 0u64;
    loop {
        let read = conn
            .read_some(|message| match message {
                Incoming::Text(text) => match finder.find(text) {
                    Some(stamp) if stamp.run == plan.run => stamps.push(stamp.sent_nanos),
                    _ => other += 1,
                },
                Incoming::Binary(_) => other += 1,
            })
            .await;
        // One clock reading for everything one read brought.
        let now = plan.clock.now_nanos();
        let mut received = lock(received);
        for sent in stamps.drain(..) {
            received.latencies.record_nanos(now.saturating_sub(sent));
            received.delivered += 1;
            received.last_delivery_nanos = now;
        }
        received.other_frames += std::mem::take(&mut other);
        if read.is_err() {
            return;
        }
    }
}

fn lock(received: &Mutex<Received>) -> std::sync::MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_template() {
        let names = ChannelNames::new("community:{n}", 100, 3).unwrap();
        assert_eq!(
            (names.name(0), names.name(2), names.len()),
            ("community:100", "community:102", 3)
        );
        assert_eq!(ChannelNames::new("room", 1, 1).unwrap().name(0), "room");
        assert!(ChannelNames::new("room", 1, 2).is_err());
        assert!(ChannelNames::new("chat:{n}", 1, 0).is_err());
    }
}
