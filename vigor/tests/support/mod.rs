//! Starting real `vigor` processes for black-box tests.
//!
//! Each process listens on `127.0.0.1:0` and logs JSON; the helper reads its stderr
//! until the "vigor is serving" line and takes the bound address from it, so tests
//! never race for ports. Dropping a [`Vigor`] kills the process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vigor_common::config::{env_name, ServiceName};

/// A running `vigor` process.
pub struct Vigor {
    child: Child,
    /// `http://127.0.0.1:PORT` (or https).
    pub url: String,
    /// Every log line so far is forwarded here by a reader thread.
    logs: mpsc::Receiver<String>,
    _data: Option<tempfile::TempDir>,
}

/// The `vigor` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_vigor")
}

/// `vigor` with a clean environment (no stray `VIGOR_*` from the caller).
pub fn command() -> Command {
    let mut command = Command::new(binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGOR_") {
            command.env_remove(key);
        }
    }
    command
}

impl Vigor {
    /// Starts `vigor serve` with a fresh data dir, `args` and `env`, and waits until
    /// it serves.
    pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Vigor {
        let data = tempfile::tempdir().expect("temp dir");
        let mut vigor = Vigor::serve_in(data.path(), args, env);
        vigor._data = Some(data);
        vigor
    }

    /// Starts `vigor serve` on the data dir `data` (kept by the caller).
    pub fn serve_in(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Vigor {
        let mut command = command();
        command
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--data-dir",
            ])
            .arg(data)
            .args(args)
            .envs(env.iter().copied());
        Vigor::start(command, None)
    }

    fn start(mut command: Command, data: Option<tempfile::TempDir>) -> Vigor {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vigor starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(remaining) {
                Ok(line) => {
                    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                        if json["message"] == "vigor is serving" {
                            let address = json["address"].as_str().expect("address field");
                            let scheme = if json["tls"] == true { "https" } else { "http" };
                            return Vigor {
                                child,
                                url: format!("{scheme}://{address}"),
                                logs: rx,
                                _data: data,
                            };
                        }
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("vigor did not start; it said:\n{}", seen.join("\n"));
                }
            }
        }
    }

    /// Sends SIGTERM and waits for the exit, at most `limit`.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Log lines received so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Vigor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `vigor admin --data-dir DATA ARGS…`, which must succeed; its stdout.
pub fn admin(data: &std::path::Path, args: &[&str]) -> String {
    let output = command()
        .arg("admin")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("vigor admin runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The `client_secret=` line of `vigor admin clients create`'s output.
pub fn client_secret(created: &str) -> String {
    created
        .lines()
        .find_map(|l| l.strip_prefix("client_secret="))
        .expect("the secret is printed once")
        .to_owned()
}

/// The password of every account the tests make.
pub const PASSWORD: &str = "correct horse battery staple";

/// Signs a new user up through `base` and returns an access token from the
/// password grant of the built-in `vigor-web` client.
pub async fn sign_up_and_get_token(base: &str, email: &str) -> String {
    let client = http();
    let signup = client
        .post(format!("{base}/v1/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Test Athlete"}))
        .send()
        .await
        .expect("signup answers");
    assert_eq!(
        signup.status(),
        201,
        "{}",
        signup.text().await.unwrap_or_default()
    );
    password_token(base, email).await
}

/// An access token for an existing account (password grant of `vigor-web`).
pub async fn password_token(base: &str, email: &str) -> String {
    let token = password_grant(base, "vigor-web", email).await;
    token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {token}"))
        .to_owned()
}

/// The token endpoint's answer to the password grant of `client_id` for an
/// existing account (access and refresh token, scope).
pub async fn password_grant(base: &str, client_id: &str, email: &str) -> serde_json::Value {
    http()
        .post(format!("{base}/v1/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("username", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("token endpoint answers")
        .json()
        .await
        .expect("a JSON token response")
}

/// A plain HTTP client for the tests (no proxy from the environment).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `method url` as the holder of `token`, with an optional JSON body: the status
/// and the JSON answer (`null` when there is none).
pub async fn rest(
    token: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("vigor answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Starts each service as its own target and a gateway in front of them, as
/// `compose/local-cluster` does: they share the test Redis (under a key prefix of
/// their own) for events, agree on the token issuer, and the services take the
/// client address the gateway decided.
pub fn cluster(redis_url: &str, issuer: &str) -> (Vec<Vigor>, Vigor) {
    let prefix = format!("{}:", vigor_common::testkit::unique_name("wiring"));
    cluster_with(redis_url, issuer, &prefix, None)
}

/// [`cluster`] under the Redis key prefix `prefix`, each service on the data
/// dir `data/<service>` when `data` is given (kept by the caller, e.g. to run
/// `vigor admin` on a service's database), else on a fresh one.
pub fn cluster_with(
    redis_url: &str,
    issuer: &str,
    prefix: &str,
    data: Option<&std::path::Path>,
) -> (Vec<Vigor>, Vigor) {
    let shared = vec![
        ("VIGOR_REDIS_URL".to_owned(), redis_url.to_owned()),
        ("VIGOR_REDIS_PREFIX".to_owned(), prefix.to_owned()),
        ("VIGOR_AUTH_ISSUER".to_owned(), issuer.to_owned()),
    ];
    let mut urls: Vec<(String, String)> = Vec::new();
    let mut services = Vec::new();
    for (i, service) in ServiceName::ALL.into_iter().enumerate() {
        // Auth starts first; every later service reads its keys from it.
        let mut env = shared.clone();
        env.push(("VIGOR_HTTP_BEHIND_GATEWAY".to_owned(), "true".to_owned()));
        env.extend(urls.iter().filter(|(k, _)| k == "VIGOR_AUTH_URL").cloned());
        let node = (i + 1).to_string();
        let args = ["--target", service.as_str(), "--node-id", &node];
        let vigor = match data {
            Some(root) => {
                let dir = root.join(service.as_str());
                std::fs::create_dir_all(&dir).expect("a service's data dir");
                Vigor::serve_in(&dir, &args, &pairs(&env))
            }
            None => Vigor::serve(&args, &pairs(&env)),
        };
        urls.push((env_name(&format!("{service}.url")), vigor.url.clone()));
        services.push(vigor);
    }
    let mut env = shared;
    env.extend(urls);
    let gateway = Vigor::serve(&["--target", "gateway", "--node-id", "100"], &pairs(&env));
    (services, gateway)
}

/// `(name, value)` pairs borrowed, as [`Vigor::serve`] takes them.
pub fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A WebSocket session of a test.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame within `wait` (`None`: quiet that long); panics when
/// the session ends.
pub async fn next_frame(ws: &mut Socket, wait: Duration) -> Option<serde_json::Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(&text).expect("a JSON frame"))
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("the session ended: {other:?}"),
        }
    }
}

/// A WebSocket session at `base`'s `/v1/ws` signed in with `token` (through
/// the `Sec-WebSocket-Protocol` header), and its welcome frame.
pub async fn connect(base: &str, token: &str) -> (Socket, serde_json::Value) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/v1/ws", base.replacen("http", "ws", 1));
    let mut request = url.as_str().into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("vigor.v1, bearer.{token}")
            .parse()
            .expect("a header value"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket connects");
    let welcome = next_frame(&mut ws, Duration::from_secs(10))
        .await
        .expect("a welcome within 10 s");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}
