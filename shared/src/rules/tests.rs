//! The rule-file format: every shape, the empty cases, and where errors point.

use super::*;

const ONE: &str = "name: a\nquery: x\nwindow: 5m\ncondition: '> 3'\n";

#[test]
fn one_rule_a_list_a_rules_document_or_several_documents() {
    let r = parse_rules(ONE).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].for_, "0s");
    let list = "- name: a\n  query: x\n  window: 5m\n  condition: '> 3'\n- name: b\n  query: y\n  window: 1m\n  condition: '>= 1'\n  for: 2m\n";
    let r = parse_rules(list).unwrap();
    assert_eq!(r[1].for_, "2m");
    let doc = format!(
        "rules:\n{}",
        list.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    assert_eq!(parse_rules(&doc).unwrap().len(), 2);
    let multi = format!("{ONE}---\n{ONE}");
    assert_eq!(parse_rules(&multi).unwrap().len(), 2);
    // Shapes mix across documents, in file order.
    let mixed = format!("---\n{doc}---\n# a comment-only document\n---\n{ONE}");
    let names: Vec<_> = parse_rules(&mixed)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "b", "a"]);
}

#[test]
fn empty_files_and_empty_documents_are_zero_rules() {
    for text in [
        "",
        "\n",
        "# nothing\n",
        "---\n",
        "---\n---\n",
        "rules:\n",
        "rules: []\n",
        "~\n",
    ] {
        assert_eq!(parse_rules(text).unwrap(), vec![], "{text:?}");
    }
}

#[test]
fn typos_name_the_field_and_the_line() {
    let e = parse_rules("name: a\nquery: x\nwindw: 5m\ncondition: '> 3'\n").unwrap_err();
    assert_eq!(e.error.field, "windw", "{e}");
    assert_eq!(e.line, Some(1), "{e}");
    assert!(
        e.to_string()
            .starts_with("line 1, column 1: rule #1 (\"a\"): unknown field `windw`"),
        "{e}"
    );

    let e = parse_rules(
        "rules:\n- name: a\n  query: boom\n  window: 5m\n  condition: '> 1'\n  treshold: 3\n",
    )
    .unwrap_err();
    assert_eq!(
        (e.error.field.as_str(), e.line),
        ("treshold", Some(2)),
        "{e}"
    );
    let e = parse_rules("rules:\n- name: a\n  window: 5m\n  condition: '> 1'\n").unwrap_err();
    assert_eq!(e.error.field, "query", "{e}");
    // `rules:` takes nothing beside it.
    let e = parse_rules("rules: []\nversion: 2\n").unwrap_err();
    assert!(e.to_string().contains("\"version\""), "{e}");
    // The second document's error points into the second document.
    let e = parse_rules(&format!("{ONE}---\nname: b\nquery: y\nwindow: 1m\n")).unwrap_err();
    assert_eq!(
        (e.error.field.as_str(), e.line),
        ("condition", Some(6)),
        "{e}"
    );
    assert_eq!(e.rule, Some((1, "b".to_string())));
}

