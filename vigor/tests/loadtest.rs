//! The load generator against a real all-in-one `vigor`, small and short: what
//! `loadtest/bench` measures at full size must first be right at small size.
//!
//! - `ws-fanout`: subscribers on `leaderboard:` channels, messages published through
//!   `POST /v1/hub/publish` with a client-credentials token: every message reaches
//!   every subscriber of its channel, with sane latencies; a token without the
//!   `hub.publish` scope is refused and nothing is expected.
//! - `ws-chat`: group chats of the social service, their members subscribed to
//!   `chat:` channels, messages sent through social as members: every stored
//!   message reaches every member once; over the per-person send rate, social
//!   refuses with 429 and nothing of the refused is expected.
//! - `ws-connections`: every connection authenticates and subscribes, and the
//!   server's memory per connection is measured.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::Vigor;
use vigor_loadtest::accounts::{self, TokenPool};
use vigor_loadtest::connections::{self, ConnectionsConfig};
use vigor_loadtest::fanout::{self, FanoutConfig};
use vigor_loadtest::session::{Endpoint, Target};

/// Registers the publishing client the way an operator does; returns its id and secret.
fn publishing_client(data: &Path) -> (String, String) {
    let output = support::command()
        .args(["admin", "--data-dir"])
        .arg(data)
        .args([
            "clients",
            "create",
            "loadtest",
            "--name",
            "Load test",
            "--confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "hub.publish",
        ])
        .output()
        .expect("vigor admin runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret="))
        .unwrap_or_else(|| panic!("no client_secret in {stdout}"))
        .to_owned();
    ("loadtest".to_owned(), secret)
}

