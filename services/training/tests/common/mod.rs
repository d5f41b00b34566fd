//! `TestApp`: the training service beside the auth service that issues its
//! tokens, on `vigor_common::testkit`'s harness (a random port, fresh databases
//! of one backend, real sign-ups, real access tokens verified through the auth
//! service's JWKS like the gateway does). One helper per endpoint.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use vigor_common::bus::Subscription;
use vigor_common::config::ServiceName;
use vigor_common::testkit::{self, TestDatabase};
use vigor_common::{Id, IdGenerator};

// Not every test file uses each of them.
#[allow(unused_imports)]
pub use vigor_common::testkit::{problem, Backend, PASSWORD};

/// A running training service and the auth service that issues its tokens.
pub struct TestApp {
    app: testkit::TestApp,
}

impl Deref for TestApp {
    type Target = testkit::TestApp;

    fn deref(&self) -> &testkit::TestApp {
        &self.app
    }
}

impl TestApp {
    /// Starts both services on `backend`; `None` when PostgreSQL is not available.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let app = vigor_auth::testkit::stack(backend)
            .service(vigor_training::spec())
            .spawn()
            .await?;
        Some(TestApp { app })
    }

    /// The training database.
    pub fn db(&self) -> &TestDatabase {
        self.database(ServiceName::Training)
    }

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
        let store = SqlStore::new(self.db().database.clone());
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
        vigor_common::on_pool!(&self.database(ServiceName::Auth).database, pool => sqlx::query(&sql).execute(pool).await.map(|_| ()))
        .unwrap();
    }

    /// Signs a new user up: `(user id, email)`.
    pub async fn signup(&self, name: &str) -> (String, String) {
        let email = format!("{name}-{}@example.com", testkit::unique_name("u"));
        let id = self.sign_up(&email, name).await;
        (id, email)
    }

    /// An access token of `email` from a first-party client registered (like
    /// `vigor admin clients create --scope …`) with only `scopes`.
    pub async fn token_with_scopes(&self, email: &str, scopes: &[&str]) -> String {
        testkit::app::access(&self.app.token_with_scopes(email, scopes).await)
    }

    /// An access token of `email` (password grant of vigor-web).
    pub async fn token(&self, email: &str) -> String {
        self.access_token(email).await
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

    /// Waits (up to 10 s) until `check` holds.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        testkit::eventually(what, check).await
    }

    /// The topics in the training outbox, oldest first.
    pub async fn outbox(&self) -> Vec<(String, Value)> {
        let sql = "SELECT topic, event FROM outbox ORDER BY id";
        let rows: Vec<(String, String)> = match &self.db().database {
            vigor_common::db::Database::Sqlite(pool) => {
                sqlx::query_as(sql).fetch_all(pool).await.unwrap()
            }
            vigor_common::db::Database::Postgres(pool) => {
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
        vigor_common::on_pool!(&self.db().database, pool => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
    }

    /// Subscribes to the workout topics on the bus.
    pub async fn subscribe(&self) -> Box<dyn Subscription> {
        self.listen(&["workout.logged", "workout.updated", "workout.deleted"])
            .await
    }
}
