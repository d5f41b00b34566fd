//! `TestApp`: the auth and users services (and training, whose part the account
//! export gathers) started through their `ServiceSpec`s,
//! wired like all-in-one mode (one event bus, one HTTP server, one verifier that
//! reads the auth database's keys), on fresh SQLite or PostgreSQL databases, with
//! one helper per endpoint. Users sign up and sign in for real: every token is
//! issued by the running auth service.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::auth::{Claims, Verifier, VerifierConfig};
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::Broker;
use vigor_common::bus::memory::MemoryBus;
use vigor_common::bus::{ConsumerOptions, EventBus, Subscription};
use vigor_common::config::Config;
use vigor_common::service::ServiceContext;
use vigor_common::testkit::{self, TestDatabase};
use vigor_common::IdGenerator;
use vigor_users::domain::{Role, Roles};
use vigor_users::export::Exporter;
use vigor_users::UsersService;

/// Which database the services run on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The running services.
pub struct TestApp {
    /// `http://127.0.0.1:port`, also the token issuer.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The event bus both services use.
    pub bus: Arc<MemoryBus>,
    /// Verifies tokens like the gateway does.
    pub verifier: Arc<Verifier>,
    /// The users service's state on its database (for operator actions).
    pub users: UsersService,
    /// The users database.
    pub users_db: TestDatabase,
    /// The auth database.
    pub auth_db: TestDatabase,
    /// The training database.
    pub training_db: TestDatabase,
    /// The auth service's state on its database (to register clients, as `vigor admin` does).
    pub auth: vigor_auth::AuthService,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A strong password that no list has.
pub const PASSWORD: &str = "plum-rocket-41-harbour";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's id (as the API spells it).
    pub id: String,
    /// The sign-in email.
    pub email: String,
    /// An access token.
    pub access: String,
    /// The refresh token of the same session.
    pub refresh: String,
}

impl TestApp {
    /// Starts both services on `backend`; `None` when PostgreSQL is not available.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let (auth_db, users_db, training_db) = match backend {
            Backend::Sqlite => (
                testkit::sqlite(Some(&vigor_auth::MIGRATIONS)).await,
                testkit::sqlite(Some(&vigor_users::MIGRATIONS)).await,
                testkit::sqlite(Some(&vigor_training::MIGRATIONS)).await,
            ),
            Backend::Postgres => (
                testkit::postgres(Some(&vigor_auth::MIGRATIONS)).await?,
                testkit::postgres(Some(&vigor_users::MIGRATIONS)).await?,
                testkit::postgres(Some(&vigor_training::MIGRATIONS)).await?,
            ),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = Config {
            listen: addr,
            ..Config::default()
        };
        config.auth.issuer = Some(base.clone());
        let config = Arc::new(config);

