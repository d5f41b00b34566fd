//! The transactional outbox, and deduplication for idempotent consumers.
//!
//! A service must not publish an event for a change that then rolls back, nor lose
//! the event of a change that committed while the bus was down. So it writes the
//! event into its own `outbox` table *in the same transaction* as the change
//! ([`enqueue_sqlite`], [`enqueue_postgres`]), and an [`OutboxRelay`] task publishes
//! committed rows to the [`EventBus`] afterwards:
//!
//! - rows go out in id order (event ids are time-ordered); a row is marked published
//!   only after the bus accepted it, and the relay stops at the first failure and
//!   retries from that row with exponential backoff, so no event is lost or skipped
//!   and order is kept. A crash between publishing and marking publishes the row
//!   again: delivery is at-least-once, and consumers deduplicate by event id;
//! - on PostgreSQL, where several nodes of a service share one database, a batch
//!   runs in a transaction holding a transaction-scoped advisory lock, so one relay
//!   works at a time and the order holds across nodes (SQLite is embedded: one
//!   process, one relay);
//! - the relay polls, and [`OutboxRelay::wake`] right after a commit makes it
//!   publish at once instead of at the next poll;
//! - published rows are deleted after a retention, and so are old
//!   `processed_events` rows;
//! - a row whose JSON no longer decodes as an [`Event`] cannot be published; it is
//!   logged, counted in `vigor_outbox_malformed_total` and marked published so it
//!   does not block the rows behind it (it stays in the table until the retention).
//!
//! Consumers make redeliveries harmless with [`mark_processed`] (or its in-transaction
//! forms): it records `(group, event id)` once and answers whether this was the first
//! time, so a consumer applies an event only when it answers `true`, ideally in the
//! same transaction as the effect.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Event, EventBus};
use crate::db::Database;
use crate::id::Id;

/// Key of the PostgreSQL advisory lock that makes one relay per database work at a time.
const RELAY_LOCK: i64 = 0x7669_676f_725f_6f62; // "vigor_ob"

/// Writes `event` into the outbox on `conn`; call it inside the transaction of the
/// change the event describes.
pub async fn enqueue_sqlite(conn: &mut SqliteConnection, event: &Event) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (id, topic, event, created_at) VALUES (?, ?, ?, ?)")
        .bind(event.id)
        .bind(&event.name)
        .bind(json)
        .bind(Utc::now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `event` into the outbox on `conn`; call it inside the transaction of the
/// change the event describes.
pub async fn enqueue_postgres(conn: &mut PgConnection, event: &Event) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (id, topic, event, created_at) VALUES ($1, $2, $3, $4)")
        .bind(event.id)
        .bind(&event.name)
        .bind(sqlx::types::Json(event))
        .bind(Utc::now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that consumer group `group` handled `event_id`; `true` the first time.
pub async fn mark_processed(db: &Database, group: &str, event_id: Id) -> Result<bool, sqlx::Error> {
    match db {
        Database::Sqlite(pool) => {
            mark_processed_sqlite(&mut *pool.acquire().await?, group, event_id).await
        }
        Database::Postgres(pool) => {
            mark_processed_postgres(&mut *pool.acquire().await?, group, event_id).await
        }
    }
}

/// Whether consumer group `group` already handled `event_id`.
pub async fn is_processed(db: &Database, group: &str, event_id: Id) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT 1 FROM processed_events WHERE consumer_group = ? AND event_id = ?",
            )
            .bind(group)
            .bind(event_id)
            .fetch_optional(pool)
            .await?
        }
        Database::Postgres(pool) => sqlx::query_scalar(
            "SELECT 1::BIGINT FROM processed_events WHERE consumer_group = $1 AND event_id = $2",
        )
        .bind(group)
        .bind(event_id)
        .fetch_optional(pool)
        .await?,
    };
    Ok(found.is_some())
}

/// [`mark_processed`] on a connection, e.g. inside the transaction applying the event.
pub async fn mark_processed_sqlite(
    conn: &mut SqliteConnection,
    group: &str,
    event_id: Id,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES (?, ?, ?) \
         ON CONFLICT (consumer_group, event_id) DO NOTHING",
    )
    .bind(group)
    .bind(event_id)
    .bind(Utc::now())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// [`mark_processed`] on a connection, e.g. inside the transaction applying the event.
