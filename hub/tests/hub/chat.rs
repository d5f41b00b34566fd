//! The hub's side of chat against the social service's REST contract: membership
//! checks, `chat.send`, and revocation notices, through real sessions on real
//! WebSockets.
//!
//! [`Social`] stands in for the social service: a small axum router answering
//! the contract's routes (`/v1/social/channels/{id}/access`,
//! `/v1/social/communities/{id}/access`, `POST /v1/social/channels/{id}/messages`)
//! the way it documents them — it is the other side of that contract, not a
//! mock of the hub's internals. It verifies the bearer token with the test
//! issuer's verifier, as the real service does, and publishes what it stores on
//! `chat:{id}` through the live publisher.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use vigor_common::access::{self, AccessRevoked};
use vigor_common::auth::{Caller, Verifier};
use vigor_common::live::LivePublisher;
use vigor_common::{testkit, IdGenerator, Problem};
use vigor_hub::{HubConfig, HubParts, Rules, ServiceClient, SocialRule};

use crate::cluster::redis_backends;
use crate::support::{id, test_config, Backends, Client, Issuer, TestHub};

/// The social service's side of the contract, with what the tests look at.
#[derive(Default)]
struct Social {
    /// `(user, "chat:{id}" | "community:{id}")` pairs that are members.
    members: Mutex<HashSet<(i64, String)>>,
    access_calls: AtomicUsize,
    /// `(Authorization, X-Request-Id)` of every call.
    seen: Mutex<Vec<(String, String)>>,
    /// Stored messages by `client_msg_id`.
    stored: Mutex<HashMap<String, Value>>,
    next_id: AtomicI64,
    live: OnceLock<Arc<dyn LivePublisher>>,
}

/// A channel the stand-in knows nothing of (404).
const NO_SUCH_CHANNEL: i64 = 999;
/// A channel whose access check takes longer than the hub waits.
const SLOW_CHANNEL: i64 = 777;

impl Social {
    /// Chat 1: users 1 and 2; community 5: user 1.
    fn new() -> Arc<Social> {
        let social = Social::default();
        for member in [(1, "chat:1"), (2, "chat:1"), (1, "community:5")] {
            social.admit(member.0, member.1);
        }
        social.next_id.store(1000, Ordering::SeqCst);
        Arc::new(social)
    }

    fn admit(&self, user: i64, channel: &str) {
        self.members
            .lock()
            .unwrap()
            .insert((user, channel.to_owned()));
    }

    fn remove(&self, user: i64, channel: &str) {
        self.members
            .lock()
            .unwrap()
            .remove(&(user, channel.to_owned()));
    }

    fn is_member(&self, user: &Caller, channel: &str) -> bool {
        self.members
            .lock()
            .unwrap()
            .contains(&(user.user_id.as_i64(), channel.to_owned()))
    }

    fn record(&self, headers: &HeaderMap) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        self.seen
            .lock()
            .unwrap()
            .push((header("authorization"), header("x-request-id")));
    }

    fn calls(&self) -> usize {
        self.access_calls.load(Ordering::SeqCst)
    }

    /// The social service's routes (those of the contract), verifying tokens
    /// with `verifier`.
    fn router(self: &Arc<Self>, verifier: Arc<Verifier>) -> Router {
        Router::new()
            .route("/v1/social/channels/{id}/access", get(channel_access))
            .route("/v1/social/communities/{id}/access", get(community_access))
            .route("/v1/social/channels/{id}/messages", post(send_message))
            .layer(Extension(verifier))
            .with_state(self.clone())
    }
}

async fn access_answer(social: &Social, caller: &Caller, channel: &str) -> Response {
    social.access_calls.fetch_add(1, Ordering::SeqCst);
    let member = social.is_member(caller, channel);
    Json(json!({"subscribe": member, "typing": member})).into_response()
}

