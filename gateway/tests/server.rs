//! The server on a real TCP listener: HTTP/1.1, HTTP/2, TLS, WebSocket upgrades and
//! graceful shutdown; and the rate-limit and metrics middleware in front of it.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigor_common::client_address::AddressPolicy;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{middleware, Router};
use futures::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_gateway::ratelimit::{self, MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use vigor_gateway::{metrics, server, tls};

/// A server running in the background.
struct TestServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    async fn start(
        app: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
        grace: Duration,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(server::serve(listener, app, tls, shutdown.clone(), grace));
        TestServer {
            addr,
            shutdown,
            handle,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Cancels and waits for `serve` to return; how long that took.
    async fn stop(self) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("serve returns")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

/// Answers with the peer address the handler saw.
async fn whoami(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    peer.ip().to_string()
}

fn basic_app() -> Router {
    Router::new().route("/whoami", get(whoami))
}

/// The status a request is answered with.
async fn status(request: reqwest::RequestBuilder) -> reqwest::StatusCode {
    request.send().await.unwrap().status()
}

fn http1() -> reqwest::Client {
    reqwest::Client::builder().http1_only().build().unwrap()
}

#[tokio::test]
async fn http1_requests_are_served_with_the_peer_address() {
    let server = TestServer::start(basic_app(), None, Duration::from_secs(1)).await;
    let response = http1().get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.text().await.unwrap(), "127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    let server = TestServer::start(basic_app(), None, Duration::from_secs(1)).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client.get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_negotiates_h2() {
    let (config, pem) = tls::self_signed(&[]).unwrap();
    let server = TestServer::start(basic_app(), Some(config), Duration::from_secs(1)).await;
    let port = server.addr.port();
    let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();

    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(certificate.clone())
        .build()
        .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let response = client
            .get(format!("https://{host}:{port}/whoami"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.version(),
            reqwest::Version::HTTP_2,
            "ALPN chose h2"
        );
    }

    // A client that offers only HTTP/1.1 gets it.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(certificate)
        .http1_only()
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);

    // A client that does not trust the certificate is refused by its own TLS.
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(untrusting
        .get(format!("https://localhost:{port}/whoami"))
        .send()
        .await
        .is_err());
    server.stop().await;
}

#[tokio::test]
async fn websocket_upgrades_work() {
    let app = Router::new().route(
        "/v1/ws",
        get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(message)) = socket.recv().await {
                    if let Message::Text(text) = message {
                        if socket.send(Message::Text(text)).await.is_err() {
                            break;
                        }
                    }
                }
            })
        }),
    );
    let server = TestServer::start(app, None, Duration::from_secs(1)).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/ws", server.addr))
        .await
        .unwrap();
    socket
        .send(tokio_tungstenite::tungstenite::Message::text("hello"))
        .await
        .unwrap();
    let echoed = socket.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "hello");
    socket.close(None).await.unwrap();
    server.stop().await;
}

/// A handler that signals when it starts, sleeps, and records whether it was
/// dropped before finishing.
fn slow_app(sleep: Duration, started: Arc<Notify>, cut: Arc<AtomicBool>) -> Router {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    Router::new().route(
        "/slow",
        get(move || {
            let started = started.clone();
            let cut = cut.clone();
            async move {
                let guard = SetOnDrop(cut);
                started.notify_one();
                tokio::time::sleep(sleep).await;
                std::mem::forget(guard);
                "done"
            }
        }),
    )
}

async fn assert_refused(addr: SocketAddr) {
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(addr).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("new connections are still accepted after shutdown");
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_connections() {
    let started = Arc::new(Notify::new());
    let cut = Arc::new(AtomicBool::new(false));
    let app = slow_app(Duration::from_millis(500), started.clone(), cut.clone());
    let server = TestServer::start(app, None, Duration::from_secs(5)).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(http1().get(server.url("/slow")).send());
    started.notified().await;

    let cancelled = Instant::now();
    server.shutdown.cancel();
    assert_refused(addr).await;

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(2), server.handle)
        .await
        .expect("serve returns once the request is done, well within the grace period")
        .unwrap()
        .unwrap();
    let took = cancelled.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "serve waited for the request ({took:?})"
    );
    assert!(!cut.load(Ordering::SeqCst));
}

