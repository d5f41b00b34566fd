//! Idempotency keys for creating POSTs.
//!
//! A client that may retry a POST (a flaky mobile network, a timeout) sends an
//! `Idempotency-Key` header; a repeat with the same key gets the first response again
//! instead of creating a second thing. The handler wraps its work in [`idempotent`]:
//!
//! - The first request claims the key (a row with no response yet), runs, and stores
//!   its response. A 5xx is not stored: the key is released so a retry can succeed.
//! - A repeat with the same request replays the stored status and body, with
//!   `Idempotent-Replayed: true`.
//! - A repeat while the first still runs gets 409; a repeat with a different body
//!   gets 422 (the key was reused for another request).
//! - Keys are scoped by the caller (a user id, or the client for anonymous routes) and
//!   the route, so one caller can never see another's response. They expire after
//!   [`RETENTION`]; a claim whose request died is taken over after [`STALE_CLAIM`].
//!
//! The scope must be an *authenticated* identity: the handler checks the caller
//! first and calls [`idempotent`] after, never the other way round.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::db::Database;
use crate::problem::Problem;

/// The request header.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response.
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a stored response is replayed.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// A claim without a response older than this belongs to a request that died.
pub const STALE_CLAIM: Duration = Duration::from_secs(60);

/// The `Idempotency-Key` of a request, when it has one (1–255 visible ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

