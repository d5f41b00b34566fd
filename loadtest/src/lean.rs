//! A lean client WebSocket for the receiving connections.
//!
//! A million deliveries a second through `tokio-tungstenite` cost the generator
//! most of a core in framework work per message — a buffer split and an
//! allocation, UTF-8 validation, waker bookkeeping — which the server then lacks
//! on a two-core machine. This client does only what a subscriber needs: the
//! opening handshake (RFC 6455 §4.1, the `Sec-WebSocket-Accept` checked), masked
//! text frames to the server (setup only), and reading: one `read` fills the
//! connection's buffer, and every complete message in it is handed to the caller
//! as a byte slice, in place. Pings are answered with pongs; a close frame ends
//! the connection. Fragmented messages are reassembled (servers rarely send
//! them); extensions are never negotiated.

use std::io;

use anyhow::{anyhow, bail, Context};
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The largest message accepted (as for the tungstenite connections).
pub const MAX_MESSAGE: usize = 1 << 20;

/// The longest handshake response read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A message from the server, as seen by [`Conn::read_some`].
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A complete text message (not checked for UTF-8).
    Text(&'a [u8]),
    /// A complete binary message.
    Binary(&'a [u8]),
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code (1005 when the frame had none, 1006 when the TCP
    /// connection ended without a close frame).
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

/// One client connection after its handshake.
pub struct Conn {
    tcp: TcpStream,
    /// Received bytes; `buf[start..]` is not yet parsed.
    buf: Vec<u8>,
    start: usize,
    /// The message being reassembled from fragments, with its opcode.
    partial: Option<(u8, Vec<u8>)>,
    /// Mask keys: a xorshift sequence (masking hides nothing on loopback; the
    /// protocol only requires that a client masks).
    mask_state: u32,
}

/// A parsed frame header: `fin`, opcode, where the payload is, where the frame ends.
struct Header {
    fin: bool,
    opcode: u8,
    payload: std::ops::Range<usize>,
}

impl Conn {
    /// The opening handshake with `url` on the connected `tcp`; `protocols`
    /// becomes `Sec-WebSocket-Protocol`. The read buffer starts at `buffer_bytes`
    /// and grows only for a message that does not fit.
    pub async fn handshake(
        mut tcp: TcpStream,
        url: &Url,
        protocols: Option<&str>,
        buffer_bytes: usize,
    ) -> anyhow::Result<Conn> {
        let port = tcp.local_addr().map(|a| a.port()).unwrap_or(0);
        let key = generate_key();
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let host = url.host_str().ok_or_else(|| anyhow!("{url} has no host"))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(protocols) = protocols {
            if protocols.contains(['\r', '\n']) {
                bail!("the subprotocols contain a line break");
            }
            request.push_str(&format!("Sec-WebSocket-Protocol: {protocols}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await?;

        let mut buf = Vec::with_capacity(buffer_bytes.max(1024));
        let head_end = loop {
            if let Some(at) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() >= MAX_RESPONSE_HEAD {
                bail!("the handshake response is longer than {MAX_RESPONSE_HEAD} bytes");
            }
            if read_more(&mut tcp, &mut buf, 1024).await? == 0 {
                bail!("the connection ended during the handshake");
            }
        };
        check_response(&buf[..head_end], &key)
            .with_context(|| format!("WebSocket handshake with {url}"))?;
        // Frames that came with the response stay in the buffer.
        Ok(Conn {
            tcp,
            buf,
            start: head_end,
            partial: None,
            mask_state: 0x9E37_79B9 ^ u32::from(port),
        })
    }

    /// Sends a text message in one masked frame.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        let frame = self.masked_frame(OP_TEXT, text.as_bytes());
        self.tcp.write_all(&frame).await
    }

    /// Waits for data, then hands every complete message in the buffer to
    /// `on_message` (at least one, unless the connection ended). Answers pings
    /// on the way. `Err(Closed)` when the server closed the connection or it
    /// failed.
    pub async fn read_some(&mut self, on_message: impl FnMut(Incoming<'_>)) -> Result<(), Closed> {
        self.read_messages(usize::MAX, on_message).await
    }

    /// The next text message as an owned string (for setup frames, not the hot
    /// path); what follows it stays buffered.
    pub async fn next_text(&mut self) -> Result<String, Closed> {
        loop {
            let mut text = None;
            self.read_messages(1, |message| {
                if let Incoming::Text(bytes) = message {
                    text = Some(String::from_utf8_lossy(bytes).into_owned());
                }
            })
            .await?;
            if let Some(text) = text {
                return Ok(text);
            }
        }
    }

    /// [`Conn::read_some`], stopping after `limit` messages.
    async fn read_messages(
        &mut self,
        limit: usize,
        mut on_message: impl FnMut(Incoming<'_>),
    ) -> Result<(), Closed> {
        let mut delivered = 0;
        loop {
            while delivered < limit {
                let Some(header) = self.next_header().map_err(protocol_error)? else {
                    break;
                };
                let end = header.payload.end;
                if self.dispatch(header, &mut on_message).await? {
                    delivered += 1;
                }
                self.start = end;
            }
            self.compact();
            if delivered > 0 {
                return Ok(());
            }
            let want = self.buf.capacity().max(1024);
            match read_more(&mut self.tcp, &mut self.buf, want).await {
                Ok(0) => return Err(Closed::abnormal("the connection ended")),
                Ok(_) => {}
                Err(error) => return Err(Closed::abnormal(&error.to_string())),
            }
        }
    }

    /// Handles one frame; true when a message went to `on_message`.
    async fn dispatch(
        &mut self,
        header: Header,
        on_message: &mut impl FnMut(Incoming<'_>),
    ) -> Result<bool, Closed> {
        let payload = header.payload;
        match header.opcode {
            OP_TEXT | OP_BINARY if header.fin && self.partial.is_none() => {
                let bytes = &self.buf[payload];
                on_message(if header.opcode == OP_TEXT {
                    Incoming::Text(bytes)
                } else {
                    Incoming::Binary(bytes)
                });
                Ok(true)
            }
            OP_TEXT | OP_BINARY if self.partial.is_none() => {
                self.partial = Some((header.opcode, self.buf[payload].to_vec()));
                Ok(false)
            }
            OP_CONTINUATION => {
                let Some((opcode, mut message)) = self.partial.take() else {
                    return Err(protocol_error("a continuation frame without a message"));
                };
                message.extend_from_slice(&self.buf[payload]);
                if message.len() > MAX_MESSAGE {
                    return Err(protocol_error("a message larger than 1 MiB"));
                }
                if !header.fin {
                    self.partial = Some((opcode, message));
                    return Ok(false);
                }
                on_message(if opcode == OP_TEXT {
                    Incoming::Text(&message)
                } else {
                    Incoming::Binary(&message)
                });
                Ok(true)
            }
            OP_TEXT | OP_BINARY => Err(protocol_error("a new message inside a fragmented one")),
            OP_PING => {
                let body = self.buf[payload].to_vec();
                let pong = self.masked_frame(OP_PONG, &body);
                self.tcp
                    .write_all(&pong)
                    .await
                    .map_err(|e| Closed::abnormal(&e.to_string()))?;
                Ok(false)
            }
            OP_PONG => Ok(false),
            OP_CLOSE => {
                let body = &self.buf[payload];
                let closed = match body {
                    [hi, lo, reason @ ..] => Closed {
                        code: u16::from_be_bytes([*hi, *lo]),
                        reason: String::from_utf8_lossy(reason).into_owned(),
                    },
                    _ => Closed {
                        code: 1005,
                        reason: String::new(),
                    },
                };
                // Answer the close (best effort), as the protocol asks.
                let reply = self.masked_frame(OP_CLOSE, &closed.code.to_be_bytes());
                let _ = self.tcp.write_all(&reply).await;
                Err(closed)
            }
            other => Err(protocol_error(&format!("unknown opcode {other:#x}"))),
        }
    }

    /// The header of the next complete frame in the buffer, if one is there.
    fn next_header(&mut self) -> Result<Option<Header>, &'static str> {
        let Some(header) = parse_header(&self.buf[self.start..])? else {
            return Ok(None);
        };
        Ok(Some(Header {
            payload: self.start + header.payload.start..self.start + header.payload.end,
            ..header
        }))
    }

    /// Moves unparsed bytes to the front; grows the buffer for a frame that
    /// cannot fit in it.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if let Ok(Some(needed)) = frame_len(&self.buf) {
            if needed > self.buf.capacity() {
                self.buf.reserve(needed - self.buf.len());
            }
        }
    }

    fn masked_frame(&mut self, opcode: u8, payload: &[u8]) -> Vec<u8> {
        self.mask_state ^= self.mask_state << 13;
        self.mask_state ^= self.mask_state >> 17;
        self.mask_state ^= self.mask_state << 5;
        masked_frame(opcode, payload, self.mask_state.to_be_bytes())
    }
}

impl Closed {
    fn abnormal(reason: &str) -> Closed {
        Closed {
            code: 1006,
            reason: reason.to_owned(),
        }
    }
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the connection closed: {} {}", self.code, self.reason)
    }
}

impl std::error::Error for Closed {}

fn protocol_error(what: &str) -> Closed {
    Closed {
        code: 1002,
        reason: format!("protocol error: {what}"),
    }
}

/// Reads what is available (up to `want` more bytes) onto the end of `buf`.
async fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    if buf.capacity() - buf.len() < want.min(1024) {
        buf.reserve(want);
    }
    // Into the spare capacity: never zeroed, never more than it.
    tcp.read_buf(buf).await
}

/// Checks a `101 Switching Protocols` response and its accept key.
fn check_response(head: &[u8], key: &str) -> anyhow::Result<()> {
    let head = std::str::from_utf8(head).context("the response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "101" {
        bail!("the server answered `{status}`, not 101");
    }
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim())
        .ok_or_else(|| anyhow!("no Sec-WebSocket-Accept in the response"))?;
    if accept != derive_accept_key(key.as_bytes()) {
        bail!("Sec-WebSocket-Accept does not match the key");
    }
    Ok(())
}

/// A frame's header parsed from the start of `bytes`, when the whole frame is there.
fn parse_header(bytes: &[u8]) -> Result<Option<Header>, &'static str> {
    let Some(total) = frame_len(bytes)? else {
        return Ok(None);
    };
    if bytes.len() < total {
        return Ok(None);
    }
    let (b0, b1) = (bytes[0], bytes[1]);
    if b0 & 0x70 != 0 {
        return Err("reserved bits set (no extension was negotiated)");
    }
    if b1 & 0x80 != 0 {
        return Err("a masked frame from the server");
    }
    let opcode = b0 & 0x0F;
    let fin = b0 & 0x80 != 0;
    let payload_len = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + payload_len;
    if opcode >= 0x8 && (!fin || total - header_len > 125) {
        return Err("a fragmented or oversized control frame");
    }
    Ok(Some(Header {
        fin,
        opcode,
        payload: header_len..total,
    }))
}

/// The length of the frame starting `bytes`, once its header is complete.
fn frame_len(bytes: &[u8]) -> Result<Option<usize>, &'static str> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let (header, len) = match bytes[1] & 0x7F {
        126 => match bytes.get(2..4) {
            Some(b) => (4, u64::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(None),
        },
        127 => match bytes.get(2..10) {
            Some(b) => (10, u64::from_be_bytes(b.try_into().expect("8 bytes"))),
            None => return Ok(None),
        },
        short => (2, u64::from(short)),
    };
    if len > MAX_MESSAGE as u64 {
        return Err("a frame larger than 1 MiB");
    }
    Ok(Some(header + len as usize))
}

