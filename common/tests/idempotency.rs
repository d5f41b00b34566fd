//! The idempotency-key conformance suite, on SQLite and PostgreSQL.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigor_common::db::Database;
use vigor_common::idempotency::{idempotent, IdempotencyKey, IDEMPOTENT_REPLAYED};
use vigor_common::Problem;

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey(Some(k.to_owned()))
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A handler that counts its runs and answers 201 with the run number.
fn counting(runs: &Arc<AtomicU32>) -> impl FnOnce() -> std::future::Ready<Response> {
    let runs = runs.clone();
    move || {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(
            (
                StatusCode::CREATED,
                [("content-type", "application/json")],
                format!("{{\"run\":{n}}}"),
            )
                .into_response(),
        )
    }
}

async fn a_repeat_replays_the_first_response(db: Database) {
    let runs = Arc::new(AtomicU32::new(0));
    let first = idempotent(&db, "user:1:/v1/things", key("k1"), b"{}", counting(&runs)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get(&IDEMPOTENT_REPLAYED).is_none());
    assert_eq!(body(first).await, r#"{"run":1}"#);

    let again = idempotent(&db, "user:1:/v1/things", key("k1"), b"{}", counting(&runs)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()[&IDEMPOTENT_REPLAYED], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(body(again).await, r#"{"run":1}"#);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran twice");
}

async fn keys_are_scoped_by_caller(db: Database) {
    let runs = Arc::new(AtomicU32::new(0));
    idempotent(
        &db,
        "user:1:/v1/things",
        key("shared"),
        b"{}",
        counting(&runs),
    )
    .await;
    let other = idempotent(
        &db,
        "user:2:/v1/things",
        key("shared"),
        b"{}",
        counting(&runs),
    )
    .await;
    assert_eq!(body(other).await, r#"{"run":2}"#);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

async fn a_key_reused_for_another_request_is_refused(db: Database) {
    let runs = Arc::new(AtomicU32::new(0));
    idempotent(&db, "s", key("k"), b"{\"a\":1}", counting(&runs)).await;
    let other = idempotent(&db, "s", key("k"), b"{\"a\":2}", counting(&runs)).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.headers()["content-type"], "application/problem+json");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn a_repeat_during_the_first_gets_409(db: Database) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let first_db = db.clone();
    let first = tokio::spawn(async move {
        idempotent(&first_db, "s", key("slow"), b"{}", || async move {
            started_tx.send(()).unwrap();
            finish_rx.await.unwrap();
            StatusCode::CREATED
        })
        .await
    });
    started_rx.await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let during = idempotent(&db, "s", key("slow"), b"{}", counting(&runs)).await;
    assert_eq!(during.status(), StatusCode::CONFLICT);
    assert_eq!(during.headers()["retry-after"], "1");
    finish_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

async fn a_server_error_releases_the_key(db: Database) {
    let failed = idempotent(&db, "s", key("k"), b"{}", || async {
        Problem::internal(anyhow::anyhow!("database went away"))
    })
    .await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let runs = Arc::new(AtomicU32::new(0));
    let retried = idempotent(&db, "s", key("k"), b"{}", counting(&runs)).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn client_errors_are_replayed_too(db: Database) {
    let first = idempotent(&db, "s", key("k"), b"{}", || async {
        Problem::conflict("email taken")
    })
    .await;
    assert_eq!(first.status(), StatusCode::CONFLICT);
    let runs = Arc::new(AtomicU32::new(0));
    let again = idempotent(&db, "s", key("k"), b"{}", counting(&runs)).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(again.headers()["content-type"], "application/problem+json");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

async fn without_a_key_every_request_runs(db: Database) {
    let runs = Arc::new(AtomicU32::new(0));
    idempotent(&db, "s", IdempotencyKey(None), b"{}", counting(&runs)).await;
    idempotent(&db, "s", IdempotencyKey(None), b"{}", counting(&runs)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

vigor_common::sql_conformance!(None;
    a_repeat_replays_the_first_response,
    keys_are_scoped_by_caller,
    a_key_reused_for_another_request_is_refused,
    a_repeat_during_the_first_gets_409,
    a_server_error_releases_the_key,
    client_errors_are_replayed_too,
    without_a_key_every_request_runs,
);
