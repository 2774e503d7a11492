use serde_json::json;

use super::*;

fn f(msg: &str) -> serde_json::Value {
    serde_json::to_value(extract(msg)).unwrap()
}

#[test]
fn json_objects_become_dotted_paths_with_numbers_as_numbers() {
    let got = f(
        r#"{"level":"info","status":503,"latency_ms":12.5,"ok":false,"user":null,
            "http":{"request":{"method":"POST","path":"/pay"}},"tags":["a","b",{"x":1}]}"#,
    );
    assert_eq!(
        got,
        json!({
            "level": "info", "status": 503, "latency_ms": 12.5, "ok": false, "user": null,
            "http.request.method": "POST", "http.request.path": "/pay", "tags": ["a", "b"]
        })
    );
}

#[test]
fn invalid_json_has_no_fields_and_is_not_read_as_logfmt() {
    assert!(extract(r#"{"a":1,"b":"x=1 y=2"#).is_empty());
    assert!(extract(r#"{a=1 b=2}"#).is_empty());
    // A JSON array or string is not an object: no fields.
    assert!(extract(r#"[1,2]"#).is_empty());
}

#[test]
fn deep_json_is_cut_at_max_depth_and_never_recurses_unbounded() {
    let mut s = String::new();
    for _ in 0..MAX_DEPTH + 2 {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    for _ in 0..MAX_DEPTH + 2 {
        s.push('}');
    }
    let got = extract(&s);
    let key = ["a"; MAX_DEPTH].join(".");
    assert_eq!(got.get(&key), Some(&json!(r#"{"a":{"a":1}}"#)), "{got:?}");
    // Past serde_json's own limit: refused, no fields, no stack overflow.
    let deep = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    assert!(extract(&deep).is_empty());
}

#[test]
fn caps_hold_on_keys_values_and_count() {
    let many: Vec<String> = (0..200).map(|i| format!("\"k{i}\":{i}")).collect();
    let got = extract(&format!("{{{}}}", many.join(",")));
    assert_eq!(got.len(), MAX_FIELDS);
    let long = "x".repeat(MAX_VALUE + 1);
    let got = extract(&format!(r#"{{"big":"{long}","small":"y"}}"#));
    assert_eq!(
        f(&format!(r#"{{"big":"{long}","small":"y"}}"#)),
        json!({"small": "y"})
    );
    assert_eq!(got.len(), 1);
    let key = "k".repeat(MAX_KEY + 1);
    assert!(extract(&format!(r#"{{"{key}":1}}"#)).is_empty());
    assert!(
        extract("{\"a\\u0001b\":1}").is_empty(),
        "control characters in keys"
    );
}

#[test]
fn logfmt_pairs_with_quotes_escapes_and_types() {
    let got = f(
        r#"ts=2024-05-01T10:00:00Z level=warn msg="slow \"db\" call" latency_ms=250 ratio=0.5 id=0x1f empty= path=/a/b"#,
    );
    assert_eq!(
        got,
        json!({
            "ts": "2024-05-01T10:00:00Z", "level": "warn", "msg": "slow \"db\" call",
            "latency_ms": 250, "ratio": 0.5, "id": "0x1f", "empty": "", "path": "/a/b"
        })
    );
}

#[test]
fn logfmt_needs_two_pairs_and_skips_prose() {
    assert!(extract("retrying in 5s attempt=2").is_empty());
    assert_eq!(
        f("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh"),
        json!({"logname": "", "uid": 0, "euid": 0, "tty": "ssh"})
    );
    assert!(extract("plain words only").is_empty());
    assert!(extract("a == b and c == d").is_empty());
    // An unclosed quote ends the pairs: what came before is kept.
    assert_eq!(f(r#"a=1 b=2 c="open"#), json!({"a": 1, "b": 2}));
}

#[test]
fn klog_structured_lines() {
    let got = f(
        r#"I1201 10:00:00.123456       1 controller.go:120] "Syncing pod" pod="default/web-1" attempt=3"#,
    );
    assert_eq!(
        got,
        json!({"msg": "Syncing pod", "pod": "default/web-1", "attempt": 3})
    );
    // Unstructured klog: no fields (and not logfmt either, one pair).
    assert!(extract("E1201 10:00:00.123456 1 x.go:1] failed to sync x=1").is_empty());
}

#[test]
fn first_key_wins() {
    assert_eq!(f("a=1 a=2 b=3"), json!({"a": 1, "b": 3}));
}

#[test]
fn odd_input_never_panics() {
    for s in [
        "",
        "{",
        "}",
        "{}",
        "=",
        "a=",
        "a=\"",
        "a=\"\\",
        "a=\"\\é\" b=1",
        "é=1 ü=2",
        "I1201 10:00:00.123456 1 x.go:1] \"",
        "I1201 10:00:00.1234é6 1 x] \"m\" a=1",
        "a=1 b=\"é\\\" c=2",
        "\u{0}=1 \u{0}=2",
        "k=\u{10ffff} j=2",
    ] {
        let _ = extract(s);
    }
    assert_eq!(f("a=\"\\é\" b=1"), json!({"a": "\\é", "b": 1}));
}

#[test]
fn numbers_are_only_what_json_calls_numbers() {
    for (s, num) in [
        ("250", true),
        ("-3", true),
        ("0.25", true),
        ("1e3", true),
        ("1.5E-2", true),
        ("0x1f", false),
        ("1_000", false),
        ("inf", false),
        ("NaN", false),
        (".5", false),
        ("5.", false),
        ("-", false),
        ("", false),
        ("12ms", false),
    ] {
        assert_eq!(typed(s).is_number(), num, "{s}");
    }
    // Beyond i64 and u64: a float, still a number.
    assert!(typed("123456789012345678901234567890").is_number());
}

#[test]
fn a_multi_line_event_has_its_first_lines_pairs() {
    assert_eq!(
        f("level=error msg=boom\n\tat a.b(C.java:1) x=1 y=2"),
        json!({"level": "error", "msg": "boom"})
    );
    assert!(extract("Traceback (most recent call last):\n  a=1 b=2").is_empty());
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e9f64..1e9).prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            "[ -~]{0,20}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ]
    }

    proptest! {
        /// Any text: no panic, and every cap holds.
        #[test]
        fn any_text_stays_within_the_caps(s in "\\PC{0,300}") {
            let f = extract(&s);
            prop_assert!(f.len() <= MAX_FIELDS);
            for (k, v) in &f {
                prop_assert!(k.len() <= MAX_KEY && !k.is_empty());
                prop_assert!(!k.chars().any(char::is_control));
                if let serde_json::Value::String(x) = v {
                    prop_assert!(x.len() <= MAX_VALUE);
                }
            }
        }

        /// A JSON object's scalar values come back under their dotted paths, as
        /// they were (numbers as numbers).
        #[test]
        fn json_values_round_trip(
            flat in proptest::collection::btree_map("[a-z]{1,8}", scalar(), 0..10),
            nested in proptest::collection::btree_map("[a-z]{1,8}", scalar(), 0..5),
        ) {
            let mut obj = serde_json::Map::new();
            for (k, v) in &flat {
                obj.insert(k.clone(), v.clone());
            }
            obj.insert("n".into(), serde_json::Value::Object(nested.clone().into_iter().collect()));
            let text = serde_json::Value::Object(obj).to_string();
            let f = extract(&text);
            for (k, v) in &flat {
                if k != "n" {
                    prop_assert_eq!(f.get(k), Some(v), "{}", text);
                }
            }
            for (k, v) in &nested {
                prop_assert_eq!(f.get(&format!("n.{k}")), Some(v), "{}", text);
            }
        }

        /// logfmt: quoted values with any printable text come back exactly.
        #[test]
        fn logfmt_quoted_values_round_trip(
            pairs in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,20}", 2..8),
        ) {
            let line: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let f = extract(&line.join(" "));
            for (k, v) in &pairs {
                prop_assert_eq!(f.get(k), Some(&serde_json::Value::String(v.clone())));
            }
        }
    }
}
