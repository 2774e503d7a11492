//! `context`: the entries around one entry in its stream.

use lookout_shared::limits::MAX_CONTEXT;
use lookout_shared::protocol::{Cursor, ReqId, ServerMsg};

use super::{reply_error, Handlers};

pub(super) async fn apply(h: &Handlers, id: ReqId, at: Cursor, before: u32, after: u32) {
    let (before, after) = (before.min(MAX_CONTEXT), after.min(MAX_CONTEXT));
    h.blocking(id, "context", move |source| {
        match source.context(at, before, after) {
            Ok(page) => ServerMsg::ContextResult { id, page },
            Err(e) => reply_error(id, e),
        }
    })
    .await
}
