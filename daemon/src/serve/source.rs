//! What the request handlers read, as one narrow interface: search, context, the
//! stream list, live tails and the alerting engine. The handlers see nothing else
//! of the daemon (nor of the transport), so another source (the cluster hub's
//! fan-out to node daemons) can answer the same requests with the same handlers.
//!
//! [`NodeSource`] is this node's: its index, its live fan-out, its stream list.

use std::sync::Arc;

use lookout_shared::protocol::{
    ContextPage, ContextScope, Cursor, ErrorBody, ErrorCode, PatternsParams, PatternsResult,
    SearchPage, SearchParams, StreamInfo,
};
use lookout_shared::query::Query;
use tokio::sync::{watch, Notify};

use super::alerting::Alerting;
use super::tail::{self, Initial, Replay, Start};
use super::transport::Feed;
use super::Shared;
use crate::index::SearchError;
use crate::live::{Item, QueueLimit, RingSnapshot, Subscription};

/// Where requests find their answers. Errors are protocol [`ErrorBody`]s (without
/// a request id; the handler adds it).
pub(crate) trait Source: Send + Sync + 'static {
    /// One page of matches; blocking (handlers call it on a blocking thread).
    fn search(&self, params: &SearchParams) -> Result<SearchPage, ErrorBody>;
    /// The entries around `at` in its stream or pod; blocking.
    fn context(
        &self,
        at: Cursor,
        before: u32,
        after: u32,
        scope: ContextScope,
    ) -> Result<ContextPage, ErrorBody>;
    /// The patterns of the matching stored events; blocking.
    fn patterns(&self, params: &PatternsParams) -> Result<PatternsResult, ErrorBody>;
    /// The stream list now, and on every change.
    fn streams(&self) -> watch::Receiver<Arc<Vec<StreamInfo>>>;
    /// Starts a live tail of `query`: it queues up to `queue` (entries and bytes)
    /// and notifies `wake` when it has some. Entries published from this call on
    /// are in it.
    fn tail(&self, query: Query, queue: QueueLimit, wake: Arc<Notify>) -> Arc<dyn Tail>;
    /// The alerting engine, when there is one.
    fn alerting(&self) -> Option<Arc<dyn Alerting>>;
}

/// A live tail: the [`Feed`] the writer drains, and what comes before it.
pub(crate) trait Tail: Feed {
    /// The entries to send before the live ones (a backfill or a resume), covering
    /// up to where the feed starts without gap or duplicate; blocking. With
    /// `history` false they come from the live buffer alone: the fallback when the
    /// stored history is slow or failing.
    fn initial(&self, start: Start, max: Replay, history: bool) -> Initial;
    /// Ends the tail: the feed reports closed and the source stops filling it.
    fn close(&self);
}

/// The reply while the index is still opening.
fn index_not_open() -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Internal,
        message: "the index is not open yet; try again shortly".into(),
        position: None,
        field: None,
    }
}

/// An index error as the client sees it.
fn search_error(e: SearchError) -> ErrorBody {
    let (code, position) = match &e {
        SearchError::BadQuery { position, .. } => (ErrorCode::BadQuery, Some(*position)),
        SearchError::BadRange(_) => (ErrorCode::BadRange, None),
        SearchError::NotFound(_) => (ErrorCode::NotFound, None),
        SearchError::Internal(_) => (ErrorCode::Internal, None),
    };
    let message = match e {
        SearchError::BadQuery { message, .. } => message,
        other => other.to_string(),
    };
    ErrorBody {
        code,
        message,
        position,
        field: None,
    }
}

/// This node's data, as the server holds it.
pub(crate) struct NodeSource(pub Arc<Shared>);

impl Source for NodeSource {
    fn search(&self, params: &SearchParams) -> Result<SearchPage, ErrorBody> {
        let ix = self.0.index().ok_or_else(index_not_open)?;
        ix.search(params).map_err(search_error)
    }

    fn context(
        &self,
        at: Cursor,
        before: u32,
        after: u32,
        scope: ContextScope,
    ) -> Result<ContextPage, ErrorBody> {
        let ix = self.0.index().ok_or_else(index_not_open)?;
        ix.context_in(at, before, after, scope)
            .map_err(search_error)
    }

    fn patterns(&self, params: &PatternsParams) -> Result<PatternsResult, ErrorBody> {
        let ix = self.0.index().ok_or_else(index_not_open)?;
        ix.patterns(params).map_err(search_error)
    }

    fn streams(&self) -> watch::Receiver<Arc<Vec<StreamInfo>>> {
        self.0.streams.watch()
    }

    fn tail(&self, query: Query, queue: QueueLimit, wake: Arc<Notify>) -> Arc<dyn Tail> {
        let (sub, snap) = self.0.live.subscribe(query, queue, wake);
        Arc::new(NodeTail {
            shared: Arc::clone(&self.0),
            sub,
            snap,
        })
    }

    fn alerting(&self) -> Option<Arc<dyn Alerting>> {
        self.0.alerting.clone()
    }
}

/// A tail of this node's [`Live`](crate::live::Live) fan-out, with the ring snapshot
/// taken when it was registered (the seam between history and live entries).
struct NodeTail {
    shared: Arc<Shared>,
    sub: Arc<Subscription>,
    snap: RingSnapshot,
}

impl Feed for NodeTail {
    fn is_closed(&self) -> bool {
        self.sub.is_closed()
    }
    fn drain(&self, max: usize) -> Vec<Item> {
        self.sub.drain(max)
    }
    fn has_pending(&self) -> bool {
        self.sub.has_pending()
    }
}

impl Tail for NodeTail {
    fn initial(&self, start: Start, max: Replay, history: bool) -> Initial {
        let index = if history { self.shared.index() } else { None };
        tail::initial(index, &self.snap, self.sub.query(), start, max)
    }

    fn close(&self) {
        self.shared.live.unsubscribe(&self.sub);
    }
}
