//! The one conformance suite of [`MessageStore`], run on SQLite, PostgreSQL and a
//! real CQL server (Cassandra under `.ci/test`).
//!
//! Message ids are made here at chosen times so that a history crosses bucket
//! boundaries: the CQL store runs with one-second buckets and the messages are
//! 300 ms apart.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use vigor_common::api::{Cursor, Page};
use vigor_common::id::EPOCH_MS;
use vigor_common::testkit;
use vigor_common::Id;

use super::bucket::BucketWidth;
use super::cql::{CqlMessages, CqlSettings, Replication};
use super::*;

macro_rules! message_conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = vigor_common::testkit::sqlite(Some(&crate::MIGRATIONS)).await;
                    let store = super::super::sql::SqlMessages::new(db.database.clone());
                    super::$name(&store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = vigor_common::testkit::postgres(Some(&crate::MIGRATIONS)).await
                    else {
                        return;
                    };
                    let store = super::super::sql::SqlMessages::new(db.database.clone());
                    super::$name(&store).await;
                }
            )+
        }
        mod cql {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::cql_store().await else { return };
                    super::$name(&store).await;
                }
            )+
        }
    };
}

message_conformance!(
    a_sent_message_is_stored_as_sent,
    a_retried_send_returns_the_stored_message,
    racing_retries_store_one_message,
    history_is_newest_first_without_gaps_or_repeats,
    before_and_after_page_from_a_message,
    an_edit_changes_the_body_and_sets_edited_at,
    a_delete_leaves_a_tombstone,
    reactions_count_one_per_user_per_emoji,
    read_state_moves_forward_and_counts_unread,
    channels_never_leak_into_each_other,
);

/// A CQL store in a fresh keyspace with one-second buckets; `None` to skip.
async fn cql_store() -> Option<CqlMessages> {
    let target = testkit::cql_keyspace()?;
    let settings = CqlSettings {
        nodes: vec![target.uri],
        keyspace: target.keyspace,
        replication: Replication::Simple(1),
        consistency: scylla::statement::Consistency::One,
        bucket_width: BucketWidth::new(Duration::from_secs(1)).expect("one second"),
    };
    Some(
        CqlMessages::open(settings, true)
            .await
            .expect("the test CQL node takes the keyspace"),
    )
}

/// An id made `millis` after 2026-01-01 with sequence `seq`.
fn id_at(millis: u64, seq: u64) -> Id {
    let since_epoch = 1_767_225_600_000 - EPOCH_MS + millis;
    Id::from_i64(((since_epoch << 22) | (seq & 0xfff)) as i64)
}

fn channel(n: i64) -> Id {
    Id::from_i64(1_000 + n)
}

fn user(n: i64) -> Id {
    Id::from_i64(2_000 + n)
}

fn body(text: &str) -> MessageBody {
    MessageBody::parse(text).unwrap()
}

fn new_message(id: Id, channel: Id, author: Id, text: &str) -> NewMessage {
    NewMessage {
        id,
        channel_id: channel,
        author_id: author,
        body: body(text),
        client_msg_id: None,
        reply_to: None,
    }
}

/// Sends `n` messages to `channel`, 300 ms apart from `start_ms`; their ids, oldest first.
async fn send_many(store: &dyn MessageStore, channel: Id, start_ms: u64, n: u64) -> Vec<Id> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = id_at(start_ms + i * 300, i);
        let author = user((i % 3) as i64);
        store
            .append(new_message(id, channel, author, &format!("message {i}")))
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

fn ids(page: &Page<Message>) -> Vec<Id> {
    page.items.iter().map(|m| m.id).collect()
}

/// Every page from `first` on, following `next_cursor`.
async fn all_pages(store: &dyn MessageStore, channel: Id, first: HistoryQuery) -> Vec<Vec<Id>> {
    let mut pages = Vec::new();
    let mut query = first;
    loop {
        let page = store.history(channel, query).await.unwrap();
        pages.push(ids(&page));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query = HistoryQuery::parse(Some(query.limit), Some(&cursor), None, None).unwrap();
        assert!(pages.len() < 100, "history does not end");
    }
    pages
}

