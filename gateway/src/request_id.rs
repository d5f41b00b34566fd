//! Request ids: every request has one, every log line of it names it, every
//! response returns it.
//!
//! A client (or the load balancer) may send `x-request-id`; a well-formed one
//! (1–128 visible ASCII characters) is kept so that a request can be followed across
//! the gateway and the services it is proxied to. Otherwise a new one is made.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tracing::Instrument;

/// The header carrying the id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Middleware: ensures the id, runs the request in a span that carries it, and
/// returns it on the response.
pub async fn propagate(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_well_formed(v))
        .map(str::to_owned)
        .unwrap_or_else(generate);
    let value = HeaderValue::from_str(&id).expect("ids are visible ASCII");
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    request.extensions_mut().insert(RequestId(id.clone()));

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(request).await;
        let status = response.status();
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request done"
            );
        }
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
        response
    }
    .instrument(span)
    .await
}

fn is_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

fn generate() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    vigor_common::digest::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_ascii_ids_are_kept() {
        assert!(is_well_formed("abc-123_XYZ"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("has space"));
        assert!(!is_well_formed(&"x".repeat(129)));
        assert_eq!(generate().len(), 32);
        assert_ne!(generate(), generate());
    }
}
