//! The rule files `lookout rules apply|test` read. Format and validation are
//! `lookout_shared::rules`, the code lookoutd runs on the same rules, so a file is
//! refused here, before anything is sent, exactly when the daemon would refuse it.
//! One decision is the CLI's own: a file holding no rule is a mistake to report
//! (the daemon's own `rules.yaml` may well be empty).

use lookout_shared::protocol::RuleSpec;
use lookout_shared::rules::{read_rules, RulesFileError};

use super::format::query_error_caret;

/// Why a rule file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{message}")]
    File {
        message: String,
        #[source]
        source: RulesFileError,
    },
    #[error(
        "no rules in the file: write one rule, a list of rules, or `rules:` followed by a list"
    )]
    Empty,
}

/// Reads and validates every rule a file holds, in file order.
pub fn parse_rules(text: &str) -> Result<Vec<RuleSpec>, RulesError> {
    let rules = read_rules(text).map_err(|e| RulesError::File {
        message: with_caret(text, &e),
        source: e,
    })?;
    if rules.is_empty() {
        return Err(RulesError::Empty);
    }
    Ok(rules)
}

/// The error, with the faulty field's text and a caret under the column when the
/// error points into it (`window: 5q` → under the `q`).
fn with_caret(text: &str, e: &RulesFileError) -> String {
    let mut msg = e.to_string();
    let (Some(p), Some((i, _))) = (e.error.position, &e.rule) else {
        return msg;
    };
    let Ok(specs) = lookout_shared::rules::parse_rules(text) else {
        return msg;
    };
    if let Some(value) = specs.get(*i).and_then(|s| field_text(s, &e.error.field)) {
        msg.push('\n');
        msg.push_str(&query_error_caret(value, p.column, p.length));
    }
    msg
}

/// The text of the field a validation error names.
fn field_text<'a>(spec: &'a RuleSpec, field: &str) -> Option<&'a str> {
    Some(match field {
        "name" => &spec.name,
        "query" => &spec.query,
        "window" => &spec.window,
        "condition" => &spec.condition,
        "for" => &spec.for_,
        _ => {
            let key = field.strip_prefix("annotations.")?;
            spec.annotations.get(key)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_a_list_or_a_rules_document() {
        let one = "name: a\nquery: x\nwindow: 5m\ncondition: '> 3'\n";
        let r = parse_rules(one).unwrap();
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
        let multi = format!("{one}---\n{}", one.replace("name: a", "name: b"));
        assert_eq!(parse_rules(&multi).unwrap().len(), 2);
    }

    #[test]
    fn typos_and_empty_files_are_errors() {
        let e = parse_rules("name: a\nquery: x\nwindw: 5m\ncondition: '> 3'\n").unwrap_err();
        assert!(e.to_string().contains("windw"), "{e}");
        assert!(parse_rules("").is_err());
        assert!(parse_rules("# nothing\n").is_err());
    }

    #[test]
    fn invalid_fields_are_refused_with_a_caret() {
        let e = parse_rules("name: a\nquery: x\nwindow: 5q\ncondition: '> 3'\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("line 1, column 1: rule #1 (\"a\"): window: "),
            "{msg}"
        );
        assert!(msg.ends_with("\n  5q\n   ^"), "{msg}");
    }
}
