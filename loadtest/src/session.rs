//! Opening connections: the address (loopback only), the WebSocket handshake,
//! and the hub's setup frames (`welcome`, `subscribe`), which are parsed with
//! serde because they are few. The hot path — events — never comes here.
//!
//! Two kinds of server are driven:
//! - **Vigor** (`/v1/ws`): a session authenticates with the subprotocols
//!   `vigor.v1, bearer.<JWT>` (one round trip less than an `auth` frame), waits
//!   for `welcome`, then subscribes with a `subscribe` frame and waits for its `ack`.
//! - **Baseline** (`loadtest/peers/server.js`): no authentication and no
//!   envelope; a connection names its room in the query (`/?room=R`), and
//!   `send_only=1` keeps a publisher out of the broadcast.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::Url;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use crate::lean::Conn;

/// One client connection through tungstenite (publishers; receivers use
/// [`crate::lean`]).
pub type Ws = WebSocketStream<TcpStream>;

/// How long a handshake, a `welcome` or an `ack` may take.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The hub's protocol version, offered as a subprotocol.
const SUBPROTOCOL: &str = "vigor.v1";

/// Which server the generator drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Vigor's hub: authenticated sessions and `subscribe` frames; messages are
    /// published through `POST /v1/hub/publish`.
    Vigor,
    /// The plain Node `ws` broadcast server in `loadtest/peers/`.
    Baseline,
}

/// Where connections go: a loopback address and the URLs built on it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server's address (always loopback).
    pub addr: SocketAddr,
    /// The WebSocket URL (`ws://127.0.0.1:8080/v1/ws`, or `/` for the baseline).
    pub ws_url: Url,
    /// `http://host:port`, for signing users up.
    pub http_base: String,
    /// Which server this is.
    pub target: Target,
}

impl Endpoint {
    /// Parses `ws://host:port[/path]`. A missing path means `/v1/ws` for Vigor and
    /// `/` for the baseline. Only loopback hosts are accepted: loads never leave
    /// the machine.
    pub fn parse(url: &str, target: Target) -> anyhow::Result<Endpoint> {
        let mut ws_url = Url::parse(url).with_context(|| format!("--url {url}"))?;
        if ws_url.scheme() != "ws" {
            bail!("--url must be ws://…: loads only target the local machine, without TLS");
        }
        let host = ws_url
            .host_str()
            .ok_or_else(|| anyhow!("--url has no host"))?;
        let ip: IpAddr = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            other => other
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .with_context(|| format!("--url host {other} is not an IP address"))?,
        };
        if !ip.is_loopback() {
            bail!("--url host {ip} is not a loopback address: loads only target 127.0.0.1");
        }
        let port = ws_url
            .port_or_known_default()
            .ok_or_else(|| anyhow!("--url has no port"))?;
        if ws_url.path().is_empty() || ws_url.path() == "/" {
            ws_url.set_path(match target {
                Target::Vigor => "/v1/ws",
                Target::Baseline => "/",
            });
        }
        let addr = SocketAddr::new(ip, port);
        Ok(Endpoint {
            addr,
            ws_url,
            http_base: format!("http://{addr}"),
            target,
        })
    }

    /// The baseline URL for a connection in `room`.
    pub fn baseline_url(&self, room: &str, send_only: bool) -> Url {
        let mut url = self.ws_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("room", room);
            if send_only {
                query.append_pair("send_only", "1");
            }
        }
        url
    }
}

