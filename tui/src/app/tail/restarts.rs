//! Container restarts made visible: when a container's next line comes from
//! another instance (the N of `N.log`), a marker line goes before it, so a
//! `FATAL OutOfMemoryError` no longer runs straight into the next instance's
//! start-up lines; `p` searches the instance before the one under the cursor,
//! `kubectl logs --previous` for the scrollback. `=` beside it searches the
//! pattern (the kind of line) of the line under the cursor.

use std::collections::HashMap;

use lookout_shared::query::quote;
use lookout_shared::LogEntry;

use super::{Log, StreamKey, Tail, TailLine};
use crate::app::Effect;

/// Containers whose last instance is remembered; past it the memory starts over
/// (a marker may then be missed once), so a node of many short-lived pods cannot
/// grow it without bound. Each is three names and a number.
const MAX_CONTAINERS: usize = 4096;

/// The last instance seen per container.
#[derive(Debug, Default)]
pub struct Instances(HashMap<StreamKey, u32>);

impl Instances {
    /// Notes `e`'s instance; returns the marker to put before it when the same
    /// container's previous line came from another instance.
    pub fn saw(&mut self, e: &LogEntry) -> Option<TailLine> {
        let key = StreamKey::of(&e.source);
        let now = e.source.restart;
        if self.0.len() >= MAX_CONTAINERS && !self.0.contains_key(&key) {
            self.0.clear();
        }
        match self.0.insert(key.clone(), now) {
            Some(before) if before != now => Some(TailLine::Restarted {
                key,
                instance: now,
                before,
            }),
            _ => None,
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// How a restart marker reads (drawn between rules, copied and saved as is).
pub fn marker_text(key: &StreamKey, instance: u32, before: u32) -> String {
    if instance > before {
        format!(
            "container {} restarted (instance {instance}) · {}",
            key.container, key.pod
        )
    } else {
        format!(
            "container {}: back to instance {instance} (was {before}) · {}",
            key.container, key.pod
        )
    }
}

/// The query for instance `instance` of one container.
pub fn instance_query(key: &StreamKey, instance: u32) -> String {
    format!(
        "namespace:{} pod:{} container:{} restart:{instance}",
        quote(&key.namespace),
        quote(&key.pod),
        quote(&key.container)
    )
}

impl Log {
    /// The container and instance of the line `p` acts on (the cursor's, or the
    /// newest while following): an entry's, or a restart marker's new instance.
    fn instance_at_cursor(&self) -> Option<(StreamKey, u32)> {
        match self.lines.get(self.cursor_line()?)? {
            TailLine::Entry(e) => Some((StreamKey::of(&e.source), e.source.restart)),
            TailLine::Restarted { key, instance, .. } => Some((key.clone(), *instance)),
            _ => None,
        }
    }
}

impl Tail {
    /// `=`: a search of the pattern of the line under the cursor over all time
    /// (the kind of line is the question, not when it was written).
    pub(crate) fn pattern_search(&self) -> Effect {
        let at = self.log.cursor_line().and_then(|i| self.log.lines.get(i));
        match at {
            Some(TailLine::Entry(e)) => match e.pattern {
                Some(id) => Effect::SearchAll(format!("pattern:{id}")),
                None => Effect::Say("this event has no pattern".into()),
            },
            _ => Effect::Say("no event under the cursor".into()),
        }
    }

    /// `p`: a search of the previous instance of the container under the cursor,
    /// over all time (a crash can be older than any preset range).
    pub(crate) fn previous_instance(&self) -> Effect {
        let Some((key, n)) = self.log.instance_at_cursor() else {
            return Effect::Say("no line under the cursor".into());
        };
        match n.checked_sub(1) {
            Some(prev) => Effect::SearchAll(instance_query(&key, prev)),
            None => Effect::Say(format!(
                "{}/{} is on its first instance (0): there is no previous one",
                key.pod, key.container
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::StreamId;

    fn e(pod: &str, restart: u32) -> LogEntry {
        LogEntry {
            source: StreamId {
                namespace: "payments".into(),
                pod: pod.into(),
                container: "app".into(),
                restart,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_new_instance_of_a_container_gets_a_marker_and_others_do_not() {
        let mut seen = Instances::default();
        assert_eq!(seen.saw(&e("ledger-0", 2)), None, "first sight");
        assert_eq!(seen.saw(&e("web-1", 0)), None, "another container");
        assert_eq!(seen.saw(&e("ledger-0", 2)), None, "same instance");
        let Some(TailLine::Restarted {
            key,
            instance,
            before,
        }) = seen.saw(&e("ledger-0", 3))
        else {
            panic!("no marker")
        };
        assert_eq!((key.pod.as_str(), instance, before), ("ledger-0", 3, 2));
        assert_eq!(
            marker_text(&key, instance, before),
            "container app restarted (instance 3) · ledger-0"
        );
        assert_eq!(
            instance_query(&key, 2),
            "namespace:payments pod:ledger-0 container:app restart:2"
        );
    }
}
