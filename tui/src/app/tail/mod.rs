//! The Tail screen: the stream tree beside the live log, and the one subscription
//! that feeds the log (the tree's selection AND the filter).
//!
//! - [`streams`]: the tree pane: its state, keys and handler.
//! - [`log`]: the log pane: scrollback, follow, find; keys and handler.
//! - `cursor`: the log's line cursor, selection, and what `y`/`Y`/`s` take.
//! - `filter`: the filter applied to the lines held as well as to the subscription,
//!   so changing it keeps the scrollback.
//! - [`level`]: the level a line counts as (a trace's frames take their head's) and
//!   the minimum level shown.
//! - [`colors`]: which colour each pod's lines get.
//! - `marks`: `m` marks a line, `'`/`"` jump between marks.
//! - [`restarts`]: the marker when a container's lines come from a new instance,
//!   and `p`, the previous instance's lines.
//! - `subscription`: the query a selection and a filter make.
//!
//! Replies for this screen are the subscription's entries and drop markers, the
//! streams watch, and errors for the subscription.

pub mod colors;
mod cursor;
mod filter;
pub mod level;
pub mod log;
mod marks;
pub mod restarts;
pub mod streams;
mod subscription;

pub use log::{contains_ci, find_ci, Drawn, Log, TailLine, TimeFmt};
pub use streams::{StreamKey, StreamTree, TreeRow};
pub use subscription::subscription_query;

use std::collections::BTreeMap;

use lookout_shared::protocol::{ClientMsg, ErrorBody, ReqId, StreamInfo};
use lookout_shared::{LogEntry, Timestamp};

use super::{Effect, Outbox};

/// Entries asked for when a subscription opens, so the pane is not empty.
const BACKFILL: u32 = 500;
/// Lines one wheel notch scrolls.
const WHEEL_LINES: usize = 3;

/// Which of the screen's two panes has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailFocus {
    Streams,
    Log,
}

/// Everything the Tail screen shows.
#[derive(Debug)]
pub struct Tail {
    pub focus: TailFocus,
    /// The subscription's filter (query language): the log shows the selection AND it.
    pub filter: String,
    /// The live subscription's id.
    pub sub: Option<ReqId>,
    /// The streams watch's id, once opened.
    watch: Option<ReqId>,
    /// The filter that ran before the last change, to go back to if the daemon
    /// refuses the new one.
    fallback: Option<String>,
    /// Why the daemon refused the subscription, when no filter was left to go
    /// back to: the pane says so instead of "following".
    pub refused: Option<String>,
    pub tree: StreamTree,
    pub log: Log,
}

impl Tail {
    /// A screen keeping at most `cap` log lines.
    pub fn new(cap: usize) -> Tail {
        Tail {
            focus: TailFocus::Log,
            filter: String::new(),
            sub: None,
            watch: None,
            fallback: None,
            refused: None,
            tree: StreamTree::new(),
            log: Log::new(cap),
        }
    }

    /// Appends lines to the log, leaving out entries of streams not in view.
    pub fn push(&mut self, new: impl IntoIterator<Item = TailLine>) {
        let tree = &self.tree;
        self.log.push(new.into_iter().filter(|l| match l {
            TailLine::Entry(e) => tree.in_view(e),
            _ => true,
        }));
    }

    /// The subscription query for the selection and filter.
    pub fn query(&self) -> String {
        subscription_query(&self.tree.selected, &self.tree.streams, &self.filter)
    }

    /// What the pane shows, for its title, naming every selected stream as
    /// briefly as the tree allows: a whole namespace as `ns/*`, a whole pod by its
    /// name, else `pod/container` (`payments: checkout-7d9f, ledger-0/app · search/*`).
    /// It used to name one stream and count the rest ("… + 7 more").
    pub fn title(&self) -> String {
        let selected = &self.tree.selected;
        if selected.is_empty() {
            return "all streams".to_string();
        }
        // What exists, to tell "all of it" from "some of it".
        let mut known: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for s in &self.tree.streams {
            *known
                .entry(s.source.namespace.as_str())
                .or_default()
                .entry(s.source.pod.as_str())
                .or_default() += 1;
        }
        let mut picked: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
        for k in selected {
            picked
                .entry(k.namespace.as_str())
                .or_default()
                .entry(k.pod.as_str())
                .or_default()
                .push(k.container.as_str());
        }
        let mut parts = Vec::new();
        for (ns, pods) in &picked {
            let all_pods = known.get(ns);
            let whole = |pod: &str, n: usize| {
                all_pods
                    .and_then(|p| p.get(pod))
                    .is_some_and(|known| *known == n)
            };
            let every_pod = all_pods.is_some_and(|p| {
                p.len() == pods.len() && pods.iter().all(|(pod, cs)| whole(pod, cs.len()))
            });
            if every_pod {
                parts.push(format!("{ns}/*"));
                continue;
            }
            let names: Vec<String> = pods
                .iter()
                .map(|(pod, cs)| {
                    if whole(pod, cs.len()) {
                        pod.to_string()
                    } else {
                        format!("{pod}/{}", cs.join(","))
                    }
                })
                .collect();
            parts.push(format!("{ns}: {}", names.join(", ")));
        }
        parts.join(" · ")
    }

