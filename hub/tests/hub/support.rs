//! The test harness: a token issuer with a fresh Ed25519 key, hubs served on
//! 127.0.0.1:0, and a WebSocket client with one helper per frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use jsonwebtoken::EncodingKey;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use vigor_common::auth::{Claims, PublicKey, StaticKeys, Verifier, VerifierConfig};
use vigor_common::broker::Broker;
use vigor_common::{Id, IdGenerator};
use vigor_hub::history::memory::MemoryHistory;
use vigor_hub::presence::memory::MemoryPresence;
use vigor_hub::{
    Access, AuthzError, Channel, ChannelRule, History, Hub, HubConfig, HubParts, PresenceStore,
    Principal, RuleKind, Rules,
};

const ISSUER: &str = "https://vigor.test";
const AUDIENCE: &str = "vigor";

/// How long a test waits for a frame before failing.
pub const WAIT: Duration = Duration::from_secs(5);

/// Signs access tokens with a key made for the test; its verifier knows the key.
pub struct Issuer {
    pkcs8: Vec<u8>,
    pub verifier: Arc<Verifier>,
}

impl Issuer {
    pub fn new() -> Issuer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let public = PublicKey {
            kid: "test-key".into(),
            ed25519: pair.public_key().as_ref().try_into().unwrap(),
        };
        let verifier = Verifier::new(
            VerifierConfig::new(ISSUER, AUDIENCE),
            Arc::new(StaticKeys(vec![public])),
        );
        Issuer {
            pkcs8,
            verifier: Arc::new(verifier),
        }
    }

    /// A token of user `user` that expires `ttl_secs` from now.
    pub fn token(&self, user: i64, ttl_secs: i64) -> String {
        let now = chrono_now();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user.to_string(),
            aud: AUDIENCE.into(),
            exp: now + ttl_secs,
            iat: now,
            jti: format!("t{user}-{now}-{ttl_secs}"),
            scope: "api".into(),
            roles: vec!["user".into()],
            client_id: "vigor-web".into(),
            sid: None,
            auth_time: None,
        };
        let header = vigor_common::auth::access_token_header("test-key");
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The social service's rule, as a test double: chat 1's members are users 1 and 2
/// (subscribe and type); everyone may do everything in chat 2 (client publishes
/// allowed); other chats are closed.
pub struct TestChats;

#[async_trait]
impl ChannelRule for TestChats {
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError> {
        Ok(match channel.name() {
            "chat:1" if [1, 2].contains(&principal.user_id.as_i64()) => Access::MEMBER,
            "chat:2" => Access::FULL,
            _ => Access::DENY,
        })
    }
}

/// The rules of the test hubs: the built-in ones plus [`TestChats`].
pub fn test_rules() -> Rules {
    let rules = Rules::new();
    rules.register(RuleKind::Chat, Arc::new(TestChats));
    rules
}

/// Timings short enough for tests.
pub fn test_config() -> HubConfig {
    HubConfig {
        auth_timeout_ms: 2_000,
        heartbeat_ms: 1_000,
        idle_timeout_ms: 10_000,
        close_grace_ms: 2_000,
        typing_interval_ms: 60_000,
        ..HubConfig::default()
    }
}

/// The shared backends of a cluster of test hubs.
#[derive(Clone)]
pub struct Backends {
    pub broker: Arc<dyn Broker>,
    pub history: Arc<dyn History>,
    pub presence: Arc<dyn PresenceStore>,
}

impl Backends {
    pub fn memory(config: &HubConfig) -> Backends {
        Backends {
            broker: Arc::new(vigor_common::broker::memory::MemoryBroker::new()),
            history: Arc::new(MemoryHistory::new(config.ring_capacity, config.ring_ttl())),
            presence: Arc::new(MemoryPresence::new()),
        }
    }
}

/// A hub served on a free port.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub addr: SocketAddr,
    pub issuer: Arc<Issuer>,
    shutdown: CancellationToken,
}

impl TestHub {
    /// One all-in-one hub with the test rules.
    pub async fn spawn(config: HubConfig) -> TestHub {
        let issuer = Arc::new(Issuer::new());
        let parts = HubParts::in_process(
            &config,
            issuer.verifier.clone(),
            Arc::new(test_rules()),
            Arc::new(IdGenerator::new(1).unwrap()),
        );
        TestHub::serve(config, parts, issuer).await
    }

    /// A node of a cluster sharing `backends`; `node` must differ per hub.
    pub async fn spawn_node(
        config: HubConfig,
        backends: Backends,
        issuer: Arc<Issuer>,
        node: u16,
    ) -> TestHub {
        let parts = HubParts {
            authenticator: issuer.verifier.clone(),
            authorizer: Arc::new(test_rules()),
            broker: backends.broker,
            history: backends.history,
            presence: backends.presence,
            ids: Arc::new(IdGenerator::new(node).unwrap()),
            social: None,
        };
        TestHub::serve(config, parts, issuer).await
    }

