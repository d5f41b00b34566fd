//! SQL storage wiring: a pool chosen by URL, and versioned migrations per backend.
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

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Which SQL backend a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool for one service's database.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A service's migrations, one set per backend (`sqlx::migrate!` of each folder).
#[derive(Debug)]
pub struct Migrations {
    pub sqlite: Migrator,
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
        match self {
            Database::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Database::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
        .context("database did not answer")
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
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

/// Whether an sqlx error is a unique-key violation of the named constraint (or of
/// any unique constraint when `constraint` is `None`). Both backends report the
/// constraint differently, so services name their unique indexes and ask here.
pub fn is_unique_violation(error: &sqlx::Error, constraint: Option<&str>) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    if !matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return false;
    }
    match constraint {
        None => true,
        // PostgreSQL names the constraint; SQLite names the columns in the message,
        // so SQLite unique indexes are matched by the index name in the message.
        Some(name) => db.constraint() == Some(name) || db.message().contains(name),
    }
}
