//! Requests waiting for the event loop to hand them to the connection task, and the
//! ids that will match their replies.

use std::ops::{Deref, DerefMut};

use lookout_shared::protocol::{ClientMsg, ReqId};

/// The queue of requests for the daemon. Handlers add with [`Outbox::send`], which
/// hands out the request's id (each screen keeps the ids it waits for, which is how
/// a reply finds its screen); the event loop drains it after every batch of events.
///
/// It also knows whether the daemon is reachable right now: the connection task
/// drops one-shot requests while disconnected (only subscriptions and watches are
/// remembered and re-opened), so a screen asks [`Outbox::online`] before sending
/// one and says "not connected" instead of waiting forever for an answer.
#[derive(Debug)]
pub struct Outbox {
    next_id: ReqId,
    queue: Vec<ClientMsg>,
    online: bool,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            next_id: 1,
            queue: Vec::new(),
            online: false,
        }
    }

    /// Whether a one-shot request sent now would reach the daemon.
    pub fn online(&self) -> bool {
        self.online
    }

    /// Set by the shell as the connection comes and goes.
    pub fn set_online(&mut self, online: bool) {
        self.online = online;
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
