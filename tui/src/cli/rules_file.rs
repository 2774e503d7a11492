//! Rule files: one rule, a list of rules, or a `rules:` document; several YAML
//! documents (`---`) may follow each other. Unknown keys are errors, so a typo such
//! as `windw:` never silently falls back to a default.

use lookout_shared::protocol::RuleSpec;
use serde::Deserialize;

/// Why a rule file did not parse.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    #[error("{0}")]
    Yaml(#[from] yaml_serde::Error),
    #[error("no rules in the file")]
    Empty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesDoc {
    rules: Vec<RuleSpec>,
}

/// Reads every rule a file holds, in file order.
pub fn parse_rules(text: &str) -> Result<Vec<RuleSpec>, RulesFileError> {
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(text) {
        let v = yaml_serde::Value::deserialize(doc)?;
        match &v {
            yaml_serde::Value::Null => continue,
            yaml_serde::Value::Sequence(_) => {
                out.extend(yaml_serde::from_value::<Vec<RuleSpec>>(v)?);
            }
            yaml_serde::Value::Mapping(m) if m.contains_key("rules") => {
                out.extend(yaml_serde::from_value::<RulesDoc>(v)?.rules);
            }
            _ => out.push(yaml_serde::from_value::<RuleSpec>(v)?),
        }
    }
    if out.is_empty() {
        return Err(RulesFileError::Empty);
    }
    Ok(out)
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
        let multi = format!("{one}---\n{one}");
        assert_eq!(parse_rules(&multi).unwrap().len(), 2);
    }

    #[test]
    fn typos_and_empty_files_are_errors() {
        let e = parse_rules("name: a\nquery: x\nwindw: 5m\ncondition: '> 3'\n").unwrap_err();
        assert!(e.to_string().contains("windw"), "{e}");
        assert!(parse_rules("").is_err());
        assert!(parse_rules("# nothing\n").is_err());
    }
}
