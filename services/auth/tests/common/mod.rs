//! `TestApp`: the auth service on `vigor_common::testkit`'s harness (a random
//! port, a fresh SQLite or PostgreSQL database, the gateway's client-address
//! layer in front), with one helper per endpoint.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use url::Url;
use vigor_auth::domain::pkce::s256;
use vigor_auth::domain::GrantType;
use vigor_auth::{AuthService, NewClient};
use vigor_common::auth::{Claims, JwksUrl, Verifier, VerifierConfig};
use vigor_common::bus::EventBus;
use vigor_common::config::{Config, ServiceName};
use vigor_common::testkit::{self, TestDatabase};

pub use vigor_common::testkit::{Backend, PASSWORD};

/// A running auth service.
pub struct TestApp {
    app: testkit::TestApp,
    /// The state the service serves with, for admin operations (clients, key
    /// rotation) and its counters.
    pub auth: AuthService,
}

impl Deref for TestApp {
    type Target = testkit::TestApp;

    fn deref(&self) -> &testkit::TestApp {
        &self.app
    }
}

/// A PKCE verifier (RFC 7636 appendix B) and its challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A redirect URI the built-in `vigor-web` client accepts (any loopback callback).
pub const WEB_REDIRECT: &str = "http://127.0.0.1:5173/callback";

