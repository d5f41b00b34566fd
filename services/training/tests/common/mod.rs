//! `TestApp`: the training service started through its `ServiceSpec` on a random
//! port and a fresh database, next to a real auth service (its own database, same
//! backend) that issues the tokens; requests carry real access tokens, verified
//! through the auth service's JWKS like the gateway does. One helper per endpoint.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::auth::{JwksUrl, Verifier, VerifierConfig};
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::Broker;
use vigor_common::bus::memory::MemoryBus;
use vigor_common::bus::{ConsumerOptions, EventBus, Subscription};
use vigor_common::config::Config;
use vigor_common::db::Database;
use vigor_common::service::{ServiceContext, ServiceSpec};
use vigor_common::testkit::{self, TestDatabase};
use vigor_common::{Id, IdGenerator};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running training service and the auth service that issues its tokens.
pub struct TestApp {
    /// `http://127.0.0.1:port` of the training service.
    pub base: String,
    /// `http://127.0.0.1:port` of the auth service.
    pub auth_base: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The training database.
    pub db: TestDatabase,
    /// The bus the outbox relay publishes to.
    pub bus: Arc<MemoryBus>,
    _auth_db: TestDatabase,
    /// The auth service's state on its database (to register clients, as `vigor admin` does).
    pub auth: vigor_auth::AuthService,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A strong password no list has.
pub const PASSWORD: &str = "plum-rocket-41-harbour";

async fn database(backend: Backend, spec: &ServiceSpec) -> Option<TestDatabase> {
    Some(match backend {
        Backend::Sqlite => testkit::sqlite(spec.migrations).await,
        Backend::Postgres => testkit::postgres(spec.migrations).await?,
    })
}

/// Serves `router` on `listener` until `stop`.
fn serve(listener: tokio::net::TcpListener, router: axum::Router, stop: CancellationToken) {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
}

impl TestApp {
    /// Starts both services on `backend`; `None` when PostgreSQL is not available.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let auth_spec = vigor_auth::spec();
        let training_spec = vigor_training::spec();
        let auth_db = database(backend, &auth_spec).await?;
        let db = database(backend, &training_spec).await?;

        let auth_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth_base = format!("http://{}", auth_listener.local_addr().unwrap());
        let mut config = Config::default();
        config.auth.issuer = Some(auth_base.clone());
        let config = Arc::new(config);
        let shutdown = CancellationToken::new();
        let bus = Arc::new(MemoryBus::new());
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
        let context = |db: &TestDatabase, node| ServiceContext {
            config: config.clone(),
            db: Some(db.database.clone()),
            bus: bus.clone(),
            broker: broker.clone(),
            live: Arc::new(vigor_hub::Publisher::in_process(
                broker.clone(),
                &Default::default(),
            )),
            ids: Arc::new(IdGenerator::new(node).unwrap()),
            shutdown: shutdown.clone(),
            tasks: TaskTracker::new(),
        };

        let auth = (auth_spec.build)(context(&auth_db, 1)).await.unwrap();
        serve(auth_listener, auth.router, shutdown.clone());

        let mut verifier_config = VerifierConfig::new(&auth_base, &config.auth.audience);
        verifier_config.min_refresh_interval = Duration::ZERO;
        let keys = JwksUrl::new(format!("{auth_base}/.well-known/jwks.json")).unwrap();
        let verifier = Arc::new(Verifier::new(verifier_config, Arc::new(keys)));

        let training = (training_spec.build)(context(&db, 2)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The gateway puts the verifier into every request; here we do.
        serve(
            listener,
            training.router.layer(Extension(verifier)),
            shutdown.clone(),
        );

        let auth_operator = vigor_auth::AuthService::new(
            auth_db.database.clone(),
            &config,
            Arc::new(IdGenerator::new(3).unwrap()),
        )
        .unwrap();
        Some(TestApp {
            auth: auth_operator,
            base,
            auth_base,
            http: reqwest::Client::new(),
            db,
            bus,
            _auth_db: auth_db,
            shutdown,
        })
    }

