//! What file names say: kubelet paths to metadata, live vs rotated names, and the
//! container ids carried by the `containers/` symlink names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lookout_shared::StreamId;

/// Metadata shared by every entry of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMeta {
    /// What every entry of the file carries as its `source` (one clone per entry).
    pub source: StreamId,
    /// Kubelet layout (CRI or docker json expected) rather than a plain `*.log`.
    pub kubelet: bool,
}

/// How a file name in a followed directory is treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameKind {
    /// `X.log`: the file a writer appends to now.
    Live { stem: String },
    /// `X.log.<suffix>` (kubelet `N.log.YYYYmmdd-HHMMSS`, logrotate `X.log.1`):
    /// renamed away, may still receive late writes, then gets compressed.
    Rotated { stem: String },
    /// Anything else, including `*.gz` and `*.tmp`.
    Ignored,
}

/// Classifies a file name.
pub fn classify(name: &str) -> NameKind {
    if name.ends_with(".gz") || name.ends_with(".tmp") || name.starts_with('.') {
        return NameKind::Ignored;
    }
    if let Some(stem) = name.strip_suffix(".log") {
        if stem.is_empty() {
            return NameKind::Ignored;
        }
        return NameKind::Live { stem: stem.into() };
    }
    if let Some(i) = name.find(".log.") {
        let stem = &name[..i];
        let suffix = &name[i + 5..];
        if stem.is_empty() || suffix.is_empty() || suffix.contains(".log") {
            return NameKind::Ignored;
        }
        return NameKind::Rotated { stem: stem.into() };
    }
    NameKind::Ignored
}

/// The restart count `N` of `N.log` / `N.log.<suffix>` (0 when not a number).
fn restart_of(stem: &str) -> u32 {
    stem.parse().unwrap_or(0)
}

/// Metadata of a file under `pods/<ns>_<pod>_<uid>/<container>/`.
pub fn kubelet_meta(pod_dir: &str, container: &str, file_stem: &str) -> FileMeta {
    // Namespaces and pod names cannot contain `_`; the uid (or a static pod's
    // config hash) comes last and is kept whole.
    let mut parts = pod_dir.splitn(3, '_');
    let namespace = parts.next().unwrap_or_default().to_string();
    let pod = parts.next().unwrap_or_default().to_string();
    let pod_uid = parts.next().unwrap_or_default().to_string();
    FileMeta {
        source: StreamId {
            namespace,
            pod,
            pod_uid,
            container: container.to_string(),
            container_id: String::new(),
            restart: restart_of(file_stem),
        },
        kubelet: true,
    }
}

/// Metadata of a plain `*.log` file: pod and container are the stem, the rest
/// is empty (as documented on `StreamId`).
pub fn plain_meta(stem: &str) -> FileMeta {
    FileMeta {
        source: StreamId {
            pod: stem.to_string(),
            container: stem.to_string(),
            ..StreamId::default()
        },
        kubelet: false,
    }
}