async fn channel_access(
    State(social): State<Arc<Social>>,
    caller: Caller,
    headers: HeaderMap,
    Path(channel): Path<i64>,
) -> Response {
    social.record(&headers);
    match channel {
        NO_SUCH_CHANNEL => Problem::not_found("no such channel").into_response(),
        SLOW_CHANNEL => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            access_answer(&social, &caller, "chat:777").await
        }
        _ => access_answer(&social, &caller, &format!("chat:{channel}")).await,
    }
}

async fn community_access(
    State(social): State<Arc<Social>>,
    caller: Caller,
    headers: HeaderMap,
    Path(community): Path<i64>,
) -> Response {
    social.record(&headers);
    access_answer(&social, &caller, &format!("community:{community}")).await
}

async fn send_message(
    State(social): State<Arc<Social>>,
    caller: Caller,
    headers: HeaderMap,
    Path(channel): Path<i64>,
    Json(request): Json<Value>,
) -> Response {
    social.record(&headers);
    if channel == NO_SUCH_CHANNEL {
        return Problem::not_found("no such channel").into_response();
    }
    if !social.is_member(&caller, &format!("chat:{channel}")) {
        return Problem::forbidden("you are not a member of this chat").into_response();
    }
    let body = request["body"].as_str().unwrap_or_default();
    match body {
        "" => return Problem::invalid_field("body", "must not be empty").into_response(),
        "flood" => {
            return Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .with_detail("slow down")
                .with_retry_after(7)
                .into_response()
        }
        "boom" => {
            return Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail("connection to db-7.internal refused")
                .into_response()
        }
        _ => {}
    }
    let key = request["client_msg_id"].as_str().map(str::to_owned);
    if let Some(stored) = key
        .as_ref()
        .and_then(|key| social.stored.lock().unwrap().get(key).cloned())
    {
        return (StatusCode::OK, Json(stored)).into_response();
    }
    let message = json!({
        "id": social.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
        "channel_id": channel.to_string(),
        "author_id": caller.user_id,
        "body": body,
        "client_msg_id": key,
        "reply_to": request["reply_to"],
        "created_at": "2026-12-05T20:00:00Z",
    });
    if let Some(key) = key {
        social.stored.lock().unwrap().insert(key, message.clone());
    }
    // Stored, then published by the service itself (the hub must not repeat it).
    let live = social.live.get().expect("the hub is running");
    live.publish(&format!("chat:{channel}"), "chat.message", &message)
        .await
        .unwrap();
    (StatusCode::CREATED, Json(message)).into_response()
}

/// How a test hub reaches the stand-in.
#[derive(Clone, Copy)]
enum Transport {
    InProcess,
    Http,
}

/// A hub node whose chats and communities are social's, reached by `transport`,
/// following revocation notices on its broker.
async fn chat_node(
    config: HubConfig,
    backends: Backends,
    issuer: Arc<Issuer>,
    node: u16,
    social: &Arc<Social>,
    transport: Transport,
) -> TestHub {
    let routes = social.router(issuer.verifier.clone());
    let client = match transport {
        Transport::InProcess => ServiceClient::in_process(routes, config.service_timeout()),
        Transport::Http => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
            ServiceClient::http(&url, config.service_timeout()).unwrap()
        }
    };
    let rules = Rules::new();
    SocialRule::register(&rules, client.clone());
    let parts = HubParts {
        authenticator: issuer.verifier.clone(),
        authorizer: Arc::new(rules),
        broker: backends.broker,
        history: backends.history,
        presence: backends.presence,
        ids: Arc::new(IdGenerator::new(node).unwrap()),
        social: Some(client),
    };
    let test_hub = TestHub::serve(config, parts, issuer).await;
    let _ = social.live.set(Arc::new(test_hub.hub.publisher().clone()));
    test_hub.hub.follow_revocations().await.unwrap();
    test_hub
}

async fn one_node(transport: Transport, config: HubConfig) -> (TestHub, Arc<Social>) {
    let social = Social::new();
    let backends = Backends::memory(&config);
    let issuer = Arc::new(Issuer::new());
    let node = chat_node(config, backends, issuer, 1, &social, transport).await;
    (node, social)
}

