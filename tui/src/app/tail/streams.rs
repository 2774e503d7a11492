//! The Tail screen's stream tree: the daemon's stream list folded into
//! namespace → workload → pod → container, the cursor, what is collapsed, which
//! streams are in view, and its keys.
//!
//! The workload (Deployment, StatefulSet, DaemonSet, Job, CronJob) is the one the
//! daemon read off the pod's name. A pod that is its own workload (the name rules
//! did not decide) sits right under its namespace: a workload row over a single
//! pod of the same name would only repeat it.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use lookout_shared::protocol::StreamInfo;
use lookout_shared::{LogEntry, StreamId};

use super::{Tail, TailFocus};
use crate::app::{Effect, Outbox};
use crate::keys::{
    bind, Binding, Key, BACKTAB, DOWN, END, ENTER, ESC, HOME, LEFT, PGDN, PGUP, RIGHT, SPACE, TAB,
    UP,
};

/// A container log stream as the tree knows it: the part of a [`StreamId`] a user
/// picks by name, so one row (and one selection) holds every restart of a
/// container and the pods recreated under one name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl StreamKey {
    /// The key of an entry's or a listed stream's `source`.
    pub fn of(id: &StreamId) -> StreamKey {
        StreamKey {
            namespace: id.namespace.clone(),
            pod: id.pod.clone(),
            container: id.container.clone(),
        }
    }

    /// Whether `id` is under this key, without building one.
    pub fn holds(&self, id: &StreamId) -> bool {
        self.namespace == id.namespace && self.pod == id.pod && self.container == id.container
    }
}

/// A row of the flattened stream tree.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeRow {
    Namespace {
        name: String,
        rate: f64,
        /// Pods in it, for the row's count.
        pods: usize,
        expanded: bool,
    },
    Workload {
        namespace: String,
        name: String,
        rate: f64,
        pods: usize,
        live: bool,
        expanded: bool,
    },
    Pod {
        namespace: String,
        /// Under a workload row (drawn one step further in).
        in_workload: bool,
        name: String,
        rate: f64,
        containers: usize,
        live: bool,
        expanded: bool,
    },
    Container {
        in_workload: bool,
        key: StreamKey,
        rate: f64,
        live: bool,
        restarts: u32,
    },
}

/// The stream tree's keys; `Tail::on_tree_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('j'), Key::Char('k'), UP, DOWN], "move", true),
    bind(&[SPACE], "toggle stream (pod/namespace: all of it)", true),
    bind(&[ENTER], "show only this stream / pod / namespace", true),
    bind(
        &[Key::Char('h'), Key::Char('l'), LEFT, RIGHT],
        "collapse / expand",
        false,
    ),
    bind(&[Key::Char('c')], "clear selection (all streams)", true),
    bind(
        &[Key::Char('g'), Key::Char('G'), HOME, END],
        "top / bottom",
        false,
    ),
    bind(&[PGUP, PGDN], "page up / down", false),
    bind(&[TAB, BACKTAB, ESC], "to the log", true),
];

/// The tree pane's state.
#[derive(Debug)]
pub struct StreamTree {
    /// The daemon's stream list (from the streams watch).
    pub streams: Vec<StreamInfo>,
    /// Collapsed nodes: `ns` or `ns/pod`.
    pub collapsed: HashSet<String>,
    pub cursor: usize,
    /// Streams in view; empty means all.
    pub selected: BTreeSet<StreamKey>,
    /// Rows shown at the last draw, for paging.
    pub rows_shown: Cell<usize>,
}

impl StreamTree {
    pub fn new() -> StreamTree {
        StreamTree {
            streams: Vec::new(),
            collapsed: HashSet::new(),
            cursor: 0,
            selected: BTreeSet::new(),
            rows_shown: Cell::new(20),
        }
    }

    /// A new stream list; the cursor stays inside the tree.
    pub fn set_streams(&mut self, streams: Vec<StreamInfo>) {
        self.streams = streams;
        let n = self.rows().len();
        self.cursor = self.cursor.min(n.saturating_sub(1));
    }

    /// Whether an entry belongs to the selected streams (the server filters too; this
    /// keeps a view exact while a new subscription replaces the old one).
    pub fn in_view(&self, e: &LogEntry) -> bool {
        self.selected.is_empty() || self.selected.contains(&StreamKey::of(&e.source))
    }

