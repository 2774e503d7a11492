//! From a user's [`RuleSpec`] to a [`CompiledRule`] the evaluator can run.
//!
//! The validation is [`lookout_shared::rules`], the same code the CLI runs before
//! it sends a rule, so both refuse the same rules with the same messages; the
//! parsed query it returns is the shared query tree, which the evaluator and the
//! index compile to their matchers. Everything is checked before anything is
//! saved, so a rule that is stored is a rule that runs.

use lookout_shared::protocol::RuleSpec;
use lookout_shared::rules::{validate, validate_all};

pub use lookout_shared::rules::{
    is_label_name, CmpOp, Condition, GroupField, RuleError, RuleKind, Template, MAX_FOR,
    MAX_WINDOW, NEW_PATTERN,
};

/// A validated rule, ready to run.
pub type CompiledRule = lookout_shared::rules::ValidRule;

/// Validates every field of `spec` and compiles it.
pub fn compile(spec: &RuleSpec) -> Result<CompiledRule, RuleError> {
    validate(spec)
}

/// Checks a whole rule set (a rules file): every rule valid, names unique.
pub fn compile_all(specs: &[RuleSpec]) -> Result<Vec<CompiledRule>, (usize, RuleError)> {
    validate_all(specs)
}
