//! Black-box tests of the users service over HTTP, with the auth service
//! running beside it (real sign-ups, real tokens, real events), on SQLite and
//! PostgreSQL.

mod common;

pub(crate) use vigor_common::on_both_backends;

mod access;
mod lifecycle;
mod profile;
mod scopes;
mod search;
