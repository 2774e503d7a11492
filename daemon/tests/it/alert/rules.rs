//! Rule validation, CRUD through the engine API, and persistence in the data dir.

use std::collections::BTreeMap;
use std::time::Duration;

use lookout_daemon::alert::store::RULES_FILE;
use lookout_daemon::alert::{AlertEngine, AlertError, EngineConfig};
use lookout_shared::protocol::{ErrorCode, RuleSpec};
use lookout_shared::rules::parse_rules;

fn rule(name: &str) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        query: "boom".into(),
        window: "5m".into(),
        condition: "> 3".into(),
        for_: "0s".into(),
        group_by: vec![],
        severity: "warning".into(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        enabled: true,
    }
}

fn open(dir: &std::path::Path) -> (AlertEngine, Vec<String>) {
    AlertEngine::open(
        dir,
        EngineConfig {
            eval_interval: Duration::from_millis(100),
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

/// Validates `r` and returns (field, column) of the error.
fn bad(engine: &AlertEngine, r: RuleSpec) -> (String, Option<usize>, String) {
    let e = engine.validate(&r).unwrap_err();
    let body = e.to_error_body();
    assert_eq!(body.code, ErrorCode::BadRule, "{body:?}");
    (
        body.field.unwrap(),
        body.position.map(|p| p.column),
        body.message,
    )
}

#[test]
fn every_validation_error_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = open(dir.path());
    assert!(e.validate(&rule("ok")).is_ok());

    let (f, _, m) = bad(
        &e,
        RuleSpec {
            name: "".into(),
            ..rule("x")
        },
    );
    assert_eq!(f, "name", "{m}");
    let (f, col, _) = bad(&e, rule("has space"));
    assert_eq!((f.as_str(), col), ("name", Some(3)));

    let (f, col, m) = bad(
        &e,
        RuleSpec {
            window: "5".into(),
            ..rule("x")
        },
    );
    assert_eq!((f.as_str(), col), ("window", Some(1)), "{m}");
    let (f, _, m) = bad(
        &e,
        RuleSpec {
            window: "500ms".into(),
            ..rule("x")
        },
    );
    assert_eq!(f, "window", "{m}");
    let (f, _, _) = bad(
        &e,
        RuleSpec {
            window: "2d".into(),
            ..rule("x")
        },
    );
    assert_eq!(f, "window");
    let (f, col, _) = bad(
        &e,
        RuleSpec {
            for_: "1x".into(),
            ..rule("x")
        },
    );
    assert_eq!((f.as_str(), col), ("for", Some(1)));

    let (f, col, _) = bad(
        &e,
        RuleSpec {
            condition: "> many".into(),
            ..rule("x")
        },
    );
    assert_eq!((f.as_str(), col), ("condition", Some(2)));
    let (f, col, _) = bad(
        &e,
        RuleSpec {
            condition: "about 3".into(),
            ..rule("x")
        },
    );
    assert_eq!((f.as_str(), col), ("condition", Some(0)));

    let (f, _, m) = bad(
        &e,
        RuleSpec {
            group_by: vec!["1host".into()],
            ..rule("x")
        },
    );
    assert_eq!(f, "group_by");
    assert!(m.contains("1host"), "{m}");
    let (f, _, _) = bad(
        &e,
        RuleSpec {
            group_by: vec!["pod".into(), "pod".into()],
            ..rule("x")
        },
    );
    assert_eq!(f, "group_by");

    let (f, _, _) = bad(
        &e,
        RuleSpec {
            severity: " ".into(),
            ..rule("x")
        },
    );
    assert_eq!(f, "severity");

    let mut r = rule("x");
    r.labels.insert("team-name".into(), "a".into());
    assert_eq!(bad(&e, r).0, "labels.team-name");
    let mut r = rule("x");
    r.labels.insert("alertname".into(), "a".into());
    assert_eq!(bad(&e, r).0, "labels.alertname");

    let mut r = rule("x");
    r.annotations.insert(
        "summary".into(),
        "pod {{ $labels.pod }} {{ $valeu }}".into(),
    );
    let (f, col, m) = bad(&e, r);
    assert_eq!((f.as_str(), col), ("annotations.summary", Some(25)), "{m}");
    let mut r = rule("x");
    r.annotations.insert("summary".into(), "{{ $value ".into());
    assert_eq!(bad(&e, r).0, "annotations.summary");
}

#[test]
fn bad_query_reports_its_position() {
    // Uses the query language's own errors; an unbalanced quote/paren is an error
    // in any reasonable grammar.
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = open(dir.path());
    let r = RuleSpec {
        query: "level:error AND (".into(),
        ..rule("q")
    };
    match e.validate(&r) {
        Err(err) => {
            let b = err.to_error_body();
            assert_eq!(b.field.as_deref(), Some("query"));
            assert!(b.position.is_some(), "{b:?}");
        }
        // The placeholder query parser (before the index lands) accepts everything.
        Ok(()) => eprintln!("query parser accepts everything (stub): position not checked"),
    }
}

#[test]
fn unknown_fields_and_duplicates_in_yaml_are_field_errors() {
    let e = parse_rules(
        "rules:\n- name: a\n  query: boom\n  window: 5m\n  condition: '> 1'\n  treshold: 3\n",
    )
    .unwrap_err();
    assert_eq!(e.error.field, "treshold", "{e}");
    let e = parse_rules("rules:\n- name: a\n  window: 5m\n  condition: '> 1'\n").unwrap_err();
    assert_eq!(e.error.field, "query", "{e}");

    let rules = parse_rules(
        "rules:\n- {name: a, query: x, window: 5m, condition: '> 1'}\n- {name: a, query: y, window: 1m, condition: '== 0'}\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (eng, _) = open(dir.path());
    let err = eng.put_all(rules).unwrap_err();
    let b = err.to_error_body();
    assert_eq!(b.field.as_deref(), Some("name"));
    assert!(b.message.contains("duplicate"), "{}", b.message);
    assert!(eng.list().is_empty(), "nothing saved on error");
    assert!(!dir.path().join(RULES_FILE).exists());
}

#[test]
fn crud_and_restart_persistence() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (e, w) = open(dir.path());
        assert!(w.is_empty());
        let mut r = rule("errors");
        r.group_by = vec!["pod".into()];
        r.labels.insert("team".into(), "payments".into());
        r.annotations.insert(
            "summary".into(),
            "{{ $labels.pod }}: {{ $value }} errors".into(),
        );
        let st = e.put(r.clone()).unwrap();
        assert_eq!(st.rule, r);
        e.put(rule("quiet")).unwrap();
        assert_eq!(e.list().len(), 2);

        // Edit, disable, delete.
        let mut r2 = r.clone();
        r2.condition = ">= 10".into();
        e.put(r2.clone()).unwrap();
        assert_eq!(e.get("errors").unwrap().rule.condition, ">= 10");
        let st = e.set_enabled("quiet", false).unwrap();
        assert!(!st.rule.enabled);
        e.put(rule("gone")).unwrap();
        e.delete("gone").unwrap();
        assert!(matches!(e.get("gone"), Err(AlertError::NotFound(_))));
        assert!(matches!(e.delete("gone"), Err(AlertError::NotFound(_))));
        assert_eq!(
            e.get("gone").unwrap_err().to_error_body().code,
            ErrorCode::NotFound
        );
        // An invalid edit changes nothing.
        assert!(e
            .put(RuleSpec {
                window: "x".into(),
                ..r2.clone()
            })
            .is_err());
        assert_eq!(e.get("errors").unwrap().rule, r2);
    }
    // Restart: same rules, same order, same content.
    let (e, w) = open(dir.path());
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<_> = e.list().into_iter().map(|s| s.rule.name).collect();
    assert_eq!(names, ["errors", "quiet"]);
    assert_eq!(e.get("errors").unwrap().rule.condition, ">= 10");
    assert_eq!(
        e.get("errors")
            .unwrap()
            .rule
            .labels
            .get("team")
            .map(String::as_str),
        Some("payments")
    );
    assert!(!e.get("quiet").unwrap().rule.enabled);
    // The file is the YAML users write.
    let text = std::fs::read_to_string(dir.path().join(RULES_FILE)).unwrap();
    assert!(
        text.contains("rules:") && text.contains("name: errors"),
        "{text}"
    );
    assert_eq!(parse_rules(&text).unwrap().len(), 2);
    assert!(!dir.path().join(format!("{RULES_FILE}.tmp")).exists());
}

#[test]
fn corrupt_rules_file_is_kept_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "rules:\n- name: a\n  query: [unclosed\n";
    std::fs::write(dir.path().join(RULES_FILE), bad).unwrap();
    let (e, warnings) = open(dir.path());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("corrupt"), "{}", warnings[0]);
    assert!(e.list().is_empty());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("rules.yaml.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&aside[0])).unwrap(),
        bad,
        "kept byte for byte"
    );
    // New rules can be added and the old file is not overwritten.
    e.put(rule("fresh")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&aside[0])).unwrap(),
        bad
    );

    // A file that parses but holds an invalid rule is set aside too.
    drop(e);
    std::fs::write(
        dir.path().join(RULES_FILE),
        "rules:\n- {name: a, query: x, window: 5q, condition: '> 1'}\n",
    )
    .unwrap();
    let (e, warnings) = open(dir.path());
    assert!(warnings[0].contains("window"), "{warnings:?}");
    assert!(e.list().is_empty());
}

