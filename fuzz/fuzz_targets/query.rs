//! The query language (search, tail, rules): parse never panics nor recurses past
//! its depth limit; an error's position lies inside the text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match lookout_shared::query::parse(text) {
        Ok(q) => {
            let _ = format!("{q:?}");
        }
        Err(e) => {
            assert!(e.position.column <= text.chars().count(), "{e:?}");
        }
    }
});
