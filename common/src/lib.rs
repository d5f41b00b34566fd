//! Shared plumbing for every Vigor component.
//!
//! Everything that two crates would otherwise copy lives here, and nothing else:
//! configuration ([`config`]), RFC 9457 errors ([`problem`]), 64-bit time-ordered ids
//! ([`id`]), the REST conventions every service follows ([`api`]), storage wiring
//! ([`db`]), hex digests ([`digest`]), the service-to-service [`bus`] and the contracts of its [`events`], the live-push [`broker`] and the
//! services' handle on it ([`live`]), telemetry
//! ([`telemetry`]) and, behind the `testkit` feature, the helpers the conformance
//! suites use to get throwaway databases and Redis instances.
//!
//! Services depend on the traits here, never on a concrete backend: `vigor serve`
//! wires the implementations from configuration (see `ARCHITECTURE.md`).

pub mod access;
pub mod api;
pub mod auth;
pub mod broker;
pub mod bus;
pub mod client_address;
pub mod config;
pub mod db;
pub mod db_replica;
pub mod digest;
pub mod events;
pub mod id;
pub mod idempotency;
pub mod live;
pub mod problem;
pub mod ratelimit;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use id::{Id, IdGenerator};
pub use problem::{Problem, ProblemResult};