/// `rules.yaml` exactly as lookoutd wrote it with serde_yaml 0.9, before the switch to
/// its maintained fork: a block scalar, quoted and unquoted conditions, YAML-1.1
/// words (`yes`, `no`) kept as strings, a disabled rule.
const RULES_YAML_WRITTEN_BY_SERDE_YAML: &str = "\
# Alert rules of lookoutd. Managed through `lookout rules`; edits here are read at start.
rules:
- name: errors
  query: namespace:payments level:error
  window: 5m
  condition: '> 10'
  for: 2m
  group_by:
  - pod
  severity: critical
  labels:
    team: payments
  annotations:
    description: |-
      multi
      line: yes
    summary: '{{ $labels.pod }}: {{ $value }} errors'
  enabled: true
- name: quiet
  query: '\"card declined\" OR yes'
  window: 1h
  condition: == 0
  for: 0s
  severity: warning
  enabled: false
- name: odd
  query: '*'
  window: 30s
  condition: <5
  for: 0s
  severity: no
  enabled: true
";

#[test]
fn rules_yaml_written_before_the_yaml_crate_switch_reads_and_writes_the_same() {
    let specs = parse_rules(RULES_YAML_WRITTEN_BY_SERDE_YAML).unwrap();
    let mut errors = rule("errors");
    errors.query = "namespace:payments level:error".into();
    errors.condition = "> 10".into();
    errors.for_ = "2m".into();
    errors.group_by = vec!["pod".into()];
    errors.severity = "critical".into();
    errors.labels.insert("team".into(), "payments".into());
    errors
        .annotations
        .insert("description".into(), "multi\nline: yes".into());
    errors.annotations.insert(
        "summary".into(),
        "{{ $labels.pod }}: {{ $value }} errors".into(),
    );
    let quiet = RuleSpec {
        query: "\"card declined\" OR yes".into(),
        window: "1h".into(),
        condition: "== 0".into(),
        enabled: false,
        ..rule("quiet")
    };
    let odd = RuleSpec {
        query: "*".into(),
        window: "30s".into(),
        condition: "<5".into(),
        severity: "no".into(),
        ..rule("odd")
    };
    assert_eq!(specs, vec![errors, quiet, odd]);
    // Written back byte for byte: an upgrade does not rewrite operators' files.
    assert_eq!(
        lookout_daemon::alert::store::to_yaml(&specs).unwrap(),
        RULES_YAML_WRITTEN_BY_SERDE_YAML
    );
}

