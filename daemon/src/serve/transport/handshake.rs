//! The opening of a connection: the client's `hello`, its protocol version and its
//! token. Nothing else is read before this accepts.

use axum::extract::ws::{Message, WebSocket};
use lookout_shared::limits::close;
use lookout_shared::protocol::{ClientMsg, ErrorCode, ServerMsg, PROTOCOL_VERSION};
use tokio::time::Instant;

/// Why a hello was refused: the close code and reason, and the error to send
/// first (none when the client is already gone).
pub(super) struct Refusal {
    pub code: u16,
    pub reason: String,
    pub reply: Option<Box<ServerMsg>>,
}

fn refuse(code: u16, reason: impl Into<String>, reply: Option<ServerMsg>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
        reply: reply.map(Box::new),
    }
}

fn bad_request(message: impl Into<String>) -> Option<ServerMsg> {
    Some(ServerMsg::error(None, ErrorCode::BadRequest, message))
}

/// Waits for the client's hello and checks it against `token`.
pub(super) async fn accept(
    socket: &mut WebSocket,
    token: Option<&str>,
    limit: std::time::Duration,
) -> Result<(), Refusal> {
    let deadline = Instant::now() + limit;
    loop {
        let msg = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                return Err(refuse(
                    close::HANDSHAKE,
                    format!("no hello within {}s", limit.as_secs()),
                    bad_request("expected a hello message first"),
                ))
            }
            Ok(Some(Err(e))) if super::is_bad_utf8(&e) => {
                return Err(refuse(close::INVALID_DATA, super::BAD_UTF8, None))
            }
            Ok(None) | Ok(Some(Err(_))) => {
                return Err(refuse(close::HANDSHAKE, "connection failed", None))
            }
            Ok(Some(Ok(m))) => m,
        };
        let raw = match msg {
            Message::Text(t) => t,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err(refuse(close::HANDSHAKE, "closed", None)),
            Message::Binary(_) => {
                return Err(refuse(
                    close::HANDSHAKE,
                    "expected a JSON hello",
                    bad_request("binary frames are not supported; send JSON text frames"),
                ))
            }
        };
        return check(raw.as_str(), token);
    }
}

/// Checks one hello frame.
fn check(raw: &str, token: Option<&str>) -> Result<(), Refusal> {
    // Check the version before anything else, so a client of another protocol
    // version gets `version_mismatch` even if the rest of its hello differs.
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        refuse(
            close::HANDSHAKE,
            "malformed hello",
            bad_request(format!("malformed JSON: {e}")),
        )
    })?;
    if value.get("type").and_then(|t| t.as_str()) == Some("hello") {
        if let Some(v) = value.get("protocol").and_then(|p| p.as_u64()) {
            if v != u64::from(PROTOCOL_VERSION) {
                let m = format!(
                    "client speaks protocol {v}, this server speaks {PROTOCOL_VERSION}; \
                     use a matching lookout version"
                );
                return Err(refuse(
                    close::VERSION_MISMATCH,
                    "protocol version mismatch",
                    Some(ServerMsg::error(None, ErrorCode::VersionMismatch, m)),
                ));
            }
        }
    }
    let unauthorized = |reason: &str, message: &str| {
        refuse(
            close::UNAUTHORIZED,
            reason,
            Some(ServerMsg::error(None, ErrorCode::Unauthorized, message)),
        )
    };
    match serde_json::from_value::<ClientMsg>(value) {
        Ok(ClientMsg::Hello { token: got, .. }) => match (token, got) {
            (None, _) => Ok(()),
            (Some(want), Some(got)) if token_eq(&got, want) => Ok(()),
            (Some(_), Some(_)) => Err(unauthorized("wrong token", "wrong token")),
            (Some(_), None) => Err(unauthorized(
                "token required",
                "this server requires a token in hello",
            )),
        },
        Ok(_) => Err(refuse(
            close::HANDSHAKE,
            "expected hello",
            bad_request("expected a hello message first"),
        )),
        Err(e) => Err(refuse(
            close::HANDSHAKE,
            "malformed hello",
            bad_request(format!("malformed hello: {e}")),
        )),
    }
}

/// Compares without leaking where the strings differ through timing.
fn token_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_eq("abc", "abc"));
        assert!(!token_eq("abc", "abd"));
        assert!(!token_eq("abc", "abcd"));
        assert!(!token_eq("", "a"));
    }
}
