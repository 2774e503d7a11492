//! The parser's trees and errors, word splitting, highlighting and quoting.

use proptest::prelude::*;

use super::*;

fn p(s: &str) -> Node {
    parse(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .root()
        .clone()
}
fn e(s: &str) -> QueryError {
    parse(s).expect_err(s)
}
fn w(x: &[&str]) -> Node {
    Node::Words(x.iter().map(|s| s.to_string()).collect())
}
fn raw(f: RawField, v: &str) -> Node {
    Node::Raw {
        field: f,
        values: vec![RawValue::Exact(v.into())],
    }
}

#[test]
fn basics() {
    assert_eq!(p(""), Node::All);
    assert_eq!(p("  * "), Node::All);
    assert_eq!(p("Timeout"), w(&["timeout"]));
    assert_eq!(p("a b"), Node::And(vec![w(&["a"]), w(&["b"])]));
    assert_eq!(p("a AND b"), p("a b"));
    assert_eq!(p("\"Connection Refused\""), w(&["connection", "refused"]));
    assert_eq!(p("blk_-160"), w(&["blk", "160"]));
    assert_eq!(
        p("a OR b c"),
        Node::Or(vec![w(&["a"]), Node::And(vec![w(&["b"]), w(&["c"])])])
    );
    assert_eq!(
        p("namespace:payments level:ERROR"),
        Node::And(vec![
            raw(RawField::Namespace, "payments"),
            raw(RawField::Level, "error")
        ])
    );
    assert_eq!(p("-x"), Node::Not(Box::new(w(&["x"]))));
    assert_eq!(p("NOT x"), p("-x"));
    assert_eq!(p("+x"), w(&["x"]));
    assert_eq!(
        p("pod:IN [a \"b c\" d*]"),
        Node::Raw {
            field: RawField::Pod,
            values: vec![
                RawValue::Exact("a".into()),
                RawValue::Exact("b c".into()),
                RawValue::Prefix("d".into())
            ]
        }
    );
    assert_eq!(p("pod: IN [a]"), raw(RawField::Pod, "a"));
    assert_eq!(p("check*"), Node::WordPrefix("check".into()));
    assert_eq!(
        p("(a OR b) c"),
        Node::And(vec![Node::Or(vec![w(&["a"]), w(&["b"])]), w(&["c"])])
    );
    assert_eq!(
        p("x and y"),
        Node::And(vec![w(&["x"]), w(&["and"]), w(&["y"])])
    );
    assert_eq!(p("12:30:01"), w(&["12", "30", "01"]));
}

#[test]
fn errors_point_at_the_problem() {
    let x = e("a AND");
    assert_eq!(x.position.column, 2);
    let x = e("(a OR b");
    assert_eq!(x.position.column, 0);
    assert!(x.message.contains("`)`"));
    let x = e("a b)");
    assert_eq!(x.position.column, 3);
    let x = e("status:>abc");
    assert_eq!(x.position.column, 8);
    assert!(x.message.contains("not a number"), "{}", x.message);
    let x = e("foo \"bar");
    assert_eq!(x.position.column, 4);
    let x = e("level:loud");
    assert_eq!(x.position.column, 6);
    let x = e("pod:a*b");
    assert_eq!(x.position.column, 5);
    let x = e("*foo");
    assert_eq!(x.position.column, 0);
    let x = e("---");
    assert!(x.message.contains("no letters"));
    let x = e("pod:");
    assert_eq!(x.position.column, 0);
    let x = e("é OR");
    assert_eq!(x.position.column, 2);
    assert!(e("()").message.contains("empty"));
    assert!(e("pod:IN [a").message.contains("`]`"));
    assert!(e("OR a").message.contains("expected a term"));
    let x = e("ns:a restart:first");
    assert_eq!(x.position.column, 13);
    assert!(x.message.contains("instance number"), "{}", x.message);
    assert!(e("restart:1*").message.contains("instance number"));
}

#[test]
fn workload_and_restart_are_fields() {
    assert_eq!(p("workload:checkout"), raw(RawField::Workload, "checkout"));
    // The number is compared as its canonical digits.
    assert_eq!(p("restart:007"), raw(RawField::Restart, "7"));
}

#[test]
fn pattern_ids_are_a_field() {
    assert_eq!(
        p("pattern:00C0FFEE00000001"),
        raw(RawField::Pattern, "00c0ffee00000001")
    );
    for bad in [
        "pattern:abc",
        "pattern:00c0ffee0000000*",
        "pattern:zzzzzzzzzzzzzzzz",
    ] {
        let e = Query::parse(bad).unwrap_err();
        assert!(e.message.contains("16 hex digits"), "{bad}: {}", e.message);
    }
}

#[test]
fn splits_and_lowercases() {
    assert_eq!(
        words::words("ERROR blk_-1608 10.0.0.1:80 Ünïcode"),
        ["error", "blk", "1608", "10", "0", "0", "1", "80", "ünïcode"]
    );
    assert!(words::words("--- ::: ").is_empty());
}

#[test]
fn lowercasing_is_per_character_like_the_index() {
    // `str::to_lowercase` would write a final sigma `ς`; the index writes `σ`.
    assert_eq!(words::words("ΟΔΟΣ"), ["οδοσ"]);
}

#[test]
fn a_too_long_word_keeps_its_position() {
    let long = "x".repeat(words::MAX_WORD_BYTES);
    let text = format!("a {long} b");
    assert_eq!(words::words(&text), ["a", "", "b"]);
    assert_eq!(words::query_words(&text), ["a", "b"]);
    let short = "x".repeat(words::MAX_WORD_BYTES - 1);
    assert_eq!(words::words(&short), vec![short]);
    // Measured in bytes before lower-casing: 128 two-byte letters are too long.
    assert_eq!(words::words(&"É".repeat(128)), [""]);
}

fn marked<'a>(q: &str, msg: &'a str) -> Vec<&'a str> {
    parse(q)
        .unwrap()
        .highlights(msg)
        .into_iter()
        .map(|r| &msg[r])
        .collect()
}

