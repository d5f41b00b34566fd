//! `vigor-loadtest`: a lean, multi-threaded WebSocket load generator for Vigor's
//! hub and for a naive baseline server (`loadtest/peers/`), so that every figure
//! can be stated both absolutely and as a ratio to the baseline.
//!
//! Scenarios: [`fanout`] (`ws-fanout`: subscribers, publishers, delivery ratio and
//! latency) and [`connections`] (`ws-connections`: memory per idle connection).
//! The generator must not be the bottleneck, so: a multi-thread runtime, many
//! receiving connections per task ([`subscribers`]), each a lean client
//! WebSocket that handles messages in place ([`lean`]), no JSON parsing on the hot
//! path (the send-time [`stamp`] is found by a substring search), latency in
//! per-task HDR histograms merged at the end ([`stats`]), and the generator's own
//! CPU reported beside the server's ([`procfs`]). Against Vigor, messages are
//! published the way a backend pushes them — `POST /v1/hub/publish` with a
//! client-credentials token ([`accounts::client_credentials_token`]) over
//! keep-alive connections ([`publishers`]) — to channels every signed-in user
//! may subscribe to (`leaderboard:loadtest:{n}`).
//!
//! Loads only ever target loopback addresses ([`session::Endpoint::parse`]), and
//! every phase is bounded by a duration or a count.

pub mod accounts;
pub mod chat;
pub mod connections;
pub mod fanout;
pub mod lean;
pub mod procfs;
pub mod publishers;
pub mod session;
pub mod stamp;
pub mod stats;
pub mod subscribers;

use std::hash::{BuildHasher, Hasher};

/// A random tag for one run, carried in every stamp so that messages of other
/// runs on the same server are not counted.
pub fn run_tag() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish() as u32
}
