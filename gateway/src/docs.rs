//! The OpenAPI 3.1 document and the interactive docs.
//!
//! The document is generated from the handlers (utoipa) by each service and merged
//! here with the gateway's own routes. Swagger UI is vendored (see
//! `assets/swagger-ui/SOURCE`) and embedded in the binary, so `/docs` works on a
//! machine with no internet access.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::OpenApi;

const BUNDLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigor API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: "/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
</script>
</body>
</html>
"##;

/// The gateway's own routes, described for the merged document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Vigor API",
        description = "The open social fitness platform: REST API of every Vigor service. Ids are 64-bit and travel as strings; lists answer `{\"items\":[…],\"next_cursor\":…}`; errors are RFC 9457 problem+json."
    ),
    paths(crate::docs::healthz, crate::docs::readyz, crate::docs::metrics),
    components(schemas(vigor_common::Problem, vigor_common::problem::FieldError))
)]
pub struct GatewayDoc;

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
#[allow(dead_code)]
fn healthz() {}

/// Readiness: every configured store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready; each check says ok"),
    (status = 503, description = "Not ready; the failing checks are named", body = vigor_common::Problem, content_type = "application/problem+json"),
))]
#[allow(dead_code)]
fn readyz() {}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics() {}

/// The merged document: the gateway's routes and every service's.
pub fn merged(services: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut doc = <GatewayDoc as utoipa::OpenApi>::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for service in services {
        doc.merge(service);
    }
    doc
}

/// `/v1/openapi.json` and `/docs`.
pub fn router(doc: OpenApi) -> Router {
    let json = std::sync::Arc::new(doc);
    Router::new()
        .route(
            "/v1/openapi.json",
            get(move || {
                let json = json.clone();
                async move { Json(json.as_ref().clone()) }
            }),
        )
        .route("/docs", get(|| async { Html(PAGE) }))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    BUNDLE,
                )
                    .into_response()
            }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    CSS,
                )
                    .into_response()
            }),
        )
}
