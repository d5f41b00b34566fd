//! Chat end to end through the real binary, all-in-one and with social in its
//! own process behind a gateway: members of a community channel receive every
//! message exactly once whether it was sent over REST or the hub's `chat.send`;
//! a retried send does not duplicate; a non-member cannot subscribe; a banned
//! member's subscription ends at once; edits, deletes, reactions, typing and
//! mentions reach the other members live, and reading on one session updates
//! the member's other sessions and their unread counts.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures::SinkExt;
use serde_json::{json, Value};
use support::{next_frame, sign_up_and_get_token, Socket, Vigor};
use tokio_tungstenite::tungstenite::Message;

/// A signed-in person with an open hub session.
struct Member {
    id: String,
    token: String,
    ws: Socket,
    next_request: u64,
}

impl Member {
    async fn join(base: &str, email: &str) -> Member {
        let token = sign_up_and_get_token(base, email).await;
        Member::connect(base, token).await
    }

    /// Another session of a signed-in person.
    async fn connect(base: &str, token: String) -> Member {
        let (ws, welcome) = support::connect(base, &token).await;
        Member {
            id: welcome["user_id"].as_str().unwrap().to_owned(),
            token,
            ws,
            next_request: 1,
        }
    }

    /// Sends `frame` and returns the answer to it; events meanwhile go to `seen`.
    async fn ask(&mut self, mut frame: Value, seen: &mut Vec<Value>) -> Value {
        let id = self.next_request;
        self.next_request += 1;
        frame["id"] = id.into();
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
        loop {
            let reply = next_frame(&mut self.ws, Duration::from_secs(10))
                .await
                .expect("an answer within 10 s");
            if reply["id"] == id {
                return reply;
            }
            seen.push(reply);
        }
    }

    /// The frames that arrive within `wait` (after which the session is quiet).
    async fn drain(&mut self, wait: Duration, seen: &mut Vec<Value>) {
        while let Some(frame) = next_frame(&mut self.ws, wait).await {
            seen.push(frame);
        }
    }

