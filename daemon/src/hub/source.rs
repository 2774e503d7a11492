//! The hub's answers: every request fanned out to the peers, with a deadline
//! each, and the replies merged.
//!
//! A node that does not answer within the deadline (or cannot be reached) is named
//! in the page's `missing` and the others' answers are served: the page is
//! partial, never late.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lookout_shared::client::Conn;
use lookout_shared::protocol::{
    ClientMsg, ContextPage, ContextScope, Cursor, ErrorBody, ErrorCode, PatternsParams,
    PatternsResult, SearchPage, SearchParams, ServerMsg, StreamInfo, TimeRange,
};
use lookout_shared::query::Query;
use lookout_shared::Timestamp;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};

use super::merge::{merge_pages, node_cursor};
use super::peers::{Peers, Target};
use crate::index::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::live::{Item, QueueLimit};
use crate::serve::alerting::Alerting;
use crate::serve::source::{Source, Tail};
use crate::serve::tail::{Initial, Replay, Start};
use crate::serve::transport::Feed;

/// What one node made of a request.
enum Outcome {
    /// Its reply, and its node name.
    Reply(String, Box<ServerMsg>),
    /// Not reached, failed or too slow: named by its label.
    Missing(String, String),
}

/// The fan-out source behind the hub's sessions.
pub struct HubSource {
    pub peers: Arc<Peers>,
    pub rt: Handle,
    /// How long a node has to answer one request.
    pub deadline: Duration,
}

fn error(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody {
        code,
        message: message.into(),
        position: None,
        field: None,
    }
}

impl HubSource {
    /// Sends every peer the request `build` makes for its node name, each with the
    /// deadline, all at once.
    async fn fan_out(&self, build: impl Fn(&str) -> ClientMsg) -> Vec<Outcome> {
        let build = &build;
        let asks = self.peers.targets().into_iter().map(|t| async move {
            let label = t.label.clone();
            match tokio::time::timeout(self.deadline, self.ask(&t, build)).await {
                Ok(Ok((node, reply))) => Outcome::Reply(node, Box::new(reply)),
                Ok(Err(why)) => Outcome::Missing(label, why),
                Err(_) => Outcome::Missing(
                    label,
                    format!("no answer within {} s", self.deadline.as_secs_f64()),
                ),
            }
        });
        join_all(asks).await
    }

    async fn ask(
        &self,
        t: &Target,
        build: &impl Fn(&str) -> ClientMsg,
    ) -> Result<(String, ServerMsg), String> {
        let mut conn = match self.peers.take(&t.url) {
            Some(c) => c,
            None => Conn::connect(&t.url, self.peers.token())
                .await
                .map_err(|e| e.to_string())?,
        };
        let node = conn.info.node.clone();
        let msg = build(&node);
        let reply = conn.request(&msg).await.map_err(|e| e.to_string())?;
        self.peers.give(&t.url, conn);
        Ok((node, reply))
    }

    async fn search_all(&self, params: &SearchParams) -> Result<SearchPage, ErrorBody> {
        let t0 = Instant::now();
        // One absolute range for every node (and every page of this walk's
        // request): `since` resolved once, here.
        let bounds = params
            .range
            .resolve(Timestamp::now())
            .map_err(|e| error(ErrorCode::BadRange, e.to_string()))?;
        let range = TimeRange {
            since: None,
            from: bounds.from,
            until: bounds.until,
        };
        let limit = match params.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let at = match (params.cursor, params.cursor_node.as_deref()) {
            (Some(c), Some(n)) => Some((c, n.to_string())),
            (None, _) => None,
            (Some(_), None) => {
                return Err(error(
                    ErrorCode::BadRange,
                    "a cursor through the cluster hub needs its node: pass the page's \
                     next_cursor_node back as cursor_node",
                ))
            }
        };
        if self.peers.targets().is_empty() {
            // An empty page would read as "no matches anywhere".
            return Err(error(
                ErrorCode::Internal,
                "the hub knows no node daemon yet (--peers-dns has resolved to none)",
            ));
        }
        let order = params.order;
        let outcomes = self
            .fan_out(|node| ClientMsg::Search {
                id: 1,
                params: SearchParams {
                    range: range.clone(),
                    limit,
                    cursor: at.as_ref().map(|(c, n)| node_cursor(order, *c, n, node)),
                    cursor_node: None,
                    ..params.clone()
                },
            })
            .await;
        let mut pages = Vec::new();
        let mut missing = Vec::new();
        for o in outcomes {
            let o = match o {
                Outcome::Reply(node, reply) => Ok((node, *reply)),
                Outcome::Missing(node, why) => Err((node, why)),
            };
            match o {
                Ok((node, ServerMsg::SearchResult { page, .. })) => pages.push((node, page)),
                // The same request fails the same way on every node: say so once.
                Ok((_, ServerMsg::Error { error, .. }))
                    if matches!(error.code, ErrorCode::BadQuery | ErrorCode::BadRange) =>
                {
                    return Err(error)
                }
                Ok((node, other)) => {
                    tracing::warn!(%node, reply = ?other, "node could not search");
                    missing.push(node);
                }
                Err((node, why)) => {
                    tracing::warn!(%node, %why, "node missing from a search");
                    missing.push(node);
                }
            }
        }
        let mut nodes: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
        nodes.sort();
        missing.sort();
        let mut page = merge_pages(order, limit as usize, pages);
        page.nodes = nodes;
        page.missing = missing;
        page.took_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Ok(page)
    }

