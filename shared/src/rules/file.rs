//! Reading and writing rule files (see the format in [`super`]).
//!
//! Each document is read into a YAML value first and then into rules, as both
//! former parsers did, so a file means what it meant before: `name: 123` is a
//! number where text is wanted (an error, not the name "123"), `query:` with
//! nothing after it is an error, not the empty query that matches every line.
//! A YAML value has no positions, so when a rule is refused (by serde or by
//! validation) [`RulesFileError::in_rule`] finds where it starts by walking the
//! file's events once more and stopping there (the YAML library reports positions
//! only on errors): a second pass, on the failure path only.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use yaml_serde::Value;

use super::validate::{validate_all, RuleError};
use crate::protocol::RuleSpec;

/// Largest rule file (lookoutd's `rules.yaml`, or one `lookout rules apply -f`
/// reads). A rule written out is ~300 bytes, so this is thousands of rules; a rule
/// set travels in one `put_rules` frame, which is at most
/// [`crate::limits::MAX_FRAME_BYTES`] (the same 1 MiB) anyway. Nesting is bounded by
/// the YAML library itself: past 128 levels it stops with "recursion limit exceeded"
/// and the position.
pub const MAX_RULES_BYTES: usize = 1 << 20;

/// Why a rule file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFileError {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column in the file, when known.
    pub column: Option<usize>,
    /// The rule at fault: its 0-based index in file order and its name (empty when
    /// it has none).
    pub rule: Option<(usize, String)>,
    /// The field at fault (for YAML errors, the key serde named, else `rule`).
    /// Boxed: errors travel in `Result`s whose `Ok` side is small.
    pub error: Box<RuleError>,
    /// The message came from the YAML library and names the field itself.
    from_yaml: bool,
}

impl RulesFileError {
    /// Rule `index` of `specs`, parsed from `text`, failed validation with `error`:
    /// the same error, located at the rule's start.
    pub fn in_rule(text: &str, specs: &[RuleSpec], index: usize, error: RuleError) -> Self {
        let name = specs.get(index).map(|s| s.name.clone()).unwrap_or_default();
        Self::located(text, index, name, error, false)
    }

    fn located(text: &str, index: usize, name: String, error: RuleError, from_yaml: bool) -> Self {
        let (line, column) = locate(text, index).unzip();
        RulesFileError {
            line,
            column,
            rule: Some((index, name)),
            error: Box::new(error),
            from_yaml,
        }
    }

    /// A syntax error (or a duplicate key): the library's message says where.
    fn syntax(e: &yaml_serde::Error) -> Self {
        let location = e.location();
        RulesFileError {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            rule: None,
            error: Box::new(RuleError::new("rule", e.to_string())),
            from_yaml: true,
        }
    }

    /// The file is over [`MAX_RULES_BYTES`].
    fn too_big(len: usize) -> Self {
        RulesFileError {
            line: None,
            column: None,
            rule: None,
            error: Box::new(RuleError::new(
                "rules",
                format!("the rule file is {len} bytes: at most {MAX_RULES_BYTES} (1 MiB)"),
            )),
            from_yaml: true,
        }
    }

    /// A document that is none of the shapes a rule file may hold.
    fn shape(doc: usize, message: String) -> Self {
        RulesFileError {
            line: None,
            column: None,
            rule: None,
            error: Box::new(RuleError::new(
                "rules",
                format!("document #{}: {message}", doc + 1),
            )),
            from_yaml: true,
        }
    }
}

impl fmt::Display for RulesFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Syntax errors have no rule: the library's message already says where.
        if let Some((i, name)) = &self.rule {
            if let Some(line) = self.line {
                write!(f, "line {line}")?;
                if let Some(c) = self.column {
                    write!(f, ", column {c}")?;
                }
                f.write_str(": ")?;
            }
            write!(f, "rule #{}", i + 1)?;
            if !name.is_empty() {
                write!(f, " ({name:?})")?;
            }
            f.write_str(": ")?;
        }
        if self.from_yaml {
            f.write_str(&self.error.message)
        } else {
            write!(f, "{}", self.error)
        }
    }
}

impl std::error::Error for RulesFileError {}

/// Serialising rules to YAML failed (it cannot for rules that came from YAML or
/// JSON; the type keeps the YAML crate out of this crate's API).
#[derive(Debug, thiserror::Error)]
#[error("cannot write rules as YAML: {0}")]
pub struct WriteError(yaml_serde::Error);