    /// Aggregates streams into the visible tree rows.
    pub fn rows(&self) -> Vec<TreeRow> {
        // ns -> workload -> pod -> container -> (rate, live, max restart)
        type Containers = BTreeMap<String, (f64, bool, u32)>;
        type Pods<'a> = BTreeMap<&'a str, Containers>;
        let mut by_ns: BTreeMap<&str, BTreeMap<&str, Pods>> = BTreeMap::new();
        for s in &self.streams {
            let id = &s.source;
            let c = by_ns
                .entry(&id.namespace)
                .or_default()
                .entry(workload(s))
                .or_default()
                .entry(&id.pod)
                .or_default()
                .entry(id.container.clone())
                .or_insert((0.0, false, 0));
            c.0 += s.lines_per_sec;
            c.1 |= s.live;
            c.2 = c.2.max(id.restart);
        }
        let rate_of =
            |pods: &Pods| -> f64 { pods.values().flat_map(|c| c.values()).map(|c| c.0).sum() };
        let mut rows = Vec::new();
        for (ns, workloads) in by_ns {
            let expanded = !self.collapsed.contains(ns);
            rows.push(TreeRow::Namespace {
                name: ns.to_string(),
                rate: workloads.values().map(rate_of).sum(),
                pods: workloads.values().map(BTreeMap::len).sum(),
                expanded,
            });
            if !expanded {
                continue;
            }
            for (w, pods) in workloads {
                // A pod that is its own workload needs no row above it.
                let own = pods.len() == 1 && pods.contains_key(w);
                if !own {
                    let wexp = !self.collapsed.contains(&workload_node(ns, w));
                    rows.push(TreeRow::Workload {
                        namespace: ns.to_string(),
                        name: w.to_string(),
                        rate: rate_of(&pods),
                        pods: pods.len(),
                        live: pods.values().flat_map(|c| c.values()).any(|c| c.1),
                        expanded: wexp,
                    });
                    if !wexp {
                        continue;
                    }
                }
                for (pod, containers) in pods {
                    let key = format!("{ns}/{pod}");
                    let pexp = !self.collapsed.contains(&key);
                    rows.push(TreeRow::Pod {
                        namespace: ns.to_string(),
                        in_workload: !own,
                        name: pod.to_string(),
                        rate: containers.values().map(|c| c.0).sum(),
                        containers: containers.len(),
                        live: containers.values().any(|c| c.1),
                        expanded: pexp,
                    });
                    if !pexp {
                        continue;
                    }
                    for (c, (rate, live, restarts)) in containers {
                        rows.push(TreeRow::Container {
                            in_workload: !own,
                            key: StreamKey {
                                namespace: ns.to_string(),
                                pod: pod.to_string(),
                                container: c,
                            },
                            rate,
                            live,
                            restarts,
                        });
                    }
                }
            }
        }
        rows
    }

    /// The streams under a tree row.
    pub fn keys_under(&self, row: &TreeRow) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self
            .streams
            .iter()
            .filter(|info| match row {
                TreeRow::Workload {
                    namespace, name, ..
                } => &info.source.namespace == namespace && workload(info) == name,
                _ => true,
            })
            .map(|s| &s.source)
            .filter(|s| match row {
                TreeRow::Namespace { name, .. } => &s.namespace == name,
                TreeRow::Workload { .. } => true,
                TreeRow::Pod {
                    namespace, name, ..
                } => &s.namespace == namespace && &s.pod == name,
                TreeRow::Container { key, .. } => key.holds(s),
            })
            .map(StreamKey::of)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Space: toggles the row's streams in or out of the view.
    pub fn toggle(&mut self, row: &TreeRow) {
        let keys = self.keys_under(row);
        if keys.iter().all(|k| self.selected.contains(k)) {
            for k in &keys {
                self.selected.remove(k);
            }
        } else {
            self.selected.extend(keys);
        }
    }

    /// Enter: shows only the row's streams.
    pub fn only(&mut self, row: &TreeRow) {
        self.selected = self.keys_under(row).into_iter().collect();
    }
}

/// A listed stream's workload: as the daemon sent it, else read off the pod name
/// (an older daemon sends none).
fn workload(s: &StreamInfo) -> &str {
    if s.workload.is_empty() {
        s.source.workload()
    } else {
        &s.workload
    }
}

/// How a collapsed workload is remembered (`:` is in no namespace name, so it
/// cannot clash with a namespace or a `ns/pod`).
fn workload_node(ns: &str, w: &str) -> String {
    format!("{ns}:{w}")
}

impl Default for StreamTree {
    fn default() -> Self {
        StreamTree::new()
    }
}

