//! Turning protocol messages into websocket frames.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use lookout_shared::protocol::ReqId;
use lookout_shared::LogEntry;
use serde::Serialize;

/// RFC 6455 caps a control frame's payload at 125 bytes; the close code takes 2.
const CLOSE_REASON_MAX: usize = 123;

/// `ServerMsg::Entries` borrowed, to serialise without cloning entries.
#[derive(Serialize)]
#[serde(tag = "type", rename = "entries")]
pub(super) struct EntriesFrame<'a> {
    pub sub: ReqId,
    pub entries: Vec<&'a LogEntry>,
}

/// One message as a JSON text frame.
pub(super) fn text(msg: &impl Serialize) -> Message {
    match serde_json::to_string(msg) {
        Ok(s) => Message::Text(Utf8Bytes::from(s)),
        // Our own types always serialise; say so rather than panic.
        Err(e) => Message::Text(Utf8Bytes::from(format!(
            "{{\"type\":\"error\",\"error\":{{\"code\":\"internal\",\"message\":\"serialisation failed: {}\"}}}}",
            e.to_string().replace('"', "'")
        ))),
    }
}

/// A close frame, its reason cut to what fits (on a character boundary).
pub(super) fn close_msg(code: u16, reason: &str) -> Message {
    let mut r = reason.to_string();
    while r.len() > CLOSE_REASON_MAX {
        r.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(r),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::protocol::ServerMsg;
    use lookout_shared::Timestamp;

    #[test]
    fn entries_frame_is_the_protocol_message() {
        let e = LogEntry {
            ts: Timestamp(5),
            message: "hi".into(),
            seq: 3,
            ..Default::default()
        };
        let borrowed = serde_json::to_string(&EntriesFrame {
            sub: 7,
            entries: vec![&e],
        })
        .unwrap();
        let back: ServerMsg = serde_json::from_str(&borrowed).unwrap();
        assert_eq!(
            back,
            ServerMsg::Entries {
                sub: 7,
                entries: vec![e]
            }
        );
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let Message::Close(Some(f)) = close_msg(4008, &"é".repeat(100)) else {
            panic!("not a close frame");
        };
        assert!(f.reason.len() <= CLOSE_REASON_MAX);
        assert_eq!(f.code, 4008);
    }
}