    /// Serves a hub built from `parts`.
    pub async fn serve(config: HubConfig, parts: HubParts, issuer: Arc<Issuer>) -> TestHub {
        let shutdown = CancellationToken::new();
        let hub = Hub::new(config, parts, shutdown.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = vigor_hub::router(hub.clone());
        let server_stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { server_stop.cancelled().await })
                .await
                .unwrap();
        });
        TestHub {
            hub,
            addr,
            issuer,
            shutdown,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// A connection that has not authenticated.
    pub async fn connect(&self) -> Client {
        self.connect_with(None, None)
            .await
            .expect("the upgrade succeeds")
    }

    /// A connection offering `protocols` (`Sec-WebSocket-Protocol`), with a small
    /// receive buffer when `receive_buffer` is given.
    pub async fn connect_with(
        &self,
        protocols: Option<&str>,
        receive_buffer: Option<u32>,
    ) -> Result<Client, String> {
        self.connect_with_headers(protocols, receive_buffer, &[])
            .await
    }

    /// [`TestHub::connect_with`], the upgrade request carrying `headers` too.
    pub async fn connect_with_headers(
        &self,
        protocols: Option<&str>,
        receive_buffer: Option<u32>,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, String> {
        let mut request = self.url().into_client_request().unwrap();
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(protocols) = protocols {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(protocols).unwrap(),
            );
        }
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream: TcpStream = socket.connect(self.addr).await.unwrap();
        let (ws, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| e.to_string())?;
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        Ok(Client {
            ws,
            next_id: 1,
            pending: Vec::new(),
            protocol,
        })
    }

    /// A connection authenticated as `user` with the `auth` frame.
    pub async fn connect_as(&self, user: i64) -> Client {
        let mut client = self.connect().await;
        let token = self.issuer.token(user, 600);
        let ack = client
            .request(json!({"type": "auth", "token": token}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["result"]["user_id"], user.to_string());
        client
    }

    /// Publishes through the server-side API.
    pub async fn publish(&self, channel: &str, event: &str, data: Value) -> u64 {
        let channel: Channel = channel.parse().unwrap();
        self.hub.publish(&channel, event, &data).await.unwrap()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A WebSocket client speaking `vigor.v1`.
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    next_id: u64,
    /// Frames read while waiting for something else, in order.
    pending: Vec<Value>,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
}

impl Client {
    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.unwrap();
    }

    /// Sends `frame` with the next request id; returns the id.
    pub async fn send(&mut self, mut frame: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        frame["id"] = id.into();
        self.send_text(&frame.to_string()).await;
        id
    }

    /// Sends `frame` and returns the answer to it (ack, error or pong); other
    /// frames read meanwhile are kept for `next`.
    pub async fn request(&mut self, frame: Value) -> Value {
        let id = self.send(frame).await;
        if let Some(i) = self
            .pending
            .iter()
            .position(|f| f["id"] == id && f["type"] != "event")
        {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await;
            if frame["id"] == id && frame["type"] != "event" {
                return frame;
            }
            self.pending.push(frame);
        }
    }

    /// Subscribes; returns the ack (or error).
    pub async fn subscribe(&mut self, channel: &str, since: Option<u64>) -> Value {
        let mut frame = json!({"type": "subscribe", "channel": channel});
        if let Some(since) = since {
            frame["since"] = since.into();
        }
        self.request(frame).await
    }

    /// The next frame.
    pub async fn next(&mut self) -> Value {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        self.read().await
    }

    /// The next `event` frame (skipping nothing: anything else fails the test).
    pub async fn next_event(&mut self) -> Value {
        let frame = self.next().await;
        assert_eq!(frame["type"], "event", "expected an event, got {frame}");
        frame
    }

    async fn read(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait")
                .expect("the connection is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed while waiting for a frame: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads until the server closes; returns the close code and reason (code 1006
    /// when the connection ended without a close frame).
    pub async fn closed(&mut self) -> (u16, String) {
        self.closed_within(WAIT).await
    }

    /// [`Client::closed`] with another wait.
    pub async fn closed_within(&mut self, wait: Duration) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("the server closes within the wait");
            match message {
                Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                    return (u16::from(code), reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => return (1006, String::new()),
                Some(Err(error)) => return (1006, error.to_string()),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Asserts no frame arrives for `wait` (the connection stays open; pings are
    /// answered meanwhile).
    pub async fn silent_for(&mut self, wait: Duration) {
        assert!(
            self.pending.is_empty(),
            "frames already pending: {:?}",
            self.pending
        );
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(message) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Closes the connection from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Read the server's answer so the close completes.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }
}

/// A user id.
pub fn id(n: i64) -> Id {
    Id::from_i64(n)
}