        let bus = Arc::new(MemoryBus::new());
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let ids = Arc::new(IdGenerator::new(1).unwrap());
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
        let context = |db: &TestDatabase| ServiceContext {
            config: config.clone(),
            db: Some(db.database.clone()),
            bus: bus.clone(),
            broker: broker.clone(),
            live: Arc::new(vigor_hub::Publisher::in_process(
                broker.clone(),
                &Default::default(),
            )),
            ids: ids.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
        };
        let auth = (vigor_auth::spec().build)(context(&auth_db)).await.unwrap();
        let users = (vigor_users::spec().build)(context(&users_db))
            .await
            .unwrap();
        let training = (vigor_training::spec().build)(context(&training_db))
            .await
            .unwrap();
        // As in `vigor serve`: one verifier on the auth database's keys, in every
        // request's extensions.
        let verifier = Arc::new(Verifier::new(
            VerifierConfig::from_config(&config),
            vigor_auth::key_source(auth_db.database.clone()),
        ));
        let app = auth
            .router
            .merge(users.router)
            .merge(training.router)
            .layer(Extension(verifier.clone()))
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .unwrap();
        });
        let exporter = Exporter::from_config(&config).unwrap();
        let operator = UsersService::new(users_db.database.clone(), ids.clone(), exporter);
        let auth_operator =
            vigor_auth::AuthService::new(auth_db.database.clone(), &config, ids.clone()).unwrap();
        Some(TestApp {
            base,
            http: reqwest::Client::new(),
            bus,
            verifier,
            users: operator,
            users_db,
            auth_db,
            training_db,
            auth: auth_operator,
            shutdown,
        })
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /v1/auth/signup`, the password grant, and a wait for the profile that
    /// `user.signed_up` makes.
    pub async fn user(&self, email: &str, display_name: &str) -> User {
        let response = self
            .http
            .post(self.url("/v1/auth/signup"))
            .json(&json!({"email": email, "password": PASSWORD, "display_name": display_name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let tokens = self.login(email, PASSWORD).await.unwrap();
        let user = User {
            id,
            email: email.to_owned(),
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        };
        eventually("the profile is made from user.signed_up", || async {
            self.get("/v1/users/me", &user).await.status() == StatusCode::OK
        })
        .await;
        user
    }

    /// `user` signed in again through a first-party client registered (like
    /// `vigor admin clients create --scope …`) with only `scopes`: a token that
    /// grants no more.
    pub async fn with_scopes(&self, user: &User, scopes: &[&str]) -> User {
        let id = format!("app-{}", scopes.join("-").replace([':', '.'], "_"));
        // Registered once per test app: each test asks for a set of scopes once.
        self.auth
            .create_client(vigor_auth::NewClient::first_party_app(&id, scopes))
            .await
            .unwrap();
        let response = self
            .http
            .post(self.url("/v1/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", id.as_str()),
                ("username", user.email.as_str()),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["scope"], scopes.join(" "));
        User {
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            ..user.clone()
        }
    }

    /// The password grant; the token response, or the error status.
    pub async fn login(&self, email: &str, password: &str) -> Result<Value, StatusCode> {
        let response = self
            .http
            .post(self.url("/v1/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "vigor-web"),
                ("username", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => Ok(response.json().await.unwrap()),
            status => Err(status),
        }
    }

    /// The refresh grant; the new tokens, or the error status.
    pub async fn refresh(&self, user: &mut User) -> Result<Claims, StatusCode> {
        let response = self
            .http
            .post(self.url("/v1/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "vigor-web"),
                ("refresh_token", user.refresh.as_str()),
            ])
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            return Err(response.status());
        }
        let tokens: Value = response.json().await.unwrap();
        user.access = tokens["access_token"].as_str().unwrap().to_owned();
        user.refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        Ok(self.verifier.verify(&user.access).await.unwrap())
    }

    /// Refreshes `user`'s tokens until the access token carries exactly `roles`
    /// (they travel by event, so it may take a moment); fails after 10 s.
    pub async fn refresh_until_roles(&self, user: &mut User, roles: &[&str]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let claims = self.refresh(user).await.unwrap();
            if claims.roles == roles {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the token still says {:?}, not {roles:?}",
                claims.roles
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path` as `user`.
    pub async fn get(&self, path: &str, user: &User) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
    }

    /// `PATCH path` with a JSON body as `user`.
    pub async fn patch(&self, path: &str, user: &User, body: Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(&user.access)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `PUT path` with a JSON body as `user`.
    pub async fn put(&self, path: &str, user: &User, body: Value) -> Response {
        self.http
            .put(self.url(path))
            .bearer_auth(&user.access)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` without a body as `user`.
    pub async fn post(&self, path: &str, user: &User) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE path` as `user`.
    pub async fn delete(&self, path: &str, user: &User) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
    }

    /// The JSON body of `GET path`, asserting 200.
    pub async fn get_json(&self, path: &str, user: &User) -> Value {
        let response = self.get(path, user).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Makes `user` an admin the way an operator does (no admin exists yet to ask).
    pub async fn make_admin(&self, user: &User) {
        let roles = Roles::of([Role::Admin]);
        let id = user.id.parse().unwrap();
        assert!(self.users.set_roles(id, &roles).await.unwrap().is_some());
    }

    /// Subscribes a test consumer group to `topics` (only later events reach it).
    pub async fn listen(&self, topics: &[&str]) -> Box<dyn Subscription> {
        self.bus
            .subscribe(
                topics,
                &testkit::unique_name("test"),
                "test",
                ConsumerOptions::default(),
            )
            .await
            .unwrap()
    }
}

/// Waits (up to 10 s) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `field`s named by a validation problem.
pub async fn invalid_fields(response: Response) -> Vec<String> {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Instantiates each scenario `async fn name(app: TestApp)` on SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await.unwrap();
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
}
