//! The docker json-file record parser on any bytes: never panics.
#![no_main]

// See cri.rs: the daemon's parser compiled as is.
#[allow(dead_code)]
#[path = "../../daemon/src/collect/parse.rs"]
mod parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(l) = parse::parse_docker(data) {
        assert!(l.text.len() <= data.len());
    }
});