/// The 64-hex container id at the end of a `containers/` symlink name, if the
/// name was not cut at 255 bytes before (or inside) it.
pub fn container_id_of_link(name: &str) -> Option<String> {
    let base = name.strip_suffix(".log")?;
    let (_, id) = base.rsplit_once('-')?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// Key under which the container id of a `pods/…` file is looked up: the last
/// three components `<pod dir>/<container>/<N.log>`, so that a symlink's absolute
/// host path still matches when the log root is mounted elsewhere.
pub fn tail_key(path: &Path) -> Option<(String, String, String)> {
    let mut comps = path.components().rev();
    let file = comps.next()?.as_os_str().to_str()?.to_string();
    let container = comps.next()?.as_os_str().to_str()?.to_string();
    let pod = comps.next()?.as_os_str().to_str()?.to_string();
    Some((pod, container, file))
}

/// `(pod dir, container, file)`: see [`tail_key`].
pub type TailKey = (String, String, String);

/// `containers/`: each symlink's target mapped to its container id, kept up to date
/// incrementally: a link's name carries the
/// container id and never changes target, so only names not seen before are
/// `readlink`ed. At 5,000 containers a full rescan per new file was 25 M syscalls.
///
/// A link counts only if its target is the `pods/<ns>_<pod>_<uid>/<container>/N.log`
/// its own name (`<pod>_<ns>_<container>-<id>.log`) says (`..` taken into account),
/// and, when the target resolves here, it resolves under the log root's `pods/`.
/// (It may not resolve: the kubelet writes host paths, and the root may be mounted
/// elsewhere in our container; then only the last three components are matched,
/// and only against files really found under `pods/`.) Links are never read.
#[derive(Debug, Default)]
pub struct LinkCache {
    /// Link file name → the `(pod dir, container, file)` key its target names;
    /// `None` for a refused link (not looked at again).
    names: HashMap<std::ffi::OsString, Option<(TailKey, String)>>,
    /// `(pod dir, container, file)` → container id.
    pub map: HashMap<TailKey, String>,
}

/// Why a `containers/` link is not used, once resolved.
pub enum LinkVerdict {
    /// Its target names this `pods/` file, and carries this container id.
    Ok(TailKey, String),
    /// Its target is elsewhere than the `pods/` file its name says.
    Refused,
    /// Not a container link at all (no id in the name, e.g. cut at 255 bytes), or
    /// not readable now (a race with its creation): tried again next time.
    Skip,
}

/// Checks one `containers/` link: `dir` is `containers/`, `name` the link's name,
/// `pods_real` the canonical `pods/` of our root (if it exists).
pub fn check_link(dir: &Path, name: &str, pods_real: Option<&Path>) -> LinkVerdict {
    use std::path::Component;
    let Some(id) = container_id_of_link(name) else {
        return LinkVerdict::Skip;
    };
    let Ok(target) = std::fs::read_link(dir.join(name)) else {
        return LinkVerdict::Skip;
    };
    let target: PathBuf = if target.is_absolute() {
        target
    } else {
        dir.join(target)
    };
    // `..` resolved on the words (a relative `../pods/…` is fine); where it
    // really leads is checked below when it resolves.
    let mut norm = PathBuf::new();
    for c in target.components() {
        match c {
            Component::ParentDir => {
                if !norm.pop() {
                    return LinkVerdict::Refused;
                }
            }
            Component::CurDir => {}
            c => norm.push(c),
        }
    }
    let target = norm;
    let Some(key) = tail_key(&target) else {
        return LinkVerdict::Refused;
    };
    // The component before the three must be `pods`.
    let under_pods = target
        .components()
        .rev()
        .nth(3)
        .is_some_and(|c| c.as_os_str() == "pods");
    // `<pod>_<ns>_<container>-<id>.log` must name `<ns>_<pod>_<uid>/<container>/`.
    let named = name
        .split_once('_')
        .and_then(|(pod, rest)| {
            let (ns, rest) = rest.split_once('_')?;
            let (container, _) = rest.rsplit_once('-')?;
            Some((pod, ns, container))
        })
        .is_some_and(|(pod, ns, container)| {
            key.0.starts_with(&format!("{ns}_{pod}_")) && key.1 == container
        });
    if !under_pods || !named {
        return LinkVerdict::Refused;
    }
    if let Ok(real) = std::fs::canonicalize(&target) {
        if !pods_real.is_some_and(|p| real.starts_with(p)) {
            return LinkVerdict::Refused;
        }
    }
    LinkVerdict::Ok(key, id)
}

impl LinkCache {
    /// Re-reads the directory listing; returns whether anything changed and the
    /// links refused for the first time.
    pub fn refresh(&mut self, dir: &Path, pods_real: Option<&Path>) -> (bool, Vec<PathBuf>) {
        let mut refused = Vec::new();
        let Ok(rd) = std::fs::read_dir(dir) else {
            let changed = !self.names.is_empty();
            self.names.clear();
            self.map.clear();
            return (changed, refused);
        };
        let mut names = HashMap::with_capacity(self.names.len());
        let mut changed = false;
        for entry in rd.flatten() {
            let name = entry.file_name();
            if let Some(v) = self.names.remove(&name) {
                names.insert(name, v);
                continue;
            }
            let Some(text) = name.to_str() else { continue };
            match check_link(dir, text, pods_real) {
                LinkVerdict::Ok(key, id) => {
                    changed = true;
                    names.insert(name, Some((key, id)));
                }
                LinkVerdict::Refused => {
                    refused.push(entry.path());
                    names.insert(name, None);
                }
                LinkVerdict::Skip => {}
            }
        }
        changed |= self.names.values().any(Option::is_some);
        self.names = names;
        if changed {
            self.map = self.names.values().flatten().cloned().collect();
        }
        (changed, refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(classify("0.log"), NameKind::Live { stem: "0".into() });
        assert_eq!(
            classify("0.log.20261125-194207"),
            NameKind::Rotated { stem: "0".into() }
        );
        assert_eq!(classify("0.log.20261125-194207.gz"), NameKind::Ignored);
        assert_eq!(classify("0.log.20261125-194207.tmp"), NameKind::Ignored);
        assert_eq!(classify("x.txt"), NameKind::Ignored);
        assert_eq!(classify(".log"), NameKind::Ignored);
    }

    #[test]
    fn kubelet_names() {
        let m = kubelet_meta("payments_checkout-7d9_0a1b-c2", "app", "3").source;
        assert_eq!(m.namespace, "payments");
        assert_eq!(m.pod, "checkout-7d9");
        assert_eq!(m.pod_uid, "0a1b-c2");
        assert_eq!(m.restart, 3);
        let id = "a".repeat(64);
        assert_eq!(
            container_id_of_link(&format!("checkout_payments_app-{id}.log")),
            Some(id.clone())
        );
        // Cut at 255 bytes: the id is gone or partial.
        assert_eq!(
            container_id_of_link(&format!("p_ns_app-{}", &id[..30])),
            None
        );
        assert_eq!(container_id_of_link("p_ns_app-abc.log"), None);
    }
}