/// Reads every rule a file holds, in file order; zero rules is not an error here.
///
/// Over [`MAX_RULES_BYTES`] is refused before any parsing.
pub fn parse_rules(text: &str) -> Result<Vec<RuleSpec>, RulesFileError> {
    if text.len() > MAX_RULES_BYTES {
        return Err(RulesFileError::too_big(text.len()));
    }
    let mut out = Vec::new();
    for (d, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| RulesFileError::syntax(&e))?;
        let rules = match value {
            Value::Null => continue,
            Value::Sequence(rules) => rules,
            Value::Mapping(mut m) if m.contains_key("rules") => {
                if let Some(k) = m.keys().find(|k| k.as_str() != Some("rules")) {
                    let k = yaml_serde::to_string(k).unwrap_or_default();
                    return Err(RulesFileError::shape(
                        d,
                        format!("unknown key {:?} beside `rules:`", k.trim_end()),
                    ));
                }
                match m.remove("rules") {
                    Some(Value::Sequence(rules)) => rules,
                    Some(Value::Null) | None => continue,
                    Some(_) => {
                        return Err(RulesFileError::shape(
                            d,
                            "`rules:` must be followed by a list of rules".into(),
                        ))
                    }
                }
            }
            rule @ Value::Mapping(_) => vec![rule],
            _ => {
                return Err(RulesFileError::shape(
                    d,
                    "expected a rule, a list of rules, or `rules:` followed by a list of rules"
                        .into(),
                ))
            }
        };
        for rule in rules {
            let name = rule
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let spec = RuleSpec::deserialize(rule).map_err(|e| {
                let error = RuleError::from_serde_message(&e.to_string());
                RulesFileError::located(text, out.len(), name, error, true)
            })?;
            out.push(spec);
        }
    }
    Ok(out)
}

/// Parses and validates a rule file exactly as lookoutd will: the CLI's check before
/// it sends anything.
pub fn read_rules(text: &str) -> Result<Vec<RuleSpec>, RulesFileError> {
    let specs = parse_rules(text)?;
    validate_all(&specs).map_err(|(i, e)| RulesFileError::in_rule(text, &specs, i, e))?;
    Ok(specs)
}

#[derive(Serialize)]
struct RulesDoc<'a> {
    rules: &'a [RuleSpec],
}

/// A rule set as one `rules:` document, the shape [`parse_rules`] reads back.
pub fn to_yaml(specs: &[RuleSpec]) -> Result<String, WriteError> {
    yaml_serde::to_string(&RulesDoc { rules: specs }).map_err(WriteError)
}

/// One rule as a YAML document (what `lookout rules get` prints).
pub fn rule_to_yaml(spec: &RuleSpec) -> Result<String, WriteError> {
    yaml_serde::to_string(spec).map_err(WriteError)
}

/// Where rule `index` starts (1-based line and column): walks `text` again and
/// stops there.
fn locate(text: &str, index: usize) -> Option<(usize, usize)> {
    let walk = Walk {
        target: index,
        seen: Cell::new(0),
    };
    for doc in yaml_serde::Deserializer::from_str(text) {
        if let Err(e) = (Doc {
            walk: &walk,
            top: true,
        })
        .deserialize(doc)
        {
            if !e.to_string().contains(STOP) {
                return None;
            }
            return e.location().map(|l| (l.line(), l.column()));
        }
    }
    None
}

/// The message of the error that ends a [`locate`] pass at its rule; the YAML
/// library attaches the position of the node being read to it.
const STOP: &str = "lookout: the rule being located starts here";

/// One pass of [`locate`]: which rule to stop at, and how many were passed.
struct Walk {
    target: usize,
    seen: Cell<usize>,
}

impl Walk {
    /// Steps over one rule, or stops at it with [`STOP`].
    fn rule<E: de::Error>(&self) -> Result<(), E> {
        if self.seen.get() == self.target {
            return Err(E::custom(STOP));
        }
        self.seen.set(self.seen.get() + 1);
        Ok(())
    }
}

/// A document (`top`) or the value of `rules:`, walked the way [`parse_rules`]
/// reads it: a list is rules, a mapping whose first key is `rules` holds them, any
/// other mapping is one rule. (Files with other shapes never get this far.)
struct Doc<'a> {
    walk: &'a Walk,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Doc<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rules")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            // `Rule` stops on the target; others are stepped over.
            if seq.next_element_seed(Rule { walk: self.walk })?.is_none() {
                return Ok(());
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = map.next_key::<String>()?;
        if self.top && first.as_deref() == Some("rules") {
            map.next_value_seed(Doc {
                walk: self.walk,
                top: false,
            })?;
        } else {
            // The document is one rule: the error's position is its first key's.
            self.walk.rule::<A::Error>()?;
            if first.is_some() {
                // The key's value is still pending: the library requires it be read
                // before the next key.
                map.next_value::<IgnoredAny>()?;
            }
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// One element of a list of rules.
struct Rule<'a> {
    walk: &'a Walk,
}

impl<'de> DeserializeSeed<'de> for Rule<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Rule<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rule")
    }

    // Whatever the element is (a rule that did not deserialise may be a scalar or
    // a list), it is the next rule.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.walk.rule::<A::Error>()?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.walk.rule::<A::Error>()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.walk.rule()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.walk.rule()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.walk.rule()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.walk.rule()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.walk.rule()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.walk.rule()
    }
}