#[test]
fn highlights_mark_the_words_that_matched() {
    let msg = "Upstream TIMEOUT after 30s; timeouts=3, connection refused by blk_-160";
    assert_eq!(marked("timeout", msg), ["TIMEOUT"]);
    assert_eq!(marked("timeout*", msg), ["TIMEOUT", "timeouts"]);
    assert_eq!(
        marked("\"connection refused\"", msg),
        ["connection refused"]
    );
    assert_eq!(marked("blk_-160", msg), ["blk_-160"]);
    assert_eq!(marked("refused connection", msg), ["connection", "refused"]);
    // Only adjacent words make a phrase.
    assert!(marked("\"timeout connection\"", msg).is_empty());
    // Negated, field and operator terms are not marked.
    assert!(marked("NOT timeout", msg).is_empty());
    assert!(marked("-(timeout OR refused)", msg).is_empty());
    assert_eq!(marked("-(-timeout)", msg), ["TIMEOUT"]);
    assert!(marked("pod:timeout namespace:IN [refused]", msg).is_empty());
    assert_eq!(
        marked("message:IN [after \"30s\"] AND 3", msg),
        ["after", "30s", "3"]
    );
    assert!(marked("*", msg).is_empty());
}

#[test]
fn quoted_values_parse_back_exactly() {
    for v in [
        "checkout-7d9f-x2",
        "odd.ns",
        "-x",
        "+x",
        "a b",
        "a\"b\\",
        "",
        "IN",
        "x:y",
        "é",
    ] {
        let q = format!("pod:{}", quote(v));
        assert_eq!(p(&q), raw(RawField::Pod, v), "{q}");
    }
    assert_eq!(quote("checkout-7d9f-x2"), "checkout-7d9f-x2");
    assert_eq!(quote("-x"), "\"-x\"");
}

proptest! {
    #[test]
    fn any_value_quotes_back(v in "\\PC{0,12}") {
        for f in [RawField::Namespace, RawField::Pod, RawField::Container, RawField::Node] {
            let q = format!("{}:{}", f.name(), quote(&v));
            prop_assert_eq!(p(&q), raw(f, &v));
        }
    }

    #[test]
    fn parsing_never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }
}

