//! SQL storage wiring: a pool chosen by URL, versioned migrations per backend, and
//! the one seam every service's store goes through.
//!
//! Every service owns one database. All-in-one mode uses one SQLite file per service
//! under the data directory (WAL, foreign keys on, a busy timeout so concurrent
//! writers wait instead of failing); distributed mode uses one PostgreSQL database
//! per service. Dialects differ, so each service keeps one migration folder per
//! backend and its repositories branch on [`Database`] where the SQL differs.
//!
//! The tables every service shares (the event outbox, processed event ids,
//! idempotency keys) are created by [`SHARED_MIGRATIONS`], which run before the
//! service's own: shared versions are below 1000, a service's own start at 1000.
//!
//! # The SQL seam
//!
//! A store writes each statement once, with `$n` parameters (both sqlx drivers
//! accept them), and runs it on whichever pool the [`Database`] holds. The
//! plumbing for that lives here and nowhere else:
//!
//! - [`on_pool!`](crate::on_pool) runs a body on the pool of either backend;
//! - [`in_tx!`](crate::in_tx) runs it in a transaction that commits when the body
//!   completes (a `?` or `return` out of it drops the transaction: rollback);
//! - [`in_owner_tx!`](crate::in_owner_tx) does the same serialised with every other
//!   such transaction of one owner (a user): PostgreSQL takes a transaction-scoped
//!   advisory lock keyed by the owner's id, SQLite opens the transaction with
//!   `BEGIN IMMEDIATE` (one writer at a time: the others wait out the busy timeout
//!   instead of failing on a stale read snapshot), see [`SerialisedBegin`];
//! - inside either, [`TxEvents`] enqueues events into the outbox and marks consumed
//!   events processed on the transaction's connection, so a change, the events it
//!   emits and the deduplication of the event that caused it commit together.
//!
//! They are macros, not generic functions, on purpose: a body generic over
//! `sqlx::Database` needs a bound per bound type, row and executor (`for<'c> &'c
//! mut DB::Connection: Executor<'c>`, `i64: Encode<DB> + Type<DB>`, `Row:
//! FromRow<DB::Row>`, …), which buries every statement; the macro expands the same
//! source once per backend, and the compiler checks each expansion against its
//! driver. What differs by backend *and* is no statement (outbox, processed ids,
//! the owner's lock) are the traits below, implemented per connection type.
//!
//! # Store traits are the seams
//!
//! Each service declares its storage as a trait (`AuthStore`, `UserStore`,
//! `TrainingStore`, …) and its handlers hold an `Arc<dyn …Store>`. Today each has
//! one implementation, a `SqlStore` over [`Database`], but the trait is kept on
//! purpose: it is where a second kind of store plugs in (social's chat messages
//! live in ScyllaDB distributed and SQLite embedded behind one trait), and it is
//! the contract that the service's one conformance suite pins, instantiated on
//! SQLite and PostgreSQL with [`sql_conformance!`](crate::sql_conformance). New
//! services follow the same shape: trait in `store/mod.rs`, `SqlStore` using this
//! seam, conformance suite against the trait on both backends.
//!
//! # Why not `sqlx::query!`
//!
//! sqlx's compile-time checked macros check a statement against *one* database
//! (`DATABASE_URL` or the offline `.sqlx` data of one driver) per invocation, and
//! the macro's output type is bound to that driver: one statement cannot be
//! checked for SQLite and PostgreSQL at once, so every query would be written
//! twice or checked for one backend only. They also need a live, migrated
//! database (or committed query data kept in step) for every build, and they
//! cannot check the statements built at run time (column lists, `IN (…)` of
//! `QueryBuilder`). So Vigor does not use them: every statement is run on both
//! backends by the conformance suites instead, which catch a wrong column or type
//! as a failing test rather than a compile error.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::bus::{outbox, Event};
use crate::id::Id;

/// Which SQL backend a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one file per service (all-in-one).
    Sqlite,
    /// PostgreSQL: one database per service (distributed).
    Postgres,
}