impl Tail {
    /// The stream tree's handler; [`KEYS`] lists what it takes. A changed selection
    /// replaces the subscription.
    pub(crate) fn on_tree_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        let tree = &mut self.tree;
        let rows = tree.rows();
        let last = rows.len().saturating_sub(1);
        let cur = tree.cursor.min(last);
        let row = rows.get(cur).cloned();
        match k {
            Key::Char('j') | DOWN => tree.cursor = (cur + 1).min(last),
            Key::Char('k') | UP => tree.cursor = cur.saturating_sub(1),
            Key::Char('g') | HOME => tree.cursor = 0,
            Key::Char('G') | END => tree.cursor = last,
            PGDN => tree.cursor = (cur + tree.rows_shown.get()).min(last),
            PGUP => tree.cursor = cur.saturating_sub(tree.rows_shown.get()),
            SPACE => {
                if let Some(r) = row {
                    tree.toggle(&r);
                    self.resubscribe(out);
                }
            }
            ENTER => {
                if let Some(r) = row {
                    tree.only(&r);
                    self.resubscribe(out);
                    self.focus = TailFocus::Log;
                }
            }
            Key::Char('c') => {
                if !tree.selected.is_empty() {
                    tree.selected.clear();
                    self.resubscribe(out);
                }
            }
            Key::Char('h' | 'l') | LEFT | RIGHT => {
                let collapse = matches!(k, Key::Char('h') | LEFT);
                let node = match &row {
                    Some(TreeRow::Namespace { name, .. }) => Some(name.clone()),
                    Some(TreeRow::Workload {
                        namespace, name, ..
                    }) => Some(workload_node(namespace, name)),
                    Some(TreeRow::Pod {
                        namespace, name, ..
                    }) => Some(format!("{namespace}/{name}")),
                    _ => None,
                };
                if let Some(node) = node {
                    if collapse {
                        tree.collapsed.insert(node);
                    } else {
                        tree.collapsed.remove(&node);
                    }
                }
            }
            TAB | BACKTAB | ESC => self.focus = TailFocus::Log,
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ns: &str, pod: &str, c: &str) -> StreamInfo {
        StreamInfo {
            source: StreamId {
                namespace: ns.into(),
                pod: pod.into(),
                container: c.into(),
                ..Default::default()
            },
            workload: lookout_shared::workload::workload_of(pod).to_string(),
            live: true,
            lines_per_sec: 1.0,
            ..Default::default()
        }
    }

    fn labels(t: &StreamTree) -> Vec<String> {
        t.rows()
            .iter()
            .map(|r| match r {
                TreeRow::Namespace { name, pods, .. } => format!("ns {name} {pods}p"),
                TreeRow::Workload { name, pods, .. } => format!("  wl {name} {pods}p"),
                TreeRow::Pod {
                    name, in_workload, ..
                } => format!("{}  pod {name}", if *in_workload { "  " } else { "" }),
                TreeRow::Container {
                    key, in_workload, ..
                } => format!(
                    "{}    {}",
                    if *in_workload { "  " } else { "" },
                    key.container
                ),
            })
            .collect()
    }

    #[test]
    fn pods_group_under_their_workload_and_a_whole_workload_is_one_toggle() {
        let mut t = StreamTree::new();
        t.set_streams(vec![
            info("payments", "checkout-7d9f5c8b4-x2k9p", "app"),
            info("payments", "checkout-7d9f5c8b4-q8w2z", "app"),
            info("payments", "ledger-0", "app"),
            info("payments", "debug-shell", "sh"),
        ]);
        assert_eq!(
            labels(&t),
            [
                "ns payments 4p",
                "  wl checkout 2p",
                "    pod checkout-7d9f5c8b4-q8w2z",
                "      app",
                "    pod checkout-7d9f5c8b4-x2k9p",
                "      app",
                "  pod debug-shell",
                "    sh",
                "  wl ledger 1p",
                "    pod ledger-0",
                "      app",
            ]
        );
        let rows = t.rows();
        t.toggle(&rows[1]);
        let pods: Vec<&str> = t.selected.iter().map(|k| k.pod.as_str()).collect();
        assert_eq!(
            pods,
            ["checkout-7d9f5c8b4-q8w2z", "checkout-7d9f5c8b4-x2k9p"]
        );
        // Collapsing the workload folds its pods away.
        t.collapsed.insert(workload_node("payments", "checkout"));
        assert_eq!(labels(&t)[1..3], ["  wl checkout 2p", "  pod debug-shell"]);
    }
}
