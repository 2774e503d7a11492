//! What an entry costs in memory, counted the same way wherever memory is bounded in
//! bytes (the live ring, tail queues, pipeline batches).
//!
//! Counting only the message would let 1 MiB of small lines cost several MiB: every
//! entry also owns its node name and stream identity as separate heap strings, and
//! sits behind an `Arc`. Capacities, not lengths, because that is what is allocated.

use lookout_shared::LogEntry;

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
}