pub async fn mark_processed_postgres(
    conn: &mut PgConnection,
    group: &str,
    event_id: Id,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer_group, event_id) DO NOTHING",
    )
    .bind(group)
    .bind(event_id)
    .bind(Utc::now())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How an [`OutboxRelay`] works.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// How often it looks for rows when nobody wakes it.
    pub poll_interval: Duration,
    /// Rows published per round.
    pub batch_size: u32,
    /// First wait after the bus failed; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest wait between retries while the bus fails.
    pub backoff_max: Duration,
    /// Published rows older than this are deleted.
    pub retention: Duration,
    /// `processed_events` rows older than this are deleted.
    pub processed_retention: Duration,
    /// How often the deletions run.
    pub cleanup_interval: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            poll_interval: Duration::from_secs(1),
            batch_size: 100,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            retention: Duration::from_secs(24 * 3600),
            processed_retention: Duration::from_secs(7 * 24 * 3600),
            cleanup_interval: Duration::from_secs(600),
        }
    }
}

/// Handle of a running outbox relay; clones wake the same task.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    wake: Arc<Notify>,
}

impl OutboxRelay {
    /// Starts the relay of `db`'s outbox to `bus` with default options; it stops
    /// when `shutdown` is cancelled.
    pub fn spawn(
        db: Database,
        bus: Arc<dyn EventBus>,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> OutboxRelay {
        OutboxRelay::spawn_with(db, bus, RelayOptions::default(), shutdown, tasks)
    }

    /// [`OutboxRelay::spawn`] with options.
    pub fn spawn_with(
        db: Database,
        bus: Arc<dyn EventBus>,
        options: RelayOptions,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> OutboxRelay {
        let wake = Arc::new(Notify::new());
        tasks.spawn(run(db, bus, options, wake.clone(), shutdown));
        OutboxRelay { wake }
    }

    /// Makes the relay look at the outbox now; call it after committing an enqueue.
    pub fn wake(&self) {
        // A stored permit: a wake while the relay is busy triggers one more round.
        self.wake.notify_one();
    }
}

async fn run(
    db: Database,
    bus: Arc<dyn EventBus>,
    options: RelayOptions,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let batch_size = options.batch_size.max(1);
    let mut backoff = options.backoff_min;
    let mut failing = false;
    let mut next_cleanup = Instant::now() + options.cleanup_interval;
    while !shutdown.is_cancelled() {
        let wait = match relay_batch(&db, bus.as_ref(), batch_size).await {
            Ok(rows) => {
                if failing {
                    tracing::info!("outbox relay: publishing again");
                    failing = false;
                }
                backoff = options.backoff_min;
                if rows >= batch_size as usize {
                    continue;
                }
                options.poll_interval
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "outbox relay: publishing failed, retrying"
                    );
                }
                failing = true;
                let wait = backoff;
                backoff = (backoff * 2).min(options.backoff_max);
                wait
            }
        };
        if Instant::now() >= next_cleanup {
            if let Err(error) = cleanup(&db, &options).await {
                tracing::warn!(error = format!("{error:#}"), "outbox relay: cleanup failed");
            }
            next_cleanup = Instant::now() + options.cleanup_interval;
        }
        let wait = wait.min(next_cleanup.saturating_duration_since(Instant::now()));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            // While the bus fails, wake-ups wait for the backoff instead of hammering it.
            _ = wake.notified(), if !failing => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Publishes up to `limit` pending rows in id order; returns how many it handled.
async fn relay_batch(db: &Database, bus: &dyn EventBus, limit: u32) -> anyhow::Result<usize> {
    match db {
        Database::Sqlite(pool) => relay_batch_sqlite(pool, bus, limit).await,
        Database::Postgres(pool) => relay_batch_postgres(pool, bus, limit).await,
    }
}

async fn relay_batch_sqlite(
    pool: &SqlitePool,
    bus: &dyn EventBus,
    limit: u32,
) -> anyhow::Result<usize> {
    let rows: Vec<(Id, String)> = sqlx::query_as(
        "SELECT id, event FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .context("reading the outbox")?;
    let count = rows.len();
    let rows = rows.into_iter().map(|(id, json)| {
        (
            id,
            serde_json::from_str::<Event>(&json).map_err(|e| e.to_string()),
        )
    });
    let (done, failure) = publish_in_order(bus, rows).await;
    if !done.is_empty() {
        let mut update: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE outbox SET published_at = ");
        update.push_bind(Utc::now()).push(" WHERE id IN (");
        let mut ids = update.separated(", ");
        for id in &done {
            ids.push_bind(*id);
        }
        update.push(")");
        update
            .build()
            .execute(pool)
            .await
            .context("marking outbox rows published")?;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(count),
    }
}

async fn relay_batch_postgres(
    pool: &PgPool,
    bus: &dyn EventBus,
    limit: u32,
) -> anyhow::Result<usize> {
    let mut tx = pool
        .begin()
        .await
        .context("starting the relay transaction")?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(RELAY_LOCK)
        .fetch_one(&mut *tx)
        .await
        .context("taking the relay lock")?;
    if !locked {
        // Another node's relay is publishing; look again at the next poll.
        return Ok(0);
    }
    let rows: Vec<(Id, serde_json::Value)> = sqlx::query_as(
        "SELECT id, event FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .context("reading the outbox")?;
    let count = rows.len();
    let rows = rows.into_iter().map(|(id, json)| {
        (
            id,
            serde_json::from_value::<Event>(json).map_err(|e| e.to_string()),
        )
    });
    let (done, failure) = publish_in_order(bus, rows).await;
    if !done.is_empty() {
        let ids: Vec<i64> = done.iter().map(|id| id.as_i64()).collect();
        sqlx::query("UPDATE outbox SET published_at = $1 WHERE id = ANY($2)")
            .bind(Utc::now())
            .bind(ids)
            .execute(&mut *tx)
            .await
            .context("marking outbox rows published")?;
    }
    tx.commit()
        .await
        .context("committing the relay transaction")?;
    match failure {
        Some(error) => Err(error),
        None => Ok(count),
    }
}

/// Publishes decoded rows in order until the bus fails; returns the ids to mark
/// published (including undecodable rows, see the module doc) and the failure.
async fn publish_in_order(
    bus: &dyn EventBus,
    rows: impl Iterator<Item = (Id, Result<Event, String>)>,
) -> (Vec<Id>, Option<anyhow::Error>) {
    let mut done = Vec::new();
    for (id, event) in rows {
        match event {
            Ok(event) => match bus.publish(&event).await {
                Ok(()) => {
                    metrics::counter!("vigor_outbox_published_total", "topic" => event.name.clone())
                        .increment(1);
                    done.push(id);
                }
                Err(error) => {
                    let error =
                        anyhow::Error::new(error).context(format!("publishing outbox event {id}"));
                    return (done, Some(error));
                }
            },
            Err(why) => {
                tracing::error!(%id, %why, "outbox row is not an event: skipped");
                metrics::counter!("vigor_outbox_malformed_total").increment(1);
                done.push(id);
            }
        }
    }
    (done, None)
}

/// Deletes published rows and processed event ids past their retention.
async fn cleanup(db: &Database, options: &RelayOptions) -> anyhow::Result<()> {
    let published_before = cutoff(options.retention);
    let processed_before = cutoff(options.processed_retention);
    let deleted = match db {
        Database::Sqlite(pool) => {
            let outbox = sqlx::query(
                "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?",
            )
            .bind(published_before)
            .execute(pool)
            .await?;
            let processed = sqlx::query("DELETE FROM processed_events WHERE processed_at < ?")
                .bind(processed_before)
                .execute(pool)
                .await?;
            (outbox.rows_affected(), processed.rows_affected())
        }
        Database::Postgres(pool) => {
            let outbox = sqlx::query(
                "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1",
            )
            .bind(published_before)
            .execute(pool)
            .await?;
            let processed = sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
                .bind(processed_before)
                .execute(pool)
                .await?;
            (outbox.rows_affected(), processed.rows_affected())
        }
    };
    tracing::debug!(
        outbox = deleted.0,
        processed_events = deleted.1,
        "outbox cleanup"
    );
    Ok(())
}

/// The instant `age` ago (the Unix epoch, deleting nothing, when that overflows).
fn cutoff(age: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .unwrap_or(DateTime::UNIX_EPOCH)
}
