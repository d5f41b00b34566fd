//! The chat scenario (`ws-chat`): group chats of the social service, their members
//! subscribed to `chat:{id}` over the hub, and members sending messages through
//! `POST /v1/social/channels/{id}/messages` — so every message is stored before
//! the hub pushes it, and the latency measured is send → stored → delivered.
//!
//! It is `ws-fanout` with a different setup and request: [`create_groups`] makes
//! one group chat per channel whose members are exactly the users whose
//! connections subscribe to it (subscriber `i` is on channel `i % C` with token
//! `i % U`, see [`crate::subscribers`]), and each channel's messages are sent by
//! one of its members ([`ChatTargets`]). The message body is the run's stamp, so
//! receivers find it in the `chat.message` frame like any other stamp.

use anyhow::{bail, Context};
use base64::Engine;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use crate::accounts::TokenPool;
use crate::session::Endpoint;
use crate::stamp::Stamp;

/// Where and as whom each channel's messages are sent.
#[derive(Debug, Clone)]
pub struct ChatTargets {
    /// Per channel: `POST …/v1/social/channels/{id}/messages`.
    pub urls: Vec<String>,
    /// Per channel: a member's `Bearer` header.
    pub authorizations: Vec<HeaderValue>,
}

impl ChatTargets {
    /// The request body of a message carrying `stamp`.
    pub fn body(stamp: Stamp, padding: &str) -> String {
        let mut text = String::with_capacity(64 + padding.len());
        stamp.write_member(&mut text);
        text.push_str(padding);
        json!({ "body": text }).to_string()
    }
}

/// The user id (`sub`) of an access token, read from its claims without
/// checking the signature (the server checks it on every request).
pub fn user_of(token: &str) -> anyhow::Result<String> {
    let claims = token
        .split('.')
        .nth(1)
        .context("an access token has three parts")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .context("the token's claims are not base64url")?;
    let claims: Value = serde_json::from_slice(&bytes).context("the token's claims")?;
    claims["sub"]
        .as_str()
        .map(str::to_owned)
        .context("the token has no sub")
}

/// The token indices of channel `channel`'s subscribers: `channel + k·channels`
/// for `k` below `members`, as [`crate::subscribers`] assigns them.
fn member_tokens(channel: usize, channels: usize, members: usize, users: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..members)
        .map(|k| (channel + k * channels) % users)
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

/// Makes `channels` group chats of `members` subscribers each (fewer when the
/// pool is too small to give every channel distinct users, which is refused);
/// returns their hub channel names and where each one's messages are sent.
pub async fn create_groups(
    endpoint: &Endpoint,
    tokens: &TokenPool,
    channels: usize,
    members: usize,
) -> anyhow::Result<(Vec<String>, ChatTargets)> {
    if !(2..=50).contains(&members) {
        bail!("--members must be 2 to 50 (a group chat's size)");
    }
    let users: Vec<String> = tokens
        .tokens()
        .iter()
        .map(|t| user_of(t))
        .collect::<anyhow::Result<_>>()?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let mut names = Vec::with_capacity(channels);
    let mut targets = ChatTargets {
        urls: Vec::with_capacity(channels),
        authorizations: Vec::with_capacity(channels),
    };
    for channel in 0..channels {
        let indices = member_tokens(channel, channels, members, users.len());
        if indices.len() < members {
            bail!(
                "{} users cannot give {channels} channels {members} distinct members each \
                 (use a user count with no common factor with the channel count, e.g. a prime)",
                users.len()
            );
        }
        let owner = indices[0];
        let others: Vec<&str> = indices[1..].iter().map(|&i| users[i].as_str()).collect();
        let response = http
            .post(format!("{}/v1/social/groups", endpoint.http_base))
            .bearer_auth(tokens.get(owner))
            .json(&json!({ "user_ids": others }))
            .send()
            .await
            .context("POST /v1/social/groups")?;
        let status = response.status();
        let created: Value = response.json().await.context("a group chat")?;
        let Some(id) = created["id"].as_str() else {
            bail!("making a group chat answered {status}: {created}");
        };
        names.push(format!("chat:{id}"));
        targets.urls.push(format!(
            "{}/v1/social/channels/{id}/messages",
            endpoint.http_base
        ));
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", tokens.get(owner)))
            .context("a token is not a valid header value")?;
        authorization.set_sensitive(true);
        targets.authorizations.push(authorization);
    }
    Ok((names, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_gets_distinct_members_when_the_counts_are_coprime() {
        for channel in 0..500 {
            assert_eq!(member_tokens(channel, 500, 10, 101).len(), 10);
        }
        // 100 users and 500 channels: every subscriber of a channel is one user.
        assert_eq!(member_tokens(7, 500, 10, 100), vec![7]);
    }

    #[test]
    fn the_body_carries_the_stamp_that_receivers_find() {
        let stamp = Stamp {
            run: 3,
            sent_nanos: 12_345,
        };
        let body = ChatTargets::body(stamp, "xx");
        let frame = format!(r#"{{"type":"event","data":{{"body":{}}}}}"#, {
            let v: Value = serde_json::from_str(&body).unwrap();
            v["body"].to_string()
        });
        assert_eq!(
            crate::stamp::StampFinder::new().find(frame.as_bytes()),
            Some(stamp)
        );
    }

    #[test]
    fn the_user_is_the_tokens_subject() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"42"}"#);
        assert_eq!(user_of(&format!("h.{claims}.s")).unwrap(), "42");
        assert!(user_of("nope").is_err());
    }
}
