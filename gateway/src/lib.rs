//! The Vigor gateway: the HTTP front of every target.
//!
//! [`build`] assembles one `axum::Router` from [`Mount`]s — a service's router
//! mounted in-process (all-in-one, or the service's own target) or a proxy to the
//! service's URL (`--target gateway`) — and wraps it in the layers every response
//! passes through, outermost first:
//!
//! 1. request id ([`request_id`]): accepted or generated, returned, in every log line;
//! 2. problem+json normalisation ([`problems`]): any error answer that is not JSON
//!    becomes RFC 9457 problem+json (axum's 405, the body limit's 413, …);
//! 3. metrics ([`metrics`]) per route and status;
//! 4. the client's address, decided once ([`vigor_common::client_address`]);
//!    CORS and the per-client rate limit ([`ratelimit`]), on the edge only;
//! 5. the token verifier in every request's extensions ([`auth::extension`]), for
//!    the layer below and the handlers' `Caller`;
//! 6. the refusal of invalid bearer tokens ([`auth`]), on the edge only;
//! 7. the request timeout (504) and body limit (413).
//!
//! `/healthz`, `/readyz`, `/metrics`, `/v1/openapi.json` and `/docs` are served by
//! every target; the edge also serves the web app at `/` ([`web`]) and the
//! aggregated `GET /v1/dashboard` ([`dashboard`]). Serving (TLS, HTTP/2, graceful shutdown) is in [`server`].

pub mod auth;
pub mod dashboard;
pub mod docs;
pub mod health;
pub mod metrics;
pub mod problems;
pub mod proxy;
pub mod ratelimit;
pub mod request_id;
pub mod server;
pub mod tls;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::routing::get;
use axum::{middleware, BoxError, Router};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use vigor_common::client_address::AddressPolicy;
use vigor_common::config::{Config, ServiceName};
use vigor_common::service::ReadinessCheck;
use vigor_common::Problem;

/// How a service is reached from this process.
pub enum Mount {
    /// Its router runs in this process.
    Local(Router),
    /// It runs elsewhere: proxy its prefixes to `url`.
    Proxy {
        /// The service.
        service: ServiceName,
        /// The URL path prefixes it owns.
        prefixes: &'static [&'static str],
        /// Its base URL.
        url: String,
    },
}

/// Everything [`build`] needs.
pub struct GatewayParts {
    /// The configuration of this process.
    pub config: Arc<Config>,
    /// The services this process serves or proxies.
    pub mounts: Vec<Mount>,
    /// Readiness checks for `/readyz`, by name.
    pub checks: Vec<(String, ReadinessCheck)>,
    /// The merged OpenAPI document.
    pub openapi: utoipa::openapi::OpenApi,
    /// Per-client rate limiter; `None` disables rate limiting (service targets).
    pub rate_limiter: Option<Arc<dyn ratelimit::RateLimiter>>,
    /// Whether this process faces clients (CORS applies, invalid tokens are refused
    /// here); false for service targets.
    pub edge: bool,
    /// Verifies access tokens for every handler.
    pub verifier: Arc<vigor_common::auth::Verifier>,
    /// Paths that take file uploads (every service's `ServiceSpec::uploads`):
    /// their bodies may reach `http.upload_limit_bytes`.
    pub uploads: Vec<&'static str>,
}

