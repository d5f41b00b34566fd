//! `TestApp`: the auth and users services (and training and social, whose parts
//! the account export gathers) on `vigor_common::testkit`'s harness, wired like all-in-one
//! mode (one event bus, one HTTP server, one verifier in every request) on fresh
//! SQLite or PostgreSQL databases, with one helper per endpoint. Users sign up
//! and sign in for real: every token is issued by the running auth service.

#![allow(dead_code)]

use std::ops::Deref;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use vigor_common::auth::Claims;
use vigor_common::config::ServiceName;
use vigor_common::testkit;
use vigor_users::domain::{Role, Roles};
use vigor_users::export::Exporter;
use vigor_users::UsersService;

pub use vigor_common::testkit::{eventually, Backend, PASSWORD};

/// The running services.
pub struct TestApp {
    app: testkit::TestApp,
    /// The users service's state on its database (for operator actions).
    pub users: UsersService,
}

impl Deref for TestApp {
    type Target = testkit::TestApp;

    fn deref(&self) -> &testkit::TestApp {
        &self.app
    }
}

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
    /// Starts the services on `backend`; `None` when PostgreSQL is not available.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let app = vigor_auth::testkit::stack(backend)
            .service(vigor_users::spec())
            .service(vigor_training::spec())
            .service(vigor_social::spec())
            .service(vigor_gamification::spec())
            .spawn()
            .await?;
        let exporter = Exporter::from_config(&app.config).unwrap();
        let users = UsersService::new(
            app.database(ServiceName::Users).database.clone(),
            app.ids.clone(),
            exporter,
        );
        Some(TestApp { app, users })
    }

    /// `POST /v1/auth/signup`, the password grant, and a wait for the profile that
    /// `user.signed_up` makes.
    pub async fn user(&self, email: &str, display_name: &str) -> User {
        let id = self.sign_up(email, display_name).await;
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
        let tokens = self.token_with_scopes(&user.email, scopes).await;
        assert_eq!(tokens["scope"], scopes.join(" "));
        User {
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            ..user.clone()
        }
    }

    /// The password grant; the token response, or the error status.
    pub async fn login(&self, email: &str, password: &str) -> Result<Value, StatusCode> {
        let response = self.password_grant("vigor-web", email, password).await;
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
