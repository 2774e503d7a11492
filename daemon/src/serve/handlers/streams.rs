//! `streams`: the node's container log streams, once or on every change (`watch`).

use lookout_shared::protocol::{ReqId, ServerMsg};

use super::{Handlers, TaskGuard};

pub(super) async fn apply(h: &mut Handlers, id: ReqId, watch: bool) {
    if watch {
        if let Err(e) = h.check_new_sub(id) {
            return h.send(*e).await;
        }
    }
    let mut rx = h.source.streams();
    let list = rx.borrow_and_update().clone();
    h.send(ServerMsg::Streams {
        id,
        streams: list.to_vec(),
    })
    .await;
    if watch {
        let out = h.out.clone();
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let list = rx.borrow_and_update().clone();
                let msg = ServerMsg::Streams {
                    id,
                    streams: list.to_vec(),
                };
                if !out.send(msg).await {
                    return;
                }
            }
        });
        h.subs.insert(id, Box::new(TaskGuard(task)));
    }
}
