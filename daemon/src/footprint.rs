//! What an entry costs in memory, counted the same way wherever memory is bounded in
//! bytes (the live ring, tail queues, pipeline batches).
//!
//! Counting only the message would let 1 MiB of small lines cost several MiB: every
//! entry also owns its node name and stream identity as separate heap strings, and
//! sits behind an `Arc`. Capacities, not lengths, because that is what is allocated.

use lookout_shared::LogEntry;
use serde_json::Value;

/// An `Arc`'s header: the strong and weak counts.
const ARC_HEADER: usize = 2 * std::mem::size_of::<usize>();

/// Heap and inline bytes of one entry held behind an `Arc`.
pub fn entry_bytes(e: &LogEntry) -> usize {
    let s = &e.source;
    ARC_HEADER
        + std::mem::size_of::<LogEntry>()
        + e.message.capacity()
        + e.node.capacity()
        + s.namespace.capacity()
        + s.pod.capacity()
        + s.pod_uid.capacity()
        + s.container.capacity()
        + s.container_id.capacity()
        + fields_bytes(&e.fields)
}

/// A B-tree node's share per field (keys and values sit in nodes of up to 11), plus
/// each key's and value's own heap: an estimate within a few bytes per field, and
/// the fields of a message never outgrow the message by more than that (they are
/// copies of parts of it, [`lookout_shared::fields::MAX_FIELDS`] at most).
const PER_FIELD: usize = std::mem::size_of::<String>() + std::mem::size_of::<Value>() + 16;

fn fields_bytes(fields: &lookout_shared::Fields) -> usize {
    fields
        .iter()
        .map(|(k, v)| PER_FIELD + k.capacity() + value_bytes(v))
        .sum()
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.capacity(),
        Value::Array(xs) => {
            xs.capacity() * std::mem::size_of::<Value>() + xs.iter().map(value_bytes).sum::<usize>()
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_message_and_every_owned_string() {
        let small = entry_bytes(&LogEntry::default());
        assert!(small >= std::mem::size_of::<LogEntry>());
        let mut e = LogEntry {
            message: "x".repeat(64 * 1024),
            node: "node-1".into(),
            ..Default::default()
        };
        e.source.pod = "pod".into();
        assert!(entry_bytes(&e) >= small + 64 * 1024 + 6 + 3);
    }

    #[test]
    fn counts_fields() {
        let mut e = LogEntry::default();
        let bare = entry_bytes(&e);
        e.fields = lookout_shared::fields::extract(&format!(r#"{{"k":"{}"}}"#, "v".repeat(500)));
        assert!(entry_bytes(&e) >= bare + 500 + PER_FIELD);
    }
}
