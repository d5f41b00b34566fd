//! Black-box tests of the hub through its WebSocket interface: a real
//! `tokio-tungstenite` client against the router served with `axum::serve`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod auth;
mod channels;
mod chat;
mod cluster;
mod limits;
mod realtime;
mod resume;
mod support;