/// A pool for one service's database.
#[derive(Debug, Clone)]
pub enum Database {
    /// A pool of a SQLite file.
    Sqlite(SqlitePool),
    /// A pool of a PostgreSQL database.
    Postgres(PgPool),
}

/// A service's migrations, one set per backend (`sqlx::migrate!` of each folder).
#[derive(Debug)]
pub struct Migrations {
    /// The SQLite dialect's migrations.
    pub sqlite: Migrator,
    /// The PostgreSQL dialect's migrations.
    pub postgres: Migrator,
}

/// The tables every service has: outbox, processed events, idempotency keys.
pub static SHARED_MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

impl Database {
    /// Opens a pool for `url` (`sqlite:…` or `postgres://…`).
    pub async fn connect(url: &str) -> anyhow::Result<Database> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            Ok(Database::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).context("bad PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
            Ok(Database::Postgres(pool))
        } else {
            anyhow::bail!(
                "unsupported database URL {}: use sqlite: or postgres://",
                redact(url)
            )
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the shared migrations and then `own`, each at most once.
    pub async fn migrate(&self, own: Option<&Migrations>) -> anyhow::Result<()> {
        let (shared, own) = match self {
            Database::Sqlite(_) => (&SHARED_MIGRATIONS.sqlite, own.map(|m| &m.sqlite)),
            Database::Postgres(_) => (&SHARED_MIGRATIONS.postgres, own.map(|m| &m.postgres)),
        };
        let migrator = combined(shared, own)?;
        match self {
            Database::Sqlite(pool) => migrator.run(pool).await,
            Database::Postgres(pool) => migrator.run(pool).await,
        }
        .context("migration failed")
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        crate::on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
            .context("database did not answer")
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        crate::on_pool!(self, pool => pool.close().await)
    }
}

/// Runs `$body` with `$pool` bound to the pool of either backend of a
/// [`Database`](crate::db::Database): the same source, expanded once per backend.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` in a transaction `$tx` on either backend of a
/// [`Database`](crate::db::Database) and commits it when `$body` completes, giving
/// `$body`'s value. A `?` or `return` out of `$body` drops the transaction, which
/// rolls it back; the enclosing function's error must convert from `sqlx::Error`.
/// [`TxEvents`](crate::db::TxEvents) enqueues events and marks consumed ones on `$tx`.
#[macro_export]
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        $crate::on_pool!($db, pool => {
            let mut $tx = pool.begin().await?;
            let out = $body;
            $tx.commit().await?;
            out
        })
    };
}

/// Like [`in_tx!`](crate::in_tx), with the transaction serialised with every other
/// `in_owner_tx!` of the same `$owner` (an [`Id`](crate::Id)), so what it reads of
/// that owner's rows stays true until it commits
/// ([`SerialisedBegin::begin_serialised`](crate::db::SerialisedBegin::begin_serialised)).
#[macro_export]
macro_rules! in_owner_tx {
    ($db:expr, $owner:expr, $tx:ident => $body:expr) => {
        $crate::on_pool!($db, pool => {
            let mut $tx = $crate::db::SerialisedBegin::begin_serialised(pool, $owner).await?;
            let out = $body;
            $tx.commit().await?;
            out
        })
    };
}

/// Opening a transaction serialised per owner, on each backend's pool.
#[async_trait]
pub trait SerialisedBegin {
    /// The sqlx database of the pool.
    type Db: sqlx::Database;

    /// A transaction serialised with every other one this opened for `owner`:
    /// PostgreSQL takes `pg_advisory_xact_lock(owner)` (released at commit or
    /// rollback), SQLite begins with `BEGIN IMMEDIATE` (every writer of the file
    /// waits for it, owners alike).
    async fn begin_serialised(
        &self,
        owner: Id,
    ) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

#[async_trait]
impl SerialisedBegin for SqlitePool {
    type Db = Sqlite;

