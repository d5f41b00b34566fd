//! `ws-fanout`: N subscribers over C channels, publishers sending R messages/s in
//! total for a duration; reports connect time, delivered messages/s, delivery
//! ratio, latency percentiles, and the CPU and memory of server and generator.
//!
//! Phases, each bounded: open every subscriber (groups in parallel, handshakes
//! limited by `--connect-concurrency`), connect the publishers, publish for
//! `--duration`, then drain — wait until every expected delivery has arrived or
//! `--drain` has passed — and stop. Expected deliveries are counted per channel:
//! messages the server accepted on the channel × the subscribers ready on it.
//!
//! Against Vigor, subscribers are users (signed up, or from a token file) and
//! messages are published through the hub's server API with a client token (see
//! [`crate::publishers`]); the default channels, `leaderboard:loadtest:{n}`, are
//! ones any signed-in user may subscribe to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::accounts::TokenPool;
use crate::procfs::{Memory, Process};
use crate::publishers::{self, HttpPublish, Publisher, Sent, Shared};
use crate::session::{Endpoint, Target};
use crate::stamp::Clock;
use crate::stats::{self, ConnectSummary, Latencies, LatencySummary};
use crate::subscribers::{self, ChannelNames, Plan, Received, Subscription};

/// The parameters of a `ws-fanout` run.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Receiving connections.
    pub subscribers: usize,
    /// Channels the subscribers are spread over (subscriber `i` on channel `i % C`).
    pub channels: usize,
    /// Channel names: `{n}` is replaced by `channel_base + index`. Against Vigor,
    /// a kind every signed-in user may subscribe to and that keeps history.
    pub channel_template: String,
    /// The first channel number.
    pub channel_base: u64,
    /// Messages per second, all publishers together.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Publishing connections; by default enough to keep each under `per_publisher_rate`.
    pub publishers: Option<usize>,
    /// The highest rate one publisher sends at when `publishers` is not given.
    pub per_publisher_rate: f64,
    /// Bytes of padding per message.
    pub payload_bytes: usize,
    /// The event name of Vigor publishes.
    pub event: String,
    /// Chat (`ws-chat`): make `channels` group chats of this many members, who
    /// subscribe to them and send through social (the template is unused).
    pub chat_members: Option<usize>,
    /// Tokens for Vigor connections (unused for the baseline).
    pub tokens: Option<TokenPool>,
    /// The token Vigor publishes with: a client-credentials token with the
    /// `hub.publish` scope (unused for the baseline).
    pub publish_token: Option<String>,
    /// The server's pid, for its memory and CPU.
    pub server_pid: Option<u32>,
    /// Receiving connections per task.
    pub conns_per_task: usize,
    /// Concurrent handshakes.
    pub connect_concurrency: usize,
    /// Client read buffer per connection.
    pub buffer_bytes: usize,
    /// How long to wait for in-flight deliveries after publishing.
    pub drain: Duration,
}

/// The default channel names: `leaderboard:{board}:{window}` channels, which
/// any signed-in user may subscribe to.
pub const DEFAULT_CHANNEL_TEMPLATE: &str = "leaderboard:loadtest:{n}";

/// The default highest rate of one publisher when their number is not given.
pub const DEFAULT_PER_PUBLISHER_RATE: f64 = 25.0;

impl FanoutConfig {
    /// A run of `subscribers` on one channel at `rate` messages/s for `duration`,
    /// with the command line's defaults for everything else (no tokens, no
    /// server pid).
    pub fn new(endpoint: Endpoint, subscribers: usize, rate: f64, duration: Duration) -> Self {
        FanoutConfig {
            endpoint,
            subscribers,
            channels: 1,
            channel_template: DEFAULT_CHANNEL_TEMPLATE.to_owned(),
            channel_base: 1,
            rate,
            duration,
            publishers: None,
            per_publisher_rate: DEFAULT_PER_PUBLISHER_RATE,
            payload_bytes: 0,
            event: "loadtest.stamp".to_owned(),
            chat_members: None,
            tokens: None,
            publish_token: None,
            server_pid: None,
            conns_per_task: 128,
            connect_concurrency: 64,
            buffer_bytes: 4096,
            drain: Duration::from_secs(5),
        }
    }
}