#[test]
fn wrong_shapes_say_what_was_expected() {
    let e = parse_rules("hello\n").unwrap_err();
    assert!(e.to_string().contains("a rule, a list of rules"), "{e}");
    let e = parse_rules("rules:\n  name: a\n").unwrap_err();
    assert!(e.to_string().contains("a list of rules"), "{e}");
    // A value is what YAML says it is, as before: a number is not a name, and a
    // key with nothing after it is not the empty query (which matches every line).
    let e = parse_rules("name: 123\nquery: x\nwindow: 5m\ncondition: '> 3'\n").unwrap_err();
    assert!(e.to_string().contains("expected a string"), "{e}");
    let e = parse_rules("name: a\nquery:\nwindow: 5m\ncondition: '> 3'\n").unwrap_err();
    assert!(e.to_string().contains("expected a string"), "{e}");
    // A list element that is not a rule is located like any rule.
    let e = parse_rules("- {name: a, query: x, window: 1m, condition: '> 1'}\n- 42\n").unwrap_err();
    assert_eq!(
        (e.rule.clone(), e.line),
        (Some((1, String::new())), Some(2)),
        "{e}"
    );
    let e = parse_rules("name: a\nname: b\n").unwrap_err();
    assert!(e.to_string().contains("name"), "{e}");
    // Syntax errors keep the library's own wording, which already says where.
    let e = parse_rules("rules:\n- name: a\n  query: [unclosed\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert_eq!(e.to_string().matches("line 4").count(), 1, "{e}");
}

#[test]
fn validation_errors_name_the_rule_and_its_line() {
    let text = format!("{ONE}---\nrules:\n- {{name: ok, query: x, window: 1m, condition: '> 1'}}\n- name: slow\n  query: y\n  window: 5q\n  condition: '> 1'\n");
    let e = read_rules(&text).unwrap_err();
    assert_eq!(e.rule, Some((2, "slow".to_string())));
    assert_eq!(e.error.field, "window");
    assert_eq!(e.error.position.map(|p| p.column), Some(1));
    assert_eq!((e.line, e.column), (Some(8), Some(3)), "{e}");
    assert!(
        e.to_string()
            .starts_with("line 8, column 3: rule #3 (\"slow\"): window: "),
        "{e}"
    );
    // A rule that is a whole document is located at its first key.
    let e = read_rules(&format!(
        "{ONE}---\nname: b\nquery: y\nwindow: 1m\ncondition: about 3\n"
    ))
    .unwrap_err();
    assert_eq!(
        (e.rule.as_ref().map(|r| r.0), e.line),
        (Some(1), Some(6)),
        "{e}"
    );
    // Duplicate names across documents.
    let e = read_rules(&format!("{ONE}---\n{ONE}")).unwrap_err();
    assert!(e.to_string().contains("duplicate rule name"), "{e}");
    assert_eq!(e.line, Some(6), "{e}");
}

#[test]
fn what_is_written_reads_back() {
    let specs = parse_rules(&format!("{ONE}---\n{}", ONE.replace("name: a", "name: b"))).unwrap();
    let text = to_yaml(&specs).unwrap();
    assert!(text.starts_with("rules:\n- name: a\n"), "{text}");
    assert_eq!(parse_rules(&text).unwrap(), specs);
    assert_eq!(
        parse_rules(&rule_to_yaml(&specs[1]).unwrap()).unwrap(),
        vec![specs[1].clone()]
    );
}

#[test]
fn every_field_is_validated_here() {
    let base = parse_rules(ONE).unwrap().remove(0);
    assert!(validate(&base).is_ok());
    let bad = |f: &dyn Fn(&mut crate::protocol::RuleSpec)| {
        let mut r = base.clone();
        f(&mut r);
        validate(&r)
            .err()
            .map(|e| (e.field, e.position.map(|p| p.column)))
    };
    assert_eq!(
        bad(&|r| r.name = "has space".into()),
        Some(("name".into(), Some(3)))
    );
    // The query, by the shared query parser (the column is the parser's).
    assert_eq!(
        bad(&|r| r.query = "level:error AND (".into()).map(|e| e.0),
        Some("query".into())
    );
    assert_eq!(
        bad(&|r| r.window = "5".into()),
        Some(("window".into(), Some(1)))
    );
    assert_eq!(
        bad(&|r| r.window = "500ms".into()).map(|e| e.0),
        Some("window".into())
    );
    assert_eq!(
        bad(&|r| r.for_ = "1x".into()),
        Some(("for".into(), Some(1)))
    );
    assert_eq!(
        bad(&|r| r.condition = "> many".into()),
        Some(("condition".into(), Some(2)))
    );
    assert_eq!(
        bad(&|r| r.group_by = vec!["bad name".into()]).map(|e| e.0),
        Some("group_by".into())
    );
    assert_eq!(
        bad(&|r| r.severity = " ".into()).map(|e| e.0),
        Some("severity".into())
    );
    assert_eq!(
        bad(&|r| {
            r.labels.insert("team-name".into(), "a".into());
        })
        .map(|e| e.0),
        Some("labels.team-name".into())
    );
    assert_eq!(
        bad(&|r| {
            r.annotations
                .insert("summary".into(), "{{ $valeu }}".into());
        }),
        Some(("annotations.summary".into(), Some(3)))
    );
}

proptest::proptest! {
    /// Whatever the file holds, reading it returns rules or an error, never a
    /// panic: the locating pass walks exactly the shapes the parse accepted.
    #[test]
    fn any_text_reads_without_panicking(
        lines in proptest::collection::vec(
            proptest::sample::select(vec![
                "---", "rules:", "- name: a", "  query: x", "  window: 5q", "  window: 5m",
                "  condition: '> 1'", "name: b", "query: y", "window: 1m", "condition: == 0",
                "- {name: c, query: z, window: 1s, condition: '< 2'}", "- 42", "# c", "",
                "  - name: d", "    query: w", "    window: 2m", "    condition: '> 0'",
                "labels: {a: 1}", "- [x]", "rules: []", "~", "&a {name: e}", "- *a", "  : x",
            ]),
            0..12,
        )
    ) {
        let text = lines.join("\n");
        if let Err(e) = read_rules(&text) {
            proptest::prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn a_rule_file_over_the_size_limit_is_refused_before_parsing() {
    let mut text = String::from("rules:\n");
    while text.len() <= MAX_RULES_BYTES {
        text.push_str("- {name: a, query: x, window: 5m, condition: '> 3'}\n");
    }
    let e = parse_rules(&text).unwrap_err();
    assert!(e.to_string().contains("at most 1048576"), "{e}");
}

#[test]
fn deep_nesting_is_refused_with_its_position() {
    for text in [
        format!("rules:\n- name: {}", "[".repeat(1_000)),
        format!("{}x", "- ".repeat(1_000)),
        format!("{}x", "{a: ".repeat(1_000)),
    ] {
        let e = parse_rules(&text).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        assert!(e.line.is_some() && e.column.is_some(), "{e:?}");
    }
}

#[test]
fn errors_about_a_file_that_is_not_rules_never_quote_it() {
    // The first lines of /etc/shadow and of /proc/self/environ, as they look to YAML.
    for text in [
        "root:$6$S3CRETsalt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
        "LOOKOUT_TOKEN=S3CRET\0PATH=/usr/bin\0",
        "- root:$6$S3CRET:19000\n",
        "rules:\n- name: S3CRET\n  query: x\n  window: [5m]\n  condition: '> 1'\n",
        "name: a\nquery: x\nwindow: 5m\ncondition: '> 1'\nlabels: S3CRET\n",
    ] {
        let e = parse_rules(text).unwrap_err().to_string();
        let quoted = e.contains("S3CRET") && !text.starts_with("rules:\n- name: S3CRET");
        assert!(!quoted, "{e}");
    }
}

#[test]
fn a_query_over_the_size_limit_is_a_query_error() {
    let rule = |q: &str| format!("name: a\nquery: '{q}'\nwindow: 5m\ncondition: '> 3'\n");
    assert!(read_rules(&rule(&"x ".repeat(MAX_QUERY_BYTES / 2))).is_ok());
    let e = read_rules(&rule(&"x ".repeat(MAX_QUERY_BYTES / 2 + 1))).unwrap_err();
    assert_eq!(e.error.field, "query", "{e}");
    assert!(e.to_string().contains("at most 4096"), "{e}");
    assert_eq!(e.line, Some(1));
}

/// A novelty rule as `lookout rules apply` reads it: accepted as written, and
/// refused where lookoutd would refuse it (the same `read_rules` runs in both).
#[test]
fn new_pattern_rules_are_read_and_checked() {
    let good = "name: NewPaymentsError\nquery: namespace:payments level:error\nwindow: 10m\ncondition: new_pattern\nannotations:\n  summary: 'new: {{ $template }} ({{ $labels.pattern }}) e.g. {{ $example }}'\n";
    let specs = read_rules(good).unwrap();
    assert_eq!(validate(&specs[0]).unwrap().kind, RuleKind::NewPattern);

    let refused = |text: &str| read_rules(text).unwrap_err().error.field;
    // `$template` means nothing to a count rule.
    assert_eq!(
        refused("name: a\nquery: x\nwindow: 5m\ncondition: '> 3'\nannotations:\n  s: '{{ $template }}'\n"),
        "annotations.s"
    );
    // The instance's own labels cannot be set by hand, nor grouped by again.
    assert_eq!(
        refused("name: a\nquery: x\nwindow: 5m\ncondition: new_pattern\nlabels:\n  pattern: x\n"),
        "labels.pattern"
    );
    assert_eq!(
        refused("name: a\nquery: x\nwindow: 5m\ncondition: new_pattern\ngroup_by: [pattern]\n"),
        "group_by"
    );
    let e = read_rules("name: a\nquery: x\nwindow: 5m\ncondition: new pattern\n").unwrap_err();
    assert_eq!(e.error.field, "condition");
    assert!(
        e.error.message.contains("new_pattern"),
        "{}",
        e.error.message
    );
}