#[tokio::test]
async fn idle_connections_do_not_hold_up_shutdown() {
    let server = TestServer::start(basic_app(), None, Duration::from_secs(10)).await;
    // A keep-alive connection left idle in the client's pool, and one that never
    // sent anything.
    let client = http1();
    assert_eq!(status(client.get(server.url("/whoami"))).await, 200);
    let _silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let took = server.stop().await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

async fn requests_past_the_grace_period_are_cut(client: reqwest::Client) {
    let started = Arc::new(Notify::new());
    let cut = Arc::new(AtomicBool::new(false));
    let app = slow_app(Duration::from_secs(30), started.clone(), cut.clone());
    let grace = Duration::from_millis(300);
    let server = TestServer::start(app, None, grace).await;
    let in_flight = tokio::spawn(client.get(server.url("/slow")).send());
    started.notified().await;

    let took = server.stop().await;
    assert!(
        took >= grace,
        "serve gave the request its grace period ({took:?})"
    );
    assert!(
        took < grace + Duration::from_millis(1500),
        "serve returned at about the grace period ({took:?})"
    );
    let outcome = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("the client sees the connection end")
        .unwrap();
    assert!(outcome.is_err(), "the request was cut: {outcome:?}");
    assert!(
        cut.load(Ordering::SeqCst),
        "the handler was stopped, not left running"
    );
}

#[tokio::test]
async fn http1_requests_past_the_grace_period_are_cut() {
    requests_past_the_grace_period_are_cut(http1()).await;
}

#[tokio::test]
async fn http2_requests_past_the_grace_period_are_cut() {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    requests_past_the_grace_period_are_cut(client).await;
}

// ---- rate limit middleware ----

fn limited_app(limiter: Arc<dyn RateLimiter>, trust_forwarded_for: bool) -> Router {
    let policy = if trust_forwarded_for {
        AddressPolicy::ForwardedFor
    } else {
        AddressPolicy::Peer
    };
    Router::new()
        .route("/v1/things", get(|| async { "things" }))
        .route("/healthz", get(|| async { "alive" }))
        .layer(ratelimit::layer(limiter))
        .layer(axum::middleware::from_fn_with_state(
            policy,
            vigor_gateway::decide_client_address,
        ))
}

fn memory_limiter(per_second: u32, burst: u32) -> Arc<dyn RateLimiter> {
    Arc::new(MemoryRateLimiter::new(
        per_second,
        burst,
        CancellationToken::new(),
        &TaskTracker::new(),
    ))
}

#[tokio::test]
async fn rate_limited_requests_get_429_problem_json_with_retry_after() {
    let server = TestServer::start(
        limited_app(memory_limiter(1, 2), false),
        None,
        Duration::from_secs(1),
    )
    .await;
    let client = http1();
    for remaining in ["1", "0"] {
        let response = client.get(server.url("/v1/things")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-limit"], "2");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
    }
    let denied = client.get(server.url("/v1/things")).send().await.unwrap();
    assert_eq!(denied.status(), 429);
    assert_eq!(denied.headers()["content-type"], "application/problem+json");
    assert_eq!(denied.headers()["retry-after"], "1");
    assert_eq!(denied.headers()["ratelimit-remaining"], "0");
    let body: serde_json::Value = denied.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["type"], "https://vigor.fitness/problems/rate-limited");
    assert_eq!(body["instance"], "/v1/things");

    // Probes are never limited.
    for _ in 0..5 {
        assert_eq!(status(client.get(server.url("/healthz"))).await, 200);
    }
    server.stop().await;
}

#[tokio::test]
async fn retry_after_rounds_up_to_whole_seconds() {
    // A token per second, burst 1: 600 ms after the first request, about 400 ms
    // are left.
    let server = TestServer::start(
        limited_app(memory_limiter(1, 1), false),
        None,
        Duration::from_secs(1),
    )
    .await;
    let client = http1();
    assert_eq!(status(client.get(server.url("/v1/things"))).await, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let denied = client.get(server.url("/v1/things")).send().await.unwrap();
    assert_eq!(denied.status(), 429);
    // Rounded up, not down to 0.
    assert_eq!(denied.headers()["retry-after"], "1");
    server.stop().await;
}

async fn get_as(client: &reqwest::Client, server: &TestServer, forwarded_for: &str) -> u16 {
    let request = client.get(server.url("/v1/things"));
    status(request.header("x-forwarded-for", forwarded_for))
        .await
        .as_u16()
}

#[tokio::test]
async fn forwarded_for_counts_only_when_trusted() {
    let client = http1();

    let untrusted = TestServer::start(
        limited_app(memory_limiter(1, 1), false),
        None,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(get_as(&client, &untrusted, "203.0.113.1").await, 200);
    assert_eq!(
        get_as(&client, &untrusted, "203.0.113.2").await,
        429,
        "the header cannot buy a new bucket"
    );
    untrusted.stop().await;

    let trusted = TestServer::start(
        limited_app(memory_limiter(1, 1), true),
        None,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(get_as(&client, &trusted, "203.0.113.1").await, 200);
    assert_eq!(get_as(&client, &trusted, "203.0.113.1").await, 429);
    assert_eq!(
        get_as(&client, &trusted, "203.0.113.2").await,
        200,
        "another client behind the proxy"
    );
    // The last entry is the one our proxy added; what the client wrote before it is ignored.
    assert_eq!(
        get_as(&client, &trusted, "198.51.100.9, 203.0.113.1").await,
        429
    );
    trusted.stop().await;
}

#[tokio::test]
async fn a_failing_limiter_lets_requests_through() {
    let Some(url) = vigor_common::testkit::redis_url() else {
        return;
    };
    let prefix = format!(
        "{}:",
        vigor_common::testkit::unique_name("vigor_test_ratelimit")
    );
    let limiter = Arc::new(
        RedisRateLimiter::connect(&url, &prefix, 1, 1)
            .await
            .unwrap(),
    );
    let app = limited_app(limiter.clone(), false).route("/metrics", get(metrics::render));
    let server = TestServer::start(app, None, Duration::from_secs(1)).await;
    let client = http1();
    assert_eq!(status(client.get(server.url("/v1/things"))).await, 200);
    assert_eq!(
        status(client.get(server.url("/v1/things"))).await,
        429,
        "Redis limits"
    );

    limiter.close().await;
    for _ in 0..3 {
        let response = client.get(server.url("/v1/things")).send().await.unwrap();
        assert_eq!(response.status(), 200, "fails open");
        assert!(response.headers().get("ratelimit-limit").is_none());
    }
    let rendered = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let errors = sample(
        &rendered,
        "vigor_ratelimit_errors_total",
        &["backend=\"redis\""],
    );
    assert!(errors.is_some_and(|n| n >= 3.0), "{rendered}");
    server.stop().await;
}

// ---- metrics middleware ----

/// The value of the first sample of `name` whose labels contain every one of `labels`.
fn sample(rendered: &str, name: &str, labels: &[&str]) -> Option<f64> {
    rendered
        .lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn requests_are_counted_per_route_pattern_and_status() {
    metrics::describe("test");
    let app = Router::new()
        .route("/metrics-test/{id}", get(|| async { "ok" }))
        .route("/metrics", get(metrics::render))
        .layer(middleware::from_fn(metrics::track));
    let server = TestServer::start(app, None, Duration::from_secs(1)).await;
    let client = http1();
    for id in ["1", "2", "3"] {
        assert_eq!(
            status(client.get(server.url(&format!("/metrics-test/{id}")))).await,
            200
        );
    }
    assert_eq!(
        status(client.post(server.url("/metrics-test/4"))).await,
        405
    );
    assert_eq!(
        status(client.get(server.url("/metrics-test-nowhere/xyz"))).await,
        404
    );

    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let rendered = response.text().await.unwrap();
    let route = "route=\"/metrics-test/{id}\"";
    assert_eq!(
        sample(
            &rendered,
            "vigor_http_requests_total",
            &["method=\"GET\"", route, "status=\"200\""]
        ),
        Some(3.0),
        "{rendered}"
    );
    assert_eq!(
        sample(
            &rendered,
            "vigor_http_requests_total",
            &["method=\"POST\"", route, "status=\"405\""]
        ),
        Some(1.0),
        "{rendered}"
    );
    assert!(
        sample(
            &rendered,
            "vigor_http_requests_total",
            &["route=\"unmatched\"", "status=\"404\""]
        )
        .is_some(),
        "{rendered}"
    );
    assert!(
        !rendered.contains("metrics-test-nowhere"),
        "concrete paths never become labels"
    );
    assert_eq!(
        sample(
            &rendered,
            "vigor_http_request_duration_seconds_count",
            &["method=\"GET\"", route, "status=\"200\""]
        ),
        Some(3.0),
        "{rendered}"
    );
    assert!(
        rendered.contains("vigor_http_request_duration_seconds_bucket{")
            && rendered.contains("le=\"0.005\""),
        "latency has buckets: {rendered}"
    );
    assert_eq!(
        sample(
            &rendered,
            "vigor_build_info",
            &[
                "target=\"test\"",
                &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
            ]
        ),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        sample(&rendered, "vigor_websockets_open", &[]),
        Some(0.0),
        "{rendered}"
    );
    assert!(
        sample(&rendered, "vigor_http_connections_open", &[]).is_some_and(|n| n >= 1.0),
        "this very connection is open: {rendered}"
    );
    server.stop().await;
}
