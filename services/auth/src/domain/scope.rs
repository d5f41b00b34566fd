//! OAuth scopes (RFC 6749 §3.3): a set of tokens, written space-separated.

use std::fmt;

/// A set of scope tokens, in the order first given, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

/// Why a scope is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A token with characters RFC 6749 does not allow.
    #[error("scope token {0:?} has characters a scope cannot have")]
    Malformed(String),
    /// A token the client may not ask for.
    #[error("scope {0:?} is not allowed for this client")]
    NotAllowed(String),
}

fn valid_token(token: &str) -> bool {
    // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl Scope {
    /// Parses a space-separated scope string.
    pub fn parse(raw: &str) -> Result<Scope, ScopeError> {
        let mut tokens: Vec<String> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(token) {
                return Err(ScopeError::Malformed(token.to_owned()));
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Scope(tokens))
    }

    /// A scope from tokens known to be valid (stored or configured).
    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Scope {
        let mut scope = Scope::default();
        for token in tokens {
            let token = token.into();
            if valid_token(&token) && !scope.0.contains(&token) {
                scope.0.push(token);
            }
        }
        scope
    }

    /// What a client gets: the requested scope when every token is allowed, or
    /// everything allowed when nothing was requested.
    pub fn grant(requested: Option<&str>, allowed: &[String]) -> Result<Scope, ScopeError> {
        let requested = match requested {
            Some(raw) if !raw.trim().is_empty() => Scope::parse(raw)?,
            _ => return Ok(Scope::from_tokens(allowed.iter().cloned())),
        };
        if let Some(bad) = requested.0.iter().find(|t| !allowed.contains(t)) {
            return Err(ScopeError::NotAllowed(bad.clone()));
        }
        Ok(requested)
    }

    /// A narrower scope for a refresh: `requested` must be within `self`.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Scope, ScopeError> {
        Scope::grant(requested, &self.0)
    }

    /// The tokens.
    pub fn tokens(&self) -> &[String] {
        &self.0
    }

    /// Whether the scope holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["api".into(), "offline_access".into(), "users:read".into()]
    }

    #[test]
    fn nothing_requested_grants_everything_allowed() {
        assert_eq!(
            Scope::grant(None, &allowed()).unwrap().to_string(),
            "api offline_access users:read"
        );
        assert_eq!(
            Scope::grant(Some("  "), &allowed()).unwrap().tokens().len(),
            3
        );
    }

    #[test]
    fn requests_are_deduplicated_and_checked() {
        let scope = Scope::grant(Some("api  api users:read"), &allowed()).unwrap();
        assert_eq!(scope.to_string(), "api users:read");
        assert_eq!(
            Scope::grant(Some("api admin"), &allowed()),
            Err(ScopeError::NotAllowed("admin".into()))
        );
        assert!(matches!(
            Scope::parse("a\"b"),
            Err(ScopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_refresh_can_only_narrow() {
        let scope = Scope::parse("api users:read").unwrap();
        assert_eq!(scope.narrow(Some("api")).unwrap().to_string(), "api");
        assert!(scope.narrow(Some("offline_access")).is_err());
        assert_eq!(scope.narrow(None).unwrap(), scope);
    }
}
