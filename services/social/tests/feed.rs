//! The feed's REST API, black box, on SQLite and on PostgreSQL: items arrive
//! from training's and gamification's events on the bus, followers see them at
//! once and strangers do not, kudos and comments count and reach the owner
//! live, community posts, reports and mentions.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vigor_common::broker::BrokerSubscription;
use vigor_common::bus::EventBus;
use vigor_common::events::{
    AchievementUnlocked, PrivacyChanged, UserRef, WorkoutDeleted, WorkoutWritten,
    ACHIEVEMENT_UNLOCKED, COMMENT_ADDED, COMMUNITY_JOINED, KUDOS_GIVEN, USER_DELETED,
    USER_PRIVACY_CHANGED, WORKOUT_DELETED, WORKOUT_LOGGED, WORKOUT_UPDATED,
};
use vigor_common::testkit::{self, problem};
use vigor_common::Id;

mod support;

use support::{App, Person};

impl Person {
    fn id(&self) -> Id {
        self.id.parse().unwrap()
    }
}

fn workout(owner: &Person, workout: i64, privacy: &str, version: i64, hour: u32) -> WorkoutWritten {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap();
    WorkoutWritten {
        workout_id: Id::from_i64(workout),
        user_id: owner.id(),
        sport: "run".into(),
        privacy: privacy.into(),
        started_at: start,
        ended_at: start + chrono::Duration::minutes(30),
        duration_s: 1800.0,
        moving_time_s: Some(1750.0),
        distance_m: Some(5000.0 + version as f64),
        elevation_gain_m: None,
        volume_kg: 0.0,
        working_sets: 0,
        source: "manual".into(),
        version,
        personal_records: Vec::new(),
        records_moved: Vec::new(),
    }
}

/// The `(event, data)` of the next hub event on `sub` (a sequenced broker
/// message: header, then the frame after its seq).
async fn next_push(sub: &mut BrokerSubscription) -> (String, Value) {
    let message = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("a push within 5 s")
        .expect("the broker is up");
    let suffix = std::str::from_utf8(&message.payload[9..]).unwrap();
    let frame: Value = serde_json::from_str(&format!("{{\"seq\":0{suffix}")).unwrap();
    (
        frame["event"].as_str().unwrap().to_owned(),
        frame["data"].clone(),
    )
}

impl App {
    async fn publish<T: serde::Serialize>(&self, topic: vigor_common::events::Topic<T>, data: &T) {
        self.bus
            .publish(&topic.event(&self.ids, data))
            .await
            .unwrap();
    }

    async fn feed(&self, who: &Person) -> Vec<Value> {
        let page = self
            .json(who, Method::GET, "/v1/social/feed", None, StatusCode::OK)
            .await;
        page["items"].as_array().unwrap().clone()
    }

