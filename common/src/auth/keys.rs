//! Public keys of the token issuer: the JWKS document (RFC 7517) and where a
//! [`crate::auth::Verifier`] gets the keys from.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::ALGORITHM;

/// One Ed25519 public key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id (`kid` of the tokens it verifies).
    pub kid: String,
    /// The raw 32-byte Ed25519 public key.
    pub ed25519: [u8; 32],
}

/// A JSON Web Key Set: `{"keys":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// A JSON Web Key (only the members Vigor uses; others are ignored when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Key type: `OKP` for Ed25519.
    pub kty: String,
    /// Curve: `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The public key, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm: `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl Jwks {
    /// The JWKS publishing `keys`.
    pub fn from_keys(keys: &[PublicKey]) -> Jwks {
        Jwks {
            keys: keys
                .iter()
                .map(|k| Jwk {
                    kty: "OKP".to_owned(),
                    crv: Some("Ed25519".to_owned()),
                    x: Some(URL_SAFE_NO_PAD.encode(k.ed25519)),
                    kid: Some(k.kid.clone()),
                    alg: Some(ALGORITHM.to_owned()),
                    key_use: Some("sig".to_owned()),
                })
                .collect(),
        }
    }

    /// The Ed25519 signing keys of the set; keys of other types, without a `kid`
    /// or for another use are skipped.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.keys
            .iter()
            .filter(|k| k.kty == "OKP" && k.crv.as_deref() == Some("Ed25519"))
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == ALGORITHM))
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let kid = k.kid.clone()?;
                let raw = URL_SAFE_NO_PAD.decode(k.x.as_deref()?).ok()?;
                let ed25519: [u8; 32] = raw.try_into().ok()?;
                Some(PublicKey { kid, ed25519 })
            })
            .collect()
    }
}

/// Where a verifier gets the issuer's current public keys.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    /// Every key that may have signed a token that has not expired yet.
    async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>>;
}

/// A fixed set of keys (a deployment that pins its keys, or a test).
#[derive(Debug, Clone)]
pub struct StaticKeys(pub Vec<PublicKey>);

#[async_trait]
impl KeySource for StaticKeys {
    async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        Ok(self.0.clone())
    }
}

/// The issuer's JWKS document, fetched over HTTP(S).
#[derive(Debug, Clone)]
pub struct JwksUrl {
    client: reqwest::Client,
    url: String,
}

impl JwksUrl {
    /// A source reading `url` (e.g. `http://auth:8080/.well-known/jwks.json`).
    pub fn new(url: impl Into<String>) -> anyhow::Result<JwksUrl> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .context("cannot build the JWKS HTTP client")?;
        Ok(JwksUrl::with_client(client, url))
    }

    /// A source reading `url` with a configured client (TLS roots, proxies).
    pub fn with_client(client: reqwest::Client, url: impl Into<String>) -> JwksUrl {
        JwksUrl {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl KeySource for JwksUrl {
    async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        let jwks: Jwks = self
            .client
            .get(&self.url)
            .send()
            .await
            .with_context(|| format!("cannot fetch the JWKS at {}", self.url))?
            .error_for_status()
            .with_context(|| format!("the JWKS at {} answered an error", self.url))?
            .json()
            .await
            .with_context(|| format!("the JWKS at {} is not a JWK set", self.url))?;
        Ok(jwks.public_keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_round_trips_and_foreign_keys_are_skipped() {
        let key = PublicKey {
            kid: "k1".into(),
            ed25519: [7; 32],
        };
        let jwks = Jwks::from_keys(std::slice::from_ref(&key));
        let json = serde_json::to_value(&jwks).unwrap();
        assert_eq!(json["keys"][0]["kty"], "OKP");
        assert_eq!(json["keys"][0]["crv"], "Ed25519");
        assert_eq!(json["keys"][0]["use"], "sig");
        assert_eq!(json["keys"][0]["alg"], "EdDSA");

        let mixed: Jwks = serde_json::from_value(serde_json::json!({"keys": [
            json["keys"][0],
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "x": "c2hvcnQ", "kid": "short"},
            {"kty": "OKP", "crv": "Ed25519", "x": json["keys"][0]["x"]}
        ]}))
        .unwrap();
        assert_eq!(mixed.public_keys(), vec![key]);
    }

    #[tokio::test]
    async fn jwks_url_reads_the_keys_over_http_and_reports_failures() {
        let key = PublicKey {
            kid: "k1".into(),
            ed25519: [3; 32],
        };
        let jwks = Jwks::from_keys(std::slice::from_ref(&key));
        let app = axum::Router::new()
            .route(
                "/.well-known/jwks.json",
                axum::routing::get(move || {
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            )
            .route("/broken", axum::routing::get(|| async { "not json" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let source = JwksUrl::new(format!("http://{addr}/.well-known/jwks.json")).unwrap();
        assert_eq!(source.public_keys().await.unwrap(), vec![key]);
        let broken = JwksUrl::new(format!("http://{addr}/broken")).unwrap();
        assert!(broken.public_keys().await.is_err());
        let missing = JwksUrl::new(format!("http://{addr}/missing")).unwrap();
        assert!(missing.public_keys().await.is_err());
        server.abort();
    }
}
