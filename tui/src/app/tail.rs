//! The Tail screen's state: the stream tree, the selection, the bounded scrollback
//! and the follow/paused logic.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use lookout_shared::protocol::StreamInfo;
use lookout_shared::{LogEntry, Timestamp};

/// One line of the log pane.
#[derive(Debug, Clone, PartialEq)]
pub enum TailLine {
    Entry(LogEntry),
    /// The daemon skipped entries for this tail (we read too slowly).
    Dropped {
        count: u64,
        from: Timestamp,
        until: Timestamp,
    },
    /// Something the user should see in the stream: filter changes, reconnects.
    Notice(String),
}

/// A container log stream as the tree knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl StreamKey {
    pub fn of(e: &LogEntry) -> StreamKey {
        StreamKey {
            namespace: e.namespace.clone(),
            pod: e.pod.clone(),
            container: e.container.clone(),
        }
    }
}

/// How timestamps show in the log pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFmt {
    Absolute,
    Relative,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailFocus {
    Streams,
    Log,
}

/// A row of the flattened stream tree.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeRow {
    Namespace {
        name: String,
        rate: f64,
        expanded: bool,
    },
    Pod {
        namespace: String,
        name: String,
        rate: f64,
        containers: usize,
        live: bool,
        expanded: bool,
    },
    Container {
        key: StreamKey,
        rate: f64,
        live: bool,
        restarts: u32,
    },
}

/// Everything the Tail screen shows.
#[derive(Debug)]
pub struct Tail {
    pub streams: Vec<StreamInfo>,
    /// Collapsed tree nodes: `ns` or `ns/pod`.
    pub collapsed: HashSet<String>,
    pub tree_cursor: usize,
    /// Streams in view; empty means all.
    pub selected: BTreeSet<StreamKey>,
    pub lines: VecDeque<TailLine>,
    pub cap: usize,
    /// How many lines the bottom of the view sits above the newest line.
    pub scroll: usize,
    pub follow: bool,
    /// Lines that arrived while paused.
    pub new_while_paused: u64,
    pub filter: String,
    /// Set through [`Tail::set_find`], which keeps the match counts right.
    pub find: String,
    /// Index in `lines` of the current find match.
    pub find_at: Option<usize>,
    /// Matches in `lines`, kept up to date as lines come and go (counting them per
    /// frame would cost a scan of the whole scrollback 30 times a second).
    find_total: usize,
    /// 1-based rank of `find_at` among the matches, 0 when none is current.
    find_pos: usize,
    pub time_fmt: TimeFmt,
    pub wrap: bool,
    pub hscroll: usize,
    pub focus: TailFocus,
    /// The live subscription's id.
    pub sub: Option<u64>,
    /// Entries ever received, for the title.
    pub received: u64,
    /// Log pane height at the last draw (rows), for paging.
    pub view_rows: Cell<usize>,
    /// Stream tree height at the last draw.
    pub tree_rows: Cell<usize>,
}

impl Tail {
    pub fn new(cap: usize) -> Tail {
        Tail {
            streams: Vec::new(),
            collapsed: HashSet::new(),
            tree_cursor: 0,
            selected: BTreeSet::new(),
            lines: VecDeque::new(),
            cap: cap.max(100),
            scroll: 0,
            follow: true,
            new_while_paused: 0,
            filter: String::new(),
            find: String::new(),
            find_at: None,
            find_total: 0,
            find_pos: 0,
            time_fmt: TimeFmt::Absolute,
            wrap: false,
            hscroll: 0,
            focus: TailFocus::Log,
            sub: None,
            received: 0,
            view_rows: Cell::new(20),
            tree_rows: Cell::new(20),
        }
    }

    /// Appends lines, evicting the oldest beyond the cap; keeps a paused view still.
    pub fn push(&mut self, new: impl IntoIterator<Item = TailLine>) {
        let mut added = 0usize;
        for l in new {
            if let TailLine::Entry(e) = &l {
                if !self.in_view(e) {
                    continue;
                }
                self.received += 1;
            }
            if self.matches_find(&l) {
                self.find_total += 1;
            }
            self.lines.push_back(l);
            added += 1;
        }
        let mut evicted = 0;
        while self.lines.len() > self.cap {
            if let Some(old) = self.lines.pop_front() {
                if self.matches_find(&old) {
                    self.find_total -= 1;
                    self.find_pos = self.find_pos.saturating_sub(1);
                }
            }
            evicted += 1;
        }
        if evicted > 0 {
            self.find_at = self.find_at.and_then(|i| i.checked_sub(evicted));
            if self.find_at.is_none() {
                self.find_pos = 0;
            }
        }
        if !self.follow {
            self.new_while_paused += added as u64;
            self.scroll = (self.scroll + added).min(self.max_scroll());
        }
    }

