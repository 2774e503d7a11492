//! The CRI line parser (containerd, CRI-O) on any bytes: never panics, and what it
//! returns is part of its input. The message it yields then goes through field
//! extraction (JSON, logfmt, klog), as ingest does: never panics, stays within its
//! caps.
#![no_main]

// The daemon's parser, compiled here as is: depending on the daemon crate would build
// tantivy and tokio with sanitizers for two pure functions.
#[allow(dead_code)]
#[path = "../../daemon/src/collect/parse.rs"]
mod parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(l) = parse::parse_cri(data) {
        assert!(l.text.len() < data.len());
    }
    let text = String::from_utf8_lossy(data);
    let fields = lookout_shared::fields::extract(&text);
    assert!(fields.len() <= lookout_shared::fields::MAX_FIELDS);
    assert!(fields.keys().all(|k| k.len() <= lookout_shared::fields::MAX_KEY));
    let _ = parse::parse_rfc3339(data);
});
