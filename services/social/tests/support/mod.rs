//! What the social service's black-box tests share: the app (auth and social
//! on one backend), signed-in people, and JSON calls that check the status.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vigor_common::testkit::{self, Backend};

pub struct App {
    pub app: testkit::TestApp,
}

impl std::ops::Deref for App {
    type Target = testkit::TestApp;
    fn deref(&self) -> &testkit::TestApp {
        &self.app
    }
}

/// A signed-in person: their id and access token.
pub struct Person {
    pub id: String,
    pub token: String,
}

impl App {
    pub async fn spawn(backend: Backend) -> Option<App> {
        let app = vigor_auth::testkit::stack(backend)
            .service(vigor_social::spec())
            .spawn()
            .await?;
        Some(App { app })
    }

    pub async fn person(&self, name: &str) -> Person {
        let email = format!("{name}@example.com");
        let id = self.sign_up(&email, name).await;
        let token = self.access_token(&email).await;
        Person { id, token }
    }

    pub async fn send(
        &self,
        who: &Person,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.call(method, &who.token, path, body.as_ref()).await
    }

    pub async fn json(
        &self,
        who: &Person,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.send(who, method.clone(), path, body).await;
        let got = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}
