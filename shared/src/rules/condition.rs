//! A rule's `condition`: `> N` and friends on the count of matching lines in the
//! window, or `new_pattern` (a kind of line first seen inside the window). Parsed
//! once at validation, so the evaluator only compares numbers.

use super::RuleError;

/// Comparison in a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// The `condition` text of a novelty rule.
pub const NEW_PATTERN: &str = "new_pattern";

/// What a rule fires on: a count, or novelty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `> N` and friends on the matches in the window.
    Count(Condition),
    /// `new_pattern`: one instance per pattern of the matching lines whose
    /// pattern (as this node's miner knows it) was first seen inside the window.
    NewPattern,
}

impl RuleKind {
    /// Parses a rule's `condition`: [`NEW_PATTERN`] or a comparison
    /// ([`Condition::parse`]).
    pub fn parse(text: &str) -> Result<RuleKind, RuleError> {
        if text.trim() == NEW_PATTERN {
            return Ok(RuleKind::NewPattern);
        }
        Condition::parse(text).map(RuleKind::Count)
    }

    /// True for a count rule that zero matches satisfy (see
    /// [`Condition::fires_on_silence`]); a novelty rule never fires on silence.
    pub fn fires_on_silence(&self) -> bool {
        matches!(self, RuleKind::Count(c) if c.fires_on_silence())
    }
}

/// `> N` and friends, on the count of matches in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub op: CmpOp,
    /// Counted in matching lines, so whole and non-negative.
    pub threshold: u64,
}

impl Condition {
    /// Parses `> 5`, `>=5`, `< 1`, `== 0`, `!= 0`, `<= 3`; errors carry the column
    /// within the condition's text.
    pub fn parse(text: &str) -> Result<Condition, RuleError> {
        let err = |m: &str, col: usize, len: usize| RuleError::new("condition", m).at(col, len);
        let lead = text.len() - text.trim_start().len();
        let s = text.trim();
        let ops = [
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ];
        let Some((sym, op)) = ops.iter().find(|(sym, _)| s.starts_with(sym)) else {
            return Err(err(
                "expected a comparison (`> N`, `>= N`, `< N`, `<= N`, `== N`, `!= N`) or `new_pattern`",
                lead,
                s.chars().next().map_or(0, |_| 1),
            ));
        };
        let after = &s[sym.len()..];
        let num_col = lead + sym.len() + (after.len() - after.trim_start().len());
        let num = after.trim();
        if num.is_empty() {
            return Err(err("expected a number after the comparison", num_col, 0));
        }
        let threshold: u64 = num.parse().map_err(|_| {
            err(
                "expected a whole, non-negative number of matching lines",
                num_col,
                num.chars().count(),
            )
        })?;
        Ok(Condition { op: *op, threshold })
    }

    /// Whether `count` satisfies the condition.
    pub fn holds(&self, count: u64) -> bool {
        let n = self.threshold;
        match self.op {
            CmpOp::Gt => count > n,
            CmpOp::Ge => count >= n,
            CmpOp::Lt => count < n,
            CmpOp::Le => count <= n,
            CmpOp::Eq => count == n,
            CmpOp::Ne => count != n,
        }
    }

    /// True when zero matches satisfy it (`< N`, `== 0`): a "went silent" rule,
    /// which must be evaluated even for groups that sent nothing lately.
    pub fn fires_on_silence(&self) -> bool {
        self.holds(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_hold() {
        let c = Condition::parse(" >= 3").unwrap();
        assert_eq!(c.op, CmpOp::Ge);
        assert!(c.holds(3) && !c.holds(2));
        assert!(Condition::parse("== 0").unwrap().fires_on_silence());
        assert!(!Condition::parse(">0").unwrap().fires_on_silence());
        let e = Condition::parse("> x").unwrap_err();
        assert_eq!(e.position.unwrap().column, 2);
        let e = Condition::parse("=> 3").unwrap_err();
        assert_eq!(e.position.unwrap().column, 0);
        assert!(Condition::parse("> -1").is_err());
        assert!(Condition::parse(">").is_err());
    }

    #[test]
    fn new_pattern_is_a_kind_of_its_own() {
        assert_eq!(
            RuleKind::parse(" new_pattern ").unwrap(),
            RuleKind::NewPattern
        );
        assert!(!RuleKind::NewPattern.fires_on_silence());
        assert!(RuleKind::parse("== 0").unwrap().fires_on_silence());
        let e = RuleKind::parse("new_patterns").unwrap_err();
        assert!(e.message.contains("new_pattern"), "{}", e.message);
        assert_eq!(e.position.unwrap().column, 0);
    }
}
