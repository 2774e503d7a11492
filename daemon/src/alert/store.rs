//! `rules.yaml` in the data dir: the rule set, in the same YAML shape users write
//! (`rules:` then a list), so an operator can read it and back it up. It is read
//! by the same parser as `lookout rules apply -f` files (`lookout_shared::rules`):
//! several documents, a bare list or one rule all load, and an empty file is no
//! rules.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the directory): a crash
//! leaves the old file or the new one, never half of either. A file that does not
//! parse or validate is renamed aside (`rules.yaml.corrupt-<unix seconds>`) and
//! reported: the daemon starts without those rules but never overwrites them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use lookout_shared::protocol::RuleSpec;
use lookout_shared::rules::{parse_rules, RulesFileError, WriteError};

use super::rules::{compile_all, CompiledRule};

/// The file name inside the data dir.
pub const RULES_FILE: &str = "rules.yaml";

/// Serialises a rule set the way [`load`] reads it: the shared rule-file format,
/// under a comment saying who manages the file.
pub fn to_yaml(specs: &[RuleSpec]) -> Result<String, WriteError> {
    let body = lookout_shared::rules::to_yaml(specs)?;
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
    let problem = match parse_rules(&text) {
        Ok(specs) => match compile_all(&specs) {
            Ok(rules) => {
                return Ok(Loaded {
                    rules,
                    warnings: Vec::new(),
                })
            }
            Err((i, e)) => RulesFileError::in_rule(&text, &specs, i, e).to_string(),
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
    crate::durable::rename_durable(path, &aside)?;
    Ok(aside)
}

/// Writes the rule set atomically and durably ([`crate::durable::write_atomic`]).
pub fn save(dir: &Path, specs: &[RuleSpec]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let text = to_yaml(specs).map_err(io::Error::other)?;
    crate::durable::write_atomic(&dir.join(RULES_FILE), text.as_bytes())
}
