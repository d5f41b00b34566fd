//! One WebSocket connection: a reader (this task) and a writer task.
//!
//! The reader owns the session's state — who it is, what it is subscribed to —
//! and executes client frames one at a time ([`commands`]); everything it or a
//! channel task sends goes through the session's bounded outbound queue to the
//! [`writer`], which batches frames into few socket writes. Nobody ever waits on
//! that queue: a full queue means the client does not read fast enough, and the
//! session is closed with 4008.
//!
//! The reader also keeps the session's clocks, all in one `select!`: the
//! authentication deadline (4001), the token's expiry (4009, pushed back by a fresh
//! `auth` frame), the idle timeout (1001, reset by any frame or pong), the hub's
//! shutdown (1012) and the session's close requests from elsewhere. Each client
//! frame first takes a token from the connection's token bucket; a client that
//! keeps sending into an empty bucket is closed with 4008.
//!
//! Whatever ends the session, cleanup runs: it leaves every channel (so channel
//! tasks and broker subscriptions without local subscribers stop) and every
//! presence scope (announcing `presence.leave` where it was the user's last
//! session), then unregisters the session.

mod commands;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use vigor_common::ratelimit::LocalBucket;

use crate::auth::{AuthError, Principal};
use crate::channel::Channel;
use crate::hub::Hub;
use crate::metrics;
use crate::protocol::{self, close, ErrorCode, FrameError};
use crate::registry::{Command, Membership, SessionControl, SessionLink};

/// The longest a session timer waits (a token valid for longer is re-checked then,
/// which closes the session with 4009).
const MAX_SESSION_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a session over `max_sessions_per_user` is refused (close 4008).
const TOO_MANY_SESSIONS: &str = "too many open sessions for this user";

/// A session's subscription: the channel and its attachment to the channel task.
struct Subscription {
    channel: Channel,
    membership: Membership,
}

/// The state of one connection, owned by its reader.
struct Session {
    hub: Arc<Hub>,
    link: SessionLink,
    principal: Option<Principal>,
    subscriptions: HashMap<Arc<str>, Subscription>,
    /// When this session last sent `typing` per channel.
    typing: HashMap<Arc<str>, Instant>,
    bucket: LocalBucket,
    /// Frames refused in a row by the rate limit.
    refused: u32,
    /// The upgrade request's `X-Request-Id`, sent with every service call.
    request_id: Arc<str>,
}

