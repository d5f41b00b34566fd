//! The HTTP side: `GET /v1/ws` upgrades to a WebSocket session, and
//! `POST /v1/hub/publish` is the server API through which a backend (a service in
//! another process, a partner's system, the load generator) pushes an event to a
//! channel — like a client `publish`, but for confidential clients holding the
//! `hub.publish` scope, on any channel that keeps history. A publisher that may
//! retry sends an `Idempotency-Key`: the event is then kept at most once per key
//! (scoped to the client) and a retry answers the first `seq`, so a lost answer
//! or a 503 after the event was already sequenced never makes a duplicate.
//!
//! Browsers cannot set `Authorization` on a WebSocket, so besides the `auth`
//! frame a client may offer the subprotocols `vigor.v1, bearer.<JWT>`; the server
//! answers with `vigor.v1` (never echoing the token). A client that offers
//! subprotocols must offer `vigor.v1`: a browser fails a connection whose answer
//! names none of the protocols it offered.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use vigor_common::api::ApiJson;
use vigor_common::auth::ClientCaller;
use vigor_common::idempotency::{IdempotencyKey, IDEMPOTENT_REPLAYED};
use vigor_common::Problem;

use crate::channel::Channel;
use crate::hub::{PublishError, Published};
use vigor_common::digest::sha256_hex;

use crate::hub::Hub;
use crate::protocol::{BEARER_PREFIX, SUBPROTOCOL};
use crate::session;

/// The scope a client-credentials token needs for `POST /v1/hub/publish`.
pub const PUBLISH_SCOPE: &str = vigor_common::auth::scopes::HUB_PUBLISH;

/// The hub's routes: `GET /v1/ws` and `POST /v1/hub/publish`.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/v1/ws", get(upgrade))
        .route("/v1/hub/publish", post(publish))
        .with_state(hub)
}

/// The body of `POST /v1/hub/publish`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    /// The channel, e.g. `user:139611232583749632` (see hub/PROTOCOL.md).
    channel: String,
    /// The event name, e.g. `achievement.unlocked`.
    event: String,
    /// The event's data: a JSON object.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// The hub's HTTP routes, described for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(websocket, publish), components(schemas(PublishRequest)))]
struct HubDoc;

/// The hub's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <HubDoc as utoipa::OpenApi>::openapi()
}

/// Opens a WebSocket session (protocol `vigor.v1`, see hub/PROTOCOL.md): authenticate
/// with the first frame or the `vigor.v1, bearer.<JWT>` subprotocols, with a token
/// that has the `social:read` scope (`api` includes it).
#[utoipa::path(get, path = "/v1/ws", tag = "realtime", responses(
    (status = 101, description = "Switching to the WebSocket protocol `vigor.v1`"),
    (status = 400, description = "Not a WebSocket upgrade, or `vigor.v1` not offered", body = vigor_common::Problem, content_type = "application/problem+json"),
    (status = 503, description = "The node is restarting: connect again", body = vigor_common::Problem, content_type = "application/problem+json"),
))]
#[allow(dead_code)]
fn websocket() {}

/// Publishes an event to a channel's subscribers on every node (server API).
#[utoipa::path(post, path = "/v1/hub/publish", tag = "realtime", request_body = PublishRequest,
    security(("bearer" = ["hub.publish"])),
    responses(
        (status = 202, description = "Published; the body names the event's `seq`. A repeat with the same `Idempotency-Key` answers the first `seq` (with `Idempotent-Replayed: true`) and keeps no second event"),
        (status = 400, description = "A malformed `Idempotency-Key`", body = vigor_common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = vigor_common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a client token with the `hub.publish` scope", body = vigor_common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid channel, event or data, or an `Idempotency-Key` used before for another event", body = vigor_common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "History or broker unavailable: retry with the same `Idempotency-Key`", body = vigor_common::Problem, content_type = "application/problem+json"),
    ))]
async fn publish(
    State(hub): State<Arc<Hub>>,
    caller: ClientCaller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<PublishRequest>,
) -> Result<Response, Problem> {
    if !caller.has_scope(PUBLISH_SCOPE) {
        return Err(Problem::forbidden(format!(
            "publishing needs a client-credentials token with the `{PUBLISH_SCOPE}` scope"
        )));
    }
    let channel: Channel = request
        .channel
        .parse()
        .map_err(|e| Problem::invalid_field("channel", format!("{e}")))?;
    let published = match key.0 {
        None => hub
            .publish(&channel, &request.event, &request.data)
            .await
            .map(|seq| Published { seq, repeat: false }),
        // Keys are the client's own: two publishers never share one.
        Some(key) => {
            let scoped = sha256_hex(format!("{}\n{key}", caller.client_id).as_bytes());
            hub.publisher()
                .publish_once(&channel, &request.event, &request.data, &scoped)
                .await
        }
    };
    match published {
        Ok(published) => {
            let mut response = (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({
                    "channel": channel.name(),
                    "seq": published.seq.to_string(),
                })),
            )
                .into_response();
            if published.repeat {
                response
                    .headers_mut()
                    .insert(&IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        Err(PublishError::InvalidEvent(why)) => Err(Problem::invalid_field("event", why)),
        Err(PublishError::NotAnObject) => {
            Err(Problem::invalid_field("data", "must be a JSON object"))
        }
        Err(e @ PublishError::NoHistory(_)) => {
            Err(Problem::invalid_field("channel", e.to_string()))
        }
        Err(PublishError::KeyReused) => Err(Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
        )
        .with_detail("this Idempotency-Key was already used for another event on this channel")),
        Err(error) => {
            // The backend's words go to the log, not to the client.
            tracing::warn!(%error, channel = channel.name(), "a server publish failed");
            let detail = match error {
                PublishError::Broker { seq, .. } => format!(
                    "the event was kept as seq {seq} but not pushed live: retry with the same \
                     Idempotency-Key to push it without a duplicate"
                ),
                _ => "the event could not be published: retry with the same Idempotency-Key"
                    .to_owned(),
            };
            Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail(detail)
                .with_retry_after(1))
        }
    }
}

async fn upgrade(
    State(hub): State<Arc<Hub>>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if hub.is_shutting_down() {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("the server is restarting: connect again")
            .with_retry_after(1)
            .into_response();
    }
    let offered: Vec<String> = ws
        .requested_protocols()
        .filter_map(|p| p.to_str().ok())
        .map(|p| p.trim().to_owned())
        .collect();
    if !offered.is_empty() && !offered.iter().any(|p| p == SUBPROTOCOL) {
        return Problem::bad_request(format!("offer the `{SUBPROTOCOL}` subprotocol"))
            .into_response();
    }
    let bearer = offered
        .iter()
        .find_map(|p| p.strip_prefix(BEARER_PREFIX))
        .map(str::to_owned);
    // The gateway's request-id layer gave the upgrade one; the session's calls
    // to services carry it.
    let request_id = headers
        .get(&crate::services::X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let config = hub.config();
    ws.protocols([SUBPROTOCOL])
        .max_message_size(config.max_frame_bytes)
        .max_frame_size(config.max_frame_bytes)
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| session::run(hub, socket, bearer, request_id))
}
