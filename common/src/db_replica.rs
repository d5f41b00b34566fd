//! Read replicas: a service's reads that tolerate lag go to a streaming replica of
//! its PostgreSQL database, and back to the primary while the replica is away.
//!
//! A service may be given `<service>.database_read_url` beside its
//! `<service>.database_url`. Its store then holds a [`Reads`]: the primary, which
//! every write and every read-your-writes path keeps using, and the [`Replica`],
//! which answers only the reads its store routes through [`Reads::lagging`]
//! (statistics, search, the leaderboards' rebuild: what a user would not notice
//! being a moment old). A token check, or a read right after the caller's own
//! write, never goes there: a replica replays the primary's WAL a moment later.
//!
//! # How an unavailable replica is detected
//!
//! A replica must never take the service down with it, so it is judged by a
//! background probe (one task per replica, owned by the process's task tracker
//! and stopped by its shutdown token), not by the requests:
//!
//! - the pool is opened lazily, so a replica that is down at start does not stop
//!   the start; its acquire timeout is short ([`ACQUIRE_TIMEOUT`]), so a read
//!   that meets a dead replica waits at most that long;
//! - every [`PROBE_INTERVAL`] while it is up, the probe runs `SELECT 1` within
//!   [`PROBE_TIMEOUT`]; one failure marks it down;
//! - while it is down every lagging read goes to the primary, and the probe
//!   tries again after a backoff that doubles from [`MIN_BACKOFF`] up to
//!   [`MAX_BACKOFF`]; its first success marks it up again;
//! - a lagging read that fails on the replica (it died between two probes, or
//!   replay cancelled the query) is run again on the primary at once, marks the
//!   replica down and wakes the probe, which decides whether it really is.
//!
//! The state is what `/readyz` reports (`degraded` while the replica is down,
//! without failing readiness: the primary serves everything) and every lagging
//! read is counted in `vigor_db_reads_total{service, pool}` (`pool` is
//! `replica` or `primary`), so both show where reads go. SQLite (all-in-one) has
//! no replica: its [`Reads`] is the primary alone and counts nothing.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db::{redact, Database};

/// How long a read waits for a replica connection before it counts as failed.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the probe checks a replica that is up.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The first wait before probing a replica that is down again.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two probes of a replica that is down.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// A service's reads: its primary database and, when configured, a replica for
/// the reads that tolerate lag.
#[derive(Debug, Clone)]
pub struct Reads {
    primary: Database,
    replica: Option<Replica>,
}

impl From<Database> for Reads {
    /// The primary alone: every read goes to it.
    fn from(primary: Database) -> Self {
        Reads {
            primary,
            replica: None,
        }
    }
}

impl Reads {
    /// `primary`, with lag-tolerant reads sent to `replica` while it is up.
    pub fn new(primary: Database, replica: Option<Replica>) -> Self {
        Reads { primary, replica }
    }

    /// The primary: writes, and reads that must see them.
    pub fn primary(&self) -> &Database {
        &self.primary
    }

    /// The replica, when one is configured.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// Runs a read that tolerates lag: on the replica while it is up, else (or
    /// when it fails there) on the primary.
    pub async fn lagging<T, E, F, Fut>(&self, read: F) -> Result<T, E>
    where
        F: Fn(Database) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let Some(replica) = &self.replica else {
            return read(self.primary.clone()).await;
        };
        if replica.is_up() {
            match read(replica.inner.db.clone()).await {
                Ok(value) => {
                    replica.count("replica");
                    return Ok(value);
                }
                Err(e) => {
                    tracing::warn!(
                        service = %replica.inner.service,
                        error = %e,
                        "a read on the replica failed: reading the primary"
                    );
                    replica.mark_down(format!("a read failed: {e}"));
                }
            }
        }
        replica.count("primary");
        read(self.primary.clone()).await
    }
}

/// A read replica of one service's PostgreSQL database and what its probe last
/// found (cheap to clone: one shared state).
#[derive(Clone)]
pub struct Replica {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    db: Database,
    url: String,
    /// `None` while up, else why it is down. Never held across an `.await`.
    down: RwLock<Option<String>>,
    /// Wakes the probe before its wait ends (a read failed).
    wake: Notify,
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica")
            .field("service", &self.inner.service)
            .field("url", &self.inner.url)
            .field("down", &self.down_reason())
            .finish()
    }
}

impl Replica {
    /// Opens `url` (a `postgres://` replica) lazily for `service`, probes it
    /// once and starts its probe on `tasks` until `shutdown`. A replica that is
    /// down now is no error: reads go to the primary until it answers.
    pub async fn start(
        service: impl Into<String>,
        url: &str,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> anyhow::Result<Replica> {
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("bad PostgreSQL replica URL {}", redact(url)))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let replica = Replica {
            inner: Arc::new(Inner {
                service: service.into(),
                db: Database::Postgres(pool),
                url: redact(url),
                down: RwLock::new(Some("not probed yet".to_owned())),
                wake: Notify::new(),
            }),
        };
        replica.probe().await;
        let probed = replica.clone();
        tasks.spawn(async move { probed.run_probe(shutdown).await });
        Ok(replica)
    }

    /// The replica's pool (closed with the others on shutdown).
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// Whether the last probe (or read) found it answering.
    pub fn is_up(&self) -> bool {
        self.down_reason().is_none()
    }