/// Files aside in `dir`, by name.
fn set_aside_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("rules.yaml.corrupt-"))
        .collect()
}

const SHADOW: &str =
    "root:$6$S3CRETsalt$S3CREThash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";

/// Attack 1c: `rules.yaml` linked to /etc/shadow echoed its first line into the log.
#[test]
fn rules_yaml_symlinked_elsewhere_is_refused_and_never_quoted() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("shadow");
    std::fs::write(&secret, SHADOW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join(RULES_FILE)).unwrap();
    let (e, warnings) = open(dir.path());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("symlink"), "{}", warnings[0]);
    assert!(!warnings[0].contains("S3CRET"), "{}", warnings[0]);
    assert!(e.list().is_empty());
    // The link was moved aside, the file it pointed to is untouched.
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), SHADOW);
    let aside = set_aside_files(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(std::fs::symlink_metadata(dir.path().join(&aside[0]))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// The same text copied in as a regular file: refused, and its content not quoted.
#[test]
fn a_rules_yaml_that_is_not_rules_is_never_quoted() {
    for text in [SHADOW, "LOOKOUT_TOKEN=S3CRET\0HOME=/root\0"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RULES_FILE), text).unwrap();
        let (e, warnings) = open(dir.path());
        assert!(!warnings.is_empty());
        for w in &warnings {
            assert!(!w.contains("S3CRET"), "{w}");
        }
        assert!(e.list().is_empty());
    }
}

#[test]
fn a_rules_yaml_over_the_size_limit_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let one = "- {name: a, query: x, window: 5m, condition: '> 3'}\n";
    let text = one.repeat(lookout_shared::rules::MAX_RULES_BYTES / one.len() + 1);
    std::fs::write(dir.path().join(RULES_FILE), &text).unwrap();
    let (e, warnings) = open(dir.path());
    assert!(warnings[0].contains("1 MiB"), "{warnings:?}");
    assert!(e.list().is_empty());
    assert_eq!(set_aside_files(dir.path()).len(), 1);
}

/// One rule that no longer validates (or a duplicate) costs only itself: the daemon
/// starts with the others, the original file is kept aside, each is reported.
#[test]
fn an_invalid_rule_at_load_is_set_aside_and_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = "rules:
- {name: good, query: x, window: 5m, condition: '> 1'}
- {name: broken, query: x, window: 5q, condition: '> 1'}
- {name: other, query: y, window: 1m, condition: '>= 2'}
- {name: good, query: z, window: 1m, condition: '> 1'}
";
    std::fs::write(dir.path().join(RULES_FILE), text).unwrap();
    let (e, warnings) = open(dir.path());
    let mut names: Vec<_> = e.list().into_iter().map(|s| s.rule.name).collect();
    names.sort();
    assert_eq!(names, ["good", "other"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("line 3")
            && warnings[0].contains("broken")
            && warnings[0].contains("window"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("duplicate"), "{}", warnings[1]);
    let aside = set_aside_files(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&aside[0])).unwrap(),
        text,
        "kept byte for byte"
    );
    // What is left loads cleanly next time.
    drop(e);
    let (e, warnings) = open(dir.path());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(e.list().len(), 2);
}
