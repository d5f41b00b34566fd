//! Black-box tests of the users service over HTTP, with the auth service
//! running beside it (real sign-ups, real tokens, real events), on SQLite and
//! PostgreSQL.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

pub(crate) use vigor_common::on_both_backends;

mod access;
mod lifecycle;
mod profile;
mod scopes;
mod search;