#[test]
fn nesting_is_bounded_with_a_column() {
    // 64 levels of each kind parse; one more is an error at the token that opens it.
    let ok = format!("{}x", "-".repeat(super::MAX_DEPTH));
    assert!(Query::parse(&ok).is_ok());
    let ok = format!(
        "{}x{}",
        "(".repeat(super::MAX_DEPTH),
        ")".repeat(super::MAX_DEPTH)
    );
    assert!(Query::parse(&ok).is_ok());
    for q in [
        format!("{}x", "-".repeat(2000)),
        format!("{}x", "NOT ".repeat(1200)),
        format!("{}x", "+".repeat(super::MAX_DEPTH + 1)),
        format!("{}x", "(".repeat(2500)),
        format!("{}b{}", "(a OR (x ".repeat(300), "))".repeat(300)),
    ] {
        let e = Query::parse(&q).unwrap_err();
        assert!(e.message.contains("nests too deeply"), "{e}");
        assert!(e.position.column > 0, "{e}");
    }
    let e = Query::parse(&format!("{}x", "-".repeat(65))).unwrap_err();
    assert_eq!(e.position.column, 64);
}

fn field(path: &str, test: FieldTest) -> Node {
    Node::Field {
        path: path.to_string(),
        test,
    }
}

fn eq(text: &str, num: Option<f64>) -> FieldTest {
    FieldTest::Eq {
        text: text.to_string(),
        num: num.map(Num),
    }
}

#[test]
fn names_that_are_not_built_in_address_extracted_fields() {
    use std::ops::Bound::*;
    assert_eq!(p("status:500"), field("status", eq("500", Some(500.0))));
    assert_eq!(
        p("http.request.method:POST"),
        field("http.request.method", eq("POST", None))
    );
    assert_eq!(p("user:*"), field("user", FieldTest::Exists));
    assert_eq!(
        p("-user:*"),
        Node::Not(Box::new(field("user", FieldTest::Exists)))
    );
    assert_eq!(
        p("user:adm*"),
        field("user", FieldTest::Prefix("adm".into()))
    );
    assert_eq!(p("user:\"adm*\""), field("user", eq("adm*", None)));
    let range = |lo, hi| FieldTest::Range { lo, hi };
    assert_eq!(
        p("status:>=500"),
        field("status", range(Included(Num(500.0)), Unbounded))
    );
    assert_eq!(
        p("latency_ms:>250"),
        field("latency_ms", range(Excluded(Num(250.0)), Unbounded))
    );
    assert_eq!(
        p("t:<0.5"),
        field("t", range(Unbounded, Excluded(Num(0.5))))
    );
    assert_eq!(
        p("t:<= -2"),
        field("t", range(Unbounded, Included(Num(-2.0))))
    );
    assert_eq!(
        p("status:[500 TO 599]"),
        field("status", range(Included(Num(500.0)), Included(Num(599.0))))
    );
    assert_eq!(
        p("status:{500 TO 600}"),
        field("status", range(Excluded(Num(500.0)), Excluded(Num(600.0))))
    );
    assert_eq!(
        p("status:[500 TO *]"),
        field("status", range(Included(Num(500.0)), Unbounded))
    );
    assert_eq!(
        p("status:{ 1 TO 2]"),
        field("status", range(Excluded(Num(1.0)), Included(Num(2.0))))
    );
    assert_eq!(
        p("status:IN [500 503]"),
        Node::Or(vec![
            field("status", eq("500", Some(500.0))),
            field("status", eq("503", Some(503.0))),
        ])
    );
    // Names with digits, dashes and `@`; `-0` is `0`.
    assert_eq!(
        p("x-request-id:ab12"),
        field("x-request-id", eq("ab12", None))
    );
    assert_eq!(p("@version:-0"), field("@version", eq("-0", Some(0.0))));
    // Not fields: a time, an address.
    assert_eq!(p("12:30"), w(&["12", "30"]));
}

#[test]
fn built_in_names_win_and_the_prefix_reaches_the_json_key() {
    assert!(matches!(p("level:warn"), Node::Raw { .. }));
    assert_eq!(p("fields.level:warn"), field("level", eq("warn", None)));
    assert_eq!(p("fields.message:x"), field("message", eq("x", None)));
    assert_eq!(
        p("fields.fields.a:1"),
        field("fields.a", eq("1", Some(1.0)))
    );
}

#[test]
fn field_errors_say_what_and_where() {
    for (q, col, needle) in [
        ("status:>", 7, "needs a number"),
        ("status:>=abc", 9, "not a number"),
        ("status:[500 599]", 12, "range is written"),
        ("status:[500 TO 599", 7, "missing `]`"),
        ("status:[a TO 5]", 8, "not a number"),
        ("status:[1 TO x}", 13, "not a number"),
        ("status:", 0, "needs a value"),
        ("user:a*b", 6, "end of a value"),
        ("status:inf..", 7, "x"),
        ("pod:[a TO b]", 4, "ranges apply to extracted fields"),
    ] {
        if q == "status:inf.." {
            // Not a comparison: a plain text value.
            assert_eq!(p(q), field("status", eq("inf..", None)));
            continue;
        }
        let x = e(q);
        assert_eq!(x.position.column, col, "{q}: {}", x.message);
        assert!(x.message.contains(needle), "{q}: {}", x.message);
    }
}

