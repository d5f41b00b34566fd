//! The `vigor-loadtest` command line: `ws-fanout`, `ws-chat` and `ws-connections`, against
//! Vigor (`/v1/ws`) or, with `--baseline`, the Node broadcast server in
//! `loadtest/peers/`. Prints a report for people, or JSON with `--json`
//! (`--json-out FILE` writes the JSON too, beside the report for people).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use vigor_loadtest::accounts::{self, TokenPool};
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
    /// Group chats of the social service, members subscribed over the hub and
    /// sending through social: send → stored → delivered latency.
    WsChat(ChatArgs),
    /// Idle authenticated, subscribed connections: server memory per connection.
    WsConnections(ConnectionsArgs),
    /// Signs users up and writes their access tokens, one per line (for --tokens).
    SignUp(SignUpArgs),
}

#[derive(Debug, Args)]
struct SignUpArgs {
    /// The server: ws://127.0.0.1:PORT (its HTTP API on the same address).
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// Users to sign up.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Where to write the tokens (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
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
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
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
    /// Channel names, numbered from --channel-base where the default has its
    /// placeholder. Against Vigor every signed-in user must be allowed to subscribe
    /// (leaderboard channels are).
    #[arg(long, default_value = fanout::DEFAULT_CHANNEL_TEMPLATE)]
    channel_template: String,
    /// The first channel number.
    #[arg(long, default_value_t = 1)]
    channel_base: u64,
    /// Concurrent publishers, each with one keep-alive connection (default: enough
    /// to keep each at --per-publisher-rate).
    #[arg(long)]
    publishers: Option<usize>,
    /// Highest rate per publisher when --publishers is not given.
    #[arg(long, default_value_t = fanout::DEFAULT_PER_PUBLISHER_RATE)]
    per_publisher_rate: f64,
    /// Vigor: the confidential OAuth client that publishes (client-credentials
    /// grant, scope hub.publish; `vigor admin clients create … --scope hub.publish`).
    #[arg(long, value_name = "ID", requires = "client_secret")]
    client_id: Option<String>,
    /// Vigor: that client's secret.
    #[arg(
        long,
        value_name = "SECRET",
        env = "VIGOR_LOADTEST_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// Vigor: a file holding an access token with the hub.publish scope, instead
    /// of --client-id and --client-secret.
    #[arg(long, value_name = "FILE", conflicts_with = "client_id")]
    publish_token_file: Option<PathBuf>,
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
struct ChatArgs {
    #[command(flatten)]
    common: Common,
    /// Group chats.
    #[arg(long, default_value_t = 500)]
    channels: usize,
    /// Members of each (all subscribed; one of them sends its messages).
    #[arg(long, default_value_t = 10)]
    members: usize,
    /// Messages per second, all chats together.
    #[arg(long)]
    rate: f64,
    /// How long to send, seconds.
    #[arg(long, value_parser = seconds)]
    duration: Duration,
    /// Concurrent senders (default: enough to keep each at --per-publisher-rate).
    #[arg(long)]
    publishers: Option<usize>,
    /// Highest rate per sender when --publishers is not given.
    #[arg(long, default_value_t = fanout::DEFAULT_PER_PUBLISHER_RATE)]
    per_publisher_rate: f64,
    /// Padding bytes per message body.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// Longest wait for in-flight deliveries after sending, seconds.
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
        Scenario::WsChat(a) => a.common.threads,
        Scenario::WsConnections(a) => a.common.threads,
        Scenario::SignUp(_) => None,
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
        Scenario::SignUp(args) => {
            let endpoint = Endpoint::parse(&args.url, Target::Vigor)?;
            let pool = TokenPool::sign_up(
                &endpoint.http_base,
                args.users.max(1),
                vigor_loadtest::run_tag(),
            )
            .await?;
            let mut text = String::new();
            for token in pool.tokens() {
                text.push_str(token);
                text.push('\n');
            }
            match &args.out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Scenario::WsFanout(args) => {
            let (endpoint, tokens) = prepare(&args.common).await?;
            let publish_token = publish_token(&args, &endpoint).await?;
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
                chat_members: None,
                tokens,
                publish_token,
                server_pid: args.common.server_pid,
                conns_per_task: args.common.conns_per_task,
                connect_concurrency: args.common.connect_concurrency,
                buffer_bytes: args.common.client_buffer,
                drain: args.drain,
            })
            .await?;
            output(&args.common, &report, &report.human())?;
        }
        Scenario::WsChat(args) => {
            if args.common.baseline {
                anyhow::bail!("ws-chat runs against Vigor only (the baseline has no chats)");
            }
            let (endpoint, tokens) = prepare(&args.common).await?;
            let mut config = FanoutConfig::new(
                endpoint,
                args.channels * args.members,
                args.rate,
                args.duration,
            );
            config.channels = args.channels;
            config.chat_members = Some(args.members);
            config.publishers = args.publishers;
            config.per_publisher_rate = args.per_publisher_rate;
            config.payload_bytes = args.payload_bytes;
            config.tokens = tokens;
            config.server_pid = args.common.server_pid;
            config.conns_per_task = args.common.conns_per_task;
            config.connect_concurrency = args.common.connect_concurrency;
            config.buffer_bytes = args.common.client_buffer;
            config.drain = args.drain;
            let report = fanout::run(config).await?;
            output(&args.common, &report, &report.human())?;
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
            output(&args.common, &report, &report.human())?;
        }
    }
    Ok(())
}

/// Prints the report (JSON with `--json`) and writes it to `--json-out`.
fn output(common: &Common, report: &impl serde::Serialize, human: &str) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(path) = &common.json_out {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if common.json {
        println!("{json}");
    } else {
        print!("{human}");
    }
    Ok(())
}

/// The token Vigor publishes with: read from `--publish-token-file`, or from the
/// client-credentials grant of `--client-id`; none for the baseline.
async fn publish_token(args: &FanoutArgs, endpoint: &Endpoint) -> anyhow::Result<Option<String>> {
    if endpoint.target == Target::Baseline {
        return Ok(None);
    }
    if let Some(path) = &args.publish_token_file {
        return accounts::token_from_file(path).map(Some);
    }
    match (&args.client_id, &args.client_secret) {
        (Some(id), Some(secret)) => {
            let token = accounts::client_credentials_token(
                &endpoint.http_base,
                id,
                secret,
                accounts::PUBLISH_SCOPE,
            )
            .await?;
            Ok(Some(token))
        }
        _ => anyhow::bail!(
            "ws-fanout against Vigor publishes through POST /v1/hub/publish: give --client-id and \
             --client-secret of a client with the hub.publish scope, or --publish-token-file \
             (see loadtest/README.md)"
        ),
    }
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