    /// Why it is down, when it is.
    pub fn down_reason(&self) -> Option<String> {
        self.inner
            .down
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The `/readyz` check: `Ok` while up, a [`Degraded`](crate::service::Degraded)
    /// error (which does not fail readiness) while reads go to the primary.
    pub fn readiness(&self) -> anyhow::Result<()> {
        match self.down_reason() {
            None => Ok(()),
            Some(reason) => Err(crate::service::Degraded(format!(
                "replica {} unavailable ({reason}); reads go to the primary",
                self.inner.url
            ))
            .into()),
        }
    }

    fn count(&self, pool: &'static str) {
        metrics::counter!(
            "vigor_db_reads_total",
            "service" => self.inner.service.clone(),
            "pool" => pool
        )
        .increment(1);
    }

    fn mark_down(&self, reason: String) {
        let was_up = {
            let mut down = self
                .inner
                .down
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let was_up = down.is_none();
            *down = Some(reason.clone());
            was_up
        };
        if was_up {
            tracing::warn!(service = %self.inner.service, replica = %self.inner.url, %reason,
                "read replica unavailable: lag-tolerant reads go to the primary");
        }
        self.inner.wake.notify_one();
    }

    fn mark_up(&self) {
        let was_down = self
            .inner
            .down
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .is_some();
        if was_down {
            tracing::info!(service = %self.inner.service, replica = %self.inner.url,
                "read replica answers: lag-tolerant reads go to it");
        }
    }

    /// One probe: `SELECT 1` within [`PROBE_TIMEOUT`]; records the outcome.
    async fn probe(&self) -> bool {
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, self.inner.db.ping()).await;
        match outcome {
            Ok(Ok(())) => {
                self.mark_up();
                true
            }
            Ok(Err(e)) => {
                self.mark_down(format!("{e:#}"));
                false
            }
            Err(_) => {
                self.mark_down(format!("no answer within {}s", PROBE_TIMEOUT.as_secs_f32()));
                false
            }
        }
    }

    async fn run_probe(self, shutdown: CancellationToken) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let wait = if self.is_up() {
                PROBE_INTERVAL
            } else {
                backoff
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = self.inner.wake.notified() => {}
            }
            if self.probe().await {
                backoff = MIN_BACKOFF;
            } else {
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed loopback port: a replica there is down.
    async fn closed_port_url() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// Which server answered: the replica's URL names another application.
    async fn who(db: Database) -> Result<String, sqlx::Error> {
        crate::on_pool!(&db, pool => {
            sqlx::query_scalar::<_, String>("SELECT current_setting('application_name')")
                .fetch_one(pool)
                .await
        })
    }

    /// SQLite (all-in-one) has no replica: the primary answers every read.
    #[tokio::test]
    async fn without_a_replica_the_primary_answers() {
        let db = crate::testkit::sqlite(None).await;
        let reads = Reads::from(db.database.clone());
        assert!(reads.replica().is_none());
        let one: i64 = reads
            .lagging(|db| async move {
                crate::on_pool!(&db, pool => sqlx::query_scalar("SELECT 1").fetch_one(pool).await)
            })
            .await
            .unwrap();
        assert_eq!(one, 1);
    }

    #[tokio::test]
    async fn lagging_reads_follow_the_replica_state() {
        let Some(db) = crate::testkit::postgres(None).await else {
            return;
        };
        let url = db.url.clone();
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();

        // The same database under another application name stands in for a
        // replica: what matters here is which pool answers.
        let sep = if url.contains('?') { '&' } else { '?' };
        let replica_url = format!("{url}{sep}application_name=vigor-replica");
        let replica = Replica::start("test", &replica_url, shutdown.clone(), &tasks)
            .await
            .unwrap();
        assert!(replica.is_up() && replica.readiness().is_ok());
        let reads = Reads::new(db.database.clone(), Some(replica));
        assert_eq!(reads.lagging(who).await.unwrap(), "vigor-replica");

        // A replica that is down: reads go to the primary, readiness says
        // degraded (and is no other error).
        let down = Replica::start("test", &closed_port_url().await, shutdown.clone(), &tasks)
            .await
            .unwrap();
        assert!(!down.is_up());
        let error = down.readiness().unwrap_err();
        assert!(error.downcast_ref::<crate::service::Degraded>().is_some());
        let reads = Reads::new(db.database.clone(), Some(down));
        assert_ne!(reads.lagging(who).await.unwrap(), "vigor-replica");

        // A read that fails on the replica is answered by the primary and
        // marks the replica down.
        let flaky = Replica::start("test", &replica_url, shutdown.clone(), &tasks)
            .await
            .unwrap();
        let reads = Reads::new(db.database.clone(), Some(flaky.clone()));
        let answer = reads
            .lagging(|db| async move {
                let name = who(db).await?;
                if name == "vigor-replica" {
                    Err(sqlx::Error::Protocol("replay conflict".into()))
                } else {
                    Ok(name)
                }
            })
            .await
            .unwrap();
        assert_ne!(answer, "vigor-replica");
        // The probe finds it answering again at once.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !flaky.is_up() {
            assert!(tokio::time::Instant::now() < deadline, "probed up again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        shutdown.cancel();
        tasks.close();
        tasks.wait().await;
    }
}
