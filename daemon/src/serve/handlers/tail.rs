//! `subscribe`: a live tail, optionally starting with a backfill or a resume.
//!
//! The tail is registered first (so nothing published from then on is missed),
//! `subscribed` is sent, then the initial entries are computed on a blocking thread
//! and queued, and only then is the tail's live queue activated: the writer keeps
//! that order, so history always precedes live entries.

use std::sync::Arc;

use lookout_shared::protocol::{Cursor, ErrorCode, ReqId, ServerMsg};
use lookout_shared::query::Query;

use super::{bad_query, Handlers, TailGuard};

use crate::serve::tail::Start;

pub(super) async fn subscribe(
    h: &mut Handlers,
    id: ReqId,
    query: &str,
    backfill: u32,
    resume_after: Option<Cursor>,
) {
    let start = match resume_after {
        Some(c) => Some(Start::Resume(c)),
        None if backfill > 0 => Some(Start::Backfill(backfill.min(h.limits.max_backfill))),
        None => None,
    };
    if let Err(e) = h.check_new_sub(id) {
        return h.send(*e).await;
    }
    let query = match Query::parse(query) {
        Ok(q) => q,
        Err(e) => return h.error_body(id, bad_query(e)).await,
    };
    let tail = h.source.tail(query, h.limits.queue_limit(), h.out.waker());
    h.subs.insert(id, Box::new(TailGuard(Arc::clone(&tail))));
    h.send(ServerMsg::Subscribed { id }).await;
    let Some(start) = start else {
        h.out.activate(id, tail).await;
        return;
    };
    let out = h.out.clone();
    let timeout = h.limits.query_timeout;
    let max_resume = h.limits.replay();
    tokio::spawn(async move {
        let t = Arc::clone(&tail);
        let job = tokio::task::spawn_blocking(move || t.initial(start, max_resume, true));
        let initial = match tokio::time::timeout(timeout, job).await {
            Ok(Ok(i)) => i,
            failed => {
                let why = if failed.is_err() {
                    format!("took longer than {}s", timeout.as_secs())
                } else {
                    "failed".to_string()
                };
                // Fall back to the live buffer alone.
                let t = Arc::clone(&tail);
                let mut i =
                    tokio::task::spawn_blocking(move || t.initial(start, max_resume, false))
                        .await
                        .unwrap_or_default();
                i.warning = Some(format!(
                    "reading history from the index {why}; sent the live buffer only"
                ));
                i
            }
        };
        if let Some(w) = initial.warning {
            out.send(ServerMsg::error(Some(id), ErrorCode::Internal, w))
                .await;
        }
        out.initial(id, Arc::clone(&tail) as _, initial.items).await;
        out.activate(id, tail).await;
    });
}