/// The result of a `ws-fanout` run.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    /// `ws-fanout`.
    pub scenario: &'static str,
    /// Vigor or the baseline.
    pub target: Target,
    /// The WebSocket URL.
    pub url: String,
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Channels.
    pub channels: usize,
    /// Publishing connections.
    pub publishers: usize,
    /// Messages per second asked for.
    pub rate: f64,
    /// Publishing time asked for, seconds.
    pub duration_secs: f64,
    /// Bytes of padding per message.
    pub payload_bytes: usize,
    /// Subscriber connect time: TCP connect to subscribed.
    pub connect: ConnectSummary,
    /// Subscribers that failed to connect or subscribe.
    pub connect_failures: usize,
    /// Messages the publishers wrote.
    pub sent: u64,
    /// Messages the hub refused (`error` answers), by code.
    pub refused: std::collections::BTreeMap<String, u64>,
    /// Deliveries expected: accepted messages × subscribers ready on their channel.
    pub expected: u64,
    /// Stamped messages received.
    pub delivered: u64,
    /// `delivered / expected`.
    pub delivery_ratio: f64,
    /// Deliveries per second, from the first send to the last delivery.
    pub delivered_per_sec: f64,
    /// Sends per second achieved.
    pub sent_per_sec: f64,
    /// Delivery latency, send to receive.
    pub latency: LatencySummary,
    /// Subscriber connections closed during the run.
    pub closed_connections: u64,
    /// The server's memory and CPU (with `--server-pid`).
    pub server: Option<ProcessReport>,
    /// The generator's own memory and CPU.
    pub generator: ProcessReport,
    /// Problems worth reading (first connect error, first refusal, publisher failures).
    pub notes: Vec<String>,
}

/// A process's resources over the measured window (publish start to drain end).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcessReport {
    /// The pid (0 for the generator itself).
    pub pid: u32,
    /// Memory once every connection was ready.
    pub memory_ready: Memory,
    /// Memory at the end.
    pub memory_end: Memory,
    /// CPU use in percent of one core (200 = two cores).
    pub cpu_percent: f64,
}