/// Runs a connection until it closes. `bearer` is the token of a `bearer.<JWT>`
/// subprotocol, if the client offered one; `request_id` the upgrade's request id.
pub(crate) async fn run(
    hub: Arc<Hub>,
    socket: WebSocket,
    bearer: Option<String>,
    request_id: Option<String>,
) {
    // Counted by the hub's tracker, so shutdown waits for this session too.
    let _tracked = hub.tracker.token();
    let (sink, stream) = socket.split();
    let (queue, outbound) = mpsc::channel(hub.config.outbound_queue);
    let control = Arc::new(SessionControl::default());
    let link = SessionLink {
        id: hub.ids.next_id(),
        queue,
        control: control.clone(),
    };
    let settings = writer::WriterSettings {
        batch: hub.config.write_batch,
        heartbeat: hub.config.heartbeat(),
        close_grace: hub.config.close_grace(),
    };
    let writer = hub
        .tracker
        .spawn(writer::run(sink, outbound, control.clone(), settings));
    hub.registry.add_session(link.id, control.clone());
    let request_id: Arc<str> = match request_id {
        Some(id) => id.into(),
        None => format!("ws-{}", link.id).into(),
    };
    ::metrics::gauge!(metrics::WEBSOCKETS_OPEN).increment(1.0);

    let mut session = Session {
        bucket: LocalBucket::new(hub.config.rate_per_sec, hub.config.rate_burst),
        hub: hub.clone(),
        link,
        principal: None,
        subscriptions: HashMap::new(),
        typing: HashMap::new(),
        refused: 0,
        request_id,
    };
    let authenticated = match bearer {
        // Rare, short-lived steps are boxed: their state would otherwise sit in
        // every idle session's future (memory per connection, see BENCHMARKS.md).
        Some(token) => Box::pin(session.authenticate_subprotocol(&token)).await,
        None => true,
    };
    let mut stream = stream;
    if authenticated {
        session.read(&mut stream).await;
    }
    Box::pin(session.cleanup()).await;
    // The client closed, or its socket failed: end the writer (not counted as a
    // server close).
    control.finish();
    let _ = writer.await;
    // Complete the closing handshake: read (and drop) what the client still sends
    // until its close frame, so that the connection is not reset under it.
    let grace = hub.config.close_grace();
    let _ = tokio::time::timeout(grace, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    hub.registry.remove_session(session.link.id);
    ::metrics::gauge!(metrics::WEBSOCKETS_OPEN).decrement(1.0);
}

impl Session {
    fn control(&self) -> &SessionControl {
        &self.link.control
    }

    /// Queues a frame for the client.
    fn send(&self, frame: impl Into<Utf8Bytes>) {
        self.link.push(frame.into());
    }

    fn send_error(&self, error: &FrameError) {
        self.send(error.to_frame());
    }

    /// Authenticates with a `bearer.<JWT>` subprotocol token; closes with 4001 when
    /// it is refused.
    async fn authenticate_subprotocol(&mut self, token: &str) -> bool {
        match self.hub.authenticator.authenticate(token).await {
            Ok(principal) if principal.expires_at > SystemTime::now() => {
                if !self
                    .hub
                    .registry
                    .set_user(self.link.id, principal.user_id, principal.token)
                {
                    self.control().close(close::POLICY, TOO_MANY_SESSIONS);
                    return false;
                }
                let welcome = protocol::ServerFrame::Welcome {
                    protocol: protocol::SUBPROTOCOL,
                    user_id: principal.user_id.to_string(),
                    session_id: self.link.id.to_string(),
                    expires_at: principal.expires_at_unix(),
                };
                self.principal = Some(principal);
                self.send(welcome.to_text());
                true
            }
            Ok(_) => {
                self.control()
                    .close(close::UNAUTHENTICATED, "the token has expired");
                false
            }
            Err(AuthError::InsufficientScope) => {
                self.control()
                    .close(close::FORBIDDEN, "the token lacks the social:read scope");
                false
            }
            Err(error) => {
                let reason = match error.code() {
                    ErrorCode::Unavailable => "tokens cannot be checked right now",
                    _ => "the bearer token is not valid",
                };
                self.control().close(close::UNAUTHENTICATED, reason);
                false
            }
        }
    }

    /// When the session must have authenticated, or its token expires.
    fn deadline(&self, auth_deadline: Instant) -> Instant {
        match &self.principal {
            None => auth_deadline,
            Some(principal) => {
                // Capped, so a far-future expiry cannot overflow the clock.
                let left = principal
                    .expires_at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SESSION_WAIT);
                Instant::now() + left
            }
        }
    }

    /// Reads and executes frames until the session ends.
    async fn read(&mut self, stream: &mut futures::stream::SplitStream<WebSocket>) {
        let config = &self.hub.config;
        let shutdown = self.hub.shutdown.clone();
        let control = self.link.control.clone();
        let idle_timeout = config.idle_timeout();
        let auth_deadline = Instant::now() + config.auth_timeout();
        let deadline = sleep_until(self.deadline(auth_deadline));
        let idle = sleep_until(Instant::now() + idle_timeout);
        tokio::pin!(deadline, idle);
        loop {
            let received = tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    control.close(close::SERVER_RESTART, "server restart");
                    return;
                }
                _ = control.closed() => return,
                _ = &mut deadline => {
                    if self.principal.is_none() {
                        control.close(close::UNAUTHENTICATED, "no valid authentication in time");
                    } else {
                        control.close(close::TOKEN_EXPIRED, "the access token expired");
                    }
                    return;
                }
                _ = &mut idle => {
                    control.close(close::IDLE, "idle timeout");
                    return;
                }
                revoked = control.revoked() => {
                    Box::pin(self.drop_revoked(revoked)).await;
                    continue;
                }
                received = stream.next() => received,
            };
            idle.as_mut().reset(Instant::now() + idle_timeout);
            let text = match received {
                None => return,
                Some(Err(error)) => {
                    if is_too_big(&error) {
                        control.close(close::TOO_BIG, "the frame is larger than the limit");
                    }
                    return;
                }
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    if self.admit(None) {
                        self.send_error(&FrameError::new(
                            None,
                            ErrorCode::Malformed,
                            "binary frames are not supported",
                        ));
                    }
                    continue;
                }
                Some(Ok(Message::Close(_))) => return,
                // Tungstenite answers pings itself; both count as activity.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            };
            let frame = protocol::parse(&text);
            if !self.admit(Some(&frame)) {
                continue;
            }
            let is_auth = matches!(frame, Ok(protocol::ClientFrame::Auth { .. }));
            // A frame being executed yields to shutdown and close requests; the
            // state it leaves is one cleanup can undo (see `commands`).
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    control.close(close::SERVER_RESTART, "server restart");
                    return;
                }
                _ = control.closed() => return,
                // Boxed: executing a frame is brief, and its state (the largest of a
                // session) need not live in every idle session's future.
                _ = Box::pin(crate::services::with_request_id(
                    self.request_id.clone(),
                    self.execute(frame),
                )) => {}
            }
            // An `auth` frame moved the deadline: from authentication to expiry, or
            // to the expiry of a fresh token.
            if is_auth && self.principal.is_some() {
                deadline.as_mut().reset(self.deadline(auth_deadline));
            }
        }
    }

    /// Takes a token for a client frame; answers `rate_limited` when there is none,
    /// and closes the session when the client keeps going.
    fn admit(&mut self, frame: Option<&Result<protocol::ClientFrame, FrameError>>) -> bool {
        if self.bucket.take() {
            self.refused = 0;
            return true;
        }
        self.refused += 1;
        ::metrics::counter!(metrics::RATE_LIMITED).increment(1);
        if self.refused > self.hub.config.rate_burst {
            self.control().close(close::POLICY, "rate limit exceeded");
            return false;
        }
        let id = match frame {
            Some(Ok(frame)) => Some(frame.id()),
            Some(Err(error)) => error.id,
            None => None,
        };
        self.send_error(&FrameError::new(
            id,
            ErrorCode::RateLimited,
            "too many frames: slow down",
        ));
        false
    }

    /// Leaves every channel and presence scope and unregisters.
    async fn cleanup(&mut self) {
        let subscriptions: Vec<Subscription> = self.subscriptions.drain().map(|(_, s)| s).collect();
        for subscription in subscriptions {
            self.leave(subscription, None).await;
        }
    }

    /// Leaves the revoked channels the session is subscribed to, telling the
    /// client with an `unsubscribed` frame after the channel's last event.
    async fn drop_revoked(&mut self, revoked: Vec<Arc<str>>) {
        for name in revoked {
            let Some(subscription) = self.subscriptions.remove(&name) else {
                continue;
            };
            let farewell: Utf8Bytes = protocol::ServerFrame::Unsubscribed {
                channel: name.to_string(),
                reason: protocol::ACCESS_REVOKED,
            }
            .to_text()
            .into();
            if !self.leave(subscription, Some(farewell.clone())).await {
                self.send(farewell);
            }
        }
    }

    /// Leaves one channel: tells its task (which sends `farewell` when given),
    /// detaches, and leaves its presence scope. False when the task was gone.
    async fn leave(&mut self, subscription: Subscription, farewell: Option<Utf8Bytes>) -> bool {
        let name = subscription.channel.shared_name();
        self.typing.remove(&name);
        let command = Command::Leave {
            session: self.link.id,
            farewell,
        };
        let told = subscription.membership.commands.send(command).await.is_ok();
        self.hub
            .registry
            .detach(&name, subscription.membership.task);
        if let (crate::channel::ChannelKind::Presence(_), Some(principal)) =
            (subscription.channel.kind(), &self.principal)
        {
            let user = principal.user_id;
            self.hub
                .leave_presence(&subscription.channel, user, self.link.id)
                .await;
        }
        told
    }
}

/// Whether a read error is the frame-size limit. Tungstenite's capacity error is
/// not reachable through axum's public types, so it is recognised by its text.
fn is_too_big(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.to_string().contains("Space limit exceeded") {
            return true;
        }
        source = error.source();
    }
    false
}
