//! Black-box tests of the hub through its WebSocket interface: a real
//! `tokio-tungstenite` client against the router served with `axum::serve`.

mod auth;
mod channels;
mod chat;
mod cluster;
mod limits;
mod realtime;
mod resume;
mod support;
