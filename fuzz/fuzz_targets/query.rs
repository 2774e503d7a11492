//! The query language (search, tail, rules): parse never panics nor recurses past
//! its depth limit; an error's position lies inside the text. What parses is
//! evaluated by the daemon's live matcher (the tree walk every tail and rule runs
//! on every entry) and highlighted as the dashboard does, without panicking, and
//! its own text parses again.
#![no_main]

use lookout_shared::{LogEntry, StreamId};

// The live matcher the daemon runs (it lives in the shared crate).
use lookout_shared::query::Matches;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match lookout_shared::query::parse(text) {
        Ok(q) => {
            // An entry whose every field holds the query's own words, so terms
            // can match and the walk goes deep.
            let e = LogEntry {
                message: text.to_string(),
                source: StreamId {
                    namespace: text.to_string(),
                    pod: text.to_string(),
                    container: text.to_string(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let _ = q.matches(&e);
            let _ = q.highlights(text);
            assert!(
                lookout_shared::query::parse(q.text()).is_ok(),
                "its own text {:?} does not parse",
                q.text()
            );
        }
        Err(e) => {
            assert!(e.position.column <= text.chars().count(), "{e:?}");
        }
    }
});
