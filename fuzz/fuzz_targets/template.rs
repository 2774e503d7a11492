//! Annotation templates and alert conditions: parse never panics, an error's column
//! lies inside the text, rendering never panics.
#![no_main]

use std::collections::BTreeMap;

use lookout_shared::rules::{Condition, Template};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Template::parse(text) {
        Ok(t) => {
            let mut labels = BTreeMap::new();
            labels.insert("pod".to_string(), "web-1".to_string());
            let _ = t.render(&labels, u64::MAX);
        }
        Err(e) => assert!(e.position.column <= text.chars().count(), "{e:?}"),
    }
    let _ = Condition::parse(text);
    let _ = lookout_shared::duration::parse_duration(text);
});