fn send_frame(channel: i64, body: &str, client_msg_id: Option<&str>) -> Value {
    let mut frame = json!({"type": "chat.send", "channel_id": channel.to_string(), "body": body});
    if let Some(key) = client_msg_id {
        frame["client_msg_id"] = key.into();
    }
    frame
}

fn assert_error(answer: &Value, code: &str) {
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], code, "{answer}");
}

async fn members_subscribe_and_others_are_refused(transport: Transport) {
    let (node, social) = one_node(transport, test_config()).await;
    let mut member = node.connect_as(1).await;
    let mut outsider = node.connect_as(3).await;
    for channel in ["chat:1", "presence:chat:1", "community:5"] {
        let ack = member.subscribe(channel, None).await;
        assert_eq!(ack["type"], "ack", "{channel}: {ack}");
    }
    for channel in ["chat:1", "presence:chat:1", "community:5"] {
        assert_error(&outsider.subscribe(channel, None).await, "forbidden");
    }
    // A channel social does not know is denied, not an outage.
    assert_error(&member.subscribe("chat:999", None).await, "forbidden");
    // Members may type; the typing permission came from social too.
    let typed = member
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(typed["type"], "ack", "{typed}");
    assert!(social.calls() >= 3);
}

#[tokio::test]
async fn members_subscribe_through_social_and_others_are_refused() {
    members_subscribe_and_others_are_refused(Transport::InProcess).await;
}

#[tokio::test]
async fn chat_send_acks_the_stored_message_which_every_member_gets_once() {
    let (node, _social) = one_node(Transport::InProcess, test_config()).await;
    let mut alice = node.connect_as(1).await;
    let mut bob = node.connect_as(2).await;
    assert_eq!(alice.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(bob.subscribe("chat:1", None).await["type"], "ack");

    let ack = alice.request(send_frame(1, "hello", Some("k-1"))).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let stored = ack["result"].clone();
    assert_eq!(stored["channel_id"], "1");
    assert_eq!(stored["author_id"], "1");
    assert_eq!(stored["body"], "hello");
    assert!(stored["id"].is_string());
    for client in [&mut alice, &mut bob] {
        let event = client.next_event().await;
        assert_eq!(event["channel"], "chat:1");
        assert_eq!(event["event"], "chat.message");
        assert_eq!(event["data"], stored);
    }

    // A retry with the same client_msg_id answers the same message, and nobody
    // receives it again.
    let retried = alice.request(send_frame(1, "hello", Some("k-1"))).await;
    assert_eq!(retried["result"], stored);
    alice.silent_for(Duration::from_millis(300)).await;
    bob.silent_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn chat_send_maps_socials_problems_to_error_codes() {
    let (node, _social) = one_node(Transport::InProcess, test_config()).await;
    let mut member = node.connect_as(1).await;
    let mut outsider = node.connect_as(3).await;
    assert_error(
        &outsider.request(send_frame(1, "let me in", None)).await,
        "forbidden",
    );
    assert_error(
        &member.request(send_frame(1, "", None)).await,
        "invalid_field",
    );
    let limited = member.request(send_frame(1, "flood", None)).await;
    assert_error(&limited, "rate_limited");
    assert!(
        limited["message"]
            .as_str()
            .unwrap()
            .contains("retry after 7 s"),
        "{limited}"
    );
    assert_error(
        &member
            .request(send_frame(NO_SUCH_CHANNEL, "anyone?", None))
            .await,
        "not_found",
    );
    let failed = member.request(send_frame(1, "boom", None)).await;
    assert_error(&failed, "unavailable");
    assert!(
        !failed["message"].as_str().unwrap().contains("db-7"),
        "a server error's words stay in the log: {failed}"
    );
    // Malformed sends never reach social.
    assert_error(
        &member
            .request(json!({"type": "chat.send", "channel_id": "1"}))
            .await,
        "invalid_field",
    );
    // Before authenticating, nothing is sent.
    let mut anonymous = node.connect().await;
    assert_error(
        &anonymous.request(send_frame(1, "hi", None)).await,
        "unauthenticated",
    );
}

#[tokio::test]
async fn a_hub_without_social_refuses_chat_send() {
    let node = TestHub::spawn(test_config()).await;
    let mut client = node.connect_as(1).await;
    assert_error(
        &client.request(send_frame(1, "hi", None)).await,
        "forbidden",
    );
}

#[tokio::test]
async fn social_sees_the_sessions_current_token_and_request_id() {
    let (node, social) = one_node(Transport::InProcess, test_config()).await;
    let mut client = node
        .connect_with_headers(None, None, &[("x-request-id", "req-abc-123")])
        .await
        .unwrap();
    let first = node.issuer.token(1, 600);
    assert_eq!(
        client
            .request(json!({"type": "auth", "token": first}))
            .await["type"],
        "ack"
    );
    assert_eq!(
        client.request(send_frame(1, "one", None)).await["type"],
        "ack"
    );
    // A renewed token is what the next call carries.
    let renewed = node.issuer.token(1, 900);
    assert_ne!(first, renewed);
    assert_eq!(
        client
            .request(json!({"type": "auth", "token": renewed}))
            .await["type"],
        "ack"
    );
    assert_eq!(client.subscribe("chat:1", None).await["type"], "ack");
    let seen = social.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (format!("Bearer {first}"), "req-abc-123".to_owned()),
            (format!("Bearer {renewed}"), "req-abc-123".to_owned()),
        ]
    );
}