    /// Waits until `who`'s feed has `n` items; returns them.
    async fn feed_of_len(&self, who: &Person, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let items = self.feed(who).await;
            if items.len() == n {
                return items;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for a feed of {n}: {items:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn follow(&self, who: &Person, whom: &Person) {
        self.json(
            who,
            Method::PUT,
            &format!("/v1/social/following/{}", whom.id),
            None,
            StatusCode::OK,
        )
        .await;
    }
}

async fn followers_see_workouts_at_once_and_strangers_do_not(app: App) {
    let (ann, bob, eve) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("eve").await,
    );
    app.follow(&bob, &ann).await;
    app.publish(WORKOUT_LOGGED, &workout(&ann, 1, "followers", 1, 7))
        .await;
    app.publish(WORKOUT_LOGGED, &workout(&ann, 2, "private", 1, 8))
        .await;
    app.publish(WORKOUT_LOGGED, &workout(&ann, 3, "public", 1, 9))
        .await;
    // Ann sees all three, newest first; Bob the two he may; Eve none.
    let anns = app.feed_of_len(&ann, 3).await;
    let workout_ids: Vec<&str> = anns
        .iter()
        .map(|i| i["data"]["workout_id"].as_str().unwrap())
        .collect();
    assert_eq!(workout_ids, ["3", "2", "1"]);
    let bobs = app.feed_of_len(&bob, 2).await;
    assert_eq!(bobs[0]["data"]["workout_id"], "3");
    assert_eq!(bobs[0]["kind"], "workout");
    assert_eq!(bobs[0]["owner_id"], ann.id.as_str());
    assert_eq!(bobs[1]["privacy"], "followers");
    assert!(app.feed(&eve).await.is_empty());
    // A followers-only item is a 404 to a stranger, a public one is not.
    let followers_item = bobs[1]["id"].as_str().unwrap();
    let public_item = bobs[0]["id"].as_str().unwrap();
    let path = format!("/v1/social/feed/items/{followers_item}");
    let response = app.call(Method::GET, &eve.token, &path, None).await;
    problem(response, StatusCode::NOT_FOUND).await;
    app.json(
        &eve,
        Method::GET,
        &format!("/v1/social/feed/items/{public_item}"),
        None,
        StatusCode::OK,
    )
    .await;

    // An update that makes the workout private takes it out of Bob's feed; a
    // stale redelivery of version 1 does not bring it back; a deletion removes it.
    app.publish(WORKOUT_UPDATED, &workout(&ann, 3, "private", 2, 9))
        .await;
    app.feed_of_len(&bob, 1).await;
    app.publish(WORKOUT_LOGGED, &workout(&ann, 3, "public", 1, 9))
        .await;
    app.publish(
        WORKOUT_DELETED,
        &WorkoutDeleted {
            workout_id: Id::from_i64(1),
            user_id: ann.id(),
            records_moved: Vec::new(),
        },
    )
    .await;
    app.feed_of_len(&bob, 0).await;
    let anns = app.feed_of_len(&ann, 2).await;
    assert_eq!(anns[0]["privacy"], "private");
    assert_eq!(anns[0]["data"]["distance_m"], 5002.0);

    // Unfollowing empties the feed at once (fan-out on read).
    app.publish(WORKOUT_LOGGED, &workout(&ann, 4, "public", 1, 10))
        .await;
    app.feed_of_len(&bob, 1).await;
    app.json(
        &bob,
        Method::DELETE,
        &format!("/v1/social/following/{}", ann.id),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(app.feed(&bob).await.is_empty());
}

async fn kudos_and_comments_count_and_reach_the_owner(app: App) {
    let (ann, bob, eve) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("eve").await,
    );
    app.follow(&bob, &ann).await;
    let mut anns_channel = app
        .broker
        .subscribe(&format!("user:{}", ann.id))
        .await
        .unwrap();
    let mut events = app
        .listen(&[KUDOS_GIVEN.name(), COMMENT_ADDED.name()])
        .await;
    app.publish(WORKOUT_LOGGED, &workout(&ann, 1, "followers", 1, 7))
        .await;
    let item = app.feed_of_len(&bob, 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kudos = format!("/v1/social/feed/items/{item}/kudos");

    let given = app
        .json(&bob, Method::PUT, &kudos, None, StatusCode::CREATED)
        .await;
    assert_eq!(
        (given["kudos_count"].as_u64(), given["kudoed"].as_bool()),
        (Some(1), Some(true))
    );
    let again = app
        .json(&bob, Method::PUT, &kudos, None, StatusCode::OK)
        .await;
    assert_eq!(again["kudos_count"], 1, "one kudos per person");
    let (event, data) = next_push(&mut anns_channel).await;
    assert_eq!(event, "feed.kudos");
    assert_eq!(data["user_id"], bob.id.as_str());
    assert_eq!(data["kudos_count"], 1);
    // Not to one's own item; not to an item one cannot see.
    let own = app.call(Method::PUT, &ann.token, &kudos, None).await;
    problem(own, StatusCode::UNPROCESSABLE_ENTITY).await;
    let hidden = app.call(Method::PUT, &eve.token, &kudos, None).await;
    problem(hidden, StatusCode::NOT_FOUND).await;

    let comments = format!("/v1/social/feed/items/{item}/comments");
    let comment = app
        .json(
            &bob,
            Method::POST,
            &comments,
            Some(json!({"body": "  Strong pace!  "})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(comment["body"], "Strong pace!");
    let (event, data) = next_push(&mut anns_channel).await;
    assert_eq!(event, "feed.comment");
    assert_eq!(data["id"], comment["id"]);
    let empty = app
        .call(
            Method::POST,
            &bob.token,
            &comments,
            Some(&json!({"body": " "})),
        )
        .await;
    let empty = problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(empty.to_string().contains("body"), "{empty}");
    let listed = app
        .json(&ann, Method::GET, &comments, None, StatusCode::OK)
        .await;
    assert_eq!(listed["items"][0]["id"], comment["id"]);
    let seen = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/feed/items/{item}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (seen["kudos_count"].as_u64(), seen["comment_count"].as_u64()),
        (Some(1), Some(1))
    );

    // Each act is an event for gamification, in the order they happened.
    let mut topics = Vec::new();
    while topics.len() < 2 {
        let delivery = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("events within 5 s")
            .unwrap();
        topics.push(delivery.event.name.clone());
    }
    assert_eq!(topics, [KUDOS_GIVEN.name(), COMMENT_ADDED.name()]);

    // Only the author or the owner deletes a comment; kudos can be taken back.
    let one = format!("{comments}/{}", comment["id"].as_str().unwrap());
    let response = app.call(Method::DELETE, &eve.token, &one, None).await;
    problem(response, StatusCode::NOT_FOUND).await;
    app.json(&ann, Method::DELETE, &one, None, StatusCode::NO_CONTENT)
        .await;
    app.json(&bob, Method::DELETE, &kudos, None, StatusCode::NO_CONTENT)
        .await;
    let seen = app
        .json(
            &bob,
            Method::GET,
            &format!("/v1/social/feed/items/{item}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (
            seen["kudos_count"].as_u64(),
            seen["comment_count"].as_u64(),
            seen["kudoed"].as_bool()
        ),
        (Some(0), Some(0), Some(false))
    );
}

async fn achievements_and_community_posts_reach_the_right_feeds(app: App) {
    let (ann, bob, cy) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("cy").await,
    );
    app.follow(&bob, &ann).await;
    let mut joins = app.listen(&[COMMUNITY_JOINED.name()]).await;
    let community = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/communities",
            Some(json!({"name": "Trail", "visibility": "invite_only"})),
            StatusCode::CREATED,
        )
        .await;
    let id = community["id"].as_str().unwrap();
    let invited = app
        .json(
            &ann,
            Method::POST,
            &format!("/v1/social/communities/{id}/invitations"),
            Some(json!({"user_id": cy.id})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(invited["status"], "invited");
    app.json(
        &cy,
        Method::POST,
        &format!("/v1/social/communities/{id}/join"),
        None,
        StatusCode::OK,
    )
    .await;
    let joined = tokio::time::timeout(Duration::from_secs(5), joins.next())
        .await
        .expect("a join event within 5 s")
        .unwrap();
    assert_eq!(joined.event.data["user_id"], cy.id.as_str());

    let post = app
        .json(
            &cy,
            Method::POST,
            &format!("/v1/social/communities/{id}/posts"),
            Some(json!({"body": "Long run on Sunday?"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(post["kind"], "post");
    assert_eq!(post["data"]["body"], "Long run on Sunday?");
    app.publish(
        ACHIEVEMENT_UNLOCKED,
        &AchievementUnlocked {
            user_id: ann.id(),
            achievement: "first_workout".into(),
            name: "First workout".into(),
            tier: 1,
            points: 10,
            unlocked_at: Utc::now(),
        },
    )
    .await;
    // Ann: the post of her community and her achievement. Bob follows Ann but
    // is not in the invite-only community: only the achievement. Cy: the post.
    let anns = app.feed_of_len(&ann, 2).await;
    let kinds: Vec<&str> = anns.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["achievement", "post"]);
    let bobs = app.feed_of_len(&bob, 1).await;
    assert_eq!(bobs[0]["data"]["achievement"], "first_workout");
    assert_eq!(app.feed_of_len(&cy, 1).await[0]["id"], post["id"]);
    let outside = app
        .call(
            Method::GET,
            &bob.token,
            &format!("/v1/social/communities/{id}/feed"),
            None,
        )
        .await;
    problem(outside, StatusCode::NOT_FOUND).await;
    let inside = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/feed"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(inside["items"][0]["id"], post["id"]);
    // Non-members cannot post; a deleted post leaves the feeds.
    let response = app
        .call(
            Method::POST,
            &bob.token,
            &format!("/v1/social/communities/{id}/posts"),
            Some(&json!({"body": "hi"})),
        )
        .await;
    problem(response, StatusCode::NOT_FOUND).await;
    let post_path = format!("/v1/social/feed/items/{}", post["id"].as_str().unwrap());
    app.json(
        &ann,
        Method::DELETE,
        &post_path,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(app.feed(&cy).await.is_empty());
    let audit = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/audit"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "post.removed");

    // A deleted account's items go.
    app.publish(USER_DELETED, &UserRef { user_id: ann.id() })
        .await;
    app.feed_of_len(&bob, 0).await;
}

async fn reports_queue_for_moderators_and_removal_resolves_them(app: App) {
    let (ann, bob, cy) = (
        app.person("ann").await,
        app.person("bob").await,
        app.person("cy").await,
    );
    let community = app
        .json(
            &ann,
            Method::POST,
            "/v1/social/communities",
            Some(json!({"name": "Runners", "visibility": "public"})),
            StatusCode::CREATED,
        )
        .await;
    let id = community["id"].as_str().unwrap();
    for who in [&bob, &cy] {
        app.json(
            who,
            Method::POST,
            &format!("/v1/social/communities/{id}/join"),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let channels = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/channels"),
            None,
            StatusCode::OK,
        )
        .await;
    let general = channels["items"][0]["id"].as_str().unwrap();
    let mut cys_channel = app
        .broker
        .subscribe(&format!("user:{}", cy.id))
        .await
        .unwrap();
    let message = app
        .json(
            &bob,
            Method::POST,
            &format!("/v1/social/channels/{general}/messages"),
            Some(json!({"body": "buy cheap pills @cy", "mentions": [cy.id, bob.id, "123"]})),
            StatusCode::CREATED,
        )
        .await;
    // The mentioned member hears of it once; the author and strangers do not.
    let (event, data) = next_push(&mut cys_channel).await;
    assert_eq!(event, "chat.mention");
    assert_eq!(data["message"]["id"], message["id"]);
    let message_id = message["id"].as_str().unwrap();
    let report_path = format!("/v1/social/channels/{general}/messages/{message_id}/report");

    let own = app
        .call(
            Method::POST,
            &bob.token,
            &report_path,
            Some(&json!({"reason": "x"})),
        )
        .await;
    problem(own, StatusCode::UNPROCESSABLE_ENTITY).await;
    let report = app
        .json(
            &cy,
            Method::POST,
            &report_path,
            Some(json!({"reason": "spam"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(report["status"], "open");
    assert_eq!(report["community_id"], id);
    app.json(
        &ann,
        Method::POST,
        &report_path,
        Some(json!({})),
        StatusCode::CREATED,
    )
    .await;

    let queue = format!("/v1/social/communities/{id}/reports");
    let response = app.call(Method::GET, &cy.token, &queue, None).await;
    problem(response, StatusCode::FORBIDDEN).await;
    let open = app
        .json(&ann, Method::GET, &queue, None, StatusCode::OK)
        .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    // Private-chat reports are the platform admins'.
    let response = app
        .call(Method::GET, &ann.token, "/v1/social/reports", None)
        .await;
    problem(response, StatusCode::FORBIDDEN).await;

    let resolve = format!(
        "/v1/social/reports/{}/resolve",
        report["id"].as_str().unwrap()
    );
    let response = app
        .call(
            Method::POST,
            &cy.token,
            &resolve,
            Some(&json!({"action": "remove"})),
        )
        .await;
    problem(response, StatusCode::FORBIDDEN).await;
    let resolved = app
        .json(
            &ann,
            Method::POST,
            &resolve,
            Some(json!({"action": "remove"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(resolved["status"], "removed");
    assert_eq!(resolved["resolved_by"], ann.id.as_str());
    // Both reports of the message are resolved, and the message is a tombstone.
    let open = app
        .json(&ann, Method::GET, &queue, None, StatusCode::OK)
        .await;
    assert!(open["items"].as_array().unwrap().is_empty());
    let removed = app
        .json(
            &ann,
            Method::GET,
            &format!("{queue}?status=removed"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(removed["items"].as_array().unwrap().len(), 2);
    let history = app
        .json(
            &cy,
            Method::GET,
            &format!("/v1/social/channels/{general}/messages"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(history["items"][0]["id"], message["id"]);
    assert_ne!(history["items"][0]["body"], "buy cheap pills @cy");
    let again = app
        .call(
            Method::POST,
            &ann.token,
            &resolve,
            Some(&json!({"action": "dismiss"})),
        )
        .await;
    problem(again, StatusCode::CONFLICT).await;
    let audit = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/audit"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "report.removed");
    // Bad input is refused with the field named.
    let bad = app
        .call(
            Method::POST,
            &ann.token,
            &resolve,
            Some(&json!({"action": "ban"})),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_profile_that_is_not_public_approves_its_followers(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    let mut anns_channel = app
        .broker
        .subscribe(&format!("user:{}", ann.id))
        .await
        .unwrap();
    let mut bobs_channel = app
        .broker
        .subscribe(&format!("user:{}", bob.id))
        .await
        .unwrap();
    app.publish(
        USER_PRIVACY_CHANGED,
        &PrivacyChanged {
            user_id: ann.id(),
            profile_visibility: "private".into(),
        },
    )
    .await;
    // The workout event comes after the privacy one on the same stream: once
    // the item is there, the visibility is known.
    app.publish(WORKOUT_LOGGED, &workout(&ann, 1, "followers", 1, 7))
        .await;
    app.feed_of_len(&ann, 1).await;

    let follow = app
        .json(
            &bob,
            Method::PUT,
            &format!("/v1/social/following/{}", ann.id),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(follow["status"], "pending");
    let (event, data) = next_push(&mut anns_channel).await;
    assert_eq!(
        (event.as_str(), &data["follower_id"]),
        ("follow.requested", &json!(bob.id))
    );
    assert!(
        app.feed(&bob).await.is_empty(),
        "a request sees nothing yet"
    );
    let requests = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/follow-requests",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(requests["items"][0]["follower_id"], bob.id.as_str());
    let nobody = app
        .call(
            Method::POST,
            &bob.token,
            &format!("/v1/social/follow-requests/{}/approve", ann.id),
            None,
        )
        .await;
    problem(nobody, StatusCode::NOT_FOUND).await;

    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/follow-requests/{}/approve", bob.id),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let (event, data) = next_push(&mut bobs_channel).await;
    assert_eq!(
        (event.as_str(), &data["followee_id"]),
        ("follow.approved", &json!(ann.id))
    );
    assert_eq!(app.feed_of_len(&bob, 1).await[0]["data"]["workout_id"], "1");
    let followers = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/followers",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(followers["items"][0]["follower_id"], bob.id.as_str());

    // The owner removes the follower: the feed shows nothing of theirs again.
    app.json(
        &ann,
        Method::DELETE,
        &format!("/v1/social/followers/{}", bob.id),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(app.feed(&bob).await.is_empty());
}

async fn the_export_holds_what_the_caller_made(app: App) {
    let (ann, bob) = (app.person("ann").await, app.person("bob").await);
    app.follow(&ann, &bob).await;
    app.follow(&bob, &ann).await;
    app.publish(WORKOUT_LOGGED, &workout(&bob, 1, "public", 1, 7))
        .await;
    let item = app.feed_of_len(&ann, 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/social/feed/items/{item}");
    app.json(
        &ann,
        Method::PUT,
        &format!("{path}/kudos"),
        None,
        StatusCode::CREATED,
    )
    .await;
    app.json(
        &ann,
        Method::POST,
        &format!("{path}/comments"),
        Some(json!({"body": "Nice"})),
        StatusCode::CREATED,
    )
    .await;
    let community = app
        .json(
            &bob,
            Method::POST,
            "/v1/social/communities",
            Some(json!({"name": "Club", "visibility": "public"})),
            StatusCode::CREATED,
        )
        .await;
    let id = community["id"].as_str().unwrap();
    app.json(
        &ann,
        Method::POST,
        &format!("/v1/social/communities/{id}/join"),
        None,
        StatusCode::OK,
    )
    .await;
    let channels = app
        .json(
            &ann,
            Method::GET,
            &format!("/v1/social/communities/{id}/channels"),
            None,
            StatusCode::OK,
        )
        .await;
    let general = channels["items"][0]["id"].as_str().unwrap();
    let messages = format!("/v1/social/channels/{general}/messages");
    // More than one history page of the export's walk, hers among five others'
    // (each under the per-person send burst).
    let mut others = Vec::new();
    for name in ["cy", "dee", "eli", "fay"] {
        let other = app.person(name).await;
        app.json(
            &other,
            Method::POST,
            &format!("/v1/social/communities/{id}/join"),
            None,
            StatusCode::OK,
        )
        .await;
        others.push(other);
    }
    let mut hers = Vec::new();
    for n in 0..105 {
        let who = match n % 6 {
            0 => &ann,
            1 => &bob,
            k => &others[k - 2],
        };
        let sent = app
            .json(
                who,
                Method::POST,
                &messages,
                Some(json!({"body": format!("m{n}")})),
                StatusCode::CREATED,
            )
            .await;
        if n % 6 == 0 {
            hers.push(sent["id"].as_str().unwrap().to_owned());
        }
    }
    let bobs = app
        .json(
            &bob,
            Method::GET,
            &format!("{messages}?limit=1"),
            None,
            StatusCode::OK,
        )
        .await;
    let report = format!(
        "{messages}/{}/report",
        bobs["items"][0]["id"].as_str().unwrap()
    );
    app.json(
        &ann,
        Method::POST,
        &report,
        Some(json!({"reason": "rude"})),
        StatusCode::CREATED,
    )
    .await;

    let export = app
        .json(
            &ann,
            Method::GET,
            "/v1/social/me/export",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(export["user_id"], ann.id.as_str());
    assert_eq!(export["following"][0]["followee_id"], bob.id.as_str());
    assert_eq!(export["followers"][0]["follower_id"], bob.id.as_str());
    assert_eq!(export["memberships"][0]["community_id"], id);
    assert_eq!(export["kudos"][0]["item_id"], item.as_str());
    assert_eq!(export["comments"][0]["body"], "Nice");
    assert_eq!(export["reports"][0]["reason"], "rude");
    assert_eq!(export["items"], json!([]), "the workout is Bob's");
    let mut exported: Vec<String> = export["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["author_id"], ann.id.as_str());
            m["id"].as_str().unwrap().to_owned()
        })
        .collect();
    exported.sort();
    hers.sort();
    assert_eq!(exported, hers);
    // The export needs the `account` scope, like every part of it.
    let token = app
        .token_with_scopes("ann@example.com", &["social:read"])
        .await;
    let narrow = app
        .call(
            Method::GET,
            &testkit::app::access(&token),
            "/v1/social/me/export",
            None,
        )
        .await;
    assert_eq!(narrow.status(), StatusCode::FORBIDDEN);
}

vigor_common::on_both_backends!(crate::App::spawn;
    the_export_holds_what_the_caller_made,
    a_profile_that_is_not_public_approves_its_followers,
    followers_see_workouts_at_once_and_strangers_do_not,
    kudos_and_comments_count_and_reach_the_owner,
    achievements_and_community_posts_reach_the_right_feeds,
    reports_queue_for_moderators_and_removal_resolves_them,
);
