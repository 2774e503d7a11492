//! `unsubscribe`: ends a tail or a watch opened on this connection.

use lookout_shared::protocol::{ErrorCode, ReqId, ServerMsg};

use super::Handlers;

pub(super) async fn apply(h: &mut Handlers, id: ReqId, sub: ReqId) {
    // Dropping the entry ends the subscription (see `Sub`).
    match h.subs.remove(&sub) {
        Some(_) => h.send(ServerMsg::Ok { id }).await,
        None => {
            let m = format!("no subscription {sub} on this connection");
            h.error(id, ErrorCode::NotFound, m).await
        }
    }
}
