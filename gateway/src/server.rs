//! Serving an `axum::Router` on a TCP listener: HTTP/1.1 and HTTP/2, optionally
//! over TLS, with WebSocket upgrades and graceful shutdown.
//!
//! One accept loop hands each connection to its own task, so a slow TLS handshake
//! or a slow client never delays the next accept. hyper-util's `auto` builder reads
//! the first bytes of a connection and speaks HTTP/2 when they are the HTTP/2
//! preface (prior knowledge on plain TCP; after ALPN `h2` under TLS) and HTTP/1.1
//! otherwise, with upgrades (WebSocket) allowed. Handlers get the peer address as
//! `ConnectInfo<SocketAddr>`, as with axum's own `serve`.
//!
//! Accept errors (out of file descriptors, out of memory) are logged, counted and
//! backed off from — the process keeps serving the connections it has, and accepts
//! again once resources come back — instead of ending the server.
//!
//! Shutdown, when `shutdown` is cancelled:
//! 1. the listener is dropped, so new connections are refused;
//! 2. every connection is told to shut down gracefully (hyper-util's
//!    `GracefulShutdown`): HTTP/1.1 finishes its in-flight request and closes,
//!    HTTP/2 sends GOAWAY and finishes its open streams; idle and half-open
//!    connections (still handshaking, nothing sent yet) are closed at once;
//! 3. after `grace`, whatever is still running is cut: connections are dropped and
//!    the HTTP/2 stream tasks (spawned through [`ConnectionExecutor`], which tracks
//!    them) are cancelled, and `serve` returns.
//!
//! Upgraded HTTP/1.1 connections (WebSockets) leave hyper's hands once upgraded;
//! the hub closes them itself on the same shutdown token (close code 1012).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::Instrument;

use crate::metrics::CONNECTIONS_OPEN;

/// Failed accepts, by error kind.
pub const ACCEPT_ERRORS_TOTAL: &str = "vigor_http_accept_errors_total";

/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a plain-TCP client may wait before sending its first bytes, and an
/// HTTP/1.1 client before completing a request head (including idle keep-alive).
pub const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 keep-alive pings find dead peers: interval, and how long to wait for the
/// answer.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Backoff after a failed accept: first and longest.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// After the grace period, how long cut connections may take to go away.
const FORCE_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` (with TLS when `tls` is set) until `shutdown` is
/// cancelled, then drains in-flight requests for up to `grace` and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    // The connection gauge must count from the first connection on.
    vigor_common::telemetry::metrics();
    let tls = tls.map(|config| TlsAcceptor::from(with_alpn(config)));
    let tasks = TaskTracker::new();
    let force_close = CancellationToken::new();
    let builder = Arc::new(http_builder(ConnectionExecutor {
        tasks: tasks.clone(),
        force_close: force_close.clone(),
    }));
    let graceful = GracefulShutdown::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;

    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                let connection = Connection {
                    peer,
                    app: app.clone(),
                    builder: builder.clone(),
                    // Taken here, before any shutdown signal, so that a connection
                    // still handshaking when shutdown starts sees the signal too.
                    watcher: graceful.watcher(),
                    shutdown: shutdown.clone(),
                    force_close: force_close.clone(),
                };
                let span = tracing::debug_span!("connection", %peer);
                tasks.spawn(connection.run(stream, tls.clone()).instrument(span));
            }
            // The client gave up before we accepted: nothing to do.
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                metrics::counter!(ACCEPT_ERRORS_TOTAL, "kind" => format!("{:?}", error.kind()))
                    .increment(1);
                tracing::error!(%error, backoff_ms = backoff.as_millis() as u64, "accept failed; backing off");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }

    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        grace_secs = grace.as_secs_f64(),
        "stopped accepting; finishing in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs_f64(),
            "requests still running at the end of the grace period are cut"
        );
    }
    force_close.cancel();
    tasks.close();
    if tokio::time::timeout(FORCE_CLOSE_WAIT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(left = tasks.len(), "some connection tasks did not stop");
    }
    Ok(())
}

/// The `auto` builder: HTTP/1.1 with a header read timeout, HTTP/2 with keep-alive
/// pings and extended CONNECT (WebSockets over HTTP/2).
fn http_builder(executor: ConnectionExecutor) -> Builder<ConnectionExecutor> {
    let mut builder = Builder::new(executor);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(FIRST_BYTES_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE);
    builder
}

/// A configuration without ALPN would never negotiate HTTP/2: offer `h2` and
/// `http/1.1` then.
fn with_alpn(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if !config.alpn_protocols.is_empty() {
        return config;
    }
    let mut config = ServerConfig::clone(&config);
    config.alpn_protocols = crate::tls::ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Runs hyper's HTTP/2 stream tasks on the server's task tracker, cancelled at the
/// end of the grace period with their connection.
#[derive(Clone)]
pub struct ConnectionExecutor {
    tasks: TaskTracker,
    force_close: CancellationToken,
}

impl<F> hyper::rt::Executor<F> for ConnectionExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let force_close = self.force_close.clone();
        self.tasks.spawn(async move {
            force_close.run_until_cancelled(future).await;
        });
    }
}

/// One accepted connection.
struct Connection {
    peer: SocketAddr,
    app: Router,
    builder: Arc<Builder<ConnectionExecutor>>,
    watcher: Watcher,
    shutdown: CancellationToken,
    force_close: CancellationToken,
}

/// Counts a connection in `vigor_http_connections_open` while it lives.
struct OpenConnection;

impl OpenConnection {
    fn new() -> Self {
        metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let _open = OpenConnection::new();
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        match tls {
            None => {
                // Until the client sends something there is no request to finish:
                // such a connection is closed on shutdown or when it stays silent.
                let mut first = [0u8; 1];
                let waited = tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    waited = tokio::time::timeout(FIRST_BYTES_TIMEOUT, stream.peek(&mut first)) => waited,
                };
                match waited {
                    Ok(Ok(n)) if n > 0 => self.serve(TokioIo::new(stream)).await,
                    Ok(Ok(_)) => tracing::debug!("closed before sending anything"),
                    Ok(Err(error)) => tracing::debug!(%error, "connection failed before a request"),
                    Err(_) => tracing::debug!("sent nothing in time; closing"),
                }
            }
            Some(acceptor) => {
                let handshake = tokio::select! {
                    _ = self.shutdown.cancelled() => return,
                    handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => handshake,
                };
                match handshake {
                    Ok(Ok(stream)) => self.serve(TokioIo::new(stream)).await,
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }
        }
    }

    async fn serve<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let service = self.app.map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let connection = self.watcher.watch(connection);
        tokio::select! {
            served = connection => {
                if let Err(error) = served {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
            }
            _ = self.force_close.cancelled() => {
                tracing::debug!("connection cut at the end of the shutdown grace period");
            }
        }
    }
}
