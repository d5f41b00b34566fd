//! Access tokens for the generator's connections.
//!
//! Signing a user up costs the server an argon2 hash (tens of milliseconds of a
//! core), so a run signs up a small pool of users — or reads tokens from a file —
//! and hands the tokens out round-robin: one user may hold many connections, which
//! the hub allows. Accounts are created through the real API (`POST
//! /v1/auth/signup`, then the password grant of `POST /v1/oauth/token` for the
//! first-party client `vigor-web`), never minted.
//!
//! Publishing goes through the hub's server API (`POST /v1/hub/publish`), which
//! takes a client-credentials token with the `hub.publish` scope:
//! [`client_credentials_token`] gets one for a confidential client an operator
//! registered (`vigor admin clients create …`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::json;

/// The first-party OAuth client the password grant is allowed for.
const CLIENT_ID: &str = "vigor-web";

/// Tokens handed out round-robin.
#[derive(Debug, Clone)]
pub struct TokenPool {
    tokens: Arc<[String]>,
}

impl TokenPool {
    /// A pool of the given tokens (at least one).
    pub fn new(tokens: Vec<String>) -> anyhow::Result<TokenPool> {
        if tokens.is_empty() {
            bail!("no access tokens");
        }
        Ok(TokenPool {
            tokens: tokens.into(),
        })
    }

    /// Reads one token per line; blank lines and `#` comments are skipped.
    pub fn from_file(path: &Path) -> anyhow::Result<TokenPool> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading tokens from {}", path.display()))?;
        TokenPool::new(parse_token_lines(&text))
            .with_context(|| format!("{} holds no tokens", path.display()))
    }

    /// Signs up `users` new users at `http_base` (`http://127.0.0.1:8080`) and
    /// logs each in; `run` keeps the emails of different runs apart.
    pub async fn sign_up(http_base: &str, users: usize, run: u32) -> anyhow::Result<TokenPool> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let password = format!("loadtest-{run:08x}-plum-harbour");
        // A few at a time: each signup is an argon2 hash on the server.
        let mut tokens = Vec::with_capacity(users);
        for chunk_start in (0..users).step_by(4) {
            let chunk = chunk_start..(chunk_start + 4).min(users);
            let logins = chunk.map(|i| {
                let email = format!("loadtest-{run:08x}-{i}@example.com");
                sign_up_one(&http, http_base, email, &password)
            });
            for token in futures::future::join_all(logins).await {
                tokens.push(token?);
            }
        }
        TokenPool::new(tokens)
    }

    /// The token for connection `index`.
    pub fn get(&self, index: usize) -> &str {
        &self.tokens[index % self.tokens.len()]
    }

    /// Every token, in order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// How many distinct tokens the pool holds.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the pool is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

fn parse_token_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The scope `POST /v1/hub/publish` needs.
pub const PUBLISH_SCOPE: &str = "hub.publish";

/// Gets an access token for the confidential client `client_id` from the
/// client-credentials grant at `http_base` (`POST /v1/oauth/token`, client
/// authentication by HTTP Basic), for `scope`.
pub async fn client_credentials_token(
    http_base: &str,
    client_id: &str,
    client_secret: &str,
    scope: &str,
) -> anyhow::Result<String> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let response = http
        .post(format!("{http_base}/v1/oauth/token"))
        .basic_auth(client_id, Some(client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .with_context(|| format!("POST {http_base}/v1/oauth/token"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("the client-credentials grant for {client_id} answered {status}: {body}");
    }
    let token: TokenResponse = response
        .json()
        .await
        .context("reading the token response")?;
    Ok(token.access_token)
}

/// Reads a token from a file: the first line that is not blank or a `#` comment.
pub fn token_from_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading a token from {}", path.display()))?;
    parse_token_lines(&text)
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no token", path.display()))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

async fn sign_up_one(
    http: &reqwest::Client,
    base: &str,
    email: String,
    password: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/v1/auth/signup"))
        .json(&json!({"email": email, "password": password, "display_name": "Load Test"}))
        .send()
        .await
        .with_context(|| format!("POST {base}/v1/auth/signup"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("signup of {email} answered {status}: {body}");
    }
    let response = http
        .post(format!("{base}/v1/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("username", email.as_str()),
            ("password", password),
        ])
        .send()
        .await
        .with_context(|| format!("POST {base}/v1/oauth/token"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("password grant for {email} answered {status}: {body}");
    }
    let token: TokenResponse = response
        .json()
        .await
        .context("reading the token response")?;
    Ok(token.access_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_skip_blanks_and_comments_and_tokens_go_round_robin() {
        let tokens = parse_token_lines("# tokens\n  aaa \n\nbbb\n#ccc\n");
        assert_eq!(tokens, ["aaa", "bbb"]);
        let pool = TokenPool::new(tokens).unwrap();
        assert_eq!(
            (pool.get(0), pool.get(1), pool.get(2), pool.len()),
            ("aaa", "bbb", "aaa", 2)
        );
        assert!(TokenPool::new(Vec::new()).is_err());
    }
}
