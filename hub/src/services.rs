//! Calling a service's REST API on behalf of a session's user.
//!
//! Some things the hub does belong to another service: whether a user is a member
//! of a chat, and storing a chat message before anyone receives it. The hub asks
//! that service through its public REST API, with the session's own access token,
//! so the service decides exactly as it would for the user's browser — the same
//! routes, the same checks, the same problem+json answers.
//!
//! Where the service runs decides the transport, not the caller: in all-in-one
//! mode a [`ServiceClient`] calls the service's `axum::Router` in-process
//! (`tower::ServiceExt::oneshot`, no socket); when the service is its own target,
//! it calls the service's base URL over HTTP (`reqwest`). Either way every call
//! is bounded by a timeout (`hub.service_timeout_ms`) and carries the session's
//! `X-Request-Id`, so the service's log lines join the gateway's.
//!
//! The request id is the one the WebSocket upgrade came with: a session scopes
//! its frames with `with_request_id`, and the client reads it from there, so a
//! channel rule (which only sees the principal and the channel) sends it too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::auth::BearerToken;

/// The header that carries the request id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The largest answer body read from a service (a stored chat message is a few KiB).
const MAX_REPLY_BYTES: usize = 1024 * 1024;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// Runs `work` with `request_id` as the id of every service call it makes.
pub(crate) async fn with_request_id<F: Future>(request_id: Arc<str>, work: F) -> F::Output {
    REQUEST_ID.scope(request_id, work).await
}

/// The request id of the frame being executed, if any.
fn current_request_id() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// Why a service could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No answer within the timeout.
    #[error("the service did not answer within {0:?}")]
    Timeout(Duration),
    /// The service could not be reached, or its answer could not be read.
    #[error("the service cannot be reached: {0}")]
    Unreachable(String),
    /// The request could not be built (a token or request id that is no header value).
    #[error("cannot build the request: {0}")]
    InvalidRequest(&'static str),
}

/// What a service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceReply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
    /// `Retry-After` in seconds, when the service sent one.
    pub retry_after: Option<u64>,
}

impl ServiceReply {
    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// What an RFC 9457 problem answer says for people: its `detail`, else its
    /// `title`.
    pub fn problem_message(&self) -> Option<String> {
        let problem = self.json()?;
        ["detail", "title"]
            .iter()
            .find_map(|key| problem.get(key).and_then(Value::as_str).map(str::to_owned))
    }
}

#[derive(Clone)]
enum Transport {
    /// The service's router, in this process.
    Local(Router),
    /// The service's base URL (no trailing slash).
    Remote { http: reqwest::Client, base: String },
}

/// Calls one service's REST API for a user; see the module documentation.
#[derive(Clone)]
pub struct ServiceClient {
    transport: Transport,
    timeout: Duration,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Local(_) => "in-process".to_owned(),
            Transport::Remote { base, .. } => base.clone(),
        };
        f.debug_struct("ServiceClient")
            .field("transport", &transport)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ServiceClient {
    /// Calls `router` (the service's routes, with whatever extensions its
    /// extractors need, e.g. the token verifier) in this process.
    pub fn in_process(router: Router, timeout: Duration) -> ServiceClient {
        ServiceClient {
            transport: Transport::Local(router),
            timeout,
        }
    }

    /// Calls the service at `base_url` (`http://social:8080`) over HTTP.
    pub fn http(base_url: &str, timeout: Duration) -> Result<ServiceClient, ServiceError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ServiceError::Unreachable(format!("cannot build an HTTP client: {e}")))?;
        Ok(ServiceClient {
            transport: Transport::Remote {
                http,
                base: base_url.trim_end_matches('/').to_owned(),
            },
            timeout,
        })
    }

    /// `GET path` as the user of `token`.
    pub async fn get(&self, path: &str, token: &BearerToken) -> Result<ServiceReply, ServiceError> {
        self.call(Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON `body`, as the user of `token`.
    pub async fn post_json(
        &self,
        path: &str,
        token: &BearerToken,
        body: &Value,
    ) -> Result<ServiceReply, ServiceError> {
        self.call(Method::POST, path, token, Some(body.to_string().into()))
            .await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &BearerToken,
        body: Option<Bytes>,
    ) -> Result<ServiceReply, ServiceError> {
        let authorization = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| ServiceError::InvalidRequest("the token is not a header value"))?;
        let request_id = match current_request_id() {
            Some(id) => HeaderValue::from_str(&id).map_err(|_| {
                ServiceError::InvalidRequest("the request id is not a header value")
            })?,
            None => HeaderValue::from_static("hub"),
        };
        let call = async {
            match &self.transport {
                Transport::Local(router) => {
                    local(router, method, path, authorization, request_id, body).await
                }
                Transport::Remote { http, base } => {
                    let url = format!("{base}{path}");
                    remote(http, method, &url, authorization, request_id, body).await
                }
            }
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ServiceError::Timeout(self.timeout))?
    }
}

async fn local(
    router: &Router,
    method: Method,
    path: &str,
    authorization: HeaderValue,
    request_id: HeaderValue,
    body: Option<Bytes>,
) -> Result<ServiceReply, ServiceError> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, authorization)
        .header(&X_REQUEST_ID, request_id);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .map_err(|_| ServiceError::InvalidRequest("not a valid request path"))?;
    let response = match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = axum::body::to_bytes(response.into_body(), MAX_REPLY_BYTES)
        .await
        .map_err(|e| ServiceError::Unreachable(format!("cannot read the answer: {e}")))?;
    Ok(ServiceReply {
        status,
        body,
        retry_after,
    })
}

async fn remote(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    authorization: HeaderValue,
    request_id: HeaderValue,
    body: Option<Bytes>,
) -> Result<ServiceReply, ServiceError> {
    let mut request = http
        .request(method, url)
        .header(header::AUTHORIZATION, authorization)
        .header(&X_REQUEST_ID, request_id);
    if let Some(body) = body {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    // reqwest's errors name the URL, never the headers (the token).
    let unreachable = |e: reqwest::Error| ServiceError::Unreachable(e.to_string());
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(unreachable)?;
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(ServiceError::Unreachable(
                "the answer is larger than the hub reads".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ServiceReply {
        status,
        body: body.into(),
        retry_after,
    })
}

fn retry_after(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
