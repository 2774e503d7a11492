//! What the user typed before, per kind of input (search box, filter, find, range),
//! recalled with `↑`/`↓` and kept across runs in the user's state directory.
//!
//! The pure part (recording, browsing) lives here; reading and writing the file is
//! [`History::load`] and [`History::save`], called by the event loop at start and
//! exit so the core never touches the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Entries kept per kind: enough for weeks of queries, small enough to load at once.
pub const MAX_ENTRIES: usize = 200;
/// Longest entry kept (characters); longer ones are not history, they are pastes.
pub const MAX_LEN: usize = 2000;
/// Largest history file read back; anything bigger is not ours to parse.
const MAX_FILE: u64 = 4 << 20;

/// Which input a line was typed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Search,
    Filter,
    Find,
    Range,
}

/// Past inputs, oldest first, and where browsing stands.
#[derive(Debug, Default)]
pub struct History {
    lines: BTreeMap<Kind, Vec<String>>,
    /// While browsing: the kind, how far back (1 = newest), and what was typed
    /// before browsing started (given back when browsing past the newest).
    browsing: Option<(Kind, usize, String)>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    k: Kind,
    t: String,
}

impl History {
    /// Records a submitted input (blank ones and repeats of the last are not).
    pub fn record(&mut self, kind: Kind, text: &str) {
        self.browsing = None;
        let t = text.trim();
        if t.is_empty() || t.chars().count() > MAX_LEN {
            return;
        }
        let v = self.lines.entry(kind).or_default();
        v.retain(|x| x != t);
        v.push(t.to_string());
        if v.len() > MAX_ENTRIES {
            let over = v.len() - MAX_ENTRIES;
            v.drain(..over);
        }
    }

    /// `↑`: the entry before the one shown (the newest first); `current` is what
    /// the field holds now. `None` when there is nothing older.
    pub fn older(&mut self, kind: Kind, current: &str) -> Option<String> {
        let v = self.lines.get(&kind)?;
        let (depth, typed) = match self.browsing.take() {
            Some((k, d, typed)) if k == kind => (d + 1, typed),
            _ => (1, current.to_string()),
        };
        let depth = depth.min(v.len());
        if depth == 0 {
            return None;
        }
        let line = v.get(v.len() - depth).cloned();
        self.browsing = Some((kind, depth, typed));
        line
    }

    /// `↓`: the entry after the one shown, and past the newest what was typed
    /// before browsing. `None` when not browsing this kind.
    pub fn newer(&mut self, kind: Kind) -> Option<String> {
        let v = self.lines.get(&kind)?;
        let (k, depth, typed) = self.browsing.take()?;
        if k != kind {
            return None;
        }
        if depth <= 1 {
            return Some(typed);
        }
        let depth = depth - 1;
        let line = v.get(v.len() - depth).cloned();
        self.browsing = Some((kind, depth, typed));
        line
    }

    /// Whether `↓` would move within history (rather than mean something else).
    pub fn is_browsing(&self, kind: Kind) -> bool {
        matches!(&self.browsing, Some((k, _, _)) if *k == kind)
    }

    /// Typing ends browsing: the next `↑` starts from the newest again.
    pub fn stop_browsing(&mut self) {
        self.browsing = None;
    }

    /// Where the history lives: `$XDG_STATE_HOME/lookout/history`, else
    /// `~/.local/state/lookout/history`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/state"))
            })?;
        Some(base.join("lookout").join("history"))
    }

    /// Reads a history file (JSON lines); a missing, oversized or unreadable file
    /// is an empty history, and a line that does not parse is skipped.
    pub fn load(path: &Path) -> History {
        let mut h = History::default();
        let ok = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_FILE);
        let Some(text) = ok.then(|| std::fs::read_to_string(path).ok()).flatten() else {
            return h;
        };
        for l in text.lines() {
            if let Ok(Line { k, t }) = serde_json::from_str::<Line>(l) {
                h.record(k, &t);
            }
        }
        h
    }

    /// Writes the history (replacing the file through a temporary one, so a crash
    /// mid-write leaves the old history, not half of it).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = String::new();
        for (k, v) in &self.lines {
            for t in v {
                if let Ok(s) = serde_json::to_string(&Line {
                    k: *k,
                    t: t.clone(),
                }) {
                    out.push_str(&s);
                    out.push('\n');
                }
            }
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, out)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_down_walk_back_and_return_to_what_was_typed() {
        let mut h = History::default();
        for q in ["level:error", "pod:web", "timeout"] {
            h.record(Kind::Search, q);
        }
        assert_eq!(h.older(Kind::Search, "half").as_deref(), Some("timeout"));
        assert_eq!(h.older(Kind::Search, "").as_deref(), Some("pod:web"));
        assert_eq!(h.older(Kind::Search, "").as_deref(), Some("level:error"));
        assert_eq!(h.older(Kind::Search, "").as_deref(), Some("level:error"));
        assert_eq!(h.newer(Kind::Search).as_deref(), Some("pod:web"));
        assert_eq!(h.newer(Kind::Search).as_deref(), Some("timeout"));
        assert_eq!(h.newer(Kind::Search).as_deref(), Some("half"));
        assert_eq!(h.newer(Kind::Search), None);
        assert_eq!(h.older(Kind::Filter, ""), None, "kinds are apart");
        // A repeat moves to the end rather than doubling.
        h.record(Kind::Search, "pod:web");
        assert_eq!(h.older(Kind::Search, "").as_deref(), Some("pod:web"));
        assert_eq!(h.older(Kind::Search, "").as_deref(), Some("timeout"));
    }

    #[test]
    fn history_survives_a_restart_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/lookout/history");
        let mut h = History::default();
        for i in 0..(MAX_ENTRIES + 50) {
            h.record(Kind::Filter, &format!("pod:web-{i}"));
        }
        h.record(Kind::Find, "deadlock");
        h.record(Kind::Find, &"x".repeat(MAX_LEN + 1));
        h.save(&path).unwrap();
        let mut back = History::load(&path);
        assert_eq!(
            back.older(Kind::Filter, "").as_deref(),
            Some(format!("pod:web-{}", MAX_ENTRIES + 49).as_str())
        );
        assert_eq!(back.lines[&Kind::Filter].len(), MAX_ENTRIES);
        assert_eq!(back.older(Kind::Find, "").as_deref(), Some("deadlock"));
        std::fs::write(&path, "not json\n{\"k\":\"find\",\"t\":\"ok\"}\n").unwrap();
        let mut back = History::load(&path);
        assert_eq!(back.older(Kind::Find, "").as_deref(), Some("ok"));
        assert!(History::load(&dir.path().join("missing")).lines.is_empty());
    }
}
