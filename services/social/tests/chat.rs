//! The social service's REST API, black box: communities and their channels,
//! direct and group chats, sending and paging history, edits, deletes,
//! reactions, read state, bans and blocks — on SQLite and on PostgreSQL.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vigor_common::testkit::problem;

mod support;

use support::{App, Person};

impl App {
    /// A community of `owner` with `members` joined; its `general` channel id.
    async fn community_with(&self, owner: &Person, members: &[&Person]) -> (String, String) {
        let community = self
            .json(
                owner,
                Method::POST,
                "/v1/social/communities",
                Some(json!({"name": "Runners", "visibility": "public"})),
                StatusCode::CREATED,
            )
            .await;
        let id = community["id"].as_str().unwrap().to_owned();
        for member in members {
            let joined = self
                .json(
                    member,
                    Method::POST,
                    &format!("/v1/social/communities/{id}/join"),
                    None,
                    StatusCode::OK,
                )
                .await;
            assert_eq!(joined["status"], "active");
        }
        let channels = self
            .json(
                owner,
                Method::GET,
                &format!("/v1/social/communities/{id}/channels"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(channels["items"][0]["name"], "general");
        (id, channels["items"][0]["id"].as_str().unwrap().to_owned())
    }

    async fn post_message(&self, who: &Person, channel: &str, body: &str) -> Value {
        self.json(
            who,
            Method::POST,
            &format!("/v1/social/channels/{channel}/messages"),
            Some(json!({"body": body})),
            StatusCode::CREATED,
        )
        .await
    }
}

async fn members_chat_and_strangers_cannot(app: App) {
    let (ann, bob, eve) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("eve").await,
    );
    let (_, general) = app.community_with(&ann, &[&bob]).await;
    let sent = app.post_message(&bob, &general, "hello").await;
    assert_eq!(sent["body"], "hello");
    assert_eq!(sent["author_id"], bob.id.as_str());
    assert_eq!(sent["channel_id"], general.as_str());
    let page = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/channels/{general}/messages"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(page["items"][0]["id"], sent["id"]);
    assert_eq!(page["next_cursor"], Value::Null);

    // A stranger can neither read, nor send, nor learn the channel exists.
    for (method, body) in [
        (Method::GET, None),
        (Method::POST, Some(json!({"body": "hi"}))),
    ] {
        let response = app
            .send(
                &eve,
                method,
                &format!("/v1/social/channels/{general}/messages"),
                body,
            )
            .await;
        problem(response, StatusCode::NOT_FOUND).await;
    }
    let access = app
        .json(
            &eve,
            Method::GET,
            &format!("/v1/social/channels/{general}/access"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        access,
        json!({"subscribe": false, "typing": false, "write": false})
    );
    let access = app
        .json(
            &bob,
            Method::GET,
            &format!("/v1/social/channels/{general}/access"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        access,
        json!({"subscribe": true, "typing": true, "write": true})
    );
}

async fn a_retried_send_is_stored_once(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let (_, general) = app.community_with(&ann, &[&bob]).await;
    let path = format!("/v1/social/channels/{general}/messages");
    let body = json!({"body": "on my way", "client_msg_id": "c-1"});
    let first = app
        .json(
            &bob,
            Method::POST,
            &path,
            Some(body.clone()),
            StatusCode::CREATED,
        )
        .await;
    let again = app
        .json(&bob, Method::POST, &path, Some(body), StatusCode::OK)
        .await;
    assert_eq!(first, again);
    // The same client id from someone else is their own send.
    let other = app
        .json(
            &ann,
            Method::POST,
            &path,
            Some(json!({"body": "me too", "client_msg_id": "c-1"})),
            StatusCode::CREATED,
        )
        .await;
    assert_ne!(other["id"], first["id"]);
    let page = app
        .json(&ann, Method::GET, &path, None, StatusCode::OK)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

async fn history_pages_without_gaps_or_repeats(app: App) {
    let ann = app.person("ann").await;
    let (_, general) = app.community_with(&ann, &[]).await;
    let mut sent = Vec::new();
    for n in 0..7 {
        sent.push(app.post_message(&ann, &general, &format!("m{n}")).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/social/channels/{general}/messages?limit=3&cursor={c}"),
            None => format!("/v1/social/channels/{general}/messages?limit=3"),
        };
        let page = app
            .json(&ann, Method::GET, &path, None, StatusCode::OK)
            .await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    sent.reverse();
    assert_eq!(seen, sent, "newest first, each once");
    // after= gives the newer ones, newest first.
    let page = app
        .json(
            &ann,
            Method::GET,
            &format!(
                "/v1/social/channels/{general}/messages?after={}",
                sent[2].as_str().unwrap()
            ),
            None,
            StatusCode::OK,
        )
        .await;
    let ids: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, sent[..2].to_vec());
    let bad = app
        .send(
            &ann,
            Method::GET,
            &format!("/v1/social/channels/{general}/messages?cursor=garbage"),
            None,
        )
        .await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn edits_deletes_reactions_and_unread_counts(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let (_, general) = app.community_with(&ann, &[&bob]).await;
    let first = app.post_message(&bob, &general, "first").await;
    let second = app.post_message(&bob, &general, "second").await;
    let (m1, m2) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let messages = format!("/v1/social/channels/{general}/messages");

    // Only the author edits.
    let edit = json!({"body": "first!"});
    problem(
        app.send(
            &ann,
            Method::PATCH,
            &format!("{messages}/{m1}"),
            Some(edit.clone()),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Edits in quick succession (within one millisecond, often) each succeed.
    let quick = format!("{messages}/{m2}");
    let (a, b) = tokio::join!(
        app.send(&bob, Method::PATCH, &quick, Some(json!({"body": "a"}))),
        app.send(&bob, Method::PATCH, &quick, Some(json!({"body": "b"}))),
    );
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let edited = app
        .json(
            &bob,
            Method::PATCH,
            &format!("{messages}/{m1}"),
            Some(edit),
            StatusCode::OK,
        )
        .await;
    assert_eq!(edited["body"], "first!");
    assert!(edited["edited_at"].is_string());

    // One reaction per person per emoji, counted.
    let thumbs = format!("{messages}/{m1}/reactions/%F0%9F%91%8D");
    app.json(&ann, Method::PUT, &thumbs, None, StatusCode::OK)
        .await;
    let reacted = app
        .json(&ann, Method::PUT, &thumbs, None, StatusCode::OK)
        .await;
    assert_eq!(reacted["reactions"], json!({"👍": 1}));
    let reacted = app
        .json(&bob, Method::PUT, &thumbs, None, StatusCode::OK)
        .await;
    assert_eq!(reacted["reactions"], json!({"👍": 2}));
    let reacted = app
        .json(&ann, Method::DELETE, &thumbs, None, StatusCode::OK)
        .await;
    assert_eq!(reacted["reactions"], json!({"👍": 1}));

    // Ann has two unread; reading the first leaves one.
    let mine = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/channels",
            None,
            StatusCode::OK,
        )
        .await;
    let entry = &mine["items"][0];
    assert_eq!(
        (entry["id"].as_str(), &entry["read"]["unread"]),
        (Some(general.as_str()), &json!(2))
    );
    let state = app
        .json(
            &ann,
            Method::POST,
            &format!("/v1/social/channels/{general}/read"),
            Some(json!({"message_id": m1})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(state, json!({"last_read": m1, "unread": 1}));

    // A deleted message keeps its place without its body; only its author or a
    // moderator deletes it, and a moderator's removal is audited.
    let owner_removes = app
        .send(&ann, Method::DELETE, &format!("{messages}/{m2}"), None)
        .await;
    assert_eq!(owner_removes.status(), StatusCode::NO_CONTENT);
    let page = app
        .json(&bob, Method::GET, &messages, None, StatusCode::OK)
        .await;
    assert_eq!(page["items"][0]["id"], m2);
    assert_eq!(
        (
            page["items"][0]["deleted"].clone(),
            page["items"][0]["body"].clone()
        ),
        (json!(true), json!(""))
    );
    let unread = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/channels",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        unread["items"][0]["read"]["unread"], 0,
        "a deleted message is not unread"
    );
}

async fn a_banned_member_loses_the_channels(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let (community, general) = app.community_with(&ann, &[&bob]).await;
    // A member cannot ban the owner.
    problem(
        app.send(
            &bob,
            Method::POST,
            &format!("/v1/social/communities/{community}/bans"),
            Some(json!({"user_id": ann.id})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/communities/{community}/bans"),
        Some(json!({"user_id": bob.id, "reason": "spam"})),
        StatusCode::CREATED,
    )
    .await;
    problem(
        app.send(
            &bob,
            Method::GET,
            &format!("/v1/social/channels/{general}/messages"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.send(
            &bob,
            Method::POST,
            &format!("/v1/social/communities/{community}/join"),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let access = app
        .json(
            &bob,
            Method::GET,
            &format!("/v1/social/channels/{general}/access"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(access["subscribe"], false);
    let audit = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{community}/audit"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "member.banned");
    // Lifted: they may join again.
    let lifted = app
        .send(
            &ann,
            Method::DELETE,
            &format!("/v1/social/communities/{community}/bans/{}", bob.id),
            None,
        )
        .await;
    assert_eq!(lifted.status(), StatusCode::NO_CONTENT);
    app.json(
        &bob,
        Method::POST,
        &format!("/v1/social/communities/{community}/join"),
        None,
        StatusCode::OK,
    )
    .await;
}

async fn a_muted_member_reads_but_does_not_write(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let (community, general) = app.community_with(&ann, &[&bob]).await;
    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/communities/{community}/members/{}/mute", bob.id),
        Some(json!({"duration_secs": 600})),
        StatusCode::OK,
    )
    .await;
    problem(
        app.send(
            &bob,
            Method::POST,
            &format!("/v1/social/channels/{general}/messages"),
            Some(json!({"body": "hi"})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.json(
        &bob,
        Method::GET,
        &format!("/v1/social/channels/{general}/messages"),
        None,
        StatusCode::OK,
    )
    .await;
}

async fn invite_only_communities_take_requests_and_invitations(app: App) {
    let (ann, bob, carol) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("carol").await,
    );
    let community = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/communities",
            Some(json!({"name": "Club", "visibility": "invite_only"})),
            StatusCode::CREATED,
        )
        .await;
    let id = community["id"].as_str().unwrap();
    let asked = app
        .json(
            &bob,
            Method::POST,
            &format!("/v1/social/communities/{id}/join"),
            None,
            StatusCode::ACCEPTED,
        )
        .await;
    assert_eq!(asked["status"], "requested");
    problem(
        app.send(
            &bob,
            Method::GET,
            &format!("/v1/social/communities/{id}/channels"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let requests = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/members?status=requested"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(requests["items"][0]["user_id"], bob.id.as_str());
    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/communities/{id}/members/{}/approve", bob.id),
        None,
        StatusCode::OK,
    )
    .await;
    app.json(
        &bob,
        Method::GET,
        &format!("/v1/social/communities/{id}/channels"),
        None,
        StatusCode::OK,
    )
    .await;
    // Bob, a member, cannot invite; Ann can, and Carol's join accepts.
    problem(
        app.send(
            &bob,
            Method::POST,
            &format!("/v1/social/communities/{id}/invitations"),
            Some(json!({"user_id": carol.id})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/communities/{id}/invitations"),
        Some(json!({"user_id": carol.id})),
        StatusCode::OK,
    )
    .await;
    let joined = app
        .json(
            &carol,
            Method::POST,
            &format!("/v1/social/communities/{id}/join"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(joined["status"], "active");
    let members = app
        .json(
            &carol,
            Method::GET,
            &format!("/v1/social/communities/{id}/members?limit=2"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    let cursor = members["next_cursor"].as_str().unwrap();
    let rest = app
        .json(
            &carol,
            Method::GET,
            &format!("/v1/social/communities/{id}/members?limit=2&cursor={cursor}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
}

async fn direct_messages_are_one_per_pair_and_blocks_stop_them(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let made = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/dms",
            Some(json!({"user_id": bob.id})),
            StatusCode::CREATED,
        )
        .await;
    let again = app
        .json(
            &bob,
            Method::POST,
            "/v1/social/dms",
            Some(json!({"user_id": ann.id})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(made["id"], again["id"]);
    let channel = made["id"].as_str().unwrap();
    app.post_message(&bob, channel, "hey").await;

    // Follows, then a block: the follow ends, messages and follows are refused.
    app.json(
        &ann,
        Method::PUT,
        &format!("/v1/social/following/{}", bob.id),
        None,
        StatusCode::OK,
    )
    .await;
    let following = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/following",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(following["items"][0]["followee_id"], bob.id.as_str());
    let blocked = app
        .send(
            &bob,
            Method::PUT,
            &format!("/v1/social/blocks/{}", ann.id),
            None,
        )
        .await;
    assert_eq!(blocked.status(), StatusCode::NO_CONTENT);
    let following = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/following",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(following["items"], json!([]));
    problem(
        app.send(
            &ann,
            Method::PUT,
            &format!("/v1/social/following/{}", bob.id),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.send(
            &ann,
            Method::POST,
            &format!("/v1/social/channels/{channel}/messages"),
            Some(json!({"body": "?"})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.send(
            &ann,
            Method::POST,
            "/v1/social/dms",
            Some(json!({"user_id": bob.id})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let group = app
        .send(
            &ann,
            Method::POST,
            "/v1/social/groups",
            Some(json!({"user_ids": [bob.id]})),
        )
        .await;
    problem(group, StatusCode::FORBIDDEN).await;
    // Unblocked, they talk again.
    let unblocked = app
        .send(
            &bob,
            Method::DELETE,
            &format!("/v1/social/blocks/{}", ann.id),
            None,
        )
        .await;
    assert_eq!(unblocked.status(), StatusCode::NO_CONTENT);
    app.post_message(&ann, channel, "hi again").await;
}

async fn bad_input_is_a_clear_problem(app: App) {
    let ann = app.person("ann").await;
    let (_, general) = app.community_with(&ann, &[]).await;
    let path = format!("/v1/social/channels/{general}/messages");
    for body in [
        json!({"body": ""}),
        json!({"body": "x".repeat(4097)}),
        json!({"body": "ok", "client_msg_id": "has space"}),
    ] {
        problem(
            app.send(&ann, Method::POST, &path, Some(body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    problem(
        app.send(
            &ann,
            Method::POST,
            &path,
            Some(json!({"body": "re", "reply_to": "12345"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.send(
            &ann,
            Method::POST,
            "/v1/social/communities",
            Some(json!({"name": " ", "visibility": "public"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let members: Vec<String> = (0..50).map(|n| format!("{}", 1000 + n)).collect();
    problem(
        app.send(
            &ann,
            Method::POST,
            "/v1/social/groups",
            Some(json!({"user_ids": members})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Nothing stored meanwhile.
    let page = app
        .json(&ann, Method::GET, &path, None, StatusCode::OK)
        .await;
    assert_eq!(page["items"], json!([]));
}

async fn sending_too_fast_is_refused_with_retry_after(app: App) {
    let ann = app.person("ann").await;
    let (_, general) = app.community_with(&ann, &[]).await;
    let path = format!("/v1/social/channels/{general}/messages");
    let mut refused = None;
    for n in 0..60 {
        let response = app
            .send(
                &ann,
                Method::POST,
                &path,
                Some(json!({"body": format!("spam {n}")})),
            )
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let refused = refused.expect("the send rate is limited");
    assert!(refused.headers().contains_key("retry-after"));
}

vigor_common::on_both_backends!(crate::App::spawn;
    members_chat_and_strangers_cannot,
    a_retried_send_is_stored_once,
    history_pages_without_gaps_or_repeats,
    edits_deletes_reactions_and_unread_counts,
    a_banned_member_loses_the_channels,
    a_muted_member_reads_but_does_not_write,
    invite_only_communities_take_requests_and_invitations,
    direct_messages_are_one_per_pair_and_blocks_stop_them,
    bad_input_is_a_clear_problem,
    sending_too_fast_is_refused_with_retry_after,
    group_chats_grow_to_fifty_and_members_leave,
);

async fn group_chats_grow_to_fifty_and_members_leave(app: App) {
    let (ann, bob, carol) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("carol").await,
    );
    let group = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/groups",
            Some(json!({"user_ids": [bob.id]})),
            StatusCode::CREATED,
        )
        .await;
    let id = group["id"].as_str().unwrap();
    let members = format!("/v1/social/groups/{id}/members");
    // Bob, a member, adds Carol; Carol can read.
    let now = app
        .json(
            &bob,
            Method::POST,
            &members,
            Some(json!({"user_ids": [carol.id]})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(now["items"].as_array().unwrap().len(), 3);
    app.json(
        &carol,
        Method::GET,
        &format!("/v1/social/channels/{id}/messages"),
        None,
        StatusCode::OK,
    )
    .await;
    // Past 50 in all: refused, nobody added.
    let crowd: Vec<String> = (0..48).map(|n| format!("{}", 1_000_000 + n)).collect();
    problem(
        app.send(
            &ann,
            Method::POST,
            &members,
            Some(json!({"user_ids": crowd})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let crowd: Vec<String> = (0..47).map(|n| format!("{}", 1_000_000 + n)).collect();
    let full = app
        .json(
            &ann,
            Method::POST,
            &members,
            Some(json!({"user_ids": crowd})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(full["items"].as_array().unwrap().len(), 50);
    // Carol cannot remove Bob; she leaves; Ann (who made it) removes Bob.
    problem(
        app.send(
            &carol,
            Method::DELETE,
            &format!("{members}/{}", bob.id),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let left = app
        .send(
            &carol,
            Method::DELETE,
            &format!("{members}/{}", carol.id),
            None,
        )
        .await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    problem(
        app.send(
            &carol,
            Method::GET,
            &format!("/v1/social/channels/{id}/messages"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let removed = app
        .send(&ann, Method::DELETE, &format!("{members}/{}", bob.id), None)
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    // A direct chat has no members to change.
    let dm = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/dms",
            Some(json!({"user_id": carol.id})),
            StatusCode::CREATED,
        )
        .await;
    let dm_members = format!("/v1/social/groups/{}/members", dm["id"].as_str().unwrap());
    problem(
        app.send(
            &ann,
            Method::POST,
            &dm_members,
            Some(json!({"user_ids": [bob.id]})),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
}