    /// Opens the streams watch on the first connection (the connection task re-opens
    /// it after a reconnect).
    pub fn open_watch(&mut self, out: &mut Outbox) {
        if self.watch.is_none() {
            self.watch = Some(out.send(|id| ClientMsg::Streams { id, watch: true }));
        }
    }

    /// Subscribes when no tail is open yet (the connection task resumes an open one).
    pub fn subscribe_if_none(&mut self, out: &mut Outbox) {
        if self.sub.is_none() {
            self.resubscribe(out);
        }
    }

    /// Replaces the tail subscription with one for the current selection and filter.
    pub fn resubscribe(&mut self, out: &mut Outbox) {
        self.refused = None;
        self.fallback = None;
        if let Some(sub) = self.sub.take() {
            out.send(|id| ClientMsg::Unsubscribe { id, sub });
        }
        self.log.clear();
        let query = self.query();
        self.sub = Some(out.send(|id| ClientMsg::Subscribe {
            id,
            query,
            backfill: BACKFILL,
            resume_after: None,
        }));
    }

    /// A line in the stream about the connection, when a tail is open to care.
    pub fn notice(&mut self, text: String) {
        if self.sub.is_some() {
            self.push([TailLine::Notice(text)]);
        }
    }

    // ---- replies ------------------------------------------------------------------

    pub fn on_entries(&mut self, sub: ReqId, entries: Vec<LogEntry>) {
        if Some(sub) == self.sub {
            self.push(entries.into_iter().map(TailLine::Entry));
        }
    }

    pub fn on_dropped(&mut self, sub: ReqId, count: u64, from: Timestamp, until: Timestamp) {
        if Some(sub) == self.sub {
            self.push([TailLine::Dropped { count, from, until }]);
        }
    }

    pub fn on_streams(&mut self, id: ReqId, streams: Vec<StreamInfo>) {
        if Some(id) == self.watch {
            self.tree.set_streams(streams);
        }
    }

    /// An error for the subscription (a refused filter, or a warning about a
    /// live one). [`Effect::Pass`] when `id` is not this screen's.
    pub fn on_reply_error(&mut self, id: ReqId, error: &ErrorBody, out: &mut Outbox) -> Effect {
        if Some(id) != self.sub {
            return Effect::Pass;
        }
        self.on_refused(error, out)
    }

    // ---- what the prompt and other screens ask ------------------------------------

    /// The find prompt's answer: highlight and jump to the newest match.
    pub fn find(&mut self, text: &str) -> Effect {
        self.log.set_find(text);
        if !self.log.find.is_empty() && !self.log.find_next(true) {
            return Effect::Say(format!("not found: {}", self.log.find));
        }
        Effect::Done
    }

    /// Follows one stream live, unfiltered (the context view's `l`).
    pub fn show_only(&mut self, key: StreamKey, out: &mut Outbox) {
        self.tree.selected = [key].into_iter().collect();
        self.filter.clear();
        self.log.set_view_filter(None);
        self.resubscribe(out);
        self.focus = TailFocus::Log;
    }

    /// A click on a log line puts the cursor there (and the keys on the log);
    /// elsewhere it does nothing.
    pub fn on_click(&mut self, column: u16, row: u16) {
        let hit = {
            let d = self.log.drawn.borrow();
            d.x.contains(&column)
                .then(|| row.checked_sub(d.y))
                .flatten()
                .and_then(|r| d.rows.get(r as usize).copied())
        };
        if let Some(i) = hit {
            self.log.put_cursor(i);
            self.focus = TailFocus::Log;
        }
    }

    /// The wheel scrolls the log whichever pane has the keys.
    pub fn on_wheel(&mut self, up: bool) {
        // The cursor stays in view (scroll_* clamp it).
        if up {
            self.log.scroll_up(WHEEL_LINES)
        } else {
            self.log.scroll_down(WHEEL_LINES)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::StreamId;

    #[test]
    fn whole_pods_and_namespaces_become_one_clause() {
        let s = |ns: &str, pod: &str, c: &str| StreamInfo {
            source: StreamId {
                namespace: ns.into(),
                pod: pod.into(),
                container: c.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut t = Tail::new(100);
        t.tree.streams = vec![
            s("payments", "checkout", "app"),
            s("payments", "checkout", "envoy"),
            s("payments", "ledger", "app"),
            s("search", "es-0", "es"),
        ];
        let rows = t.tree.rows();
        t.tree.only(&rows[1]); // pod checkout
        assert_eq!(t.query(), "(namespace:payments AND pod:checkout)");
        t.tree.only(&rows[0]); // namespace payments
        assert_eq!(t.query(), "namespace:payments");
        t.filter = "level:error".into();
        assert_eq!(t.query(), "namespace:payments AND (level:error)");
    }
}
