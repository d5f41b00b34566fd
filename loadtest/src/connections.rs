//! `ws-connections`: N idle, authenticated, subscribed connections held open;
//! reports the server's resident memory before and after, and so the bytes each
//! connection costs it.
//!
//! Each Vigor session authenticates and subscribes to its own `user:{id}` channel
//! (always allowed), which is what an idle signed-in app does; baseline
//! connections join one room. The "before" memory is read once the server has
//! settled, the "after" after every connection is ready and `--settle` has passed
//! (allocators return memory lazily; reading at once overstates nothing but is
//! noisier). The connections are then held for `--hold`, reading (which answers
//! the server's heartbeats), and the memory is read again.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::accounts::TokenPool;
use crate::fanout::mib;
use crate::procfs::{Memory, Process};
use crate::session::{Endpoint, Target};
use crate::stamp::Clock;
use crate::stats::ConnectSummary;
use crate::subscribers::{self, ChannelNames, Plan, Subscription};

/// The parameters of a `ws-connections` run.
#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Connections to open.
    pub connections: usize,
    /// How long to hold them once measured.
    pub hold: Duration,
    /// Pause between the last connection and the "after" reading.
    pub settle: Duration,
    /// Tokens for Vigor connections.
    pub tokens: Option<TokenPool>,
    /// The server's pid, for its memory.
    pub server_pid: Option<u32>,
    /// Connections per task.
    pub conns_per_task: usize,
    /// Concurrent handshakes.
    pub connect_concurrency: usize,
    /// Client read buffer per connection.
    pub buffer_bytes: usize,
}

impl ConnectionsConfig {
    /// `connections` connections held for `hold`, with the command line's
    /// defaults for everything else (no tokens, no server pid).
    pub fn new(endpoint: Endpoint, connections: usize, hold: Duration) -> Self {
        ConnectionsConfig {
            endpoint,
            connections,
            hold,
            settle: Duration::from_secs(2),
            tokens: None,
            server_pid: None,
            conns_per_task: 128,
            connect_concurrency: 64,
            buffer_bytes: 4096,
        }
    }
}

/// The result of a `ws-connections` run.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionsReport {
    /// `ws-connections`.
    pub scenario: &'static str,
    /// Vigor or the baseline.
    pub target: Target,
    /// The WebSocket URL.
    pub url: String,
    /// Connections asked for.
    pub connections: usize,
    /// Connect time: TCP connect to subscribed.
    pub connect: ConnectSummary,
    /// Connections that failed.
    pub connect_failures: usize,
    /// Connections the server closed while they were held.
    pub closed_during_hold: u64,
    /// The server's memory before connecting.
    pub server_before: Option<Memory>,
    /// Its memory with every connection open.
    pub server_after: Option<Memory>,
    /// Its memory at the end of the hold.
    pub server_end: Option<Memory>,
    /// `(after − before) / ready connections`.
    pub server_bytes_per_connection: Option<f64>,
    /// The generator's own memory with every connection open.
    pub generator_after: Memory,
    /// Problems worth reading.
    pub notes: Vec<String>,
}

/// Runs the scenario.
pub async fn run(config: ConnectionsConfig) -> anyhow::Result<ConnectionsReport> {
    if config.connections == 0 {
        bail!("--connections must be positive");
    }
    if config.endpoint.target == Target::Vigor && config.tokens.is_none() {
        bail!("Vigor runs need tokens (sign users up or pass --tokens)");
    }
    let server = config.server_pid.map(Process::Pid);
    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let server_before = server.map(|s| s.memory()).transpose()?;

    let plan = Arc::new(Plan {
        endpoint: config.endpoint.clone(),
        tokens: config.tokens.clone(),
        channels: ChannelNames::new("idle", 0, 1)?,
        subscription: Subscription::OwnUser,
        buffer_bytes: config.buffer_bytes,
        connect_limit: Semaphore::new(config.connect_concurrency.max(1)),
        run: crate::run_tag(),
        clock: Clock::start(),
        ready_per_channel: vec![AtomicU64::new(0)],
        delivered: AtomicU64::new(0),
    });
    let per_task = config.conns_per_task.max(1);
    let groups = config.connections.div_ceil(per_task);
    let (ready_tx, mut ready_rx) = mpsc::channel(groups);
    let mut tasks = JoinSet::new();
    for g in 0..groups {
        let indices = g * per_task..((g + 1) * per_task).min(config.connections);
        tasks.spawn(subscribers::run_group(
            plan.clone(),
            indices,
            ready_tx.clone(),
            stop.clone(),
        ));
    }
    drop(ready_tx);
    let mut connect_times = Vec::with_capacity(config.connections);
    let mut connect_failures = 0;
    let mut notes = Vec::new();
    while let Some(setup) = ready_rx.recv().await {
        connect_times.extend(setup.connect_times);
        connect_failures += setup.failures;
        if let (Some(error), true) = (setup.first_error, notes.is_empty()) {
            notes.push(format!("connect failed: {error}"));
        }
    }
    let ready = connect_times.len();

    tokio::time::sleep(config.settle).await;
    let server_after = server.map(|s| s.memory()).transpose()?;
    let generator_after = Process::This.memory()?;
    tokio::time::sleep(config.hold).await;
    let server_end = server.map(|s| s.memory()).transpose()?;
    stop.cancel();
    let mut closed_during_hold = 0;
    while let Some(group) = tasks.join_next().await {
        closed_during_hold += group?.closed;
    }

    let server_bytes_per_connection = match (server_before, server_after) {
        (Some(before), Some(after)) if ready > 0 => {
            Some((after.rss_bytes as f64 - before.rss_bytes as f64) / ready as f64)
        }
        _ => None,
    };
    Ok(ConnectionsReport {
        scenario: "ws-connections",
        target: config.endpoint.target,
        url: config.endpoint.ws_url.to_string(),
        connections: config.connections,
        connect: ConnectSummary::of(&mut connect_times),
        connect_failures,
        closed_during_hold,
        server_before,
        server_after,
        server_end,
        server_bytes_per_connection,
        generator_after,
        notes,
    })
}

impl ConnectionsReport {
    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = format!(
            "ws-connections against {:?} at {}: {} connections\n",
            self.target, self.url, self.connections
        );
        out += &format!(
            "  connect        p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} ready, {} failed)\n",
            self.connect.p50_ms,
            self.connect.p99_ms,
            self.connect.max_ms,
            self.connect.count,
            self.connect_failures
        );
        if let (Some(before), Some(after), Some(end)) =
            (self.server_before, self.server_after, self.server_end)
        {
            out += &format!(
                "  server RSS     before {}, with connections {}, after the hold {} (peak {})\n",
                mib(before.rss_bytes),
                mib(after.rss_bytes),
                mib(end.rss_bytes),
                mib(end.peak_bytes)
            );
        }
        if let Some(per) = self.server_bytes_per_connection {
            out += &format!(
                "  per connection {:.0} bytes ({:.2} KiB) of server RSS\n",
                per,
                per / 1024.0
            );
        }
        out += &format!("  generator RSS  {}\n", mib(self.generator_after.rss_bytes));
        if self.closed_during_hold > 0 {
            out += &format!(
                "  closed         {} connection(s) closed by the server during the hold\n",
                self.closed_during_hold
            );
        }
        for note in &self.notes {
            out += &format!("  note: {note}\n");
        }
        out
    }
}