/// An all-in-one vigor on a fresh data dir (kept by the caller), without the
/// per-IP rate limit: every connection of a load test comes from 127.0.0.1.
fn serve(data: &Path) -> (Vigor, Endpoint) {
    let vigor = Vigor::serve_in(data, &[], &[("VIGOR_RATE_LIMIT_ENABLED", "false")]);
    let ws = vigor.url.replacen("http://", "ws://", 1);
    let endpoint = Endpoint::parse(&ws, Target::Vigor).expect("a loopback URL");
    (vigor, endpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_fanout_delivers_every_published_message_to_every_subscriber() {
    let data = tempfile::tempdir().unwrap();
    let (client_id, secret) = publishing_client(data.path());
    let (vigor, endpoint) = serve(data.path());
    let users = TokenPool::sign_up(&endpoint.http_base, 4, vigor_loadtest::run_tag())
        .await
        .expect("sign-ups");
    let publish_token = accounts::client_credentials_token(
        &endpoint.http_base,
        &client_id,
        &secret,
        accounts::PUBLISH_SCOPE,
    )
    .await
    .expect("a client token");

    // 20 subscribers on 2 channels, 20 messages/s for 2 s.
    let mut config = FanoutConfig::new(endpoint.clone(), 20, 20.0, Duration::from_secs(2));
    config.channels = 2;
    config.tokens = Some(users.clone());
    config.publish_token = Some(publish_token);
    config.server_pid = Some(vigor.pid());
    config.payload_bytes = 100;
    let report = fanout::run(config).await.expect("the run");
    let human = report.human();
    assert_eq!(report.connect.count, 20, "{human}");
    assert_eq!(report.connect_failures, 0, "{human}");
    assert_eq!(report.sent, 40, "{human}");
    assert!(report.refused.is_empty(), "{human}");
    // Each message goes to one channel, which has 10 subscribers.
    assert_eq!(report.expected, 400, "{human}");
    assert_eq!(report.delivered, 400, "{human}");
    assert_eq!(report.delivery_ratio, 1.0, "{human}");
    assert_eq!(report.closed_connections, 0, "{human}");
    let latency = report.latency;
    assert!(latency.p50_ms > 0.0, "{human}");
    assert!(
        latency.p50_ms <= latency.p99_ms && latency.p99_ms <= latency.max_ms,
        "{human}"
    );
    assert!(latency.max_ms < 1_000.0, "{human}");
    let server = report.server.expect("the server's figures");
    assert_eq!(server.pid, vigor.pid());
    assert!(server.memory_end.rss_bytes > 0, "{human}");
    assert!(report.notes.is_empty(), "{human}");

    // A user token has no hub.publish scope: every publish is refused with a 403,
    // and nothing is expected at the subscribers.
    let mut config = FanoutConfig::new(endpoint, 2, 10.0, Duration::from_millis(500));
    config.publish_token = Some(users.get(0).to_owned());
    config.tokens = Some(users);
    config.drain = Duration::from_millis(200);
    let report = fanout::run(config).await.expect("the run");
    let human = report.human();
    assert_eq!(report.sent, 5, "{human}");
    assert_eq!(report.refused.get("http_403"), Some(&5), "{human}");
    assert_eq!((report.expected, report.delivered), (0, 0), "{human}");
    assert!(
        report.notes.iter().any(|n| n.contains("http_403")),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_chat_delivers_every_stored_message_to_every_member() {
    let data = tempfile::tempdir().unwrap();
    let vigor = Vigor::serve_in(
        data.path(),
        &[],
        &[
            ("VIGOR_RATE_LIMIT_ENABLED", "false"),
            ("VIGOR_SOCIAL_SEND_RATE_PER_SEC", "0"),
        ],
    );
    let ws = vigor.url.replacen("http://", "ws://", 1);
    let endpoint = Endpoint::parse(&ws, Target::Vigor).expect("a loopback URL");
    // 5 users (prime) for 4 chats of 3: every chat has distinct members.
    let users = TokenPool::sign_up(&endpoint.http_base, 5, vigor_loadtest::run_tag())
        .await
        .expect("sign-ups");
    let mut config = FanoutConfig::new(endpoint, 12, 20.0, Duration::from_secs(2));
    config.channels = 4;
    config.chat_members = Some(3);
    config.tokens = Some(users);
    config.server_pid = Some(vigor.pid());
    let report = fanout::run(config).await.expect("the run");
    let human = report.human();
    assert_eq!(report.connect.count, 12, "{human}");
    assert_eq!(report.connect_failures, 0, "{human}");
    assert_eq!(report.sent, 40, "{human}");
    assert!(report.refused.is_empty(), "{human}");
    assert_eq!(report.expected, 120, "{human}");
    assert_eq!(report.delivered, 120, "{human}");
    assert_eq!(report.delivery_ratio, 1.0, "{human}");
    assert!(report.latency.max_ms < 2_000.0, "{human}");
    drop(vigor);

    // With the default send rate (5/s, bursts of 20) one sender per chat at 40/s
    // is refused beyond it: refusals are counted, never expected.
    let data = tempfile::tempdir().unwrap();
    let (vigor, endpoint) = serve(data.path());
    let users = TokenPool::sign_up(&endpoint.http_base, 3, vigor_loadtest::run_tag())
        .await
        .expect("sign-ups");
    let mut config = FanoutConfig::new(endpoint, 2, 40.0, Duration::from_secs(1));
    config.channels = 1;
    config.chat_members = Some(2);
    config.tokens = Some(users);
    config.drain = Duration::from_millis(500);
    let report = fanout::run(config).await.expect("the run");
    let human = report.human();
    let refused = report.refused.get("http_429").copied().unwrap_or(0);
    assert!(refused > 0, "{human}");
    assert_eq!(report.sent, 40, "{human}");
    assert_eq!(report.expected, (40 - refused) * 2, "{human}");
    assert_eq!(report.delivered, report.expected, "{human}");
    drop(vigor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_connections_holds_every_connection_authenticated_and_subscribed() {
    let data = tempfile::tempdir().unwrap();
    let (vigor, endpoint) = serve(data.path());
    let users = TokenPool::sign_up(&endpoint.http_base, 3, vigor_loadtest::run_tag())
        .await
        .expect("sign-ups");
    let mut config = ConnectionsConfig::new(endpoint, 60, Duration::from_millis(500));
    config.tokens = Some(users);
    config.server_pid = Some(vigor.pid());
    config.settle = Duration::from_millis(300);
    config.conns_per_task = 16;
    let report = connections::run(config).await.expect("the run");
    let human = report.human();
    // A connection counts as ready only once its subscribe was acknowledged.
    assert_eq!(report.connect.count, 60, "{human}");
    assert_eq!(report.connect_failures, 0, "{human}");
    assert_eq!(report.closed_during_hold, 0, "{human}");
    assert!(report.server_before.is_some() && report.server_end.is_some());
    assert!(report.server_bytes_per_connection.is_some(), "{human}");
    assert!(report.notes.is_empty(), "{human}");
}
