//! Request ids: every request has one, every log line of it names it, every
//! response returns it.
//!
//! A client (or the load balancer) may send `x-request-id`; a well-formed one
//! (1–128 visible ASCII characters) is kept so that a request can be followed across
//! the gateway and the services it is proxied to. Otherwise a new one is made.
//!
//! The work is `tower-http`'s: [`SetRequestIdLayer`] makes the id,
//! [`PropagateRequestIdLayer`] returns it, and a [`TraceLayer`] runs the request in
//! a span that carries it. The one thing those layers do not do — refuse a
//! malformed id sent by the client, which would otherwise reach every log line —
//! is [`drop_malformed`], in front of them.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Response};
use axum::Router;
use rand::RngCore;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header carrying the id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives `app` request ids and a span per request (the outermost layers).
pub fn apply(app: Router) -> Router {
    app.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::map_request(drop_malformed))
            .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), RandomId))
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span)
                    .on_request(())
                    .on_response(log_response)
                    .on_failure(()),
            ),
    )
}

/// Removes an `x-request-id` that is not 1–128 visible ASCII characters, so that
/// a new one is made in its place.
async fn drop_malformed(mut request: Request) -> Request {
    let malformed = request
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|v| !v.to_str().is_ok_and(is_well_formed));
    if malformed {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// The span of one request: its id, method and path.
fn span<B>(request: &axum::http::Request<B>) -> Span {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// One line per response: a warning for a server error, debug otherwise.
fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    let status = response.status();
    let elapsed_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
    } else {
        tracing::debug!(status = status.as_u16(), elapsed_ms, "request done");
    }
}

fn is_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// New ids: 128 random bits in hex.
#[derive(Debug, Clone, Copy)]
struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&generate()).ok().map(RequestId::new)
    }
}

fn generate() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    vigor_common::digest::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

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

    /// The id the handler saw and the one the response returned.
    async fn ids(sent: Option<&str>) -> (String, String) {
        let app = apply(Router::new().route(
            "/",
            get(|request: Request| async move {
                request.headers()[&X_REQUEST_ID]
                    .to_str()
                    .unwrap()
                    .to_owned()
            }),
        ));
        let mut request = axum::http::Request::builder().uri("/");
        if let Some(id) = sent {
            request = request.header(&X_REQUEST_ID, id);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let returned = response.headers()[&X_REQUEST_ID]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (String::from_utf8(body.to_vec()).unwrap(), returned)
    }

    #[tokio::test]
    async fn a_good_id_is_kept_and_a_bad_one_replaced() {
        let (seen, returned) = ids(Some("trace-42")).await;
        assert_eq!((seen.as_str(), returned.as_str()), ("trace-42", "trace-42"));

        for bad in [None, Some("has space"), Some(&*"x".repeat(129))] {
            let (seen, returned) = ids(bad).await;
            assert_eq!(seen, returned, "{bad:?}");
            assert_eq!(seen.len(), 32, "{bad:?}: a new id");
            assert!(seen.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