/// A client frame: FIN, `opcode`, masked with `key`.
fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::Message;

    #[test]
    fn headers_of_every_length_encoding_parse() {
        for len in [0usize, 5, 125, 126, 300, 65_535, 65_536, 70_000] {
            let mut frame = vec![0x81];
            match len {
                0..=125 => frame.push(len as u8),
                126..=65_535 => {
                    frame.push(126);
                    frame.extend_from_slice(&(len as u16).to_be_bytes());
                }
                _ => {
                    frame.push(127);
                    frame.extend_from_slice(&(len as u64).to_be_bytes());
                }
            }
            let header_len = frame.len();
            frame.extend(std::iter::repeat_n(b'x', len));
            // Incomplete until the last byte is there.
            assert!(parse_header(&frame[..frame.len() - 1]).unwrap().is_none() || len == 0);
            let header = parse_header(&frame).unwrap().expect("complete");
            assert_eq!((header.fin, header.opcode), (true, OP_TEXT));
            assert_eq!(header.payload, header_len..header_len + len);
        }
        assert!(
            parse_header(&[0x81, 0x85, 0, 0, 0, 0, 1, 2, 3, 4, 5]).is_err(),
            "masked"
        );
        assert!(
            parse_header(&[0xC1, 0x00]).is_err(),
            "RSV1 without an extension"
        );
        assert!(parse_header(&[0x09, 0x00]).is_err(), "fragmented ping");
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&(MAX_MESSAGE as u64 + 1).to_be_bytes());
        assert!(parse_header(&huge).is_err(), "over the limit");
    }

    #[test]
    fn masking_round_trips() {
        let key = [1, 2, 3, 4];
        let frame = masked_frame(OP_TEXT, b"hello", key);
        assert_eq!(&frame[..2], &[0x81, 0x85]);
        assert_eq!(&frame[2..6], &key);
        let unmasked: Vec<u8> = frame[6..]
            .iter()
            .zip(key.iter().cycle())
            .map(|(b, k)| b ^ k)
            .collect();
        assert_eq!(unmasked, b"hello");
    }

    /// A real tungstenite server: the client against an independent implementation.
    #[tokio::test]
    async fn talks_to_a_tungstenite_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            // The client's first frame, echoed with a prefix.
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                panic!("expected a text frame");
            };
            ws.send(Message::text(format!("echo {text}")))
                .await
                .unwrap();
            // A burst: many messages for one read, a large one, a ping between.
            for i in 0..100 {
                ws.feed(Message::text(format!("m{i}"))).await.unwrap();
            }
            ws.feed(Message::Ping(b"are you there".to_vec().into()))
                .await
                .unwrap();
            ws.feed(Message::text("y".repeat(100_000))).await.unwrap();
            ws.flush().await.unwrap();
            // The pong comes back.
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(payload))) => {
                        assert_eq!(&payload[..], b"are you there");
                        break;
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("expected a pong, got {other:?}"),
                }
            }
            ws.close(Some(CloseFrame {
                code: CloseCode::Library(4008),
                reason: "too slow".into(),
            }))
            .await
            .unwrap();
        });

        let url = Url::parse(&format!("ws://{addr}/v1/ws?x=1")).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut conn = Conn::handshake(tcp, &url, Some("vigor.v1"), 64)
            .await
            .unwrap();
        conn.send_text("hi").await.unwrap();
        assert_eq!(conn.next_text().await.unwrap(), "echo hi");
        let mut texts = Vec::new();
        let closed = loop {
            let read = conn
                .read_some(|message| match message {
                    Incoming::Text(bytes) => texts.push(bytes.to_vec()),
                    Incoming::Binary(_) => panic!("no binary was sent"),
                })
                .await;
            if let Err(closed) = read {
                break closed;
            }
        };
        assert_eq!(texts.len(), 101);
        assert_eq!(texts[0], b"m0");
        assert_eq!(texts[99], b"m99");
        assert_eq!(texts[100].len(), 100_000);
        assert_eq!(
            closed,
            Closed {
                code: 4008,
                reason: "too slow".into()
            }
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_handshake_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 1024];
            let _ = tcp.read(&mut request).await;
            tcp.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let url = Url::parse(&format!("ws://{addr}/")).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let error = Conn::handshake(tcp, &url, None, 1024)
            .await
            .err()
            .expect("refused");
        assert!(format!("{error:#}").contains("401"), "{error:#}");
    }
}