impl TestApp {
    /// Starts the service on `backend`; `None` when PostgreSQL is not available.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with configuration changes.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        // The state the service serves with, so tests read its counters.
        let state = Arc::new(OnceLock::new());
        let keep = state.clone();
        let app = vigor_auth::testkit::stack(backend)
            .configure(configure)
            .build_auth_with(Box::new(move |ctx| {
                Box::pin(async move {
                    let (auth, running) = vigor_auth::start(ctx).await?;
                    let _ = keep.set(auth);
                    Ok(running)
                })
            }))
            // Where the process meets its clients, as `vigor serve` wires it: the
            // gateway's layer decides the client address.
            .layer(|router, config| {
                let policy = vigor_common::client_address::AddressPolicy::from_config(config, true);
                router.layer(axum::middleware::from_fn_with_state(
                    policy,
                    vigor_gateway::decide_client_address,
                ))
            })
            .spawn()
            .await?;
        let auth = state.get().expect("auth started").clone();
        Some(TestApp { app, auth })
    }

    /// The service's database.
    pub fn db(&self) -> &TestDatabase {
        self.database(ServiceName::Auth)
    }

    /// Signs up and returns the new user's id.
    pub async fn new_user(&self, email: &str) -> String {
        self.sign_up(email, "Ann").await
    }

    /// `POST /v1/oauth/token` with form parameters.
    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/v1/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/oauth/token` with HTTP Basic client authentication.
    pub async fn token_basic(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/v1/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The password grant for `vigor-web`; the token response as JSON.
    pub async fn password_login(&self, email: &str) -> Value {
        let response = self.password_request(email, PASSWORD).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The password grant for `vigor-web` from the client address `from` (the
    /// app must trust `X-Forwarded-For`); the answer's status.
    pub async fn password_attempt_from(
        &self,
        from: &str,
        email: &str,
        password: &str,
    ) -> StatusCode {
        self.password_request(email, password)
            .header("x-forwarded-for", from)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A password-grant request for `vigor-web`, to send.
    fn password_request(&self, email: &str, password: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url("/v1/oauth/token")).form(&[
            ("grant_type", "password"),
            ("client_id", "vigor-web"),
            ("username", email),
            ("password", password),
        ])
    }

    /// A refresh with `vigor-web`.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "vigor-web"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// `GET /v1/oauth/authorize` with `params`.
    pub async fn authorize_page(&self, params: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/v1/oauth/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Submits the login form like a browser: shows the page for the request in
    /// `params` (all but `email` and `password`), then posts `params` with the
    /// page's anti-CSRF token and cookie (none when the page is refused).
    pub async fn authorize_submit(&self, params: &[(&str, &str)]) -> Response {
        let request: Vec<(&str, &str)> = params
            .iter()
            .filter(|(name, _)| !matches!(*name, "email" | "password"))
            .copied()
            .collect();
        let (token, cookie) = login_form_token(self.authorize_page(&request).await).await;
        let mut form = params.to_vec();
        if let Some(token) = &token {
            form.push(("csrf_token", token));
        }
        self.authorize_post(&form, cookie.as_deref()).await
    }

    /// `POST /v1/oauth/authorize` with `form` and, when given, the `Cookie` header.
    pub async fn authorize_post(&self, form: &[(&str, &str)], cookie: Option<&str>) -> Response {
        let mut request = self.http.post(self.url("/v1/oauth/authorize")).form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// Signs `email` in through the authorization endpoint for `vigor-web` and
    /// returns the code from the redirect.
    pub async fn authorization_code(&self, email: &str, redirect_uri: &str) -> String {
        let challenge = s256(VERIFIER);
        let response = self
            .authorize_submit(&[
                ("response_type", "code"),
                ("client_id", "vigor-web"),
                ("redirect_uri", redirect_uri),
                ("state", "xyz"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("email", email),
                ("password", PASSWORD),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = redirect_params(response.headers());
        assert_eq!(location.get("state").map(String::as_str), Some("xyz"));
        location["code"].clone()
    }

    /// `POST /v1/oauth/revoke` as `vigor-web`.
    pub async fn revoke(&self, token: &str) -> Response {
        self.http
            .post(self.url("/v1/oauth/revoke"))
            .form(&[("client_id", "vigor-web"), ("token", token)])
            .send()
            .await
            .unwrap()
    }

    /// Registers a confidential client with client credentials; its secret.
    pub async fn service_client(&self, id: &str, scopes: &[&str]) -> String {
        let created = self
            .auth
            .create_client(NewClient {
                id: id.to_owned(),
                name: id.to_owned(),
                confidential: true,
                redirect_uris: vec![],
                grant_types: vec![GrantType::ClientCredentials],
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                first_party: false,
            })
            .await
            .unwrap();
        created.secret.unwrap()
    }

    /// `POST /v1/oauth/introspect` authenticated as `client`.
    pub async fn introspect(&self, client: (&str, &str), token: &str) -> Response {
        self.http
            .post(self.url("/v1/oauth/introspect"))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
    }

    /// [`TestApp::introspect`]'s answer, as JSON.
    pub async fn introspection(&self, client: (&str, &str), token: &str) -> Value {
        self.introspect(client, token).await.json().await.unwrap()
    }

    /// A verifier that reads this service's JWKS over HTTP, like another process.
    pub fn remote_verifier(&self) -> Verifier {
        let mut config = VerifierConfig::new(&self.base, &self.config.auth.audience);
        config.min_refresh_interval = std::time::Duration::ZERO;
        let source = JwksUrl::new(self.url("/.well-known/jwks.json")).unwrap();
        Verifier::new(config, Arc::new(source))
    }

    /// Verifies an access token with [`TestApp::remote_verifier`].
    pub async fn verify(&self, token: &str) -> Claims {
        self.remote_verifier().verify(token).await.unwrap()
    }

    /// Moves every authorization code 61 s into the past, after checking that
    /// codes live exactly 60 s (instead of waiting a minute).
    pub async fn expire_codes(&self) {
        let ttl = "SELECT expires_at - created_at FROM authorization_codes";
        let shift = "UPDATE authorization_codes SET created_at = created_at - 61000, expires_at = expires_at - 61000";
        let ttls: Vec<i64> = vigor_common::on_pool!(&self.db().database, pool => sqlx::query_scalar(ttl).fetch_all(pool).await.unwrap());
        assert!(
            !ttls.is_empty() && ttls.iter().all(|t| *t == 60_000),
            "{ttls:?}"
        );
        vigor_common::on_pool!(&self.db().database, pool => drop(sqlx::query(shift).execute(pool).await.unwrap()))
    }

    /// Moves the start of every session (refresh family) `secs` into the past.
    pub async fn age_sessions(&self, secs: i64) {
        let shift = "UPDATE refresh_families SET created_at = created_at - $1";
        let ms = secs * 1000;
        vigor_common::on_pool!(&self.db().database, pool => {
            sqlx::query(shift).bind(ms).execute(pool).await.unwrap();
        })
    }

    /// The bus, as the trait.
    pub fn event_bus(&self) -> Arc<dyn EventBus> {
        self.app.bus.clone()
    }
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(headers: &HeaderMap) -> std::collections::HashMap<String, String> {
    let location = headers
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap();
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The anti-CSRF token in a login page and the cookie (`name=value`) it set;
/// `(None, None)` when the page is not a login form.
pub async fn login_form_token(page: Response) -> (Option<String>, Option<String>) {
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let token = html.find(marker).map(|at| {
        let rest = &html[at + marker.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    });
    (token, cookie)
}

/// How many of `statuses` are `status`.
pub fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// The OAuth `error` of a response body.
pub async fn oauth_error(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_owned())
}