    /// `base` + `path`.
    /// Logs one 45-minute workout a day through 2023 for `owner` (alternating runs
    /// of 8 km and squats 3×5×100 kg, all at session RPE 6), straight into the
    /// store: the data of the stats test and benchmark.
    pub async fn seed_daily_year(&self, owner: Id, squat: Id) {
        use vigor_training::domain::kinds::{Privacy, SetType, Sport};
        use vigor_training::domain::units::{Kilograms, Meters, Reps, Rpe};
        use vigor_training::domain::workout::{
            Workout, WorkoutContent, WorkoutExercise, WorkoutSet, WorkoutSource,
        };
        use vigor_training::store::{SqlStore, TrainingStore};
        let store = SqlStore::new(self.db.database.clone());
        let ids = Arc::new(IdGenerator::new(9).unwrap());
        let first: vigor_common::api::Timestamp = "2023-01-01T07:00:00Z".parse().unwrap();
        for day in 0..365 {
            let start = first + chrono::Duration::days(day);
            let set = |w: f64| WorkoutSet {
                set_type: SetType::Working,
                weight_kg: Some(Kilograms::new(w).unwrap()),
                reps: Some(Reps::new(5).unwrap()),
                rpe: None,
                duration_s: None,
                distance_m: None,
                done: true,
            };
            let w = Workout {
                id: ids.next_id(),
                owner_id: owner,
                content: WorkoutContent {
                    sport: if day % 2 == 0 {
                        Sport::Run
                    } else {
                        Sport::Strength
                    },
                    title: "Daily".into(),
                    notes: String::new(),
                    privacy: Privacy::Private,
                    started_at: start,
                    ended_at: start + chrono::Duration::minutes(45),
                    moving_time: None,
                    distance: (day % 2 == 0).then(|| Meters::new(8000.0).unwrap()),
                    elevation_gain: None,
                    avg_heart_rate: None,
                    max_heart_rate: None,
                    calories: None,
                    rpe: Some(Rpe::new(6.0).unwrap()),
                    exercises: vec![WorkoutExercise {
                        exercise_id: squat,
                        sets: vec![set(100.0), set(100.0), set(100.0)],
                    }],
                },
                source: WorkoutSource::Manual,
                track: None,
                version: 1,
                created_at: start,
                updated_at: start,
            };
            let event = |r: &vigor_training::store::Reflagged| {
                vigor_training::events::written(
                    &ids,
                    vigor_training::events::WORKOUT_LOGGED,
                    &w,
                    &r.records,
                    &r.changed,
                )
            };
            store.insert_workout(&w, &event).await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs a new user up and returns `(user id, access token)`.
    pub async fn user(&self, name: &str) -> (String, String) {
        let (id, email) = self.signup(name).await;
        let token = self.token(&email).await;
        (id, token)
    }

    /// Signs a new user up with the `coach` role and returns `(user id, access token)`.
    pub async fn coach(&self, name: &str) -> (String, String) {
        let (id, email) = self.signup(name).await;
        self.set_roles(&id, "user coach").await;
        let token = self.token(&email).await;
        (id, token)
    }

    /// Sets user `id`'s roles (space-separated) as the users service's
    /// `user.roles_changed` would, straight into auth's credentials: the next
    /// token carries them.
    pub async fn set_roles(&self, id: &str, roles: &str) {
        let sql = format!("UPDATE credentials SET roles = '{roles}' WHERE user_id = {id}");
        vigor_common::on_pool!(&self._auth_db.database, pool => sqlx::query(&sql).execute(pool).await.map(|_| ()))
        .unwrap();
    }

    /// Signs a new user up: `(user id, email)`.
    pub async fn signup(&self, name: &str) -> (String, String) {
        let email = format!("{name}-{}@example.com", testkit::unique_name("u"));
        let response = self
            .http
            .post(format!("{}/v1/auth/signup", self.auth_base))
            .json(&json!({"email": email, "password": PASSWORD, "display_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, email)
    }

    /// An access token of `email` from a first-party client registered (like
    /// `vigor admin clients create --scope …`) with only `scopes`.
    pub async fn token_with_scopes(&self, email: &str, scopes: &[&str]) -> String {
        let id = format!("app-{}", scopes.join("-").replace([':', '.'], "_"));
        // Registered once per test app: each test asks for a set of scopes once.
        self.auth
            .create_client(vigor_auth::NewClient::first_party_app(&id, scopes))
            .await
            .unwrap();
        self.token_of(email, &id).await
    }

    /// An access token of `email` (password grant of vigor-web).
    pub async fn token(&self, email: &str) -> String {
        self.token_of(email, "vigor-web").await
    }

    /// An access token of `email` from the password grant of `client_id`.
    async fn token_of(&self, email: &str, client_id: &str) -> String {
        let response = self
            .http
            .post(format!("{}/v1/oauth/token", self.auth_base))
            .form(&[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("username", email),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `GET /v1/training/exercises?{query}`.
    pub async fn exercises(&self, token: &str, query: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/v1/training/exercises"))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/training/exercises/{id}`.
    pub async fn exercise(&self, token: &str, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/v1/training/exercises/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/training/exercises`.
    pub async fn create_exercise(&self, token: &str, body: &Value, key: Option<&str>) -> Response {
        let mut request = self
            .http
            .post(self.url("/v1/training/exercises"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// The id of the first catalogue exercise matching `q`.
    pub async fn exercise_id(&self, token: &str, q: &str) -> String {
        let response = self.exercises(token, &[("q", q), ("limit", "1")]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/training/workouts`.
    pub async fn log(&self, token: &str, body: &Value, key: Option<&str>) -> Response {
        let mut request = self
            .http
            .post(self.url("/v1/training/workouts"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// Logs `body` and returns the stored workout.
    pub async fn logged(&self, token: &str, body: &Value) -> Value {
        let response = self.log(token, body, None).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `GET /v1/training/workouts/{id}`.
    pub async fn workout(&self, token: &str, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/v1/training/workouts/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `PATCH /v1/training/workouts/{id}`.
    pub async fn patch(&self, token: &str, id: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(&format!("/v1/training/workouts/{id}")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /v1/training/workouts/{id}`.
    pub async fn delete(&self, token: &str, id: &str) -> Response {
        self.http
            .delete(self.url(&format!("/v1/training/workouts/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/training/workouts/import` with `file` and extra text fields.
    pub async fn import(
        &self,
        token: &str,
        file: &[u8],
        fields: &[(&str, &str)],
        key: Option<&str>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file.to_vec()).file_name("activity"),
        );
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        let mut request = self
            .http
            .post(self.url("/v1/training/workouts/import"))
            .bearer_auth(token)
            .multipart(form);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// `method path` with `token` and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// `GET path` answering 200, as JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let response = self.call(reqwest::Method::GET, token, path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Waits (up to 10 s) until `check` holds.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..200 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// The topics in the training outbox, oldest first.
    pub async fn outbox(&self) -> Vec<(String, Value)> {
        let sql = "SELECT topic, event FROM outbox ORDER BY id";
        let rows: Vec<(String, String)> = match &self.db.database {
            Database::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
            Database::Postgres(pool) => {
                let sql = "SELECT topic, event::text FROM outbox ORDER BY id";
                sqlx::query_as(sql).fetch_all(pool).await.unwrap()
            }
        };
        rows.into_iter()
            .map(|(topic, event)| (topic, serde_json::from_str(&event).unwrap()))
            .collect()
    }

    /// How many workouts are stored.
    pub async fn workout_count(&self) -> i64 {
        let sql = "SELECT COUNT(*) FROM workouts";
        vigor_common::on_pool!(&self.db.database, pool => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
    }

    /// Subscribes to the workout topics on the bus.
    pub async fn subscribe(&self) -> Box<dyn Subscription> {
        self.bus
            .subscribe(
                &["workout.logged", "workout.updated", "workout.deleted"],
                "test",
                "test-1",
                ConsumerOptions::default(),
            )
            .await
            .unwrap()
    }
}

/// The problem+json body of a response, after checking its status and type.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are problem+json"
    );
    response.json().await.unwrap()
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
