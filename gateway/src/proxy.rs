//! The proxy to services running as their own targets (`--target gateway`).
//!
//! Bodies stream both ways: a large upload or a long response never sits whole in
//! the gateway's memory. Hop-by-hop headers are dropped (RFC 9110 §7.6.1), the
//! client address is appended to `X-Forwarded-For`, the address the gateway
//! decided for the client is passed in `X-Vigor-Client-Address` (always
//! overwritten: see `vigor_common::client_address`), and the request id travels on.
//! A service that cannot be reached answers 502 and one that does not answer in
//! time 504, both as problem+json naming the service — never a hang.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::TryStreamExt;
use vigor_common::client_address::{self, ClientAddress};
use vigor_common::config::{ProxyConfig, ServiceName};
use vigor_common::Problem;

/// The HTTP client the gateway proxies with (pooled, shared by every upstream).
pub fn client(config: &ProxyConfig) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

struct Upstream {
    service: ServiceName,
    base: String,
    client: reqwest::Client,
    timeout: Duration,
    trust_forwarded_for: bool,
}

/// Routes proxying `prefixes` (and everything below them) to `base_url`.
pub fn router(
    service: ServiceName,
    prefixes: &[&str],
    base_url: &str,
    client: reqwest::Client,
    timeout: Duration,
    trust_forwarded_for: bool,
) -> anyhow::Result<Router> {
    let parsed = url::Url::parse(base_url)?;
    anyhow::ensure!(
        parsed.scheme() == "http" || parsed.scheme() == "https",
        "{service} URL must be http(s): {base_url}"
    );
    let upstream = Arc::new(Upstream {
        service,
        base: base_url.trim_end_matches('/').to_owned(),
        client,
        timeout,
        trust_forwarded_for,
    });
    let mut router = Router::new();
    for prefix in prefixes {
        router = router
            .route(prefix, any(forward))
            .route(&format!("{prefix}/{{*rest}}"), any(forward));
    }
    Ok(router.with_state(upstream))
}

/// Headers that describe one hop and must not be forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let client_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let url = format!("{}{}", upstream.base, path_and_query);

    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let host = headers.remove(header::HOST);
    if let Some(addr) = client_addr {
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(previous) if upstream.trust_forwarded_for => format!("{previous}, {addr}"),
            _ => addr.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", value);
        }
    }
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
    // The address this gateway decided, always overwriting what the client sent.
    headers.remove(&client_address::HEADER);
    let decided = parts
        .extensions
        .get::<ClientAddress>()
        .and_then(|address| address.0);
    if let Some(value) = decided.and_then(|ip| HeaderValue::from_str(&ip.to_string()).ok()) {
        headers.insert(&client_address::HEADER, value);
    }

    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let outgoing = upstream
        .client
        .request(parts.method, &url)
        .headers(headers)
        .body(body);

    let response = match tokio::time::timeout(upstream.timeout, outgoing.send()).await {
        Err(_) => {
            return unavailable(
                &upstream,
                StatusCode::GATEWAY_TIMEOUT,
                "did not answer in time",
            )
        }
        Ok(Err(e)) if e.is_timeout() => {
            return unavailable(
                &upstream,
                StatusCode::GATEWAY_TIMEOUT,
                "did not answer in time",
            )
        }
        Ok(Err(e)) => {
            tracing::warn!(service = %upstream.service, error = %e, "proxy request failed");
            return unavailable(&upstream, StatusCode::BAD_GATEWAY, "cannot be reached");
        }
        Ok(Ok(response)) => response,
    };

    let status = response.status();
    let mut headers = response.headers().clone();
    strip_hop_by_hop(&mut headers);
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    let mut out = Response::new(Body::from_stream(stream));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

fn unavailable(upstream: &Upstream, status: StatusCode, what: &str) -> Response {
    let slug = if status == StatusCode::GATEWAY_TIMEOUT {
        "upstream-timeout"
    } else {
        "upstream-unavailable"
    };
    Problem::typed(status, slug, "Service unavailable")
        .with_detail(format!("the {} service {what}", upstream.service))
        .with_extension("service", upstream.service.as_str())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }
}