    async fn context_all(
        &self,
        at: Cursor,
        before: u32,
        after: u32,
        scope: ContextScope,
    ) -> Result<ContextPage, ErrorBody> {
        let outcomes = self
            .fan_out(|_| ClientMsg::Context {
                id: 1,
                at,
                before,
                after,
                scope,
            })
            .await;
        let mut found: Vec<(String, ContextPage)> = Vec::new();
        let mut answered = 0usize;
        for o in outcomes {
            let Outcome::Reply(node, reply) = o else {
                continue;
            };
            match (node, *reply) {
                (node, ServerMsg::ContextResult { page, .. }) => {
                    answered += 1;
                    if page.entry.is_some() {
                        found.push((node, page));
                    }
                }
                (_, ServerMsg::Error { error, .. }) if error.code == ErrorCode::NotFound => {
                    answered += 1
                }
                (_, ServerMsg::Error { error, .. }) if error.code == ErrorCode::BadRange => {
                    return Err(error)
                }
                _ => {}
            }
        }
        // The node that holds the entry serves its context.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        match found.into_iter().next() {
            Some((_, page)) => Ok(page),
            None if answered > 0 => Err(error(ErrorCode::NotFound, "no node holds that entry")),
            None => Err(error(ErrorCode::Internal, "no node answered")),
        }
    }
}

impl Source for HubSource {
    fn search(&self, params: &SearchParams) -> Result<SearchPage, ErrorBody> {
        // On a blocking thread (the handlers run sources there): wait for the
        // fan-out on the runtime.
        self.rt.block_on(self.search_all(params))
    }

    fn context(
        &self,
        at: Cursor,
        before: u32,
        after: u32,
        scope: ContextScope,
    ) -> Result<ContextPage, ErrorBody> {
        self.rt.block_on(self.context_all(at, before, after, scope))
    }

    /// Not merged across nodes yet: each node's miners name their own patterns, so
    /// a merge needs templates matched across nodes. Said plainly, not answered
    /// with one node's view.
    fn patterns(&self, _params: &PatternsParams) -> Result<PatternsResult, ErrorBody> {
        Err(error(
            ErrorCode::BadRequest,
            "patterns are not merged through the hub yet: ask a node's lookoutd \
             (kubectl -n lookout port-forward pod/<daemon pod> 7700)",
        ))
    }

    fn streams(&self) -> watch::Receiver<Arc<Vec<StreamInfo>>> {
        self.peers.watch_streams()
    }

    fn tail(&self, _query: Query, _queue: QueueLimit, _wake: Arc<Notify>) -> Arc<dyn Tail> {
        // The hub's sessions refuse `subscribe` before it gets here.
        Arc::new(NoTail)
    }

    fn alerting(&self) -> Option<Arc<dyn Alerting>> {
        None
    }
}

/// A tail that is over before it starts.
struct NoTail;

impl Feed for NoTail {
    fn is_closed(&self) -> bool {
        true
    }
    fn drain(&self, _max: usize) -> Vec<Item> {
        Vec::new()
    }
    fn has_pending(&self) -> bool {
        false
    }
}

impl Tail for NoTail {
    fn initial(&self, _start: Start, _max: Replay, _history: bool) -> Initial {
        Initial::default()
    }
    fn close(&self) {}
}