/// Small client buffers: a run may hold 20,000 connections in this process.
pub fn client_config(buffer_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(buffer_bytes)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// TCP connect and WebSocket handshake to `url` on `addr`; `bearer` adds the
/// subprotocols `vigor.v1, bearer.<token>`.
pub async fn open(
    addr: SocketAddr,
    url: &Url,
    bearer: Option<&str>,
    buffer_bytes: usize,
) -> anyhow::Result<Ws> {
    let handshake = async {
        let tcp = connect_tcp(addr).await?;
        let mut request = url.as_str().into_client_request()?;
        if let Some(token) = bearer {
            let protocols = HeaderValue::from_str(&format!("{SUBPROTOCOL}, bearer.{token}"))
                .context("the token is not a valid header value")?;
            request
                .headers_mut()
                .insert(SEC_WEBSOCKET_PROTOCOL, protocols);
        }
        let (ws, _) = tokio_tungstenite::client_async_with_config(
            request,
            tcp,
            Some(client_config(buffer_bytes)),
        )
        .await
        .with_context(|| format!("WebSocket handshake with {url}"))?;
        anyhow::Ok(ws)
    };
    tokio::time::timeout(SETUP_TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("no WebSocket handshake within {SETUP_TIMEOUT:?}"))?
}

/// Opens a lean receiving connection (see [`crate::lean`]) to `url`; `bearer`
/// adds the subprotocols `vigor.v1, bearer.<token>`.
pub async fn open_lean(
    addr: SocketAddr,
    url: &Url,
    bearer: Option<&str>,
    buffer_bytes: usize,
) -> anyhow::Result<Conn> {
    let protocols = bearer.map(|token| format!("{SUBPROTOCOL}, bearer.{token}"));
    let handshake = async {
        let tcp = connect_tcp(addr).await?;
        Conn::handshake(tcp, url, protocols.as_deref(), buffer_bytes).await
    };
    tokio::time::timeout(SETUP_TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("no WebSocket handshake within {SETUP_TIMEOUT:?}"))?
}

/// A TCP connection to `addr`, without Nagle's delay.
async fn connect_tcp(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Opens a Vigor session authenticated by subprotocol; returns it with its user id.
pub async fn open_vigor(
    endpoint: &Endpoint,
    token: &str,
    buffer_bytes: usize,
) -> anyhow::Result<(Conn, String)> {
    let mut conn = open_lean(endpoint.addr, &endpoint.ws_url, Some(token), buffer_bytes).await?;
    let welcome = next_json(&mut conn).await.context("waiting for welcome")?;
    match welcome["type"].as_str() {
        Some("welcome") => {}
        _ => bail!("expected a welcome frame, got {welcome}"),
    }
    let user = welcome["user_id"]
        .as_str()
        .ok_or_else(|| anyhow!("welcome without user_id: {welcome}"))?
        .to_owned();
    Ok((conn, user))
}

/// Sends `{"type":"subscribe","id":ID,"channel":C}` and waits for its `ack`.
pub async fn subscribe(conn: &mut Conn, id: u64, channel: &str) -> anyhow::Result<()> {
    let frame = serde_json::json!({"type": "subscribe", "id": id, "channel": channel});
    conn.send_text(&frame.to_string()).await?;
    answer(conn, id)
        .await
        .with_context(|| format!("subscribing to {channel}"))?;
    Ok(())
}

/// Waits for the answer to request `id`: its `ack` result, or the `error` as an error.
async fn answer(conn: &mut Conn, id: u64) -> anyhow::Result<Value> {
    loop {
        let frame = next_json(conn).await?;
        if frame["id"].as_u64() != Some(id) {
            continue; // an event or another request's answer
        }
        match frame["type"].as_str() {
            Some("ack") => return Ok(frame["result"].clone()),
            Some("error") => bail!(
                "refused: {} ({})",
                frame["code"].as_str().unwrap_or("?"),
                frame["message"].as_str().unwrap_or("")
            ),
            _ => continue,
        }
    }
}

/// The next text frame as JSON, within [`SETUP_TIMEOUT`]; a close is an error
/// naming its code.
async fn next_json(conn: &mut Conn) -> anyhow::Result<Value> {
    let text = tokio::time::timeout(SETUP_TIMEOUT, conn.next_text())
        .await
        .map_err(|_| anyhow!("no answer within {SETUP_TIMEOUT:?}"))??;
    serde_json::from_str::<Value>(&text)
        .with_context(|| format!("a frame that is not JSON: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_default_paths_and_must_be_loopback() {
        let vigor = Endpoint::parse("ws://127.0.0.1:8080", Target::Vigor).unwrap();
        assert_eq!(vigor.ws_url.as_str(), "ws://127.0.0.1:8080/v1/ws");
        assert_eq!(vigor.http_base, "http://127.0.0.1:8080");
        let baseline = Endpoint::parse("ws://localhost:9000", Target::Baseline).unwrap();
        assert_eq!(baseline.addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            baseline.baseline_url("chat:1", true).as_str(),
            "ws://localhost:9000/?room=chat%3A1&send_only=1"
        );
        let custom = Endpoint::parse("ws://[::1]:8080/ws", Target::Vigor).unwrap();
        assert_eq!(custom.ws_url.path(), "/ws");
        for bad in [
            "ws://10.0.0.1:8080",
            "ws://example.com:8080",
            "wss://127.0.0.1:8443",
            "http://127.0.0.1:8080",
            "not a url",
        ] {
            assert!(Endpoint::parse(bad, Target::Vigor).is_err(), "{bad}");
        }
    }
}