    async fn rest(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> (u16, Value) {
        support::rest(&self.token, method, &url, body).await
    }
}

/// How many `chat.message` events of each message id arrived on `channel`.
fn deliveries(frames: &[Value], channel: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for frame in frames {
        if frame["type"] == "event"
            && frame["channel"] == channel
            && frame["event"] == "chat.message"
        {
            *counts
                .entry(frame["data"]["id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    counts
}

/// A public community `name` made by `owner` and joined by `member`: its id and
/// the id of its `general` channel.
async fn community_with(
    base: &str,
    owner: &Member,
    member: &Member,
    name: &str,
) -> (String, String) {
    let (status, community) = owner
        .rest(
            reqwest::Method::POST,
            format!("{base}/v1/social/communities"),
            Some(json!({"name": name, "visibility": "public"})),
        )
        .await;
    assert_eq!(status, 201, "{community}");
    let community = community["id"].as_str().unwrap().to_owned();
    let (status, _) = member
        .rest(
            reqwest::Method::POST,
            format!("{base}/v1/social/communities/{community}/join"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, channels) = owner
        .rest(
            reqwest::Method::GET,
            format!("{base}/v1/social/communities/{community}/channels"),
            None,
        )
        .await;
    let general = channels["items"][0]["id"].as_str().unwrap().to_owned();
    (community, general)
}

async fn members_receive_each_message_once(base: &str, tag: &str) {
    let mut ann = Member::join(base, &format!("ann-{tag}@example.org")).await;
    let mut bob = Member::join(base, &format!("bob-{tag}@example.org")).await;
    let mut eve = Member::join(base, &format!("eve-{tag}@example.org")).await;
    let (community, general) = community_with(base, &ann, &bob, "Runners").await;
    let channel = format!("chat:{general}");

    let (mut ann_seen, mut bob_seen, mut eve_seen) = (Vec::new(), Vec::new(), Vec::new());
    for (member, seen) in [(&mut ann, &mut ann_seen), (&mut bob, &mut bob_seen)] {
        let ack = member
            .ask(json!({"type": "subscribe", "channel": channel}), seen)
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let refused = eve
        .ask(
            json!({"type": "subscribe", "channel": channel}),
            &mut eve_seen,
        )
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let refused = eve
        .ask(
            json!({"type": "chat.send", "channel_id": general, "body": "let me in"}),
            &mut eve_seen,
        )
        .await;
    assert_eq!(refused["code"], "not_found", "{refused}");

    // Bob over REST, twice with one client id: one message.
    let send = |body: &str, client: &str| json!({"body": body, "client_msg_id": client});
    let url = format!("{base}/v1/social/channels/{general}/messages");
    let (status, by_rest) = bob
        .rest(
            reqwest::Method::POST,
            url.clone(),
            Some(send("from REST", "r-1")),
        )
        .await;
    assert_eq!(status, 201, "{by_rest}");
    let (status, again) = bob
        .rest(
            reqwest::Method::POST,
            url.clone(),
            Some(send("from REST", "r-1")),
        )
        .await;
    assert_eq!((status, &again), (200, &by_rest));

    // Ann over the hub, twice with one client id: one message, acked both times.
    let frame = json!({"type": "chat.send", "channel_id": general, "body": "from WS", "client_msg_id": "w-1"});
    let ack = ann.ask(frame.clone(), &mut ann_seen).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let by_ws = ack["result"].clone();
    assert_eq!(
        (by_ws["body"].as_str(), by_ws["author_id"].as_str()),
        (Some("from WS"), Some(ann.id.as_str()))
    );
    let ack = ann.ask(frame, &mut ann_seen).await;
    assert_eq!(ack["result"], by_ws);

    let quiet = Duration::from_millis(700);
    ann.drain(quiet, &mut ann_seen).await;
    bob.drain(quiet, &mut bob_seen).await;
    let expected = HashMap::from([
        (by_rest["id"].as_str().unwrap().to_owned(), 1),
        (by_ws["id"].as_str().unwrap().to_owned(), 1),
    ]);
    assert_eq!(
        deliveries(&ann_seen, &channel),
        expected,
        "ann: {ann_seen:#?}"
    );
    assert_eq!(
        deliveries(&bob_seen, &channel),
        expected,
        "bob: {bob_seen:#?}"
    );
    eve.drain(Duration::from_millis(100), &mut eve_seen).await;
    assert!(deliveries(&eve_seen, &channel).is_empty());

    // Ann bans Bob: his subscription ends within a second, and he hears no more.
    let (status, ban) = ann
        .rest(
            reqwest::Method::POST,
            format!("{base}/v1/social/communities/{community}/bans"),
            Some(json!({"user_id": bob.id, "reason": "spam"})),
        )
        .await;
    assert_eq!(status, 201, "{ban}");
    let mut ended = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < deadline {
        if let Some(frame) = next_frame(&mut bob.ws, Duration::from_millis(100)).await {
            ended.push(frame);
            if ended.last().unwrap()["type"] == "unsubscribed" {
                break;
            }
        }
    }
    let last = ended.last().cloned().unwrap_or(Value::Null);
    assert_eq!(
        (
            last["type"].as_str(),
            last["channel"].as_str(),
            last["reason"].as_str()
        ),
        (
            Some("unsubscribed"),
            Some(channel.as_str()),
            Some("access_revoked")
        ),
        "{ended:#?}"
    );
    let after = ann
        .ask(
            json!({"type": "chat.send", "channel_id": general, "body": "bob is gone"}),
            &mut ann_seen,
        )
        .await;
    assert_eq!(after["type"], "ack", "{after}");
    let mut late = Vec::new();
    bob.drain(quiet, &mut late).await;
    assert!(deliveries(&late, &channel).is_empty(), "{late:#?}");
    let again = bob
        .ask(json!({"type": "subscribe", "channel": channel}), &mut late)
        .await;
    assert_eq!(again["code"], "forbidden", "{again}");
}

/// The next event named `event` on `channel` that `member` receives (other
/// frames go by), within 5 s.
async fn event_of(member: &mut Member, channel: &str, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = next_frame(&mut member.ws, left)
            .await
            .unwrap_or_else(|| panic!("no {event} on {channel} within 5 s"));
        if frame["type"] == "event" && frame["channel"] == channel && frame["event"] == event {
            return frame["data"].clone();
        }
    }
}

async fn changes_reach_members_live(base: &str, tag: &str) {
    let mut ann = Member::join(base, &format!("ann-live-{tag}@example.org")).await;
    let mut bob = Member::join(base, &format!("bob-live-{tag}@example.org")).await;
    let mut bobs_phone = Member::connect(base, bob.token.clone()).await;
    let (_, general) = community_with(base, &ann, &bob, "Live").await;
    let channel = format!("chat:{general}");
    let own = format!("user:{}", bob.id);
    let mut seen = Vec::new();
    for (member, name) in [
        (&mut ann, &channel),
        (&mut bob, &channel),
        (&mut bobs_phone, &own),
    ] {
        let ack = member
            .ask(json!({"type": "subscribe", "channel": name}), &mut seen)
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let messages = format!("{base}/v1/social/channels/{general}/messages");

    // A message that mentions Bob: his other session hears of it.
    let (status, sent) = ann
        .rest(
            reqwest::Method::POST,
            messages.clone(),
            Some(json!({"body": "hi @bob", "mentions": [bob.id]})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    assert_eq!(event_of(&mut bob, &channel, "chat.message").await["id"], id);
    let mention = event_of(&mut bobs_phone, &own, "chat.mention").await;
    assert_eq!(mention["message"]["id"], id);

    // Typing, an edit, a reaction and a delete, each live.
    let ack = ann
        .ask(json!({"type": "typing", "channel": channel}), &mut seen)
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(
        event_of(&mut bob, &channel, "typing").await["user_id"],
        ann.id.as_str()
    );
    let (status, _) = ann
        .rest(
            reqwest::Method::PATCH,
            format!("{messages}/{id}"),
            Some(json!({"body": "hi @bob!"})),
        )
        .await;
    assert_eq!(status, 200);
    let edited = event_of(&mut bob, &channel, "chat.edited").await;
    assert_eq!(
        (edited["id"].as_str(), edited["body"].as_str()),
        (Some(id.as_str()), Some("hi @bob!"))
    );
    let (status, _) = bob
        .rest(
            reqwest::Method::PUT,
            format!("{messages}/{id}/reactions/👍"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let reaction = event_of(&mut ann, &channel, "chat.reaction").await;
    assert_eq!(
        (reaction["user_id"].as_str(), reaction["added"].as_bool()),
        (Some(bob.id.as_str()), Some(true))
    );
    let (status, _) = ann
        .rest(reqwest::Method::DELETE, format!("{messages}/{id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        event_of(&mut bob, &channel, "chat.deleted").await["message_id"],
        id
    );

    // Two more from Ann: Bob's channel list says 2 unread; reading them on one
    // session tells the other and clears the count.
    let mut last = String::new();
    for body in ["one", "two"] {
        let (status, sent) = ann
            .rest(
                reqwest::Method::POST,
                messages.clone(),
                Some(json!({"body": body})),
            )
            .await;
        assert_eq!(status, 201);
        last = sent["id"].as_str().unwrap().to_owned();
    }
    let unread = |list: &Value| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == general)
            .map(|c| c["read"]["unread"].clone())
    };
    let (_, mine) = bob
        .rest(
            reqwest::Method::GET,
            format!("{base}/v1/social/channels"),
            None,
        )
        .await;
    assert_eq!(unread(&mine), Some(json!(2)), "{mine}");
    let (status, _) = bob
        .rest(
            reqwest::Method::POST,
            format!("{base}/v1/social/channels/{general}/read"),
            Some(json!({"message_id": last})),
        )
        .await;
    assert_eq!(status, 200);
    let read = event_of(&mut bobs_phone, &own, "chat.read").await;
    assert_eq!(
        (read["last_read"].as_str(), read["unread"].as_u64()),
        (Some(last.as_str()), Some(0))
    );
    let (_, mine) = bob
        .rest(
            reqwest::Method::GET,
            format!("{base}/v1/social/channels"),
            None,
        )
        .await;
    assert_eq!(unread(&mine), Some(json!(0)), "{mine}");
}

#[tokio::test]
async fn all_in_one_changes_reach_members_live() {
    let vigor = Vigor::serve(&[], &[]);
    changes_reach_members_live(&vigor.url, "solo").await;
}

#[tokio::test]
async fn behind_a_gateway_changes_reach_members_live() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let (_services, gateway) = support::cluster(&redis, "http://vigor.test");
    changes_reach_members_live(&gateway.url, "cluster").await;
}

#[tokio::test]
async fn all_in_one_members_receive_each_message_once() {
    let vigor = Vigor::serve(&[], &[]);
    members_receive_each_message_once(&vigor.url, "solo").await;
}

#[tokio::test]
async fn behind_a_gateway_members_receive_each_message_once() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let (_services, gateway) = support::cluster(&redis, "http://vigor.test");
    members_receive_each_message_once(&gateway.url, "cluster").await;
}
