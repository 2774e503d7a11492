//! `context`: the entries around one entry in its stream or pod.

use lookout_shared::limits::MAX_CONTEXT;
use lookout_shared::protocol::{ContextScope, Cursor, ReqId, ServerMsg};

use super::{reply_error, Handlers};

pub(super) async fn apply(
    h: &Handlers,
    id: ReqId,
    at: Cursor,
    (before, after): (u32, u32),
    scope: ContextScope,
) {
    let (before, after) = (before.min(MAX_CONTEXT), after.min(MAX_CONTEXT));
    h.blocking(id, "context", move |source| {
        match source.context(at, before, after, scope) {
            Ok(page) => ServerMsg::ContextResult { id, page },
            Err(e) => reply_error(id, e),
        }
    })
    .await
}