/// Runs the scenario.
pub async fn run(config: FanoutConfig) -> anyhow::Result<FanoutReport> {
    if config.subscribers == 0
        || !config.rate.is_finite()
        || config.rate <= 0.0
        || config.duration.is_zero()
    {
        bail!("--subscribers, --rate and --duration must be positive");
    }
    if config.endpoint.target == Target::Vigor && config.tokens.is_none() {
        bail!("Vigor runs need tokens (sign users up or pass --tokens)");
    }
    if config.endpoint.target == Target::Vigor
        && config.publish_token.is_none()
        && config.chat_members.is_none()
    {
        bail!("Vigor runs need a publish token (--client-id and --client-secret, or --publish-token-file)");
    }
    let (channels, chat) = match (config.chat_members, &config.tokens) {
        (Some(members), Some(tokens)) => {
            let (names, targets) =
                crate::chat::create_groups(&config.endpoint, tokens, config.channels, members)
                    .await?;
            (ChannelNames::from_names(names)?, Some(targets))
        }
        (Some(_), None) => bail!("chat runs need tokens"),
        (None, _) => (
            ChannelNames::new(
                &config.channel_template,
                config.channel_base,
                config.channels,
            )?,
            None,
        ),
    };
    let clock = Clock::start();
    let run = crate::run_tag();
    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let server = config.server_pid.map(Process::Pid);

    // Subscribers.
    let plan = Arc::new(Plan {
        endpoint: config.endpoint.clone(),
        tokens: config.tokens.clone(),
        channels: channels.clone(),
        subscription: Subscription::Channels,
        buffer_bytes: config.buffer_bytes,
        connect_limit: Semaphore::new(config.connect_concurrency.max(1)),
        run,
        clock,
        ready_per_channel: (0..channels.len()).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
    });
    let per_task = config.conns_per_task.max(1);
    let groups = config.subscribers.div_ceil(per_task);
    let (ready_tx, mut ready_rx) = mpsc::channel(groups);
    let mut receivers = JoinSet::new();
    for g in 0..groups {
        let indices = g * per_task..((g + 1) * per_task).min(config.subscribers);
        receivers.spawn(subscribers::run_group(
            plan.clone(),
            indices,
            ready_tx.clone(),
            stop.clone(),
        ));
    }
    drop(ready_tx);
    let mut connect_times = Vec::with_capacity(config.subscribers);
    let mut connect_failures = 0;
    let mut notes = Vec::new();
    while let Some(setup) = ready_rx.recv().await {
        connect_times.extend(setup.connect_times);
        connect_failures += setup.failures;
        if let (Some(error), true) = (setup.first_error, notes.is_empty()) {
            notes.push(format!("subscriber connect failed: {error}"));
        }
    }
    if connect_times.is_empty() {
        bail!("no subscriber could connect: {}", notes.join("; "));
    }

    // Publishers.
    let publishers = config
        .publishers
        .unwrap_or_else(|| (config.rate / config.per_publisher_rate.max(0.1)).ceil() as usize)
        .max(1);
    let total = (config.rate * config.duration.as_secs_f64()).round() as u64;
    // Chat requests carry each channel's member token; the pool's own header
    // is then unused.
    let http = match (config.endpoint.target, &config.publish_token, &chat) {
        (Target::Vigor, Some(token), _) => {
            Some(HttpPublish::new(&config.endpoint, token, publishers)?)
        }
        (Target::Vigor, None, Some(_)) => {
            Some(HttpPublish::new(&config.endpoint, "chat", publishers)?)
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        endpoint: config.endpoint.clone(),
        channels: channels.clone(),
        event: config.event.clone(),
        padding: "x".repeat(config.payload_bytes),
        run,
        clock,
        http,
        chat,
    });
    // Concurrently, so that the HTTP pool opens one connection per publisher.
    let buffer_bytes = config.buffer_bytes;
    let connecting = publishers::schedules(total, config.rate, publishers, channels.len())
        .into_iter()
        .enumerate()
        .map(|(p, schedule)| {
            let shared = &shared;
            async move {
                Publisher::connect(shared, schedule, buffer_bytes)
                    .await
                    .with_context(|| format!("connecting publisher {p}"))
            }
        });
    let connected = futures::future::try_join_all(connecting).await?;

    // Publish.
    let memory_ready = (
        server.map(|s| s.memory()).transpose()?,
        Process::This.memory()?,
    );
    let cpu_start = (server.map(|s| s.cpu()).transpose()?, Process::This.cpu()?);
    let start = Instant::now() + Duration::from_millis(20);
    let start_nanos = clock.now_nanos() + 20_000_000;
    let deadline = start + config.duration;
    let mut senders = JoinSet::new();
    for publisher in connected {
        senders.spawn(publisher.run(shared.clone(), start, deadline, stop.clone()));
    }
    let mut sent_all = Vec::with_capacity(publishers);
    while let Some(sent) = senders.join_next().await {
        sent_all.push(sent.context("a publisher task failed")?);
    }

    // Drain.
    let expected = expected_deliveries(&sent_all, &plan.ready_per_channel);
    let drain_until = Instant::now().max(deadline) + config.drain;
    while plan.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the groups flush their last counts.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let cpu_end = (server.map(|s| s.cpu()).transpose()?, Process::This.cpu()?);
    let memory_end = (
        server.map(|s| s.memory()).transpose()?,
        Process::This.memory()?,
    );
    stop.cancel();

    let mut received = Received::default();
    let mut latencies = Latencies::new();
    while let Some(group) = receivers.join_next().await {
        let group = group.context("a subscriber task failed")?;
        latencies.merge(&group.latencies);
        received.delivered += group.delivered;
        received.closed += group.closed;
        received.last_delivery_nanos = received.last_delivery_nanos.max(group.last_delivery_nanos);
    }

    let sent: u64 = sent_all.iter().map(Sent::total).sum();
    let mut refused = std::collections::BTreeMap::new();
    for s in &sent_all {
        for (code, n) in &s.refusals {
            *refused.entry(code.clone()).or_insert(0) += n;
        }
        if let Some(first) = &s.first_refusal {
            if !notes.iter().any(|n| n.starts_with("publish refused")) {
                notes.push(format!("publish refused: {first}"));
            }
        }
        if let Some(failure) = &s.failure {
            notes.push(format!("publisher stopped: {failure}"));
        }
    }
    let window = Duration::from_nanos(received.last_delivery_nanos.saturating_sub(start_nanos));
    let process = |pid: u32, memory: (Memory, Memory), cpu: f64| ProcessReport {
        pid,
        memory_ready: memory.0,
        memory_end: memory.1,
        cpu_percent: cpu,
    };
    let server_report = match (
        config.server_pid,
        memory_ready.0,
        memory_end.0,
        cpu_start.0,
        cpu_end.0,
    ) {
        (Some(pid), Some(m0), Some(m1), Some(c0), Some(c1)) => {
            Some(process(pid, (m0, m1), c1.percent_since(&c0)))
        }
        _ => None,
    };
    Ok(FanoutReport {
        scenario: "ws-fanout",
        target: config.endpoint.target,
        url: config.endpoint.ws_url.to_string(),
        subscribers: config.subscribers,
        channels: channels.len(),
        publishers,
        rate: config.rate,
        duration_secs: config.duration.as_secs_f64(),
        payload_bytes: config.payload_bytes,
        connect: ConnectSummary::of(&mut connect_times),
        connect_failures,
        sent,
        refused,
        expected,
        delivered: received.delivered,
        delivery_ratio: stats::delivery_ratio(received.delivered, expected),
        delivered_per_sec: stats::per_second(received.delivered, window),
        sent_per_sec: stats::per_second(sent, config.duration),
        latency: latencies.summary(),
        closed_connections: received.closed,
        server: server_report,
        generator: process(
            0,
            (memory_ready.1, memory_end.1),
            cpu_end.1.percent_since(&cpu_start.1),
        ),
        notes,
    })
}