#[test]
fn field_tests_accept_what_the_docs_say() {
    use serde_json::json;
    use std::ops::Bound::*;
    let t = eq("500", Some(500.0));
    assert!(t.accepts(&json!(500)));
    assert!(t.accepts(&json!(500.0)));
    assert!(t.accepts(&json!("500")));
    assert!(!t.accepts(&json!("500.0")));
    assert!(t.accepts(&json!([400, 500])));
    assert!(eq("true", None).accepts(&json!(true)));
    assert!(!eq("null", None).accepts(&json!(null)));
    assert!(FieldTest::Exists.accepts(&json!(null)));
    let r = FieldTest::Range {
        lo: Included(Num(500.0)),
        hi: Excluded(Num(600.0)),
    };
    assert!(r.accepts(&json!(500)) && r.accepts(&json!(599.9)));
    assert!(!r.accepts(&json!(600)) && !r.accepts(&json!("550")));
    assert!(FieldTest::Prefix("ad".into()).accepts(&json!("admin")));
    assert!(!FieldTest::Prefix("5".into()).accepts(&json!(500)));
}

#[test]
fn regexes_on_the_message() {
    let re = |q: &str| match p(q) {
        Node::Regex(r) => r.as_str().to_string(),
        other => panic!("{q}: {other:?}"),
    };
    assert_eq!(re("/conn(ection)? refused/"), "conn(ection)? refused");
    assert_eq!(re("message:/a b/"), "a b");
    assert_eq!(re(r"/a\/b/"), "a/b");
    assert_eq!(re(r"/\d+ms/"), r"\d+ms");
    assert!(matches!(p("-/x/"), Node::Not(_)));
    assert!(matches!(p("(/x/)"), Node::Regex(_)));
    // A path is words, not a pattern: its slashes do not end a token.
    assert_eq!(p("/api/v1/orders"), w(&["api", "v1", "orders"]));
    assert_eq!(p("/api/"), Node::Regex(lookout_shared_regex("api")));
    let x = e("a /(unclosed/");
    assert_eq!(x.position.column, 2);
    assert!(
        x.message.contains("invalid regular expression"),
        "{}",
        x.message
    );
    let x = e("pod:/web/");
    assert_eq!(x.position.column, 4);
    assert!(x.message.contains("apply to the message"), "{}", x.message);
    let x = e("status:/5../");
    assert!(x.message.contains("apply to the message"), "{}", x.message);
    // A pattern too big to compile is refused, not built.
    let x = e("/(a{1000}){1000}/");
    assert!(
        x.message.contains("invalid regular expression"),
        "{}",
        x.message
    );
}

fn lookout_shared_regex(p: &str) -> MessageRegex {
    MessageRegex::new(p).unwrap()
}

#[test]
fn regex_highlights_mark_what_matched() {
    let q = Query::parse("/conn(ection)? refused/ -/ignored/").unwrap();
    assert_eq!(
        q.highlights("x connection refused, conn refused"),
        vec![2..20, 22..34]
    );
}

#[test]
fn a_pattern_says_which_whole_words_it_requires() {
    let req = |p: &str| MessageRegex::new(p).unwrap().required_words().to_vec();
    assert_eq!(req("Invalid user [a-z]+ from"), vec!["user"]);
    assert_eq!(req("(connection refused) by (peer|host)"), vec!["by"]);
    assert_eq!(
        req(" failed to sync pod "),
        vec!["failed", "to", "sync", "pod"]
    );
    assert_eq!(req("x (GET /api/v1 )y"), vec!["api", "v1"]);
    // Optional or alternative parts require nothing.
    assert!(req("a( optional )?b").is_empty());
    assert!(req("( one | two )").is_empty());
    // Case-insensitive literals are classes, not literals: nothing required.
    assert!(req("(?i) error ").is_empty());
    // Words at a literal's edge could continue past it.
    assert!(req("refused").is_empty());
}