impl IdempotencyKey {
    /// Whether `key` is a key this extractor accepts: 1 to [`MAX_KEY_LEN`] visible
    /// ASCII characters.
    pub fn is_valid(key: &str) -> bool {
        (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }

    /// The header's schema in the OpenAPI document, stating the same rule as
    /// [`IdempotencyKey::is_valid`].
    pub fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_KEY_LEN))
            .pattern(Some(format!("^[\\x21-\\x7e]{{1,{MAX_KEY_LEN}}}$")))
            .into()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(&IDEMPOTENCY_KEY) else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str() {
            Ok(key) if IdempotencyKey::is_valid(key) => Ok(IdempotencyKey(Some(key.to_owned()))),
            _ => Err(Problem::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// A response as stored for replay.
struct Stored {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

enum Claim {
    /// This request owns the key now.
    Claimed,
    /// A finished request with the same key and request.
    Replay(Stored),
    /// The same key with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Runs `f` at most once per (`scope`, key): see the module documentation.
/// `fingerprint` identifies the request (e.g. its JSON body); without a key, `f`
/// simply runs.
pub async fn idempotent<F, Fut, R>(
    db: &Database,
    scope: &str,
    key: IdempotencyKey,
    fingerprint: &[u8],
    f: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = R>,
    R: IntoResponse,
{
    let Some(key) = key.0 else {
        return f().await.into_response();
    };
    let hash = crate::digest::sha256_hex(fingerprint);
    match claim(db, scope, &key, &hash).await {
        Err(e) => return Problem::internal(e).into_response(),
        Ok(Claim::Replay(stored)) => return replay(stored),
        Ok(Claim::Mismatch) => {
            return Problem::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            )
            .with_detail("this Idempotency-Key was already used for a different request")
            .into_response()
        }
        Ok(Claim::InProgress) => {
            return Problem::typed(
                StatusCode::CONFLICT,
                "idempotency-key-in-progress",
                "Request in progress",
            )
            .with_detail(
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .with_retry_after(1)
            .into_response()
        }
        Ok(Claim::Claimed) => {}
    }

    let response = f().await.into_response();
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = release(db, scope, &key).await;
            return Problem::internal(anyhow::anyhow!("reading the response to store it: {e}"))
                .into_response();
        }
    };
    let outcome = if parts.status.is_server_error() {
        release(db, scope, &key).await
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        store(
            db,
            scope,
            &key,
            parts.status.as_u16(),
            content_type.as_deref(),
            &body,
        )
        .await
    };
    if let Err(e) = outcome {
        tracing::error!(error = format!("{e:#}"), "cannot record idempotency key");
    }
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn replay(stored: Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, Bytes::from(stored.body)).into_response();
    if let Some(ct) = stored
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response.headers_mut().insert(
        IDEMPOTENT_REPLAYED.clone(),
        HeaderValue::from_static("true"),
    );
    response
}

type Row = (
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    chrono::DateTime<Utc>,
);

async fn claim(db: &Database, scope: &str, key: &str, hash: &str) -> anyhow::Result<Claim> {
    let now = Utc::now();
    let expired = now - chrono::Duration::from_std(RETENTION)?;
    let stale = now - chrono::Duration::from_std(STALE_CLAIM)?;
    // Insert-or-nothing, then read back: whoever inserted owns the key.
    let inserted = match db {
        Database::Sqlite(pool) => sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(hash)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected(),
        Database::Postgres(pool) => sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(hash)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    if inserted == 1 {
        return Ok(Claim::Claimed);
    }
    let row: Option<Row> = match db {
        Database::Sqlite(pool) => sqlx::query_as(
            "SELECT request_hash, status, content_type, body, created_at FROM idempotency_keys WHERE scope = ? AND key = ?",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await?,
        Database::Postgres(pool) => sqlx::query_as(
            "SELECT request_hash, status, content_type, body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await?,
    };
    let Some((stored_hash, status, content_type, body, created_at)) = row else {
        // Deleted between our insert and read (a 5xx released it): try once more.
        return Box::pin(claim(db, scope, key, hash)).await;
    };
    let outdated = created_at < expired || (status.is_none() && created_at < stale);
    if outdated {
        // Take over: an expired response or a claim whose request died.
        let taken = match db {
            Database::Sqlite(pool) => sqlx::query(
                "UPDATE idempotency_keys SET request_hash = ?, status = NULL, content_type = NULL, body = NULL, created_at = ? \
                 WHERE scope = ? AND key = ? AND created_at = ?",
            )
            .bind(hash)
            .bind(now)
            .bind(scope)
            .bind(key)
            .bind(created_at)
            .execute(pool)
            .await?
            .rows_affected(),
            Database::Postgres(pool) => sqlx::query(
                "UPDATE idempotency_keys SET request_hash = $1, status = NULL, content_type = NULL, body = NULL, created_at = $2 \
                 WHERE scope = $3 AND key = $4 AND created_at = $5",
            )
            .bind(hash)
            .bind(now)
            .bind(scope)
            .bind(key)
            .bind(created_at)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        return Ok(if taken == 1 {
            Claim::Claimed
        } else {
            Claim::InProgress
        });
    }
    if stored_hash != hash {
        return Ok(Claim::Mismatch);
    }
    Ok(match status {
        None => Claim::InProgress,
        Some(status) => Claim::Replay(Stored {
            status: u16::try_from(status).unwrap_or(200),
            content_type,
            body: body.unwrap_or_default(),
        }),
    })
}

async fn store(
    db: &Database,
    scope: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> anyhow::Result<()> {
    match db {
        Database::Sqlite(pool) => {
            sqlx::query("UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE scope = ? AND key = ?")
                .bind(i32::from(status))
                .bind(content_type)
                .bind(body)
                .bind(scope)
                .bind(key)
                .execute(pool)
                .await?;
        }
        Database::Postgres(pool) => {
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3 WHERE scope = $4 AND key = $5",
            )
            .bind(i32::from(status))
            .bind(content_type)
            .bind(body)
            .bind(scope)
            .bind(key)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

async fn release(db: &Database, scope: &str, key: &str) -> anyhow::Result<()> {
    match db {
        Database::Sqlite(pool) => {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?")
                .bind(scope)
                .bind(key)
                .execute(pool)
                .await?;
        }
        Database::Postgres(pool) => {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Deletes stored responses older than [`RETENTION`]; services call it periodically.
pub async fn purge_expired(db: &Database) -> anyhow::Result<u64> {
    let cutoff = Utc::now() - chrono::Duration::from_std(RETENTION)?;
    Ok(match db {
        Database::Sqlite(pool) => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected(),
        Database::Postgres(pool) => {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        }
    })
}