async fn a_sent_message_is_stored_as_sent(store: &dyn MessageStore) {
    let id = id_at(0, 1);
    let reply = id_at(10, 1);
    store
        .append(new_message(id, channel(1), user(1), "hello"))
        .await
        .unwrap();
    let sent = store
        .append(NewMessage {
            reply_to: Some(id),
            client_msg_id: Some(ClientMsgId::parse("c-1").unwrap()),
            ..new_message(reply, channel(1), user(2), "hi back")
        })
        .await
        .unwrap();
    let expected = Message {
        id: reply,
        channel_id: channel(1),
        author_id: user(2),
        body: "hi back".into(),
        created_at: created_at(reply),
        edited_at: None,
        deleted: false,
        reply_to: Some(id),
        reactions: BTreeMap::new(),
        client_msg_id: Some("c-1".into()),
    };
    assert_eq!(sent, expected);
    assert_eq!(store.get(channel(1), reply).await.unwrap(), Some(expected));
    assert_eq!(store.get(channel(1), id_at(99, 9)).await.unwrap(), None);
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![reply, id]);
    assert_eq!(page.next_cursor, None);
}

async fn a_retried_send_returns_the_stored_message(store: &dyn MessageStore) {
    let client = ClientMsgId::parse("retry-me").unwrap();
    let first = store
        .append(NewMessage {
            client_msg_id: Some(client.clone()),
            ..new_message(id_at(0, 1), channel(1), user(1), "once")
        })
        .await
        .unwrap();
    // The retry gets a fresh id from the service's generator, and a later time.
    let again = store
        .append(NewMessage {
            client_msg_id: Some(client.clone()),
            ..new_message(id_at(500, 2), channel(1), user(1), "once")
        })
        .await
        .unwrap();
    assert_eq!(again, first);
    // The same client id from another author, or in another channel, is another send.
    let other_author = store
        .append(NewMessage {
            client_msg_id: Some(client.clone()),
            ..new_message(id_at(600, 3), channel(1), user(2), "mine")
        })
        .await
        .unwrap();
    assert_eq!(other_author.id, id_at(600, 3));
    let other_channel = store
        .append(NewMessage {
            client_msg_id: Some(client),
            ..new_message(id_at(700, 4), channel(2), user(1), "there")
        })
        .await
        .unwrap();
    assert_eq!(other_channel.id, id_at(700, 4));
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![id_at(600, 3), first.id]);
}

async fn racing_retries_store_one_message(store: &dyn MessageStore) {
    let sends = (0..8).map(|i| {
        store.append(NewMessage {
            client_msg_id: Some(ClientMsgId::parse("raced").unwrap()),
            ..new_message(id_at(i * 7, i), channel(1), user(1), "only one")
        })
    });
    let results = futures::future::join_all(sends).await;
    let stored: HashSet<Id> = results.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(
        stored.len(),
        1,
        "every racing retry returns the one stored message"
    );
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(stored.contains(&page.items[0].id));
}

async fn history_is_newest_first_without_gaps_or_repeats(store: &dyn MessageStore) {
    // 23 messages 300 ms apart: seven one-second buckets in the CQL store, with
    // a quiet gap of several empty buckets in the middle.
    let mut sent = send_many(store, channel(1), 0, 12).await;
    sent.extend(send_many(store, channel(1), 20_000, 11).await);
    let newest_first: Vec<Id> = sent.iter().rev().copied().collect();
    for limit in [1, 4, 5, 23, 50] {
        let pages = all_pages(store, channel(1), HistoryQuery::latest(limit)).await;
        assert!(pages
            .iter()
            .all(|p| p.len() <= limit as usize && !p.is_empty()));
        let walked: Vec<Id> = pages.concat();
        assert_eq!(walked, newest_first, "limit {limit}");
    }
    // The last page says so; a page of exactly the rest has no cursor.
    let page = store
        .history(channel(1), HistoryQuery::latest(23))
        .await
        .unwrap();
    assert_eq!(page.next_cursor, None);
    let empty = store
        .history(channel(9), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.next_cursor), (0, None));
}