/// Σ over channels of (accepted messages × ready subscribers).
fn expected_deliveries(sent: &[Sent], ready_per_channel: &[AtomicU64]) -> u64 {
    let mut expected = 0;
    for s in sent {
        for (&channel, &n) in &s.per_channel {
            let refused = s.refused_per_channel.get(&channel).copied().unwrap_or(0);
            let ready = ready_per_channel[channel].load(Ordering::Relaxed);
            expected += n.saturating_sub(refused) * ready;
        }
    }
    expected
}

impl FanoutReport {
    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "ws-fanout against {:?} at {}: {} subscribers on {} channel(s), {} publisher(s), {} msg/s for {:.1} s, {} B padding",
            self.target, self.url, self.subscribers, self.channels, self.publishers, self.rate, self.duration_secs, self.payload_bytes
        ));
        line(format!(
            "  connect        p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} ready, {} failed)",
            self.connect.p50_ms,
            self.connect.p99_ms,
            self.connect.max_ms,
            self.connect.count,
            self.connect_failures
        ));
        line(format!(
            "  sent           {} ({:.0}/s){}",
            self.sent,
            self.sent_per_sec,
            if self.refused.is_empty() {
                String::new()
            } else {
                format!(", refused {:?}", self.refused)
            }
        ));
        line(format!(
            "  delivered      {} of {} expected: ratio {:.4}, {:.0} deliveries/s",
            self.delivered, self.expected, self.delivery_ratio, self.delivered_per_sec
        ));
        line(format!(
            "  latency        p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            self.latency.p50_ms, self.latency.p95_ms, self.latency.p99_ms, self.latency.max_ms
        ));
        if let Some(server) = &self.server {
            line(format!(
                "  server         pid {}  CPU {:.0}%  RSS {} ready, {} end (peak {})",
                server.pid,
                server.cpu_percent,
                mib(server.memory_ready.rss_bytes),
                mib(server.memory_end.rss_bytes),
                mib(server.memory_end.peak_bytes)
            ));
        }
        line(format!(
            "  generator      CPU {:.0}%  RSS {}",
            self.generator.cpu_percent,
            mib(self.generator.memory_end.rss_bytes)
        ));
        if self.closed_connections > 0 {
            line(format!(
                "  closed         {} subscriber connection(s) closed during the run",
                self.closed_connections
            ));
        }
        for note in &self.notes {
            line(format!("  note: {note}"));
        }
        out
    }
}

/// Bytes as MiB with one decimal.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_deliveries_count_accepted_messages_times_ready_subscribers() {
        let ready: Vec<AtomicU64> = [3, 2].into_iter().map(AtomicU64::new).collect();
        let mut a = Sent::default();
        a.per_channel.insert(0, 10);
        a.refused_per_channel.insert(0, 1);
        let mut b = Sent::default();
        b.per_channel.insert(1, 5);
        assert_eq!(expected_deliveries(&[a, b], &ready), 9 * 3 + 5 * 2);
    }
}
