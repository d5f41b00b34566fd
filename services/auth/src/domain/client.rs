//! OAuth clients: who may ask for tokens, with which grants, scopes and redirect URIs.
//!
//! Redirect URIs match exactly, with one exception from RFC 8252 §7.3: a loopback
//! redirect (`http://127.0.0.1`, `http://[::1]`, `http://localhost`) matches any
//! port, because native apps and development servers listen on whatever port is
//! free. The built-in `vigor-web` client may additionally allow any loopback
//! callback at all (`any_loopback_redirect`), so a development web app works
//! without registering its URL.

use std::fmt;
use std::str::FromStr;

use url::Url;
use vigor_common::api::Timestamp;

/// The scope that makes a confidential client a resource server, allowed to
/// introspect tokens (RFC 7662 §4: introspection is for the protected resources
/// the authorization server trusts, not for any client).
pub const INTROSPECT_SCOPE: &str = vigor_common::auth::scopes::INTROSPECT;

/// The id of the built-in first-party web client.
pub const WEB_CLIENT_ID: &str = "vigor-web";

/// Whether a client can keep a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A browser or mobile app: no secret, PKCE instead.
    Public,
    /// A server: authenticates with its secret.
    Confidential,
}

/// The grants of RFC 6749 that Vigor implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code` (with PKCE).
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `password` (first-party clients only).
    Password,
    /// `client_credentials` (confidential clients only).
    ClientCredentials,
}

impl GrantType {
    /// Every grant.
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::Password,
        GrantType::ClientCredentials,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `grant_type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grant type {0:?}")]
pub struct UnknownGrantType(pub String);

impl FromStr for GrantType {
    type Err = UnknownGrantType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| UnknownGrantType(s.to_owned()))
    }
}

/// A registered (or built-in) OAuth client.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// The `client_id`.
    pub id: String,
    /// A name for people (shown on the login page).
    pub name: String,
    /// Public or confidential.
    pub kind: ClientKind,
    /// SHA-256 of the secret (confidential clients).
    pub secret_hash: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Whether Vigor itself makes it (may use the password grant).
    pub first_party: bool,
    /// Whether any loopback callback is allowed (the built-in web client only).
    pub any_loopback_redirect: bool,
    /// When it was registered.
    pub created_at: Timestamp,
}

impl Client {
    /// Whether the client is a resource server that may introspect tokens: a
    /// confidential client registered with the [`INTROSPECT_SCOPE`] scope.
    pub fn may_introspect(&self) -> bool {
        self.kind == ClientKind::Confidential && self.scopes.iter().any(|s| s == INTROSPECT_SCOPE)
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
            && match grant {
                GrantType::Password => self.first_party,
                GrantType::ClientCredentials => self.kind == ClientKind::Confidential,
                _ => true,
            }
    }

    /// Whether `uri` is one of the client's redirect URIs.
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return true;
        }
        let Some(requested) = loopback(uri) else {
            return false;
        };
        if self.any_loopback_redirect {
            return true;
        }
        self.redirect_uris
            .iter()
            .filter_map(|r| loopback(r))
            .any(|registered| registered == requested)
    }
}

/// A loopback `http` URL with its port removed, for port-agnostic comparison.
fn loopback(uri: &str) -> Option<Url> {
    let mut url = Url::parse(uri).ok()?;
    if url.scheme() != "http" || url.fragment().is_some() {
        return None;
    }
    let is_loopback = match url.host()? {
        url::Host::Domain(d) => d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if !is_loopback {
        return None;
    }
    url.set_port(None).ok()?;
    Some(url)
}

/// Why client registration data is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidClient {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidClient {
    InvalidClient {
        field,
        message: message.into(),
    }
}

/// Checks a client id: 1–64 of `[A-Za-z0-9._-]`, not all digits (user ids are
/// all digits, and a token's `sub` must tell a user from a client).
pub fn check_client_id(id: &str) -> Result<(), InvalidClient> {
    if id.is_empty() || id.len() > 64 {
        return Err(invalid("id", "must be 1 to 64 characters long"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid(
            "id",
            "may only contain letters, digits, '.', '_' and '-'",
        ));
    }
    if id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "id",
            "must contain a letter or punctuation, not only digits",
        ));
    }
    Ok(())
}

/// Checks a redirect URI for registration: absolute, no fragment, and `https`,
/// loopback `http`, or a private-use scheme of a native app (`com.example.app:/cb`).
pub fn check_redirect_uri(uri: &str) -> Result<(), InvalidClient> {
    let url = Url::parse(uri).map_err(|e| {
        invalid(
            "redirect_uris",
            format!("{uri:?} is not an absolute URI: {e}"),
        )
    })?;
    if url.fragment().is_some() {
        return Err(invalid(
            "redirect_uris",
            format!("{uri:?} must not have a fragment"),
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback(uri).is_some() => Ok(()),
        "http" => Err(invalid(
            "redirect_uris",
            format!("{uri:?}: plain http is only allowed for loopback addresses"),
        )),
        "javascript" | "data" | "file" | "vbscript" => Err(invalid(
            "redirect_uris",
            format!("{uri:?} has a forbidden scheme"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str], any_loopback: bool) -> Client {
        Client {
            id: "app".into(),
            name: "App".into(),
            kind: ClientKind::Public,
            secret_hash: None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::Password],
            scopes: vec!["api".into()],
            first_party: false,
            any_loopback_redirect: any_loopback,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        let c = client(&["https://app.example/cb", "http://127.0.0.1/cb"], false);
        assert!(c.redirect_uri_allowed("https://app.example/cb"));
        assert!(!c.redirect_uri_allowed("https://app.example/cb?x=1"));
        assert!(!c.redirect_uri_allowed("https://app.example/cb/"));
        assert!(!c.redirect_uri_allowed("https://evil.example/cb"));
        assert!(c.redirect_uri_allowed("http://127.0.0.1:5173/cb"));
        assert!(!c.redirect_uri_allowed("http://127.0.0.1:5173/other"));
        assert!(!c.redirect_uri_allowed("http://localhost:5173/cb"));
    }

    #[test]
    fn the_web_client_allows_any_loopback_callback_but_nothing_else() {
        let c = client(&[], true);
        assert!(c.redirect_uri_allowed("http://localhost:5173/callback"));
        assert!(c.redirect_uri_allowed("http://127.0.0.1:9999/x"));
        assert!(c.redirect_uri_allowed("http://[::1]:80/"));
        assert!(!c.redirect_uri_allowed("https://localhost.evil.example/cb"));
        assert!(!c.redirect_uri_allowed("http://127.0.0.1.evil.example/cb"));
        assert!(!c.redirect_uri_allowed("http://localhost:5173/cb#frag"));
    }

    #[test]
    fn password_grant_needs_first_party() {
        let mut c = client(&[], false);
        assert!(!c.allows(GrantType::Password));
        c.first_party = true;
        assert!(c.allows(GrantType::Password));
        assert!(!c.allows(GrantType::ClientCredentials));
    }

    #[test]
    fn client_ids_and_redirect_uris_are_checked() {
        assert!(check_client_id("reporting-job").is_ok());
        assert!(check_client_id("12345").is_err());
        assert!(check_client_id("a b").is_err());
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        assert!(check_redirect_uri("com.example.app:/oauth").is_ok());
        assert!(check_redirect_uri("http://app.example/cb").is_err());
        assert!(check_redirect_uri("https://app.example/cb#x").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("/relative").is_err());
    }
}
