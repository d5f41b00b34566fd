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
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

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

/// The document of the gateway's own routes.
pub fn gateway() -> OpenApi {
    <GatewayDoc as utoipa::OpenApi>::openapi()
}

/// The merged document: the gateway's routes and every service's, each operation
/// with the answers of the layers it passes through.
pub fn merged(services: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut doc = gateway();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for service in services {
        doc.merge(service);
    }
    document_layer_answers(&mut doc);
    doc
}

/// The component schemas that two of `docs` define differently under one name.
/// The merged document keeps one of them, so an operation of the other service
/// would point at the wrong type (two `Role`s: an account's and a community
/// member's); a service names such a type apart with `#[schema(as = …)]`.
pub fn schema_conflicts(docs: &[OpenApi]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<&str, (usize, serde_json::Value)> =
        std::collections::BTreeMap::new();
    let mut conflicts = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        for (name, schema) in doc.components.iter().flat_map(|c| &c.schemas) {
            let value = serde_json::to_value(schema).unwrap_or_default();
            match seen.get(name.as_str()) {
                Some((first, earlier)) if *earlier != value => conflicts.push(format!(
                    "{name}: documents {first} and {index} define it differently"
                )),
                Some(_) => {}
                None => {
                    seen.insert(name, (index, value));
                }
            }
        }
    }
    conflicts
}

/// Writes into every operation the answers that come from the layers and
/// extractors every route shares rather than from its handler, so that a client
/// generated from the document expects them (a handler's own description of the
/// same status wins):
/// - 429 from the rate limit, which counts every request;
/// - 401 and 403 on an operation that needs a token (none, or not verifying; a
///   scope it lacks), and 401 on a public one too, for a token sent that does not
///   verify ([`crate::auth::reject_invalid_tokens`]);
/// - on a request body: 400 when it does not parse, 413 when it is over the limit,
///   415 without its content type, and 422 when a JSON body parses but its fields
///   are wrong ([`vigor_common::api::ApiJson`]);
/// - 400 on a malformed `Idempotency-Key`, whose schema comes from its extractor;
/// - 422 on query parameters that do not fit ([`vigor_common::api::ApiQuery`]).
pub(crate) fn document_layer_answers(doc: &mut OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (path, item) in doc.paths.paths.iter_mut() {
        let reads_bearer = !crate::auth::TOKEN_BLIND
            .iter()
            .any(|prefix| path.starts_with(prefix));
        let shared_query = item
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Query);
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            let mut answers = vec![(
                "429",
                "Too many requests from this client; `Retry-After` says when to try again.",
            )];
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                answers.push((
                    "401",
                    "No access token, or one that does not verify (expired, revoked, forged).",
                ));
                answers.push((
                    "403",
                    "The token lacks the scope or role this operation needs.",
                ));
            } else if reads_bearer {
                answers.push((
                    "401",
                    "A bearer token was sent and does not verify (expired, revoked, forged): \
                     the edge refuses it on every route but the OAuth endpoints.",
                ));
            }
            if let Some(body) = &operation.request_body {
                answers.push(("400", "The body does not parse."));
                answers.push(("413", "The body is over the size limit."));
                answers.push((
                    "415",
                    "The body lacks the content type this operation reads.",
                ));
                if body.content.contains_key("application/json") {
                    answers.push(("422", "Invalid fields, named in `errors` or `detail`."));
                }
            }
            // `Idempotency-Key` is read by one extractor, which states its rule.
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Header
                    && parameter.name.eq_ignore_ascii_case("idempotency-key")
                {
                    parameter.schema = Some(vigor_common::idempotency::IdempotencyKey::schema());
                    answers.push(("400", "A malformed `Idempotency-Key`."));
                }
            }
            let query = shared_query
                || operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
            if query {
                answers.push(("422", "Invalid fields, named in `errors` or `detail`."));
            }
            for (status, description) in answers {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            }
        }
    }
}

/// A problem+json answer described by `description`.
fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(
                vigor_common::problem::PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
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