/// The gateway's router, every layer applied.
pub fn build(parts: GatewayParts) -> anyhow::Result<Router> {
    let config = parts.config;
    let mut app = Router::new();
    let proxy_client = proxy::client(&config.proxy)?;
    for mount in parts.mounts {
        app = match mount {
            Mount::Local(router) => app.merge(router),
            Mount::Proxy {
                service,
                prefixes,
                url,
            } => app.merge(proxy::router(
                service,
                prefixes,
                &url,
                proxy_client.clone(),
                Duration::from_secs(config.proxy.timeout_secs),
                config.http.trust_forwarded_for,
            )?),
        };
    }

    // The edge answers the web app's Today page from the services' routes, and
    // serves the app itself at `/`.
    let mut openapi = parts.openapi;
    let app = if parts.edge {
        openapi.merge(dashboard::openapi());
        docs::document_layer_answers(&mut openapi);
        let routes = app.clone();
        let web = Arc::new(web::WebApp::new(config.http.web_dir.clone()));
        if !web.dir().join("index.html").is_file() {
            tracing::info!(
                dir = %web.dir().display(),
                "no built web app there (http.web_dir): `/` answers 404; build it with `npm run build` in web/"
            );
        }
        app.merge(dashboard::router(routes))
            .fallback(move |request: axum::extract::Request| {
                let web = web.clone();
                async move { web.respond(request).await }
            })
    } else {
        app.fallback(problems::not_found)
    };
    let app = app
        .merge(docs::router(openapi))
        .merge(health::router(parts.checks))
        .route("/metrics", get(metrics::render))
        .method_not_allowed_fallback(problems::method_not_allowed);

    let timeout = Duration::from_secs(config.http.request_timeout_secs);
    let limits = Arc::new(BodyLimits {
        default: usize::try_from(config.http.body_limit_bytes).unwrap_or(usize::MAX),
        upload: usize::try_from(config.http.upload_limit_bytes).unwrap_or(usize::MAX),
        uploads: parts.uploads,
    });
    let app = app.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(timeout_problem))
            .timeout(timeout)
            .layer(DefaultBodyLimit::max(limits.default))
            .layer(middleware::from_fn_with_state(limits, limit_body)),
    );
    let app = if parts.edge {
        app.layer(middleware::from_fn(auth::reject_invalid_tokens))
    } else {
        app
    };
    let app = app.layer(auth::extension(parts.verifier));

    let app = match parts.rate_limiter {
        Some(limiter) => app.layer(ratelimit::layer(limiter)),
        None => app,
    };
    let app = if parts.edge {
        match cors(&config.http.cors_origins) {
            Some(cors) => app.layer(cors),
            None => app,
        }
    } else {
        app
    };
    // The client's address is decided once, before anything counts it.
    let policy = AddressPolicy::from_config(&config, parts.edge);
    let app = app.layer(middleware::from_fn_with_state(
        policy,
        decide_client_address,
    ));
    Ok(request_id::apply(
        app.layer(middleware::from_fn(metrics::track))
            .layer(middleware::from_fn(problems::normalize)),
    ))
}

/// Puts the client's address, by `policy`, in the request's extensions
/// ([`vigor_common::client_address`]); the proxy passes it on. [`build`] applies
/// it outside every layer that counts clients.
pub async fn decide_client_address(
    axum::extract::State(policy): axum::extract::State<AddressPolicy>,
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let address = policy.decide(request.headers(), peer);
    request.extensions_mut().insert(address);
    next.run(request).await
}

/// Request body limits: `http.body_limit_bytes`, or `http.upload_limit_bytes` on
/// the upload paths.
struct BodyLimits {
    default: usize,
    upload: usize,
    uploads: Vec<&'static str>,
}

/// Refuses a body declared larger than its path's limit with 413, and stops one
/// that grows past it while streaming (whether a handler here or a service
/// behind the proxy reads it).
async fn limit_body(
    axum::extract::State(limits): axum::extract::State<Arc<BodyLimits>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let limit = if limits.uploads.contains(&path) {
        limits.upload
    } else {
        limits.default
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Problem::typed(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        )
        .with_detail(format!("the body of {path} may be at most {limit} bytes"))
        .into_response();
    }
    let request =
        request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}

async fn timeout_problem(method: Method, uri: axum::http::Uri, error: BoxError) -> Problem {
    if error.is::<tower::timeout::error::Elapsed>() {
        Problem::typed(StatusCode::GATEWAY_TIMEOUT, "timeout", "Request timed out").with_detail(
            format!(
                "{method} {} took longer than the configured limit",
                uri.path()
            ),
        )
    } else {
        Problem::internal(anyhow::anyhow!("unhandled middleware error: {error}"))
    }
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
                header::LOCATION,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}
