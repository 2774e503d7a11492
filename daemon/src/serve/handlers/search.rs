//! `search`: one page of stored matches.

use lookout_shared::limits::MAX_PAGE;
use lookout_shared::protocol::{ReqId, SearchParams, ServerMsg};
use lookout_shared::query::Query;

use super::{bad_query, reply_error, Handlers};

pub(super) async fn apply(h: &Handlers, id: ReqId, mut params: SearchParams) {
    // Refuse a bad query here, before it takes a permit and a blocking thread.
    if let Err(e) = Query::parse(&params.query) {
        return h.error_body(id, bad_query(e)).await;
    }
    params.limit = params.limit.min(MAX_PAGE);
    h.blocking(id, "search", move |source| match source.search(&params) {
        Ok(page) => ServerMsg::SearchResult { id, page },
        Err(e) => reply_error(id, e),
    })
    .await
}
