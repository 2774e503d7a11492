//! Rule files (`rules.yaml`, `lookout rules apply -f`): parse and validate never
//! panic; what parses is written back and reads back the same.
#![no_main]

use lookout_shared::rules::{parse_rules, to_yaml, validate_all};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(specs) = parse_rules(text) else {
        return;
    };
    let _ = validate_all(&specs);
    if let Ok(yaml) = to_yaml(&specs) {
        // What lookoutd writes, it must read back.
        assert_eq!(parse_rules(&yaml).ok(), Some(specs), "{yaml}");
    }
});
