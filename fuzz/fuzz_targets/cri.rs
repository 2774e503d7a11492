//! The CRI line parser (containerd, CRI-O) on any bytes: never panics, and what it
//! returns is part of its input.
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
    let _ = parse::parse_rfc3339(data);
});
