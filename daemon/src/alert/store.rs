//! `rules.yaml` in the data dir: the rule set, in the same YAML shape users write
//! (`rules:` then a list), so an operator can read it and back it up.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the directory): a crash
//! leaves the old file or the new one, never half of either. A file that does not
//! parse or validate is renamed aside (`rules.yaml.corrupt-<unix seconds>`) and
//! reported: the daemon starts without those rules but never overwrites them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lookout_shared::protocol::RuleSpec;
use serde::{Deserialize, Serialize};

use super::rules::{compile_all, CompiledRule, RuleError};

/// The file name inside the data dir.
pub const RULES_FILE: &str = "rules.yaml";

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

/// Parses a rules document: `rules: [...]`, a bare list of rules, or one rule.
///
/// Errors carry the rule's index in the message and the serde location.
pub fn parse_rules_yaml(text: &str) -> Result<Vec<RuleSpec>, RuleError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| RuleError::new("rules", yaml_message(&e)))?;
    let specs = match &value {
        yaml_serde::Value::Mapping(m) if m.contains_key("rules") => {
            yaml_serde::from_value::<RulesFile>(value).map(|f| f.rules)
        }
        yaml_serde::Value::Sequence(_) => yaml_serde::from_value::<Vec<RuleSpec>>(value),
        _ => yaml_serde::from_value::<RuleSpec>(value).map(|r| vec![r]),
    };
    specs.map_err(|e| RuleError::from_serde_message(&yaml_message(&e)))
}

fn yaml_message(e: &yaml_serde::Error) -> String {
    match e.location() {
        Some(l) => format!("{e} (line {}, column {})", l.line(), l.column()),
        None => e.to_string(),
    }
}

/// Serialises a rule set the way [`load`] reads it.
pub fn to_yaml(specs: &[RuleSpec]) -> Result<String, yaml_serde::Error> {
    let body = yaml_serde::to_string(&RulesFile {
        rules: specs.to_vec(),
    })?;
    Ok(format!(
        "# Alert rules of lookoutd. Managed through `lookout rules`; edits here are read at start.\n{body}"
    ))
}

/// What loading found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<CompiledRule>,
    /// Problems worth telling the operator (the file was set aside, …).
    pub warnings: Vec<String>,
}

/// Reads the rule set from `dir`; a missing file is an empty set.
///
/// A file that does not parse, or holds an invalid rule or a duplicate name, is
/// renamed aside and reported; no rule from it is loaded (half a rule set could
/// silence the one alert that mattered without anyone noticing).
pub fn load(dir: &Path) -> io::Result<Loaded> {
    let path = dir.join(RULES_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            let aside = set_aside(&path)?;
            return Ok(Loaded {
                rules: Vec::new(),
                warnings: vec![format!(
                    "{} is not UTF-8; moved to {} and starting with no rules",
                    path.display(),
                    aside.display()
                )],
            });
        }
        Err(e) => return Err(e),
    };
    let problem = match parse_rules_yaml(&text) {
        Ok(specs) => match compile_all(&specs) {
            Ok(rules) => {
                return Ok(Loaded {
                    rules,
                    warnings: Vec::new(),
                })
            }
            Err((i, e)) => format!("rule #{} ({:?}): {e}", i + 1, specs[i].name),
        },
        Err(e) => e.to_string(),
    };
    let aside = set_aside(&path)?;
    let msg = format!(
        "{} is invalid ({problem}); moved to {} and starting with no rules: fix it and `lookout rules apply -f` it",
        path.display(),
        aside.display()
    );
    tracing::error!("{msg}");
    Ok(Loaded {
        rules: Vec::new(),
        warnings: vec![msg],
    })
}

fn set_aside(path: &Path) -> io::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut aside = path.with_file_name(format!("{RULES_FILE}.corrupt-{secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{RULES_FILE}.corrupt-{secs}-{n}"));
        n += 1;
    }
    fs::rename(path, &aside)?;
    Ok(aside)
}

/// Writes the rule set atomically.
pub fn save(dir: &Path, specs: &[RuleSpec]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let text = to_yaml(specs).map_err(io::Error::other)?;
    let path = dir.join(RULES_FILE);
    let tmp = dir.join(format!("{RULES_FILE}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
