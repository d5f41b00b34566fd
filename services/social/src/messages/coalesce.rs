//! Hot channels: concurrent reads of the same history page become one store query.
//!
//! When a channel is busy, many members open it at once and ask for the same page
//! (the latest 50, or the page before the same message). [`Coalescing`] wraps any
//! [`MessageStore`]: the first such read runs the query, and every identical read
//! that arrives while it runs waits for that answer instead of asking the store
//! again.
//!
//! Coalescing must not break read-your-writes: a member who sends and then reads
//! must see their message, even if a read of the same page started before the
//! send. So every write to a channel, once stored, forgets the channel's reads in
//! flight; a read that starts after the write returned runs a fresh query.
//!
//! The map of reads in flight is a plain mutex held only to look up, insert or
//! remove, never across an `.await`. Each read removes its entry when it has its
//! answer; a read whose callers all went away leaves an entry that the next
//! identical read finishes and removes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};
use vigor_common::api::{Page, Timestamp};
use vigor_common::Id;

use super::{
    Emoji, HistoryQuery, Message, MessageBody, MessageStore, MessageStoreError, NewMessage,
    ReadState,
};

type SharedPage = Shared<BoxFuture<'static, Result<Page<Message>, Arc<MessageStoreError>>>>;

/// A [`MessageStore`] whose identical concurrent history reads share one query.
pub struct Coalescing {
    inner: Arc<dyn MessageStore>,
    in_flight: Mutex<HashMap<(Id, HistoryQuery), SharedPage>>,
}

