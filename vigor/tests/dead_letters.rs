//! `vigor admin events dead-letters` as an operator runs it: against the Redis bus
//! of a distributed deployment (the test Redis, on a fresh key prefix), and its
//! refusal in all-in-one mode, whose bus it cannot reach.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Output;
use std::time::Duration;

use support::command;
use vigor_common::bus::redis::RedisBus;
use vigor_common::bus::{ConsumerOptions, Event, EventBus};
use vigor_common::events::{UserRef, USER_DELETED};
use vigor_common::{Id, IdGenerator};

fn admin(redis: &str, prefix: &str, args: &[&str]) -> Output {
    command()
        .args(["admin", "events", "dead-letters"])
        .args(args)
        .env("VIGOR_REDIS_URL", redis)
        .env("VIGOR_REDIS_PREFIX", prefix)
        .output()
        .expect("vigor runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// Publishes a `user.deleted` event and dead-letters it in `group`, as a consumer
/// that gave up on it would.
async fn dead_letter(bus: &RedisBus, group: &str, ids: &IdGenerator) -> Event {
    let mut sub = bus
        .subscribe(
            &[USER_DELETED.name()],
            group,
            "test",
            ConsumerOptions::default(),
        )
        .await
        .unwrap();
    let event = USER_DELETED.event(
        ids,
        &UserRef {
            user_id: Id::from_i64(42),
        },
    );
    bus.publish(&event).await.unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a delivery within 5 s")
        .unwrap();
    assert!(sub
        .dead_letter(&delivery, "the store said no")
        .await
        .unwrap());
    event
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_on_the_redis_bus() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", vigor_common::testkit::unique_name("deadletters"));
    let bus = RedisBus::connect(&redis, &prefix).await.unwrap();
    let ids = IdGenerator::new(3).unwrap();
    let training = dead_letter(&bus, "training", &ids).await;
    let auth = dead_letter(&bus, "auth", &ids).await;

    let listed = stdout(&admin(&redis, &prefix, &[]));
    for (event, group) in [(&training, "training"), (&auth, "auth")] {
        let line = listed
            .lines()
            .find(|l| l.contains(&event.id.to_string()))
            .unwrap_or_else(|| panic!("{} is listed: {listed}", event.id));
        for field in ["user.deleted", group, " 1 ", "the store said no"] {
            assert!(line.contains(field), "{field:?} in {line:?}");
        }
    }
    let only_auth = stdout(&admin(&redis, &prefix, &["list", "--group", "auth"]));
    assert!(only_auth.contains(&auth.id.to_string()), "{only_auth}");
    assert!(!only_auth.contains(&training.id.to_string()), "{only_auth}");

    // Replaying one: it is published on its topic again and leaves the list.
    let mut listener = bus
        .subscribe(
            &[USER_DELETED.name()],
            "listener",
            "l1",
            ConsumerOptions::default(),
        )
        .await
        .unwrap();
    let id = training.id.to_string();
    let replayed = stdout(&admin(
        &redis,
        &prefix,
        &["replay", "user.deleted", "training", "--id", &id],
    ));
    assert!(replayed.contains(&id), "{replayed}");
    let again = tokio::time::timeout(Duration::from_secs(5), listener.next())
        .await
        .expect("the replayed event is published")
        .unwrap();
    assert_eq!(again.event, training);
    let left = bus.dead_letters().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].group.as_str(), left[0].event.id),
        ("auth", auth.id)
    );

    // Nothing to replay is an error, not a silent success.
    let nothing = admin(
        &redis,
        &prefix,
        &["replay", "user.deleted", "training", "--all"],
    );
    assert_eq!(nothing.status.code(), Some(1), "{nothing:?}");
    // --id or --all is required.
    let neither = admin(&redis, &prefix, &["replay", "user.deleted", "auth"]);
    assert_eq!(neither.status.code(), Some(2), "{neither:?}");

    let all = stdout(&admin(
        &redis,
        &prefix,
        &["replay", "user.deleted", "auth", "--all"],
    ));
    assert!(all.contains(&auth.id.to_string()), "{all}");
    assert!(stdout(&admin(&redis, &prefix, &[])).contains("no dead letters"));
}

#[test]
fn all_in_one_says_its_bus_is_out_of_reach() {
    let output = command()
        .args(["admin", "events", "dead-letters"])
        .output()
        .expect("vigor runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("redis.url is not set") && stderr.contains("cannot reach"),
        "{stderr}"
    );
}