#[tokio::test]
async fn grants_are_cached_for_the_ttl() {
    let config = HubConfig {
        authz_cache_ttl_ms: 500,
        ..test_config()
    };
    let (node, social) = one_node(Transport::InProcess, config).await;
    let mut client = node.connect_as(1).await;
    assert_eq!(client.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(
        client
            .request(json!({"type": "unsubscribe", "channel": "chat:1"}))
            .await["type"],
        "ack"
    );
    // Removed without a notice: the grant still holds until it expires.
    social.remove(1, "chat:1");
    assert_eq!(client.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(
        social.calls(),
        1,
        "the second subscribe used the cached grant"
    );
    client
        .request(json!({"type": "unsubscribe", "channel": "chat:1"}))
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_error(&client.subscribe("chat:1", None).await, "forbidden");
    assert_eq!(social.calls(), 2);
}

/// Waits for the `unsubscribed` notices of `channels` (each channel's task sends
/// its own, so in any order), within a second.
async fn unsubscribed_within_a_second(client: &mut Client, channels: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut told = HashSet::new();
    while told.len() < channels.len() {
        let frame = tokio::time::timeout_at(deadline, client.next())
            .await
            .expect("the notices arrive within a second");
        assert_eq!(frame["type"], "unsubscribed", "{frame}");
        assert_eq!(frame["reason"], "access_revoked");
        told.insert(frame["channel"].as_str().unwrap().to_owned());
    }
    let expected: HashSet<String> = channels.iter().map(|c| (*c).to_owned()).collect();
    assert_eq!(told, expected);
}

async fn revocation_drops_subscriptions_on_every_node(backends: [Backends; 2]) {
    // A long TTL: only the notice can make the hub forget the grant.
    let config = HubConfig {
        authz_cache_ttl_ms: 60_000,
        ..test_config()
    };
    let social = Social::new();
    let issuer = Arc::new(Issuer::new());
    let [on_a, on_b] = backends;
    let broker = on_a.broker.clone();
    let a = chat_node(
        config.clone(),
        on_a,
        issuer.clone(),
        1,
        &social,
        Transport::InProcess,
    )
    .await;
    let b = chat_node(config, on_b, issuer, 2, &social, Transport::InProcess).await;

    let mut removed_on_a = a.connect_as(1).await;
    let mut removed_on_b = b.connect_as(1).await;
    let mut stays = b.connect_as(2).await;
    for client in [&mut removed_on_a, &mut removed_on_b] {
        assert_eq!(client.subscribe("chat:1", None).await["type"], "ack");
        assert_eq!(
            client.subscribe("presence:chat:1", None).await["type"],
            "ack"
        );
        assert_eq!(client.subscribe("community:5", None).await["type"], "ack");
    }
    assert_eq!(stays.subscribe("chat:1", None).await["type"], "ack");
    // User 1's first session announced its presence (to itself: the second
    // subscribed after).
    let joined = removed_on_a.next_event().await;
    assert_eq!(joined["event"], "presence.join", "{joined}");

    social.remove(1, "chat:1");
    access::publish(
        &*broker,
        &AccessRevoked {
            user_id: id(1),
            channels: vec!["chat:1".into()],
        },
    )
    .await
    .unwrap();
    for client in [&mut removed_on_a, &mut removed_on_b] {
        unsubscribed_within_a_second(client, &["chat:1", "presence:chat:1"]).await;
    }

    // The removed member receives nothing more of the chat; the other member does,
    // and the community subscription stays.
    a.publish("chat:1", "chat.message", json!({"body": "after"}))
        .await;
    assert_eq!(stays.next_event().await["data"]["body"], "after");
    b.publish("community:5", "community.updated", json!({"n": 1}))
        .await;
    for client in [&mut removed_on_a, &mut removed_on_b] {
        assert_eq!(client.next_event().await["channel"], "community:5");
        client.silent_for(Duration::from_millis(200)).await;
    }

    // The cached grant is gone: social is asked again and refuses.
    let calls = social.calls();
    assert_error(&removed_on_a.subscribe("chat:1", None).await, "forbidden");
    assert_error(&removed_on_b.subscribe("chat:1", None).await, "forbidden");
    assert_eq!(social.calls(), calls + 2);
}

#[tokio::test]
async fn a_revocation_notice_drops_subscriptions_on_every_node_in_memory() {
    let backends = Backends::memory(&test_config());
    revocation_drops_subscriptions_on_every_node([backends.clone(), backends]).await;
}

#[tokio::test]
async fn a_revocation_notice_drops_subscriptions_on_every_node_over_redis() {
    let Some(url) = testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", testkit::unique_name("hub_revoke"));
    let backends = [
        redis_backends(&url, &prefix).await,
        redis_backends(&url, &prefix).await,
    ];
    revocation_drops_subscriptions_on_every_node(backends).await;
}

#[tokio::test]
async fn the_http_client_reaches_social_on_a_real_port() {
    let config = HubConfig {
        service_timeout_ms: 500,
        ..test_config()
    };
    let (node, social) = one_node(Transport::Http, config).await;
    members_subscribe_and_others_are_refused_over(&node).await;
    let mut alice = node.connect_as(1).await;
    let ack = alice.request(send_frame(1, "over http", Some("h-1"))).await;
    assert_eq!(ack["result"]["body"], "over http", "{ack}");
    assert_error(
        &alice.request(send_frame(1, "flood", None)).await,
        "rate_limited",
    );
    // The request id the session made for itself reached social too.
    assert!(social
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|(auth, request_id)| auth.starts_with("Bearer ey") && !request_id.is_empty()));
    // A service slower than the timeout is `unavailable`, within the timeout.
    let started = std::time::Instant::now();
    assert_error(&alice.subscribe("chat:777", None).await, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn members_subscribe_and_others_are_refused_over(node: &TestHub) {
    let mut member = node.connect_as(1).await;
    let mut outsider = node.connect_as(3).await;
    assert_eq!(member.subscribe("chat:1", None).await["type"], "ack");
    assert_error(&outsider.subscribe("chat:1", None).await, "forbidden");
    assert_error(&member.subscribe("chat:999", None).await, "forbidden");
}