async fn before_and_after_page_from_a_message(store: &dyn MessageStore) {
    let sent = send_many(store, channel(1), 0, 20).await;
    let query = |position| HistoryQuery { position, limit: 4 };

    let before = store
        .history(channel(1), query(Position::Before(sent[10])))
        .await
        .unwrap();
    assert_eq!(ids(&before), vec![sent[9], sent[8], sent[7], sent[6]]);
    let rest = all_pages(store, channel(1), query(Position::Before(sent[10]))).await;
    assert_eq!(
        rest.concat(),
        sent[..10].iter().rev().copied().collect::<Vec<_>>()
    );

    // After: the messages just after it, newest first, then onward to the newest.
    let after = store
        .history(channel(1), query(Position::After(sent[10])))
        .await
        .unwrap();
    assert_eq!(ids(&after), vec![sent[14], sent[13], sent[12], sent[11]]);
    let onward = all_pages(store, channel(1), query(Position::After(sent[10]))).await;
    let mut seen: Vec<Id> = onward.into_iter().rev().flatten().collect();
    seen.reverse();
    let mut expected: Vec<Id> = sent[11..].to_vec();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);
    let cursor = HISTORY.encode(&Cursor::new(Side::After, sent[19]));
    let none = store
        .history(
            channel(1),
            HistoryQuery::parse(Some(4), Some(&cursor), None, None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.next_cursor), (0, None));

    // Ids outside the channel's time are fine positions.
    let all_before = store
        .history(channel(1), query(Position::Before(id_at(1_000_000, 0))))
        .await
        .unwrap();
    assert_eq!(
        ids(&all_before),
        vec![sent[19], sent[18], sent[17], sent[16]]
    );
    let all_after = store
        .history(channel(1), query(Position::After(Id::from_i64(1))))
        .await
        .unwrap();
    assert_eq!(ids(&all_after), vec![sent[3], sent[2], sent[1], sent[0]]);
}

async fn an_edit_changes_the_body_and_sets_edited_at(store: &dyn MessageStore) {
    let id = id_at(0, 1);
    store
        .append(new_message(id, channel(1), user(1), "tpyo"))
        .await
        .unwrap();
    let at = millis_to_time(1_767_300_000_123);
    store.edit(channel(1), id, &body("typo"), at).await.unwrap();
    let edited = store.get(channel(1), id).await.unwrap().unwrap();
    assert_eq!(edited.body, "typo");
    assert_eq!(edited.edited_at, Some(at));
    assert_eq!(edited.created_at, created_at(id));
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(page.items, vec![edited]);
    // Editing an id that is not in the channel changes nothing visible.
    store
        .edit(channel(1), id_at(50, 1), &body("ghost"), at)
        .await
        .unwrap();
    store
        .edit(channel(2), id, &body("elsewhere"), at)
        .await
        .unwrap();
    assert_eq!(store.get(channel(1), id_at(50, 1)).await.unwrap(), None);
    assert_eq!(store.get(channel(2), id).await.unwrap(), None);
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![id]);
    assert_eq!(page.items[0].body, "typo");
}

async fn a_delete_leaves_a_tombstone(store: &dyn MessageStore) {
    let sent = send_many(store, channel(1), 0, 3).await;
    store.delete(channel(1), sent[1]).await.unwrap();
    let gone = store.get(channel(1), sent[1]).await.unwrap().unwrap();
    assert!(gone.deleted);
    assert_eq!(gone.body, "");
    assert_eq!(gone.author_id, user(1));
    // It keeps its place in history.
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![sent[2], sent[1], sent[0]]);
    assert!(page.items[1].deleted && page.items[1].body.is_empty());
    // An edit cannot bring the body back.
    store
        .edit(
            channel(1),
            sent[1],
            &body("back"),
            millis_to_time(1_767_300_000_000),
        )
        .await
        .unwrap();
    let still = store.get(channel(1), sent[1]).await.unwrap().unwrap();
    assert!(still.deleted);
    assert_eq!(still.body, "");
}

