//! Websocket frames both ways: any text decodes to a message or an error, never a
//! panic; a decoded message encodes and decodes to itself.
#![no_main]

use lookout_shared::protocol::{ClientMsg, ServerMsg};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<ClientMsg>(data) {
        if let Ok(json) = serde_json::to_string(&m) {
            let back: ClientMsg =
                serde_json::from_str(&json).expect("a decoded message re-decodes");
            assert_eq!(back, m, "{json}");
        }
    }
    if let Ok(m) = serde_json::from_slice::<ServerMsg>(data) {
        if let Ok(json) = serde_json::to_string(&m) {
            let back: Result<ServerMsg, _> = serde_json::from_str(&json);
            assert!(back.is_ok(), "{json}");
        }
    }
});
