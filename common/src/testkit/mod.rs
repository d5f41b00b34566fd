//! Test helpers: throwaway databases and Redis for the conformance suites.
//!
//! The test script (`.ci/test`) starts a throwaway PostgreSQL, Redis, a 3-node
//! Redis Cluster and Cassandra on free ports and exports `VIGOR_TEST_POSTGRES_URL`
//! (an admin URL), `VIGOR_TEST_REDIS_URL`, `VIGOR_TEST_REDIS_CLUSTER_URL` and
//! `VIGOR_TEST_CQL_URI` (`host:port` of a CQL node), plus
//! `VIGOR_TEST_REQUIRE_SERVERS=1`. Each test gets its own fresh database
//! (PostgreSQL: a new database; SQLite: a new file; CQL: a new keyspace) and its
//! own Redis key prefix, so tests run in parallel without seeing each other.
//!
//! Run outside the script, `cargo test` skips the server-backed cases with a note
//! on stderr; under the script a missing server fails the test instead of skipping.
//!
//! [`app`] is the black-box harness of the services' HTTP tests: auth and the
//! services under test on one server, real sign-ups and tokens.

pub mod app;

pub use app::{eventually, problem, Backend, Stack, TestApp, PASSWORD};

use std::path::PathBuf;

use rand::Rng;

use crate::db::{Database, Migrations};

/// A fresh, migrated database for one test.
pub struct TestDatabase {
    /// The pool.
    pub database: Database,
    /// Its URL (for starting a process against it).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

fn servers_required() -> bool {
    std::env::var("VIGOR_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A server-backed test's server URL from `var`, or `None` (skip) outside the script.
pub fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if servers_required() => panic!("{var} is not set, but VIGOR_TEST_REQUIRE_SERVERS=1"),
        _ => {
            eprintln!("skipping: {var} is not set (run the tests through .ci/test)");
            None
        }
    }
}

/// A random lowercase name with a prefix, for databases and key prefixes.
pub fn unique_name(prefix: &str) -> String {
    let suffix: u64 = rand::thread_rng().gen();
    format!("{prefix}_{suffix:016x}")
}

/// A new SQLite database file in a temporary directory, with the shared migrations
/// and `migrations` applied.
pub async fn sqlite(migrations: Option<&Migrations>) -> TestDatabase {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = crate::config::sqlite_url(&dir.path().join("test.db"));
    let database = Database::connect(&url).await.expect("SQLite opens");
    database
        .migrate(migrations)
        .await
        .expect("SQLite migrations apply");
    TestDatabase {
        database,
        url,
        _dir: Some(dir),
    }
}

/// A new PostgreSQL database on the test server, migrated; `None` to skip.
pub async fn postgres(migrations: Option<&Migrations>) -> Option<TestDatabase> {
    let admin = server_url("VIGOR_TEST_POSTGRES_URL")?;
    let url = create_postgres_database(&admin).await;
    let database = Database::connect(&url).await.expect("PostgreSQL connects");
    database
        .migrate(migrations)
        .await
        .expect("PostgreSQL migrations apply");
    Some(TestDatabase {
        database,
        url,
        _dir: None,
    })
}

/// Creates an empty database on the server at `admin_url` and returns its URL.
pub async fn create_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = unique_name("vigor_test");
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("the test PostgreSQL accepts connections");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let _ = conn.close().await;
    let mut url = url::Url::parse(admin_url).expect("VIGOR_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The test Redis URL, or `None` to skip.
pub fn redis_url() -> Option<String> {
    server_url("VIGOR_TEST_REDIS_URL")
}

/// The test CQL node (`host:port`, Cassandra under `.ci/test`), or `None` to skip.
pub fn cql_uri() -> Option<String> {
    server_url("VIGOR_TEST_CQL_URI")
}

/// A keyspace of its own for one test on the test CQL node.
#[derive(Debug, Clone)]
pub struct CqlKeyspace {
    /// `host:port` of the node.
    pub uri: String,
    /// A fresh keyspace name, not yet used by any test.
    pub keyspace: String,
}

/// A unique keyspace on the test CQL node, or `None` to skip.
///
/// The keyspace is named here and created by the store under test: a CQL store's
/// own idempotent migration creates its keyspace (with the configured
/// replication), so the test runs that migration instead of a copy of it, and
/// this kit needs no CQL driver of its own.
pub fn cql_keyspace() -> Option<CqlKeyspace> {
    Some(CqlKeyspace {
        uri: cql_uri()?,
        keyspace: unique_name("vigor_test"),
    })
}

/// The test Redis Cluster URL (`VIGOR_TEST_REDIS_CLUSTER_URL`, fred's
/// `redis-cluster://host:port?node=host:port&…` form, started by
/// `.ci/redis-cluster`), or `None` to skip.
pub fn redis_cluster_url() -> Option<String> {
    server_url("VIGOR_TEST_REDIS_CLUSTER_URL")
}

/// A fresh temporary directory (for data dirs of spawned processes).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The path of a workspace binary built by cargo (`vigor`), for process tests.
pub fn workspace_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join(name)
}

/// Instantiates a conformance suite once per SQL backend.
///
/// Each listed function is `async fn name(db: Database)`; the macro makes a test
/// `sqlite::name` and a test `postgres::name` that hand it a fresh, migrated
/// database (`$migrations`: `Option<&'static Migrations>`).
#[macro_export]
macro_rules! sql_conformance {
    ($migrations:expr; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::testkit::sqlite($migrations).await;
                    super::$name(db.database.clone()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::testkit::postgres($migrations).await else { return };
                    super::$name(db.database.clone()).await;
                }
            )+
        }
    };
}

/// Asserts that `response` (to `what`, named in failures) is the refusal of an
/// operation that needs `scope`: a 403 problem+json of type `…/insufficient_scope`
/// naming the scope, with the RFC 6750 `WWW-Authenticate` challenge.
pub async fn assert_insufficient_scope(response: reqwest::Response, scope: &str, what: &str) {
    assert_eq!(response.status(), http::StatusCode::FORBIDDEN, "{what}");
    assert_eq!(
        response.headers()[http::header::WWW_AUTHENTICATE],
        format!("Bearer realm=\"vigor\", error=\"insufficient_scope\", scope=\"{scope}\"").as_str(),
        "{what}"
    );
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        crate::problem::PROBLEM_JSON,
        "{what}"
    );
    let problem: serde_json::Value = response.json().await.expect("a problem+json body");
    let kind = problem["type"].as_str().unwrap_or_default();
    assert!(kind.ends_with("/insufficient_scope"), "{what}: {problem}");
    assert_eq!(problem["scope"], scope, "{what}");
}