    /// Whether an entry belongs to the selected streams (the server filters too; this
    /// keeps a view exact while a new subscription replaces the old one).
    pub fn in_view(&self, e: &LogEntry) -> bool {
        self.selected.is_empty() || self.selected.contains(&StreamKey::of(e))
    }

    pub fn max_scroll(&self) -> usize {
        self.lines.len().saturating_sub(self.view_rows.get().max(1))
    }

    /// Scrolls up (towards older) by `n`; pauses follow.
    pub fn scroll_up(&mut self, n: usize) {
        if self.lines.is_empty() {
            return;
        }
        if self.follow {
            self.follow = false;
            self.new_while_paused = 0;
        }
        self.scroll = (self.scroll + n).min(self.max_scroll());
    }

    /// Scrolls down (towards newer); reaching the bottom resumes follow.
    pub fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
        if self.scroll == 0 {
            self.resume();
        }
    }

    pub fn resume(&mut self) {
        self.follow = true;
        self.scroll = 0;
        self.new_while_paused = 0;
    }

    pub fn top(&mut self) {
        self.scroll_up(usize::MAX / 2);
    }

    /// Index range of `lines` at the bottom of the view: `(first, end)`.
    pub fn bottom_index(&self) -> usize {
        self.lines.len().saturating_sub(self.scroll)
    }

    fn matches_find(&self, l: &TailLine) -> bool {
        match l {
            TailLine::Entry(e) => !self.find.is_empty() && contains_ci(&e.message, &self.find),
            _ => false,
        }
    }

    /// Sets the find text and counts its matches once.
    pub fn set_find(&mut self, text: &str) {
        self.find = text.trim().to_string();
        self.find_at = None;
        self.find_pos = 0;
        self.find_total = self.lines.iter().filter(|l| self.matches_find(l)).count();
    }

    /// Jumps to the next match older (`up`) or newer than the current one, or than the
    /// view's bottom line; returns false when there is none.
    pub fn find_next(&mut self, up: bool) -> bool {
        if self.find.is_empty() || self.lines.is_empty() {
            return false;
        }
        let start = self
            .find_at
            .unwrap_or_else(|| self.bottom_index().saturating_sub(if up { 0 } else { 1 }));
        let hit = if up {
            (0..start.min(self.lines.len()))
                .rev()
                .find(|&i| self.matches_find(&self.lines[i]))
        } else {
            ((start + 1).min(self.lines.len())..self.lines.len())
                .find(|&i| self.matches_find(&self.lines[i]))
        };
        let Some(i) = hit else { return false };
        self.find_pos = match self.find_at {
            Some(_) if up => self.find_pos.saturating_sub(1).max(1),
            Some(_) => self.find_pos + 1,
            None => (0..=i)
                .filter(|&j| self.matches_find(&self.lines[j]))
                .count(),
        };
        self.find_at = Some(i);
        // Put the match in the middle of the view, keeping context around it.
        let half = self.view_rows.get() / 2;
        let bottom = (i + 1 + half).min(self.lines.len());
        let scroll = self.lines.len() - bottom;
        if scroll == 0 && self.follow {
            return true;
        }
        self.follow = false;
        self.scroll = scroll.min(self.max_scroll());
        true
    }

    /// `(position, total)` of find matches, 1-based position counted from the oldest.
    pub fn find_count(&self) -> (usize, usize) {
        (self.find_pos, self.find_total)
    }

    /// Starts over (new subscription): old lines no longer match what is asked.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.find_at = None;
        self.find_pos = 0;
        self.find_total = 0;
        self.resume();
    }

    /// Aggregates streams into the visible tree rows.
    pub fn tree(&self) -> Vec<TreeRow> {
        // ns -> pod -> container -> (rate, live, max restart)
        type Containers = BTreeMap<String, (f64, bool, u32)>;
        let mut by_ns: BTreeMap<&str, BTreeMap<&str, Containers>> = BTreeMap::new();
        for s in &self.streams {
            let c = by_ns
                .entry(&s.namespace)
                .or_default()
                .entry(&s.pod)
                .or_default()
                .entry(s.container.clone())
                .or_insert((0.0, false, 0));
            c.0 += s.lines_per_sec;
            c.1 |= s.live;
            c.2 = c.2.max(s.restart);
        }
        let mut rows = Vec::new();
        for (ns, pods) in by_ns {
            let rate = pods
                .values()
                .flat_map(|c| c.values())
                .map(|c| c.0)
                .sum::<f64>();
            let expanded = !self.collapsed.contains(ns);
            rows.push(TreeRow::Namespace {
                name: ns.to_string(),
                rate,
                expanded,
            });
            if !expanded {
                continue;
            }
            for (pod, containers) in pods {
                let key = format!("{ns}/{pod}");
                let pexp = !self.collapsed.contains(&key);
                rows.push(TreeRow::Pod {
                    namespace: ns.to_string(),
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
        rows
    }

    /// The streams under a tree row.
    pub fn keys_under(&self, row: &TreeRow) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self
            .streams
            .iter()
            .filter(|s| match row {
                TreeRow::Namespace { name, .. } => &s.namespace == name,
                TreeRow::Pod {
                    namespace, name, ..
                } => &s.namespace == namespace && &s.pod == name,
                TreeRow::Container { key, .. } => {
                    s.namespace == key.namespace && s.pod == key.pod && s.container == key.container
                }
            })
            .map(|s| StreamKey {
                namespace: s.namespace.clone(),
                pod: s.pod.clone(),
                container: s.container.clone(),
            })
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

    /// The subscription query for the selection and filter.
    pub fn query(&self) -> String {
        subscription_query(&self.selected, &self.streams, &self.filter)
    }

    /// A short description of what the pane shows, for its title.
    pub fn title(&self) -> String {
        let mut it = self.selected.iter();
        match (it.next(), self.selected.len()) {
            (None, _) => "all streams".to_string(),
            (Some(k), 1) => format!("{}/{}/{}", k.namespace, k.pod, k.container),
            (Some(k), n) => format!("{}/{}/{} + {} more", k.namespace, k.pod, k.container, n - 1),
        }
    }
}

/// Case-insensitive substring test without allocating for ASCII needles.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle, 0).is_some()
}

/// Byte offset of the first case-insensitive (ASCII) match at or after `from`.
pub fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    let first = n[0].to_ascii_lowercase();
    (from..=h.len() - n.len()).find(|&i| {
        h[i].to_ascii_lowercase() == first
            && h[i..i + n.len()].eq_ignore_ascii_case(n)
            && hay.is_char_boundary(i)
            && hay.is_char_boundary(i + n.len())
    })
}

fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The query that selects `selected` streams (all when empty), narrowed by `filter`:
/// the daemon filters, so a quiet stream stays cheap next to a loud one.
///
/// A namespace or pod selected whole (every stream of it that `known` lists) becomes
/// one clause, so taking a namespace of 50 containers sends one term, not 50.
pub fn subscription_query(
    selected: &BTreeSet<StreamKey>,
    known: &[StreamInfo],
    filter: &str,
) -> String {
    let filter = filter.trim();
    let filter = if filter == "*" { "" } else { filter };
    let whole = |ns: &str, pod: Option<&str>| {
        let mut under = known
            .iter()
            .filter(|s| s.namespace == ns && pod.is_none_or(|p| s.pod == p))
            .peekable();
        under.peek().is_some()
            && under.all(|s| {
                selected.contains(&StreamKey {
                    namespace: s.namespace.clone(),
                    pod: s.pod.clone(),
                    container: s.container.clone(),
                })
            })
    };
    let mut clauses = Vec::new();
    let mut done_ns: BTreeSet<&str> = BTreeSet::new();
    let mut done_pod: BTreeSet<(&str, &str)> = BTreeSet::new();
    for k in selected {
        if done_ns.contains(k.namespace.as_str())
            || done_pod.contains(&(k.namespace.as_str(), k.pod.as_str()))
        {
            continue;
        }
        if whole(&k.namespace, None) {
            done_ns.insert(&k.namespace);
            clauses.push(format!("namespace:{}", quote(&k.namespace)));
        } else if whole(&k.namespace, Some(&k.pod)) {
            done_pod.insert((&k.namespace, &k.pod));
            clauses.push(format!(
                "(namespace:{} AND pod:{})",
                quote(&k.namespace),
                quote(&k.pod)
            ));
        } else {
            clauses.push(format!(
                "(namespace:{} AND pod:{} AND container:{})",
                quote(&k.namespace),
                quote(&k.pod),
                quote(&k.container)
            ));
        }
    }
    let sel = match clauses.len() {
        0 => String::new(),
        1 => clauses.remove(0),
        _ => format!("({})", clauses.join(" OR ")),
    };
    match (sel.is_empty(), filter.is_empty()) {
        (true, true) => String::new(),
        (true, false) => filter.to_string(),
        (false, true) => sel,
        (false, false) => format!("{sel} AND ({filter})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msg: &str, seq: u64) -> TailLine {
        TailLine::Entry(LogEntry {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
            message: msg.into(),
            seq,
            ..Default::default()
        })
    }

    #[test]
    fn scrollback_is_bounded() {
        let mut t = Tail::new(100);
        t.push((0..1000).map(|i| entry("x", i)));
        assert_eq!(t.lines.len(), 100);
        assert_eq!(t.received, 1000);
    }

    #[test]
    fn scrolling_up_pauses_and_counts_new_lines_then_g_resumes() {
        let mut t = Tail::new(1000);
        t.view_rows.set(10);
        t.push((0..50).map(|i| entry("x", i)));
        t.scroll_up(5);
        assert!(!t.follow);
        assert_eq!(t.scroll, 5);
        t.push((50..53).map(|i| entry("y", i)));
        assert_eq!(t.new_while_paused, 3);
        // The view stays on the same lines.
        assert_eq!(t.scroll, 8);
        t.scroll_down(100);
        assert!(t.follow);
        assert_eq!(t.new_while_paused, 0);
    }

    #[test]
    fn find_walks_matches_upwards_and_back() {
        let mut t = Tail::new(1000);
        t.view_rows.set(4);
        t.push((0..30).map(|i| entry(if i % 10 == 3 { "Deadlock here" } else { "ok" }, i)));
        t.set_find("deadlock");
        assert_eq!(t.find_count(), (0, 3));
        assert!(t.find_next(true));
        assert_eq!(t.find_at, Some(23));
        assert_eq!(t.find_count(), (3, 3));
        assert!(t.find_next(true));
        assert_eq!(t.find_at, Some(13));
        assert_eq!(t.find_count(), (2, 3));
        assert!(!t.follow);
        assert!(t.find_next(false));
        assert_eq!(t.find_at, Some(23));
        assert!(!t.find_next(false));
        // Counts follow arrivals and evictions.
        t.push((30..40).map(|i| entry(if i == 33 { "deadlock" } else { "ok" }, i)));
        assert_eq!(t.find_count(), (3, 4));
        t.cap = 100;
        t.push((40..110).map(|i| entry("ok", i)));
        assert_eq!(t.lines.len(), 100);
        assert_eq!(t.find_count(), (2, 3));
        t.set_find("");
        assert_eq!(t.find_count(), (0, 0));
    }

    #[test]
    fn queries_from_selection_and_filter() {
        let mut sel = BTreeSet::new();
        assert_eq!(subscription_query(&sel, &[], ""), "");
        assert_eq!(subscription_query(&sel, &[], "level:error"), "level:error");
        sel.insert(StreamKey {
            namespace: "payments".into(),
            pod: "checkout-7d9f".into(),
            container: "app".into(),
        });
        assert_eq!(
            subscription_query(&sel, &[], "timeout"),
            "(namespace:payments AND pod:checkout-7d9f AND container:app) AND (timeout)"
        );
        sel.insert(StreamKey {
            namespace: "payments".into(),
            pod: "ledger 0".into(),
            container: "app".into(),
        });
        let q = subscription_query(&sel, &[], "");
        assert!(q.contains(" OR "), "{q}");
        assert!(q.contains("pod:\"ledger 0\""), "{q}");
    }

    #[test]
    fn whole_pods_and_namespaces_become_one_clause() {
        let s = |ns: &str, pod: &str, c: &str| StreamInfo {
            namespace: ns.into(),
            pod: pod.into(),
            container: c.into(),
            ..Default::default()
        };
        let mut t = Tail::new(100);
        t.streams = vec![
            s("payments", "checkout", "app"),
            s("payments", "checkout", "envoy"),
            s("payments", "ledger", "app"),
            s("search", "es-0", "es"),
        ];
        let rows = t.tree();
        t.only(&rows[1]); // pod checkout
        assert_eq!(t.query(), "(namespace:payments AND pod:checkout)");
        t.only(&rows[0]); // namespace payments
        assert_eq!(t.query(), "namespace:payments");
        t.filter = "level:error".into();
        assert_eq!(t.query(), "namespace:payments AND (level:error)");
    }
}
