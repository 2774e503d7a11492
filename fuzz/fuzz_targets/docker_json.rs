//! The docker json-file record parser on any bytes: never panics, and what parses
//! writes back as a record that parses to the same line (text, stream, partial).
#![no_main]

use lookout_shared::Stream;

// See cri.rs: the daemon's parser compiled as is.
#[allow(dead_code)]
#[path = "../../daemon/src/collect/parse.rs"]
mod parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(l) = parse::parse_docker(data) else {
        return;
    };
    let log = if l.partial {
        l.text.to_string()
    } else {
        format!("{}\n", l.text)
    };
    let stream = if l.stream == Stream::Stderr {
        "stderr"
    } else {
        "stdout"
    };
    let again = serde_json::json!({ "log": log, "stream": stream }).to_string();
    let back = parse::parse_docker(again.as_bytes()).expect("a written record parses");
    assert_eq!(
        (back.text, back.partial, back.stream),
        (l.text, l.partial, l.stream)
    );
});
