//! `patterns`: the kinds of lines among the stored matches of a query.

use lookout_shared::protocol::{PatternsParams, ReqId, ServerMsg};
use lookout_shared::query::Query;

use super::{bad_query, reply_error, Handlers};

pub(super) async fn apply(h: &Handlers, id: ReqId, params: PatternsParams) {
    // Refuse a bad query here, before it takes a permit and a blocking thread.
    if let Err(e) = Query::parse(&params.query) {
        return h.error_body(id, bad_query(e)).await;
    }
    h.blocking(id, "patterns", move |source| {
        match source.patterns(&params) {
            Ok(result) => ServerMsg::Patterns { id, result },
            Err(e) => reply_error(id, e),
        }
    })
    .await
}
