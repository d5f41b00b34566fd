//! The `vigor-loadtest` command line: `ws-fanout` and `ws-connections`, against
//! Vigor (`/v1/ws`) or, with `--baseline`, the Node broadcast server in
//! `loadtest/peers/`. Prints a report for people, or JSON with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use vigor_loadtest::accounts::TokenPool;
use vigor_loadtest::connections::{self, ConnectionsConfig};
use vigor_loadtest::fanout::{self, FanoutConfig};
use vigor_loadtest::procfs;
use vigor_loadtest::session::{Endpoint, Target};

/// Load generator for Vigor's real-time hub.
#[derive(Debug, Parser)]
#[command(name = "vigor-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Subscribers on channels, publishers at a fixed total rate: delivery and latency.
    WsFanout(FanoutArgs),
    /// Idle authenticated, subscribed connections: server memory per connection.
    WsConnections(ConnectionsArgs),
}

/// What both scenarios take.
#[derive(Debug, Args)]
struct Common {
    /// The server: ws://127.0.0.1:PORT (path /v1/ws added for Vigor, / for the baseline).
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// Drive the Node baseline (loadtest/peers/server.js): no auth, no subscribe.
    #[arg(long)]
    baseline: bool,
    /// Access tokens, one per line, instead of signing users up.
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Users to sign up when no --tokens are given; connections share them.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// The server's pid: report its RSS and CPU from /proc.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Receiving connections per task.
    #[arg(long, default_value_t = 128)]
    conns_per_task: usize,
    /// Concurrent WebSocket handshakes.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Client read buffer per connection, bytes.
    #[arg(long, default_value_t = 4096)]
    client_buffer: usize,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// Receiving connections.
    #[arg(long)]
    subscribers: usize,
    /// Messages per second, all publishers together.
    #[arg(long)]
    rate: f64,
    /// How long to publish, seconds.
    #[arg(long, value_parser = seconds)]
    duration: Duration,
    /// Channels the subscribers are spread over.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Channel names; {n} becomes a number from --channel-base. The channel kind must
    /// allow client publishes (see loadtest/README.md).
    #[arg(long, default_value = "community:{n}")]
    channel_template: String,
    /// The first channel number.
    #[arg(long, default_value_t = 1)]
    channel_base: u64,
    /// Publishing connections (default: enough to keep each at --per-publisher-rate).
    #[arg(long)]
    publishers: Option<usize>,
    /// Highest rate per publisher when --publishers is not given (the hub allows 20/s).
    #[arg(long, default_value_t = 15.0)]
    per_publisher_rate: f64,
    /// Padding bytes per message.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// Event name of the published messages.
    #[arg(long, default_value = "loadtest.stamp")]
    event: String,
    /// Longest wait for in-flight deliveries after publishing, seconds.
    #[arg(long, value_parser = seconds, default_value = "5")]
    drain: Duration,
}

#[derive(Debug, Args)]
struct ConnectionsArgs {
    #[command(flatten)]
    common: Common,
    /// Connections to open.
    #[arg(long)]
    connections: usize,
    /// How long to hold them after measuring, seconds.
    #[arg(long, value_parser = seconds, default_value = "5")]
    hold: Duration,
    /// Pause before the memory reading, seconds.
    #[arg(long, value_parser = seconds, default_value = "2")]
    settle: Duration,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let text = text.trim_end_matches('s');
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{text:?} is not a number of seconds")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.scenario {
        Scenario::WsFanout(a) => a.common.threads,
        Scenario::WsConnections(a) => a.common.threads,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = threads {
        runtime.worker_threads(threads.max(1));
    }
    let result = runtime
        .build()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigor-loadtest: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let limit = procfs::raise_open_files_limit()?;
    match cli.scenario {
        Scenario::WsFanout(args) => {
            let (endpoint, tokens) = prepare(&args.common).await?;
            if args.subscribers + 64 > limit as usize {
                eprintln!(
                    "warning: {} subscribers near the open-files limit {limit}",
                    args.subscribers
                );
            }
            let report = fanout::run(FanoutConfig {
                endpoint,
                subscribers: args.subscribers,
                channels: args.channels,
                channel_template: args.channel_template,
                channel_base: args.channel_base,
                rate: args.rate,
                duration: args.duration,
                publishers: args.publishers,
                per_publisher_rate: args.per_publisher_rate,
                payload_bytes: args.payload_bytes,
                event: args.event,
                tokens,
                server_pid: args.common.server_pid,
                conns_per_task: args.common.conns_per_task,
                connect_concurrency: args.common.connect_concurrency,
                buffer_bytes: args.common.client_buffer,
                drain: args.drain,
            })
            .await?;
            if args.common.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.human());
            }
        }
        Scenario::WsConnections(args) => {
            let (endpoint, tokens) = prepare(&args.common).await?;
            if args.connections + 64 > limit as usize {
                eprintln!(
                    "warning: {} connections near the open-files limit {limit}",
                    args.connections
                );
            }
            let report = connections::run(ConnectionsConfig {
                endpoint,
                connections: args.connections,
                hold: args.hold,
                settle: args.settle,
                tokens,
                server_pid: args.common.server_pid,
                conns_per_task: args.common.conns_per_task,
                connect_concurrency: args.common.connect_concurrency,
                buffer_bytes: args.common.client_buffer,
            })
            .await?;
            if args.common.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.human());
            }
        }
    }
    Ok(())
}

/// The endpoint, and tokens for Vigor (from --tokens, or signed up).
async fn prepare(common: &Common) -> anyhow::Result<(Endpoint, Option<TokenPool>)> {
    let target = if common.baseline {
        Target::Baseline
    } else {
        Target::Vigor
    };
    let endpoint = Endpoint::parse(&common.url, target)?;
    let tokens = match (target, &common.tokens) {
        (Target::Baseline, _) => None,
        (Target::Vigor, Some(path)) => Some(TokenPool::from_file(path)?),
        (Target::Vigor, None) => {
            eprintln!(
                "signing up {} users at {}…",
                common.users, endpoint.http_base
            );
            Some(
                TokenPool::sign_up(
                    &endpoint.http_base,
                    common.users.max(1),
                    vigor_loadtest::run_tag(),
                )
                .await?,
            )
        }
    };
    Ok((endpoint, tokens))
}
