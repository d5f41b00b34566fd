//! What only the Redis store promises, beyond the conformance suite: its key
//! layout (both keys of a board instance in one hash slot, both expiring), and
//! that it survives Redis forgetting its scripts (a restart, `SCRIPT FLUSH`, a
//! new cluster node), on one Redis and on the 3-node cluster.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::Utc;
use fred::prelude::{Client, ClientLike, Config, Value};
use vigor_common::{testkit, Id};
use vigor_leaderboards::{BoardDef, BoardStore, RedisBoardStore, Scope, Score, Window};

const GRACE: Duration = Duration::from_secs(3600);

/// Plain (non-cluster) clients to every node behind `url`.
async fn nodes(url: &str) -> Vec<Client> {
    let mut addrs = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (first, query) = rest.split_once('?').unwrap_or((rest, ""));
    addrs.push(first.trim_end_matches('/').to_owned());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(addr) = pair.strip_prefix("node=") {
            addrs.push(addr.to_owned());
        }
    }
    let mut clients = Vec::new();
    for addr in addrs {
        let client = Client::new(
            Config::from_url(&format!("redis://{addr}")).unwrap(),
            None,
            None,
            None,
        );
        client.init().await.unwrap();
        clients.push(client);
    }
    clients
}

async fn scripts_are_reloaded_after_redis_forgets_them(url: String) {
    let prefix = format!("{}:", testkit::unique_name("lb"));
    let store = RedisBoardStore::connect(&url, &prefix, GRACE)
        .await
        .unwrap();
    let board = BoardDef::xp()
        .window_at(Window::AllTime, Scope::Global, Utc::now())
        .unwrap();
    let one = Score::new(1).unwrap();
    store
        .submit(&board, Id::from_i64(1), one, Utc::now())
        .await
        .unwrap();
    for node in nodes(&url).await {
        let _: Value = node
            .custom(fred::cmd!("SCRIPT"), vec!["FLUSH"])
            .await
            .unwrap();
    }
    let s = store
        .submit(&board, Id::from_i64(1), one, Utc::now())
        .await
        .unwrap();
    assert_eq!(s.new, 2);
    assert_eq!(
        store
            .rank(&board, Id::from_i64(1))
            .await
            .unwrap()
            .unwrap()
            .score,
        2
    );
}

async fn an_instance_is_two_keys_in_one_slot_that_expire_together(url: String) {
    let prefix = format!("{}:", testkit::unique_name("lb"));
    let store = RedisBoardStore::connect(&url, &prefix, GRACE)
        .await
        .unwrap();
    let now = Utc::now();
    let board = BoardDef::distance()
        .window_at(Window::Weekly, Scope::Global, now)
        .unwrap();
    store
        .submit(&board, Id::from_i64(7), Score::new(5000).unwrap(), now)
        .await
        .unwrap();
    let tag = format!("{prefix}{{lb:distance:{}:global}}", board.period.label);
    let (z, m) = (format!("{tag}:z"), format!("{tag}:m"));
    assert_eq!(
        fred::util::redis_keyslot(z.as_bytes()),
        fred::util::redis_keyslot(m.as_bytes())
    );
    let client = Client::new(Config::from_url(&url).unwrap(), None, None, None);
    client.init().await.unwrap();
    let want = board
        .expires_at(chrono::Duration::from_std(GRACE).unwrap())
        .unwrap();
    for key in [&z, &m] {
        let at: i64 = client
            .custom(fred::cmd!("PEXPIRETIME"), vec![key.clone()])
            .await
            .unwrap();
        assert_eq!(at, want.timestamp_millis(), "{key}");
    }
    let card: i64 = client.custom(fred::cmd!("ZCARD"), vec![z]).await.unwrap();
    assert_eq!(card, 1);
}

macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(url) = vigor_common::testkit::redis_url() else { return };
                    super::$name(url).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(url) = vigor_common::testkit::redis_cluster_url() else { return };
                    super::$name(url).await;
                }
            )+
        }
    };
}

on_both!(
    scripts_are_reloaded_after_redis_forgets_them,
    an_instance_is_two_keys_in_one_slot_that_expire_together,
);