async fn reactions_count_one_per_user_per_emoji(store: &dyn MessageStore) {
    let sent = send_many(store, channel(1), 0, 5).await;
    let thumbs = Emoji::parse("👍").unwrap();
    let fire = Emoji::parse("🔥").unwrap();
    let target = sent[2];
    for u in 1..=3 {
        store
            .add_reaction(channel(1), target, user(u), &thumbs)
            .await
            .unwrap();
    }
    // The same user again with the same emoji: still one.
    store
        .add_reaction(channel(1), target, user(1), &thumbs)
        .await
        .unwrap();
    store
        .add_reaction(channel(1), target, user(1), &fire)
        .await
        .unwrap();
    store
        .add_reaction(channel(1), sent[4], user(2), &fire)
        .await
        .unwrap();
    let counts = |pairs: &[(&str, u32)]| -> BTreeMap<String, u32> {
        pairs.iter().map(|(e, n)| (e.to_string(), *n)).collect()
    };
    let got = store.get(channel(1), target).await.unwrap().unwrap();
    assert_eq!(got.reactions, counts(&[("👍", 3), ("🔥", 1)]));

    store
        .remove_reaction(channel(1), target, user(2), &thumbs)
        .await
        .unwrap();
    store
        .remove_reaction(channel(1), target, user(1), &fire)
        .await
        .unwrap();
    // Taking back what one never gave changes nothing.
    store
        .remove_reaction(channel(1), target, user(9), &thumbs)
        .await
        .unwrap();
    let page = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    let by_id: BTreeMap<Id, BTreeMap<String, u32>> = page
        .items
        .iter()
        .map(|m| (m.id, m.reactions.clone()))
        .collect();
    assert_eq!(by_id[&target], counts(&[("👍", 2)]));
    assert_eq!(by_id[&sent[4]], counts(&[("🔥", 1)]));
    assert_eq!(by_id[&sent[0]], BTreeMap::new());
}

async fn read_state_moves_forward_and_counts_unread(store: &dyn MessageStore) {
    // Authors cycle user(0), user(1), user(2).
    let sent = send_many(store, channel(1), 0, 9).await;
    let reader = user(0);
    assert_eq!(
        store.read_state(channel(1), reader).await.unwrap(),
        ReadState {
            last_read: None,
            unread: 6
        }
    );
    store.mark_read(channel(1), reader, sent[4]).await.unwrap();
    // After sent[4]: sent[5], [7], [8] by others ([6] is the reader's own).
    assert_eq!(
        store.read_state(channel(1), reader).await.unwrap(),
        ReadState {
            last_read: Some(sent[4]),
            unread: 3
        }
    );
    // An older read (a stale session) does not move it back.
    store.mark_read(channel(1), reader, sent[1]).await.unwrap();
    assert_eq!(
        store
            .read_state(channel(1), reader)
            .await
            .unwrap()
            .last_read,
        Some(sent[4])
    );
    // Deleted messages are not unread.
    store.delete(channel(1), sent[8]).await.unwrap();
    assert_eq!(
        store.read_state(channel(1), reader).await.unwrap().unread,
        2
    );
    store.mark_read(channel(1), reader, sent[8]).await.unwrap();
    assert_eq!(
        store.read_state(channel(1), reader).await.unwrap(),
        ReadState {
            last_read: Some(sent[8]),
            unread: 0
        }
    );
    // Another member's state is their own.
    assert_eq!(
        store.read_state(channel(1), user(1)).await.unwrap(),
        ReadState {
            last_read: None,
            unread: 5
        }
    );
}

async fn channels_never_leak_into_each_other(store: &dyn MessageStore) {
    let mine = send_many(store, channel(1), 0, 6).await;
    let theirs = send_many(store, channel(2), 150, 6).await;
    let pages = all_pages(store, channel(1), HistoryQuery::latest(4)).await;
    assert_eq!(
        pages.concat(),
        mine.iter().rev().copied().collect::<Vec<_>>()
    );
    for id in &theirs {
        assert_eq!(store.get(channel(1), *id).await.unwrap(), None);
    }
    let thumbs = Emoji::parse("👍").unwrap();
    store
        .add_reaction(channel(2), theirs[0], user(1), &thumbs)
        .await
        .unwrap();
    let after = store
        .history(channel(1), HistoryQuery::latest(10))
        .await
        .unwrap();
    assert!(after.items.iter().all(|m| m.reactions.is_empty()));
    assert!(after.items.iter().all(|m| m.channel_id == channel(1)));
    store
        .mark_read(channel(2), user(0), theirs[5])
        .await
        .unwrap();
    assert_eq!(
        store
            .read_state(channel(1), user(0))
            .await
            .unwrap()
            .last_read,
        None
    );
}
