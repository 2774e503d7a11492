//! What survives a reconnect: the open subscriptions, where each tail stopped, and
//! the recent entry seqs that let a resumed tail drop the overlap instead of
//! showing lines twice.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::protocol::{ClientMsg, Cursor, ReqId, ServerMsg};

/// The subscriptions the task re-opens after a reconnect, with where each stopped.
#[derive(Default)]
pub(super) struct Resumer {
    /// Open subscriptions by id: the request that opened it.
    subs: HashMap<ReqId, ClientMsg>,
    /// The newest entry seen per tail subscription.
    last: HashMap<ReqId, Cursor>,
    /// Recently seen entry seqs per tail, to drop repeats across a resume.
    seen: HashMap<ReqId, (HashSet<u64>, VecDeque<u64>)>,
}

const SEEN_WINDOW: usize = 4096;

impl Resumer {
    pub(super) fn outgoing(&mut self, msg: &ClientMsg) {
        match msg {
            ClientMsg::Subscribe { id, .. } => {
                self.subs.insert(*id, msg.clone());
            }
            ClientMsg::Streams { id, watch: true } | ClientMsg::Alerts { id, watch: true } => {
                self.subs.insert(*id, msg.clone());
            }
            ClientMsg::Unsubscribe { sub, .. } => {
                self.subs.remove(sub);
                self.last.remove(sub);
                self.seen.remove(sub);
            }
            _ => {}
        }
    }

    /// Filters repeats out of an incoming message and records cursors; `None` when
    /// nothing is left to deliver.
    pub(super) fn incoming(&mut self, msg: ServerMsg) -> Option<ServerMsg> {
        match msg {
            ServerMsg::Entries { sub, mut entries } => {
                if !self.subs.contains_key(&sub) {
                    return None; // a tail we already left
                }
                let (set, order) = self.seen.entry(sub).or_default();
                entries.retain(|e| {
                    if e.seq == 0 {
                        return true;
                    }
                    if !set.insert(e.seq) {
                        return false;
                    }
                    order.push_back(e.seq);
                    if order.len() > SEEN_WINDOW {
                        if let Some(old) = order.pop_front() {
                            set.remove(&old);
                        }
                    }
                    true
                });
                if let Some(max) = entries.iter().map(Cursor::of).max() {
                    let c = self.last.entry(sub).or_insert(max);
                    if max > *c {
                        *c = max;
                    }
                }
                (!entries.is_empty()).then_some(ServerMsg::Entries { sub, entries })
            }
            ServerMsg::Dropped { sub, .. } if !self.subs.contains_key(&sub) => None,
            other => Some(other),
        }
    }

    /// The requests that re-open every subscription on a new connection.
    pub(super) fn resume(&self) -> Vec<ClientMsg> {
        let mut ids: Vec<_> = self.subs.keys().copied().collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|id| {
                let msg = self.subs.get(&id)?.clone();
                Some(match msg {
                    ClientMsg::Subscribe {
                        id,
                        query,
                        backfill,
                        resume_after,
                    } => match self.last.get(&id) {
                        Some(c) => ClientMsg::Subscribe {
                            id,
                            query,
                            backfill: 0,
                            resume_after: Some(*c),
                        },
                        None => ClientMsg::Subscribe {
                            id,
                            query,
                            backfill,
                            resume_after,
                        },
                    },
                    other => other,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LogEntry, Timestamp};

    fn entry(ts: i64, seq: u64) -> LogEntry {
        LogEntry {
            ts: Timestamp(ts),
            seq,
            ..Default::default()
        }
    }

    #[test]
    fn resume_continues_after_last_entry_without_repeats() {
        let mut r = Resumer::default();
        let sub = ClientMsg::Subscribe {
            id: 7,
            query: "level:error".into(),
            backfill: 100,
            resume_after: None,
        };
        r.outgoing(&sub);
        assert_eq!(r.resume(), vec![sub.clone()]);
        let got = r.incoming(ServerMsg::Entries {
            sub: 7,
            entries: vec![entry(10, 1), entry(20, 2)],
        });
        assert!(matches!(got, Some(ServerMsg::Entries { ref entries, .. }) if entries.len() == 2));
        assert_eq!(
            r.resume(),
            vec![ClientMsg::Subscribe {
                id: 7,
                query: "level:error".into(),
                backfill: 0,
                resume_after: Some(Cursor {
                    ts: Timestamp(20),
                    seq: 2
                }),
            }]
        );
        // A repeat of seq 2 after the resume is dropped, seq 3 passes.
        let got = r.incoming(ServerMsg::Entries {
            sub: 7,
            entries: vec![entry(20, 2), entry(30, 3)],
        });
        match got {
            Some(ServerMsg::Entries { entries, .. }) => {
                assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3])
            }
            other => panic!("{other:?}"),
        }
        assert!(r
            .incoming(ServerMsg::Entries {
                sub: 7,
                entries: vec![entry(30, 3)]
            })
            .is_none());
        r.outgoing(&ClientMsg::Unsubscribe { id: 8, sub: 7 });
        assert!(r.resume().is_empty());
        assert!(r
            .incoming(ServerMsg::Entries {
                sub: 7,
                entries: vec![entry(40, 4)]
            })
            .is_none());
    }
}