impl Coalescing {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn MessageStore>) -> Self {
        Coalescing {
            inner,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, HashMap<(Id, HistoryQuery), SharedPage>> {
        // The map holds no invariant a panic could break half-way.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a write to `channel`: later reads must not join earlier ones.
    fn forget(&self, channel: Id) {
        self.reads().retain(|(c, _), _| *c != channel);
    }

    /// `result` of a write to `channel`, after forgetting its reads in flight.
    fn wrote<T>(&self, channel: Id, result: T) -> T {
        self.forget(channel);
        result
    }
}

#[async_trait::async_trait]
impl MessageStore for Coalescing {
    async fn append(&self, message: NewMessage) -> Result<Message, MessageStoreError> {
        let channel = message.channel_id;
        let result = self.inner.append(message).await;
        self.wrote(channel, result)
    }

    async fn get(&self, channel: Id, id: Id) -> Result<Option<Message>, MessageStoreError> {
        self.inner.get(channel, id).await
    }

    async fn history(
        &self,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Page<Message>, MessageStoreError> {
        let key = (channel, query);
        let read = {
            let mut reads = self.reads();
            reads
                .entry(key)
                .or_insert_with(|| {
                    let inner = self.inner.clone();
                    async move { inner.history(channel, query).await.map_err(Arc::new) }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let result = read.clone().await;
        {
            let mut reads = self.reads();
            if reads.get(&key).is_some_and(|r| r.ptr_eq(&read)) {
                reads.remove(&key);
            }
        }
        result.map_err(MessageStoreError::Shared)
    }

    async fn edit(
        &self,
        channel: Id,
        id: Id,
        body: &MessageBody,
        at: Timestamp,
    ) -> Result<(), MessageStoreError> {
        let result = self.inner.edit(channel, id, body, at).await;
        self.wrote(channel, result)
    }

    async fn delete(&self, channel: Id, id: Id) -> Result<(), MessageStoreError> {
        let result = self.inner.delete(channel, id).await;
        self.wrote(channel, result)
    }

    async fn add_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let result = self.inner.add_reaction(channel, id, user, emoji).await;
        self.wrote(channel, result)
    }

    async fn remove_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let result = self.inner.remove_reaction(channel, id, user, emoji).await;
        self.wrote(channel, result)
    }

    async fn mark_read(
        &self,
        channel: Id,
        member: Id,
        last_read: Id,
    ) -> Result<(), MessageStoreError> {
        // Read state is not part of a history page: nothing to forget.
        self.inner.mark_read(channel, member, last_read).await
    }

    async fn read_state(&self, channel: Id, member: Id) -> Result<ReadState, MessageStoreError> {
        self.inner.read_state(channel, member).await
    }

    async fn ping(&self) -> Result<(), MessageStoreError> {
        self.inner.ping().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::messages::sql::SqlMessages;
    use crate::messages::Position;

    /// A store that counts history queries and makes each take a while, so that
    /// reads started together overlap.
    struct Slow {
        inner: SqlMessages,
        queries: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl MessageStore for Slow {
        async fn append(&self, message: NewMessage) -> Result<Message, MessageStoreError> {
            self.inner.append(message).await
        }
        async fn get(&self, channel: Id, id: Id) -> Result<Option<Message>, MessageStoreError> {
            self.inner.get(channel, id).await
        }
        async fn history(
            &self,
            channel: Id,
            query: HistoryQuery,
        ) -> Result<Page<Message>, MessageStoreError> {
            self.queries.fetch_add(1, Ordering::SeqCst);
            let page = self.inner.history(channel, query).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            page
        }
        async fn edit(
            &self,
            channel: Id,
            id: Id,
            body: &MessageBody,
            at: Timestamp,
        ) -> Result<(), MessageStoreError> {
            self.inner.edit(channel, id, body, at).await
        }
        async fn delete(&self, channel: Id, id: Id) -> Result<(), MessageStoreError> {
            self.inner.delete(channel, id).await
        }
        async fn add_reaction(
            &self,
            channel: Id,
            id: Id,
            user: Id,
            emoji: &Emoji,
        ) -> Result<(), MessageStoreError> {
            self.inner.add_reaction(channel, id, user, emoji).await
        }
        async fn remove_reaction(
            &self,
            channel: Id,
            id: Id,
            user: Id,
            emoji: &Emoji,
        ) -> Result<(), MessageStoreError> {
            self.inner.remove_reaction(channel, id, user, emoji).await
        }
        async fn mark_read(
            &self,
            channel: Id,
            member: Id,
            last_read: Id,
        ) -> Result<(), MessageStoreError> {
            self.inner.mark_read(channel, member, last_read).await
        }
        async fn read_state(
            &self,
            channel: Id,
            member: Id,
        ) -> Result<ReadState, MessageStoreError> {
            self.inner.read_state(channel, member).await
        }
    }

    async fn store() -> (Arc<Slow>, Coalescing, vigor_common::testkit::TestDatabase) {
        let db = vigor_common::testkit::sqlite(Some(&crate::MIGRATIONS)).await;
        let slow = Arc::new(Slow {
            inner: SqlMessages::new(db.database.clone()),
            queries: AtomicUsize::new(0),
        });
        let coalescing = Coalescing::new(slow.clone());
        (slow, coalescing, db)
    }

    fn send(id: i64, channel: i64) -> NewMessage {
        NewMessage {
            id: Id::from_i64(id),
            channel_id: Id::from_i64(channel),
            author_id: Id::from_i64(7),
            body: MessageBody::parse("hi").unwrap(),
            client_msg_id: None,
            reply_to: None,
        }
    }

    #[tokio::test]
    async fn identical_concurrent_reads_share_one_query() {
        let (slow, store, _db) = store().await;
        let channel = Id::from_i64(1);
        store.append(send(10, 1)).await.unwrap();
        let reads = (0..20).map(|_| store.history(channel, HistoryQuery::latest(50)));
        let pages = futures::future::join_all(reads).await;
        assert_eq!(slow.queries.load(Ordering::SeqCst), 1);
        for page in pages {
            assert_eq!(page.unwrap().items.len(), 1);
        }
        // Other pages and other channels are other queries.
        let other_page = HistoryQuery {
            position: Position::Before(Id::from_i64(11)),
            limit: 50,
        };
        let (a, b, c) = tokio::join!(
            store.history(channel, HistoryQuery::latest(50)),
            store.history(channel, other_page),
            store.history(Id::from_i64(2), HistoryQuery::latest(50)),
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(slow.queries.load(Ordering::SeqCst), 4);
        // Nothing stays in flight once answered.
        assert!(store.reads().is_empty());
    }

    #[tokio::test]
    async fn a_read_after_a_write_does_not_join_a_read_from_before_it() {
        let (slow, store, _db) = store().await;
        let channel = Id::from_i64(1);
        store.append(send(10, 1)).await.unwrap();
        let early = store.history(channel, HistoryQuery::latest(50));
        let later = async {
            // Start after the early read, send, then read the same page.
            tokio::time::sleep(Duration::from_millis(20)).await;
            store.append(send(11, 1)).await.unwrap();
            store.history(channel, HistoryQuery::latest(50)).await
        };
        let (early, later) = tokio::join!(early, later);
        assert_eq!(early.unwrap().items.len(), 1);
        let later = later.unwrap();
        assert_eq!(later.items.len(), 2, "the sender sees their own message");
        assert_eq!(later.items[0].id, Id::from_i64(11));
        assert_eq!(slow.queries.load(Ordering::SeqCst), 2);
    }
}