    async fn begin_serialised(
        &self,
        _owner: Id,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

#[async_trait]
impl SerialisedBegin for PgPool {
    type Db = Postgres;

    async fn begin_serialised(
        &self,
        owner: Id,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        // Keyed by the owner's id itself: a collision with another lock of this
        // database could only make a write wait, never go wrong.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// The event plumbing of a transaction, on either backend's connection: call it
/// on the `$tx` of [`in_tx!`](crate::in_tx) (`tx.enqueue(&event).await?`), so the
/// events commit or roll back with the change.
#[async_trait]
pub trait TxEvents: Send {
    /// Writes `event` into the outbox ([`outbox`]).
    async fn enqueue(&mut self, event: &Event) -> Result<(), sqlx::Error>;

    /// Writes every one of `events` into the outbox, in order.
    async fn enqueue_all(&mut self, events: &[Event]) -> Result<(), sqlx::Error> {
        for event in events {
            self.enqueue(event).await?;
        }
        Ok(())
    }

    /// Records that consumer group `group` handled `event_id`; `true` the first
    /// time ([`outbox::mark_processed`]).
    async fn mark_processed(&mut self, group: &str, event_id: Id) -> Result<bool, sqlx::Error>;
}

#[async_trait]
impl TxEvents for SqliteConnection {
    async fn enqueue(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        outbox::enqueue_sqlite(self, event).await
    }

    async fn mark_processed(&mut self, group: &str, event_id: Id) -> Result<bool, sqlx::Error> {
        outbox::mark_processed_sqlite(self, group, event_id).await
    }
}

#[async_trait]
impl TxEvents for PgConnection {
    async fn enqueue(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        outbox::enqueue_postgres(self, event).await
    }

    async fn mark_processed(&mut self, group: &str, event_id: Id) -> Result<bool, sqlx::Error> {
        outbox::mark_processed_postgres(self, group, event_id).await
    }
}

fn combined(shared: &Migrator, own: Option<&Migrator>) -> anyhow::Result<Migrator> {
    let mut migrations: Vec<Migration> = shared.migrations.iter().cloned().collect();
    if let Some(bad) = migrations.iter().find(|m| m.version >= 1000) {
        anyhow::bail!(
            "shared migration {} must have a version below 1000",
            bad.version
        );
    }
    let own = own.map(|m| m.migrations.iter()).into_iter().flatten();
    for migration in own {
        if migration.version < 1000 {
            anyhow::bail!(
                "service migration {} must have a version of 1000 or more",
                migration.version
            );
        }
        migrations.push(migration.clone());
    }
    let mut migrator = Migrator::DEFAULT;
    migrator.migrations = Cow::Owned(migrations);
    Ok(migrator)
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A unique key (a unique index or constraint, the primary key included) of a
/// service's table, declared once by that service as a constant.
///
/// The two backends report a violation differently: PostgreSQL names the
/// constraint (`DatabaseError::constraint()`), SQLite only the columns in its
/// message (`UNIQUE constraint failed: table.a, table.b`). A key therefore
/// carries both, and [`unique_violation`] matches each backend on what it
/// reports, never on a substring of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueKey {
    /// The index or constraint name (PostgreSQL names a primary key `<table>_pkey`).
    pub name: &'static str,
    /// The table.
    pub table: &'static str,
    /// Its columns, in the index's order.
    pub columns: &'static [&'static str],
}

impl UniqueKey {
    /// Whether `error` is a violation of this key.
    pub fn violated_by(&self, error: &sqlx::Error) -> bool {
        unique_violation(error, std::slice::from_ref(self)).is_some()
    }
}

/// Which of `keys` `error` violated: `None` when it is no unique violation, or
/// one of a key not in `keys` (which callers must treat as the error it is).
pub fn unique_violation<'k>(error: &sqlx::Error, keys: &'k [UniqueKey]) -> Option<&'k UniqueKey> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if !matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return None;
    }
    match db.constraint() {
        Some(name) => keys.iter().find(|k| k.name == name),
        None => match sqlite_unique_failure(db.message())? {
            SqliteUnique::Index(name) => keys.iter().find(|k| k.name == name),
            SqliteUnique::Columns(table, columns) => keys
                .iter()
                .find(|k| k.table == table && k.columns == columns.as_slice()),
        },
    }
}

/// What SQLite's message of a unique violation names.
#[derive(Debug, PartialEq, Eq)]
enum SqliteUnique<'m> {
    /// `UNIQUE constraint failed: t.a, t.b`: the table and its columns.
    Columns(&'m str, Vec<&'m str>),
    /// `UNIQUE constraint failed: index 'name'` (an index on expressions).
    Index(&'m str),
}

/// Parses SQLite's message of a unique (or primary key) violation.
fn sqlite_unique_failure(message: &str) -> Option<SqliteUnique<'_>> {
    let named = message.strip_prefix("UNIQUE constraint failed: ")?;
    if let Some(index) = named.strip_prefix("index '") {
        return index.strip_suffix('\'').map(SqliteUnique::Index);
    }
    let mut table = None;
    let mut columns = Vec::new();
    for part in named.split(", ") {
        let (t, column) = part.split_once('.')?;
        if *table.get_or_insert(t) != t || column.is_empty() {
            return None;
        }
        columns.push(column);
    }
    Some(SqliteUnique::Columns(table?, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_the_table_and_columns() {
        assert_eq!(
            sqlite_unique_failure(
                "UNIQUE constraint failed: coach_links.coach_id, coach_links.athlete_id"
            ),
            Some(SqliteUnique::Columns(
                "coach_links",
                vec!["coach_id", "athlete_id"]
            ))
        );
        assert_eq!(
            sqlite_unique_failure("UNIQUE constraint failed: coach_links.id"),
            Some(SqliteUnique::Columns("coach_links", vec!["id"]))
        );
        assert_eq!(
            sqlite_unique_failure("UNIQUE constraint failed: index 'profiles_name_key'"),
            Some(SqliteUnique::Index("profiles_name_key"))
        );
        for other in [
            "NOT NULL constraint failed: t.a",
            "UNIQUE constraint failed: ",
            "UNIQUE constraint failed: a.x, b.y",
            "UNIQUE constraint failed: nodot",
            "UNIQUE constraint failed: t.",
            "UNIQUE constraint failed: index 'open",
        ] {
            assert_eq!(sqlite_unique_failure(other), None, "{other}");
        }
    }

    const ONE: UniqueKey = UniqueKey {
        name: "things_pkey",
        table: "things",
        columns: &["id"],
    };
    const PAIR: UniqueKey = UniqueKey {
        name: "things_pair",
        table: "things",
        columns: &["a", "b"],
    };

    async fn violations(db: Database) {
        let run = |sql: &'static str| {
            let db = db.clone();
            async move { crate::on_pool!(&db, pool => sqlx::query(sql).execute(pool).await.map(drop)) }
        };
        run("CREATE TABLE things (id BIGINT PRIMARY KEY, a BIGINT NOT NULL, b BIGINT NOT NULL, c BIGINT NOT NULL)")
            .await
            .unwrap();
        run("CREATE UNIQUE INDEX things_pair ON things (a, b)")
            .await
            .unwrap();
        run("CREATE UNIQUE INDEX things_c ON things (c)")
            .await
            .unwrap();
        run("INSERT INTO things VALUES (1, 1, 1, 1)").await.unwrap();
        let keys = [ONE, PAIR];
        let same_id = run("INSERT INTO things VALUES (1, 2, 2, 2)")
            .await
            .unwrap_err();
        assert_eq!(unique_violation(&same_id, &keys), Some(&ONE));
        let same_pair = run("INSERT INTO things VALUES (2, 1, 1, 2)")
            .await
            .unwrap_err();
        assert_eq!(unique_violation(&same_pair, &keys), Some(&PAIR));
        assert!(PAIR.violated_by(&same_pair) && !PAIR.violated_by(&same_id));
        // A key the caller did not declare, and errors that are no violation.
        let same_c = run("INSERT INTO things VALUES (3, 3, 3, 1)")
            .await
            .unwrap_err();
        assert_eq!(unique_violation(&same_c, &keys), None);
        let not_null = run("INSERT INTO things (id, a, b) VALUES (4, 4, 4)")
            .await
            .unwrap_err();
        assert_eq!(unique_violation(&not_null, &keys), None);
    }

    crate::sql_conformance!(None; violations);
}
