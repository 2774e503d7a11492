//! `rules.yaml` in the data dir: the rule set, in the same YAML shape users write
//! (`rules:` then a list), so an operator can read it and back it up. It is read
//! by the same parser as `lookout rules apply -f` files (`lookout_shared::rules`):
//! several documents, a bare list or one rule all load, and an empty file is no
//! rules.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the directory): a crash
//! leaves the old file or the new one, never half of either. A file that does not
//! parse is renamed aside (`rules.yaml.corrupt-<unix seconds>`) and reported: the
//! daemon starts without those rules but never overwrites them. A file that parses
//! but holds invalid rules is kept aside the same way, and the daemon starts with
//! its valid rules (see [`load`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use lookout_shared::protocol::RuleSpec;
use lookout_shared::rules::{parse_rules, RuleError, RulesFileError, WriteError, MAX_RULES_BYTES};

use super::rules::{compile, CompiledRule};

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
/// `rules.yaml` must be a regular file, not a symlink (opened with `O_NOFOLLOW`:
/// a link to `/etc/shadow` is never read), and at most
/// [`MAX_RULES_BYTES`]. A file that is none of that, or does not parse, is
/// renamed aside and reported, and the daemon starts with no rules. A file that
/// parses but holds invalid rules (or a duplicate name) loses only those: the
/// whole file is kept aside byte for byte, `rules.yaml` is rewritten with the
/// valid rules, and each rule left out is reported by name, line and reason.
pub fn load(dir: &Path) -> io::Result<Loaded> {
    let path = dir.join(RULES_FILE);
    let text = match read_rules_file(&path) {
        Ok(t) => t,
        Err(Refused::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(Refused::Io(e)) => return Err(e),
        Err(Refused::Not(why)) => return no_rules(&path, &why, ""),
    };
    let specs = match parse_rules(&text) {
        Ok(specs) => specs,
        Err(e) => {
            let why = format!("is invalid ({e})");
            return no_rules(&path, &why, ": fix it and `lookout rules apply -f` it");
        }
    };
    let mut rules: Vec<CompiledRule> = Vec::with_capacity(specs.len());
    let mut problems = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // The same checks as `compile_all` (what `rules apply` runs), one rule at a
        // time so that one bad rule costs only itself.
        let result = if rules.iter().any(|r| r.spec.name == spec.name) {
            Err(RuleError::new(
                "name",
                format!("duplicate rule name {:?}: the first one is kept", spec.name),
            ))
        } else {
            compile(spec)
        };
        match result {
            Ok(rule) => rules.push(rule),
            Err(e) => problems.push(RulesFileError::in_rule(&text, &specs, i, e).to_string()),
        }
    }
    if problems.is_empty() {
        return Ok(Loaded {
            rules,
            warnings: Vec::new(),
        });
    }
    let aside = set_aside(&path)?;
    let kept: Vec<RuleSpec> = rules.iter().map(|r| r.spec.clone()).collect();
    save(dir, &kept)?;
    let warnings = problems
        .into_iter()
        .map(|p| {
            let msg = format!(
                "{}: rule set aside ({p}); the file as it was is in {}; starting with the {} valid rule(s): fix it and `lookout rules apply -f` it",
                path.display(),
                aside.display(),
                kept.len()
            );
            tracing::warn!("{msg}");
            msg
        })
        .collect();
    Ok(Loaded { rules, warnings })
}

/// Why `rules.yaml` was not read.
enum Refused {
    /// Reading failed (`NotFound` is no file at all).
    Io(io::Error),
    /// The path is not something to read rules from: the words finish "… {why}".
    Not(String),
}

/// Reads `path` if it is a regular file (not through a symlink) of at most
/// [`MAX_RULES_BYTES`] of UTF-8.
fn read_rules_file(path: &Path) -> Result<String, Refused> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let file = fs::OpenOptions::new()
        .read(true)
        // NONBLOCK: a FIFO put in its place must not hang the start.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Refused::Not(
                "is a symlink (refusing to follow it: rules are read from a regular file only)"
                    .into(),
            ))
        }
        Err(e) => return Err(Refused::Io(e)),
    };
    let meta = file.metadata().map_err(Refused::Io)?;
    if !meta.is_file() {
        return Err(Refused::Not("is not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_RULES_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(Refused::Io)?;
    if bytes.len() > MAX_RULES_BYTES {
        return Err(Refused::Not(format!(
            "is over {MAX_RULES_BYTES} bytes (1 MiB)"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Refused::Not("is not UTF-8".into()))
}

/// The whole file set aside for `why`; the daemon starts with no rules.
fn no_rules(path: &Path, why: &str, hint: &str) -> io::Result<Loaded> {
    let aside = set_aside(path)?;
    let msg = format!(
        "{} {why}; moved to {} and starting with no rules{hint}",
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
