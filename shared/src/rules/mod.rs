//! Alert rules as users write them: the rule-file format and the validation that
//! both `lookoutd` (its `rules.yaml`) and `lookout rules apply|test -f` run, so a
//! file the CLI accepts is a file the daemon accepts, with the same messages.
//!
//! # The format
//!
//! A rule file is a YAML stream: one or more documents separated by `---`. Each
//! document is one of
//! - one rule (a mapping with `name`, `query`, `window`, `condition`, …),
//! - a list of rules,
//! - a mapping with the single key `rules` holding a list of rules (the shape of
//!   Prometheus and Loki rule files, and what lookoutd writes).
//!
//! A document that is empty or holds only comments adds no rule, and neither does
//! `rules:` with nothing after it; so an empty file is zero rules. That is what
//! lookoutd's `rules.yaml` holds once the last rule is deleted, so the parser must
//! accept it; refusing to *apply* zero rules is the CLI's decision, made on the
//! parsed result. Unknown keys are errors, so a typo such as `windw:` never
//! silently falls back to a default.
//!
//! # Map
//! - [`file`]: [`parse_rules`] / [`read_rules`] and [`to_yaml`], with errors that
//!   give the line and column in the file ([`RulesFileError`]).
//! - [`validate`]: every field of a [`RuleSpec`] checked and parsed ([`ValidRule`]),
//!   errors naming the field and the column in it ([`RuleError`]).
//! - [`condition`]: `> N` and friends, or `new_pattern`.
//! - [`template`]: `{{ $labels.x }}` / `{{ $value }}` (and a novelty rule's
//!   `{{ $template }}` / `{{ $example }}`) in annotations.
//!
//! [`RuleSpec`]: crate::protocol::RuleSpec

pub mod condition;
pub mod file;
pub mod template;
pub mod validate;

#[cfg(test)]
mod tests;

pub use condition::{CmpOp, Condition, RuleKind, NEW_PATTERN};
pub use file::{
    parse_rules, read_rules, rule_to_yaml, to_yaml, RulesFileError, WriteError, MAX_RULES_BYTES,
};
pub use template::{PatternInfo, Template, TemplateError, MAX_TEMPLATE_BYTES};
pub use validate::{
    is_label_name, validate, validate_all, GroupField, RuleError, ValidRule, MAX_FOR,
    MAX_QUERY_BYTES, MAX_WINDOW, NEW_PATTERN_LABELS,
};
