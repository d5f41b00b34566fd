//! The HTTP side: `GET /v1/ws` upgrades to a WebSocket session.
//!
//! Browsers cannot set `Authorization` on a WebSocket, so besides the `auth`
//! frame a client may offer the subprotocols `vigor.v1, bearer.<JWT>`; the server
//! answers with `vigor.v1` (never echoing the token). A client that offers
//! subprotocols must offer `vigor.v1`: a browser fails a connection whose answer
//! names none of the protocols it offered.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use vigor_common::Problem;

use crate::hub::Hub;
use crate::protocol::{BEARER_PREFIX, SUBPROTOCOL};
use crate::session;

/// The hub's routes: `GET /v1/ws`.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new().route("/v1/ws", get(upgrade)).with_state(hub)
}

async fn upgrade(State(hub): State<Arc<Hub>>, ws: WebSocketUpgrade) -> Response {
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
    let config = hub.config();
    ws.protocols([SUBPROTOCOL])
        .max_message_size(config.max_frame_bytes)
        .max_frame_size(config.max_frame_bytes)
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| session::run(hub, socket, bearer))
}
