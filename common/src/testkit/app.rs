//! A service under test, black-box over HTTP: [`Stack`] starts the auth service
//! and the services a test needs through their [`ServiceSpec`]s on fresh
//! databases of one backend, wired like all-in-one mode (one event bus, one
//! broker, one HTTP server on a random port whose address is the token issuer,
//! a verifier reading the auth service's JWKS over HTTP like another process
//! would, in every request's extensions), and hands back a [`TestApp`].
//!
//! Users sign up and sign in for real: every token a test uses is issued by the
//! running auth service. `vigor-common` cannot name the auth service or the hub
//! (they depend on it), so the caller gives their parts: the auth spec and how
//! to register a first-party app (`vigor_auth::testkit` fills both in), and the
//! hub's live publisher. A service's own tests wrap the [`TestApp`] with one
//! helper per endpoint and instantiate their scenarios on both backends with
//! [`on_both_backends!`](crate::on_both_backends).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{JwksUrl, Verifier, VerifierConfig};
use crate::broker::memory::MemoryBroker;
use crate::broker::Broker;
use crate::bus::memory::MemoryBus;
use crate::bus::{ConsumerOptions, EventBus, Subscription};
use crate::config::{Config, ServiceName};
use crate::db::Database;
use crate::live::LivePublisher;
use crate::service::{BuildFuture, Peers, ServiceContext, ServiceSpec};
use crate::IdGenerator;

use super::TestDatabase;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file (always available).
    Sqlite,
    /// A fresh database on the test PostgreSQL (skipped outside the test script).
    Postgres,
}

/// A strong password that no list has: every test user's.
pub const PASSWORD: &str = "plum-rocket-41-harbour";

