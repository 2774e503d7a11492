//! One connection: the hello/welcome handshake, requests and their replies.
//!
//! Every wait is bounded: the handshake by [`HANDSHAKE_TIMEOUT`]; after it, the
//! server's 15 s pings keep a dead peer from going unnoticed (see docs/protocol.md).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::limits::MAX_FRAME_BYTES;
use crate::protocol::{ClientMsg, ErrorCode, ReqId, ServerMsg, PROTOCOL_VERSION};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: tokio_tungstenite::tungstenite::Error,
    },
    #[error("connection lost: {0}")]
    Io(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the daemon closed the connection")]
    Closed,
    #[error(
        "the daemon speaks protocol {server}, this lookout speaks {client}: upgrade one of them"
    )]
    VersionMismatch { server: u32, client: u32 },
    #[error("unauthorized: {0} (pass --token or set LOOKOUT_TOKEN)")]
    Unauthorized(String),
    #[error("unexpected frame from the daemon: {0}")]
    Protocol(String),
    /// Refused here rather than sent: the daemon would refuse it anyway.
    #[error("request of {bytes} bytes is over the daemon's limit of {limit} bytes per message")]
    TooLarge { bytes: usize, limit: usize },
    #[error("timed out waiting for the daemon")]
    Timeout,
}

impl ClientError {
    /// A few words for the status bar, which already shows the URL.
    pub fn short(&self) -> String {
        match self {
            ClientError::Connect { source, .. } | ClientError::Io(source) => match source {
                tokio_tungstenite::tungstenite::Error::Io(e) => e
                    .to_string()
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_lowercase(),
                other => other.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Errors that retrying cannot fix without the user changing something.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::VersionMismatch { .. } | ClientError::Unauthorized(_)
        )
    }
}

/// What the server said about itself in its hello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    pub server: String,
    pub node: String,
}

/// An open, welcomed connection.
pub struct Conn {
    ws: Ws,
    pub info: ServerInfo,
    next_id: ReqId,
}

/// How long connecting and the hello/welcome exchange may take together.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the hello's free-text `client` says: the version is the workspace's, which
/// `lookout` and this crate share.
fn client_name() -> String {
    format!("lookout {}", env!("CARGO_PKG_VERSION"))
}

impl Conn {
    /// Connects and completes the hello/welcome handshake.
    pub async fn connect(url: &str, token: Option<&str>) -> Result<Conn, ClientError> {
        let fut = async {
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .map_err(|source| ClientError::Connect {
                    url: url.to_string(),
                    source,
                })?;
            let mut conn = Conn {
                ws,
                info: ServerInfo::default(),
                next_id: 1,
            };
            let server_protocol = match conn.recv().await? {
                ServerMsg::Hello {
                    protocol,
                    server,
                    node,
                    ..
                } => {
                    conn.info = ServerInfo { server, node };
                    protocol
                }
                other => return Err(ClientError::Protocol(format!("{other:?}"))),
            };
            conn.send(&ClientMsg::Hello {
                protocol: PROTOCOL_VERSION,
                token: token.map(str::to_string),
                client: client_name(),
            })
            .await?;
            match conn.recv().await? {
                ServerMsg::Welcome {} => Ok(conn),
                ServerMsg::Error { error, .. } => match error.code {
                    ErrorCode::VersionMismatch => Err(ClientError::VersionMismatch {
                        server: server_protocol,
                        client: PROTOCOL_VERSION,
                    }),
                    ErrorCode::Unauthorized => Err(ClientError::Unauthorized(error.message)),
                    _ => Err(ClientError::Protocol(error.message)),
                },
                other => Err(ClientError::Protocol(format!("{other:?}"))),
            }
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> ReqId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if text.len() > MAX_FRAME_BYTES {
            return Err(ClientError::TooLarge {
                bytes: text.len(),
                limit: MAX_FRAME_BYTES,
            });
        }
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// The next protocol message; pings are answered by tungstenite underneath.
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        loop {
            match self.ws.next().await {
                None => return Err(ClientError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str())
                        .map_err(|e| ClientError::Protocol(format!("{e}: {}", t.as_str())))
                }
                Some(Ok(Message::Close(_))) => return Err(ClientError::Closed),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a request and returns the first reply naming its id (or an id-less
    /// error), skipping pushed status frames.
    pub async fn request(&mut self, msg: &ClientMsg) -> Result<ServerMsg, ClientError> {
        let id = request_id(msg);
        self.send(msg).await?;
        loop {
            let m = self.recv().await?;
            match reply_id(&m) {
                Some(r) if Some(r) == id => return Ok(m),
                None if matches!(m, ServerMsg::Error { .. }) => return Ok(m),
                _ => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The id a client request carries.
pub fn request_id(msg: &ClientMsg) -> Option<ReqId> {
    use ClientMsg::*;
    match msg {
        Hello { .. } => None,
        Subscribe { id, .. }
        | Unsubscribe { id, .. }
        | Search { id, .. }
        | Context { id, .. }
        | Streams { id, .. }
        | ListRules { id }
        | GetRule { id, .. }
        | PutRule { id, .. }
        | ValidateRule { id, .. }
        | DeleteRule { id, .. }
        | SetRuleEnabled { id, .. }
        | TestRule { id, .. }
        | Alerts { id, .. }
        | Patterns { id, .. } => Some(*id),
    }
}

/// The request or subscription id a server message answers, if any.
pub fn reply_id(msg: &ServerMsg) -> Option<ReqId> {
    use ServerMsg::*;
    match msg {
        Hello { .. } | Welcome {} | Status { .. } => None,
        Error { id, .. } => *id,
        Ok { id }
        | Subscribed { id }
        | SearchResult { id, .. }
        | ContextResult { id, .. }
        | Streams { id, .. }
        | Rules { id, .. }
        | Rule { id, .. }
        | RuleTest { id, .. }
        | Alerts { id, .. }
        | Patterns { id, .. } => Some(*id),
        Entries { sub, .. } | Dropped { sub, .. } => Some(*sub),
    }
}
