//! The auth service's domain: types that can only hold valid values, and the rules
//! of OAuth 2.0 that need no I/O (scopes, redirect URI matching, PKCE, secrets).
//!
//! Requests are parsed into these types at the edge (`http/`), so the rest of the
//! service never re-checks an email, a password policy or a scope string.

pub mod client;
pub mod email;
pub mod password;
pub mod pkce;
pub mod scope;
pub mod secret;

pub use client::{Client, ClientKind, GrantType};
pub use email::Email;
pub use password::{DisplayName, Password};
pub use scope::Scope;
