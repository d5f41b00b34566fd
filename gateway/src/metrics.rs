//! HTTP metrics and the `/metrics` endpoint.
//!
//! [`track`] records every request under the route *pattern* that matched it
//! (`/v1/workouts/{id}`, never the concrete path) or `unmatched`, and under a method
//! from a fixed list, so a client cannot grow the number of series by inventing
//! paths or methods. [`describe`] registers the descriptions once per process and
//! makes the gauges that other parts update (open connections, open WebSockets)
//! appear at 0 before their first change, so dashboards and alerts see them from
//! the first scrape. Everything goes through the one recorder of
//! [`vigor_common::telemetry::metrics`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::Unit;
use vigor_common::telemetry;

/// Requests answered, by method, route and status.
pub const REQUESTS_TOTAL: &str = "vigor_http_requests_total";
/// Time to the response head, by method, route and status.
pub const REQUEST_DURATION: &str = "vigor_http_request_duration_seconds";
/// Open client connections (TCP, TLS or not).
pub const CONNECTIONS_OPEN: &str = "vigor_http_connections_open";
/// Open WebSocket sessions; the hub updates it.
pub const WEBSOCKETS_OPEN: &str = "vigor_websockets_open";
/// Always 1, labelled with the version and the target this process runs.
pub const BUILD_INFO: &str = "vigor_build_info";

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Installs the recorder, describes the metrics, and sets `vigor_build_info` for
/// `target` (the `--target` this process runs).
pub fn describe(target: &str) {
    telemetry::metrics();
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests answered, by method, route and status."
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from the request to its response head, by method, route and status."
    );
    metrics::describe_gauge!(CONNECTIONS_OPEN, Unit::Count, "Open client connections.");
    metrics::describe_gauge!(WEBSOCKETS_OPEN, Unit::Count, "Open WebSocket sessions.");
    metrics::describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels name the version and target."
    );
    metrics::describe_counter!(
        crate::ratelimit::REJECTED_TOTAL,
        Unit::Count,
        "Requests refused by the per-client rate limit."
    );
    metrics::describe_counter!(
        crate::ratelimit::ERRORS_TOTAL,
        Unit::Count,
        "Rate-limit checks that failed (the request was let through)."
    );
    metrics::describe_counter!(
        crate::server::ACCEPT_ERRORS_TOTAL,
        Unit::Count,
        "Failed accepts of new connections (e.g. out of file descriptors)."
    );
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "target" => target.to_owned()).set(1.0);
    // Adding 0 registers the gauges without overwriting a value already set.
    metrics::gauge!(CONNECTIONS_OPEN).increment(0.0);
    metrics::gauge!(WEBSOCKETS_OPEN).increment(0.0);
}

/// Middleware: counts the request and records its latency by method, route and status.
pub async fn track(request: Request, next: Next) -> Response {
    // Makes sure the recorder exists even if `describe` was not called (tests).
    telemetry::metrics();
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: every metric of this process in the Prometheus text format.
pub async fn render() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::metrics().render(),
    )
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
