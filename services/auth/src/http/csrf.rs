//! The login form's anti-CSRF token: a double-submit cookie bound to the
//! authorization request.
//!
//! Without it, another site could make a visitor's browser post Vigor's login form
//! with the *attacker's* credentials (login CSRF): the visitor would then use the
//! client signed in as the attacker. A token that only signs the request's
//! parameters does not stop that — the attacker fetches the page and gets a valid
//! token for their own request — so the token is bound to the browser:
//!
//! - showing the page sets a cookie with a random nonce (`HttpOnly`,
//!   `SameSite=Strict`, scoped to the authorization endpoint; `Secure` when the
//!   issuer is `https`), reused while it is there so two open tabs both work;
//! - the form carries `csrf_token` = `{expiry}.{HMAC-SHA256(nonce, expiry and the
//!   request's client, redirect URI, scope, state and PKCE challenge)}`;
//! - a post is accepted only with the cookie, an unexpired token, and the same
//!   request: another site can neither read nor set the cookie, and a
//!   `SameSite=Strict` cookie is not even sent with a cross-site post.
//!
//! The nonce is the HMAC key, so nothing is stored and every node of the service
//! checks any token.

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use ring::hmac;

/// The cookie that holds the nonce.
pub const COOKIE: &str = "vigor_login";

/// The form field that holds the token.
pub const FIELD: &str = "csrf_token";

/// How long a shown login form may wait to be submitted, in seconds.
pub const FORM_TTL_SECS: i64 = 30 * 60;

/// The browser's nonce: from its cookie when it has a well-formed one.
pub fn nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| {
            URL_SAFE_NO_PAD
                .decode(value)
                .is_ok_and(|bytes| bytes.len() == 32)
        })
}

/// A fresh random nonce.
pub fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The `Set-Cookie` value that gives the browser `nonce`.
pub fn cookie(nonce: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={nonce}; Path=/v1/oauth/authorize; Max-Age={FORM_TTL_SECS}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&value).expect("a base64url nonce is a valid header value")
}

/// The token for a form with the request `fields`, keyed by `nonce`, valid for
/// [`FORM_TTL_SECS`].
pub fn token(nonce: &str, fields: &[&str]) -> String {
    let expires = Utc::now().timestamp() + FORM_TTL_SECS;
    format!("{expires}.{}", mac(nonce, expires, fields))
}

/// Whether `token` was issued for `fields` with `nonce` and has not expired.
pub fn is_valid(nonce: &str, fields: &[&str], token: &str) -> bool {
    let Some((expires, presented)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    if expires <= Utc::now().timestamp() {
        return false;
    }
    let Ok(presented) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, nonce.as_bytes());
    hmac::verify(&key, &message(expires, fields), &presented).is_ok()
}

fn mac(nonce: &str, expires: i64, fields: &[&str]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, nonce.as_bytes());
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, &message(expires, fields)))
}

/// The signed text: the expiry, then each field with its length in front, so no
/// two different requests give the same text.
fn message(expires: i64, fields: &[&str]) -> Vec<u8> {
    let mut message = expires.to_be_bytes().to_vec();
    for field in fields {
        message.extend_from_slice(&(field.len() as u64).to_be_bytes());
        message.extend_from_slice(field.as_bytes());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_for_its_nonce_and_its_request() {
        let nonce = new_nonce();
        let fields = [
            "vigor-web",
            "http://127.0.0.1/cb",
            "api",
            "xyz",
            "challenge",
        ];
        let token = token(&nonce, &fields);
        assert!(is_valid(&nonce, &fields, &token));
        assert!(!is_valid(&new_nonce(), &fields, &token));
        let mut other = fields;
        other[3] = "abc";
        assert!(!is_valid(&nonce, &other, &token));
        // Moving a character between fields changes the signed text.
        let shifted = [
            "vigor-web",
            "http://127.0.0.1/cb",
            "apix",
            "yz",
            "challenge",
        ];
        assert!(!is_valid(&nonce, &shifted, &token));
        for garbage in ["", "1.2", "x.y", "99999999999.AAAA"] {
            assert!(!is_valid(&nonce, &fields, garbage), "{garbage}");
        }
    }

    #[test]
    fn an_expired_token_is_refused() {
        let nonce = new_nonce();
        let expired = Utc::now().timestamp() - 1;
        let token = format!("{expired}.{}", mac(&nonce, expired, &["a"]));
        assert!(!is_valid(&nonce, &["a"], &token));
    }

    #[test]
    fn the_nonce_is_read_from_the_cookie_header() {
        let nonce = new_nonce();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={nonce}").parse().unwrap(),
        );
        assert_eq!(super::nonce(&headers), Some(nonce));
        headers.insert(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        assert_eq!(super::nonce(&headers), None);
        assert!(cookie(&new_nonce(), true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
    }
}
