//! Requests waiting for the event loop to hand them to the connection task, and the
//! ids that will match their replies.

use std::ops::{Deref, DerefMut};

use lookout_shared::protocol::{ClientMsg, ReqId};

/// The queue of requests for the daemon. Handlers add with [`Outbox::send`], which
/// hands out the request's id (each screen keeps the ids it waits for, which is how
/// a reply finds its screen); the event loop drains it after every batch of events.
#[derive(Debug)]
pub struct Outbox {
    next_id: ReqId,
    queue: Vec<ClientMsg>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            next_id: 1,
            queue: Vec::new(),
        }
    }

    /// Queues the request `make` builds around a fresh id; returns the id.
    pub fn send(&mut self, make: impl FnOnce(ReqId) -> ClientMsg) -> ReqId {
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push(make(id));
        id
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new()
    }
}

/// Reading and draining is plain `Vec` work (the event loop, the tests); adding goes
/// through [`Outbox::send`] so every request gets its own id.
impl Deref for Outbox {
    type Target = Vec<ClientMsg>;
    fn deref(&self) -> &Vec<ClientMsg> {
        &self.queue
    }
}

impl DerefMut for Outbox {
    fn deref_mut(&mut self) -> &mut Vec<ClientMsg> {
        &mut self.queue
    }
}