/// Registers, on the auth database, a first-party app `id` granted only
/// `scopes` (what `vigor admin clients create --scope …` does).
pub type RegisterApp = fn(
    Database,
    Arc<Config>,
    Arc<IdGenerator>,
    String,
    Vec<String>,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Makes the hub's live publisher over a broker (`vigor_hub::Publisher::in_process`).
pub type LiveFactory = fn(Arc<dyn Broker>) -> Arc<dyn LivePublisher>;

/// Builds a service from its context, in place of its spec's `build` (for a test
/// that keeps the service's state).
pub type Build = Box<dyn FnOnce(ServiceContext) -> BuildFuture + Send>;

/// What to start: auth, the services under test, and how to wire them.
pub struct Stack {
    backend: Backend,
    auth: ServiceSpec,
    auth_build: Option<Build>,
    services: Vec<ServiceSpec>,
    /// Builds replacing the specs' of `services`, by position.
    service_builds: Vec<Option<Build>>,
    live: LiveFactory,
    register_app: Option<RegisterApp>,
    layer: Option<fn(Router, &Config) -> Router>,
    /// The configuration to run with; the issuer and listen address are set
    /// to the test server's.
    pub config: Config,
}

impl Stack {
    /// The auth service alone on `backend`, with the hub's `live` publisher.
    pub fn new(backend: Backend, auth: ServiceSpec, live: LiveFactory) -> Stack {
        Stack {
            backend,
            auth,
            auth_build: None,
            services: Vec::new(),
            service_builds: Vec::new(),
            live,
            register_app: None,
            layer: None,
            config: Config::default(),
        }
    }

    /// Also starts `spec`, on its own fresh database, behind the same server.
    pub fn service(mut self, spec: ServiceSpec) -> Stack {
        self.services.push(spec);
        self.service_builds.push(None);
        self
    }

    /// Also starts `spec`, built with `build` instead of its spec's (a test
    /// that hands the service a store it keeps, e.g. a leaderboard store it
    /// seeds).
    pub fn service_built_with(mut self, spec: ServiceSpec, build: Build) -> Stack {
        self.services.push(spec);
        self.service_builds.push(Some(build));
        self
    }

    /// Builds auth with `build` instead of its spec's.
    pub fn build_auth_with(mut self, build: Build) -> Stack {
        self.auth_build = Some(build);
        self
    }

    /// How [`TestApp::token_with_scopes`] registers its apps.
    pub fn register_apps_with(mut self, register: RegisterApp) -> Stack {
        self.register_app = Some(register);
        self
    }

    /// Wraps the merged router in `layer` (e.g. the gateway's client-address layer).
    pub fn layer(mut self, layer: fn(Router, &Config) -> Router) -> Stack {
        self.layer = Some(layer);
        self
    }

    /// Changes the configuration.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Stack {
        change(&mut self.config);
        self
    }

    /// Starts everything; `None` when the backend is PostgreSQL and the test
    /// server is not available (outside the test script).
    pub async fn spawn(self) -> Option<TestApp> {
        let mut databases = Vec::new();
        for spec in std::iter::once(&self.auth).chain(&self.services) {
            let db = match self.backend {
                Backend::Sqlite => super::sqlite(spec.migrations).await,
                Backend::Postgres => super::postgres(spec.migrations).await?,
            };
            databases.push((spec.name, db));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound listener's address");
        let base = format!("http://{addr}");
        let mut config = self.config;
        config.listen = addr;
        config.auth.issuer = Some(base.clone());
        let config = Arc::new(config);

        let bus = Arc::new(MemoryBus::new());
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
        let live = (self.live)(broker.clone());
        let ids = Arc::new(IdGenerator::new(1).expect("node 1 is valid"));
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let shared = crate::service::Shared::default();
        let peers = Peers::new();
        let context = |db: &TestDatabase| ServiceContext {
            config: config.clone(),
            db: Some(db.database.clone()),
            replica: None,
            bus: bus.clone(),
            broker: broker.clone(),
            live: live.clone(),
            ids: ids.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            shared: shared.clone(),
            peers: peers.clone(),
        };
        let mut builds: Vec<Build> =
            vec![self.auth_build.unwrap_or_else(|| Box::new(self.auth.build))];
        builds.extend(
            self.services
                .iter()
                .zip(self.service_builds)
                .map(|(spec, build)| build.unwrap_or_else(|| Box::new(spec.build))),
        );
        let mut router = Router::new();
        let mut peer_routers = Vec::new();
        for (build, (name, db)) in builds.into_iter().zip(&databases) {
            let running = build(context(db))
                .await
                .unwrap_or_else(|e| panic!("{name:?} starts: {e:#}"));
            peer_routers.push((*name, running.router.clone()));
            router = router.merge(running.router);
        }

        // What the gateway does in front of every service: a verifier in every
        // request, here one that reads the JWKS over HTTP like another process.
        let mut verifier_config = VerifierConfig::new(&base, &config.auth.audience);
        verifier_config.min_refresh_interval = Duration::ZERO;
        let keys = JwksUrl::new(format!("{base}/.well-known/jwks.json")).expect("a JWKS URL");
        let verifier = Arc::new(Verifier::new(verifier_config, Arc::new(keys)));
        for (name, peer) in peer_routers {
            peers.insert(name, peer.layer(Extension(verifier.clone())));
        }
        router = router.layer(Extension(verifier.clone()));
        if let Some(layer) = self.layer {
            router = layer(router, &config);
        }
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .expect("the test server serves");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Some(TestApp {
            base,
            http,
            config,
            bus,
            broker,
            verifier,
            ids,
            databases,
            register_app: self.register_app,
            shutdown,
        })
    }
}

/// The running services; stopped when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:port`: every service's routes, and the token issuer.
    pub base: String,
    /// An HTTP client that does not follow redirects.
    pub http: reqwest::Client,
    /// The configuration the services run with.
    pub config: Arc<Config>,
    /// The event bus every service uses.
    pub bus: Arc<MemoryBus>,
    /// The broker every service uses.
    pub broker: Arc<dyn Broker>,
    /// Verifies tokens like the gateway does.
    pub verifier: Arc<Verifier>,
    /// The id generator the services use.
    pub ids: Arc<IdGenerator>,
    databases: Vec<(ServiceName, TestDatabase)>,
    register_app: Option<RegisterApp>,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The database of service `name`.
    pub fn database(&self, name: ServiceName) -> &TestDatabase {
        self.databases
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, db)| db)
            .unwrap_or_else(|| panic!("{name:?} is not running"))
    }

    /// `POST /v1/auth/signup`.
    pub async fn signup(&self, email: &str, password: &str, display_name: &str) -> Response {
        self.http
            .post(self.url("/v1/auth/signup"))
            .json(&json!({"email": email, "password": password, "display_name": display_name}))
            .send()
            .await
            .expect("the sign-up request is sent")
    }

    /// Signs `email` up with [`PASSWORD`]; the new user's id.
    pub async fn sign_up(&self, email: &str, display_name: &str) -> String {
        let response = self.signup(email, PASSWORD, display_name).await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        let body: Value = response.json().await.expect("a JSON sign-up answer");
        body["id"].as_str().expect("the user's id").to_owned()
    }

    /// The password grant of `client_id` for `email`.
    pub async fn password_grant(&self, client_id: &str, email: &str, password: &str) -> Response {
        self.http
            .post(self.url("/v1/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("username", email),
                ("password", password),
            ])
            .send()
            .await
            .expect("the token request is sent")
    }

    /// The token response of `client_id`'s password grant for `email` (with
    /// [`PASSWORD`]), asserting 200.
    pub async fn tokens_of(&self, client_id: &str, email: &str) -> Value {
        let response = self.password_grant(client_id, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-in of {email}");
        response.json().await.expect("a JSON token answer")
    }

    /// An access token of `email` from the password grant of `vigor-web`.
    pub async fn access_token(&self, email: &str) -> String {
        access(&self.tokens_of("vigor-web", email).await)
    }

    /// The token response for `email` from a first-party app registered (like
    /// `vigor admin clients create --scope …`) with only `scopes`: a token that
    /// grants no more. Each set of scopes is registered once per app.
    pub async fn token_with_scopes(&self, email: &str, scopes: &[&str]) -> Value {
        let register = self
            .register_app
            .expect("the stack registers apps (Stack::register_apps_with)");
        let id = format!("app-{}", scopes.join("-").replace([':', '.'], "_"));
        register(
            self.database(ServiceName::Auth).database.clone(),
            self.config.clone(),
            self.ids.clone(),
            id.clone(),
            scopes.iter().map(|s| s.to_string()).collect(),
        )
        .await
        .unwrap_or_else(|e| panic!("app {id} is registered: {e:#}"));
        self.tokens_of(&id, email).await
    }

    /// `method path` with `token` and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the request is sent")
    }

    /// The JSON body of `GET path` with `token`, asserting 200.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let response = self.call(Method::GET, token, path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// Subscribes a fresh test consumer group to `topics` (only later events reach it).
    pub async fn listen(&self, topics: &[&str]) -> Box<dyn Subscription> {
        self.bus
            .subscribe(
                topics,
                &super::unique_name("test"),
                "test",
                ConsumerOptions::default(),
            )
            .await
            .expect("the memory bus subscribes")
    }
}

/// The access token of a token response.
pub fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {tokens}"))
        .to_owned()
}

/// Waits (up to 10 s) until `check` holds, else fails naming `what`.
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
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The problem+json body of `response`, after checking its status and type.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        crate::problem::PROBLEM_JSON,
        "errors are problem+json"
    );
    response.json().await.expect("a problem+json body")
}

/// Instantiates each scenario `async fn name(app: TestApp)` once on SQLite and
/// once on PostgreSQL, as tests `sqlite::name` and `postgres::name`.
///
/// `$spawn` (default: `crate::common::TestApp::spawn`, a test crate's own
/// wrapper) is an `async fn(Backend) -> Option<App>`; a PostgreSQL case without
/// the test server is skipped (or fails under the test script, see
/// [`server_url`](crate::testkit::server_url)).
// The default `crate::common::TestApp::spawn` means the calling test crate's
// wrapper, on purpose.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! on_both_backends {
    ($spawn:path; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $spawn($crate::testkit::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = $spawn($crate::testkit::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(crate::common::TestApp::spawn; $($name),+);
    };
}
