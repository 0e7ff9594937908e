//! The harness's clients: WebSocket connections that speak natter's protocol (`hello`, then
//! `ready`), and a REST client for setting up accounts and conversations.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use natter_core::protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one connect + hello + ready may take before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one REST call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Small buffers: the client side of 18,000 idle connections has to fit next to the server
/// on one machine (tungstenite's default read buffer is 128 KiB per connection).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// What `ready` told a fresh connection.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    pub account_id: i64,
}

/// Opens a WebSocket, sends `hello` and waits for `ready`.
pub async fn connect(url: &str, token: &str) -> Result<(Ws, Ready)> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        // TCP_NODELAY: the harness sends small frames and measures their latency.
        let (mut ws, _) = connect_async_with_config(url, Some(ws_config()), true)
            .await
            .context("WebSocket handshake")?;
        let hello = ClientFrame::Hello {
            token: token.to_string(),
            last_event_id: None,
            v: Some(PROTOCOL_VERSION),
        };
        ws.send(Message::Text(serde_json::to_string(&hello)?.into()))
            .await
            .context("sending hello")?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: ServerFrame =
                        serde_json::from_str(&text).context("parsing the answer to hello")?;
                    return match frame {
                        ServerFrame::Ready { account_id, .. } => Ok((
                            ws,
                            Ready {
                                account_id: account_id.0,
                            },
                        )),
                        other => Err(anyhow!("expected ready, got {other:?}")),
                    };
                }
                Some(Ok(Message::Close(frame))) => bail!("closed before ready: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading ready"),
                None => bail!("closed before ready"),
            }
        }
    })
    .await
    .map_err(|_| anyhow!("connect + hello + ready took longer than {CONNECT_TIMEOUT:?}"))?
}

/// The parts of a server frame the load generator looks at, borrowed from the frame text.
///
/// The hot path (hundreds of thousands of frames a second in the fan-out scenario) reads this
/// view instead of `natter_core::protocol::ServerFrame`, which would allocate every message
/// body and reaction list: the harness must stay cheaper than the server it measures.
/// Setup and `ready` use the full `ServerFrame` type.
#[derive(Debug, Deserialize)]
pub struct FrameView<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(rename = "ref", default, borrow)]
    pub req: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub data: Option<EventView<'a>>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
    /// The text of an `error` frame.
    #[serde(default, borrow)]
    pub message: Option<Cow<'a, str>>,
    /// Set on an `ack`.
    #[serde(default)]
    pub duplicate: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub message: Option<MessageView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct MessageView<'a> {
    #[serde(default)]
    pub sender_id: Option<i64>,
    #[serde(borrow)]
    pub body: Cow<'a, str>,
}

/// A REST client bound to one token.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Result<Self> {
        Ok(Api {
            base: base.to_string(),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .build()
                .context("building the HTTP client")?,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: parsing {text}"))
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The caller's account id.
    pub async fn me(&self) -> Result<i64> {
        let me = self.get("/v1/me").await?;
        me["id"].as_i64().ok_or_else(|| anyhow!("no id in {me}"))
    }

    /// Creates a contact and mints a token for it: (account id, contact token).
    pub async fn contact(&self, external_id: &str) -> Result<(i64, String)> {
        let contact = self
            .post(
                "/v1/contacts",
                json!({"external_id": external_id, "name": external_id}),
            )
            .await?;
        let id = contact["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no id in {contact}"))?;
        let token = self
            .post(&format!("/v1/contacts/{id}/tokens"), Value::Null)
            .await?;
        let token = token["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token in {token}"))?;
        Ok((id, token.to_string()))
    }

    /// Creates `n` contacts (a few requests at a time): (account id, token) each.
    pub async fn contacts(&self, prefix: &str, n: usize) -> Result<Vec<(i64, String)>> {
        let results: Vec<Result<(i64, String)>> = futures_util::stream::iter(0..n)
            .map(|i| {
                let api = self.clone();
                let external = format!("{prefix}-{i}");
                async move { api.contact(&external).await }
            })
            .buffered(8)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Creates a conversation with these (account id, role) participants; returns its id.
    pub async fn conversation(&self, kind: &str, participants: &[(i64, &str)]) -> Result<i64> {
        let participants: Vec<Value> = participants
            .iter()
            .map(|(id, role)| json!({"account_id": id, "role": role}))
            .collect();
        let body = self
            .post(
                "/v1/conversations",
                json!({"kind": kind, "participants": participants}),
            )
            .await?;
        body["conversation"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("no conversation id in {body}"))
    }
}
