//! The request handlers: one module per request kind, each answering from a
//! [`Source`] and replying through the connection's [`Outbox`]. What they share is
//! here: the connection's open subscriptions (ids, limit, what closes them) and the
//! blocking-work runner (concurrency limit and timeout).
//!
//! A handler never touches the socket, the writer or the daemon's stages: the
//! transport gives it parsed requests, the source gives it data.

mod alerts;
mod context;
mod patterns;
mod rules;
mod search;
mod streams;
mod tail;
mod unsubscribe;

use std::collections::HashMap;
use std::sync::Arc;

use lookout_shared::protocol::{ClientMsg, ErrorBody, ErrorCode, ReqId, ServerMsg};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::limits::Limits;
use super::source::{Source, Tail};
use super::transport::{Outbox, Session};

/// The node protocol's session for one connection.
pub(crate) struct Handlers {
    source: Arc<dyn Source>,
    limits: Limits,
    out: Outbox,
    /// Open tails and watches, by the id of the request that opened them.
    subs: HashMap<ReqId, Sub>,
    /// Permits for blocking work ([`Limits::max_concurrent_searches`]).
    searches: Arc<Semaphore>,
}

/// An open subscription, held only to be dropped: dropping it (on unsubscribe, or
/// at the connection's end) ends it.
type Sub = Box<dyn Send + Sync>;

/// Closes a tail when dropped.
struct TailGuard(Arc<dyn Tail>);
impl Drop for TailGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Stops a watch's forwarding task when dropped.
struct TaskGuard(JoinHandle<()>);
impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Session for Handlers {
    async fn handle(&mut self, msg: ClientMsg) {
        match msg {
            // The transport answers a second hello itself.
            ClientMsg::Hello { .. } => {}
            ClientMsg::Subscribe {
                id,
                query,
                backfill,
                resume_after,
            } => tail::subscribe(self, id, &query, backfill, resume_after).await,
            ClientMsg::Unsubscribe { id, sub } => unsubscribe::apply(self, id, sub).await,
            ClientMsg::Search { id, params } => search::apply(self, id, params).await,
            ClientMsg::Context {
                id,
                at,
                before,
                after,
                scope,
            } => context::apply(self, id, at, (before, after), scope).await,
            ClientMsg::Streams { id, watch } => streams::apply(self, id, watch).await,
            ClientMsg::ListRules { id } => rules::list(self, id).await,
            ClientMsg::GetRule { id, name } => rules::get(self, id, name).await,
            ClientMsg::PutRule { id, rule } => rules::put(self, id, rule).await,
            ClientMsg::ValidateRule { id, rule } => rules::validate(self, id, rule).await,
            ClientMsg::DeleteRule { id, name } => rules::delete(self, id, name).await,
            ClientMsg::SetRuleEnabled { id, name, enabled } => {
                rules::set_enabled(self, id, name, enabled).await
            }
            ClientMsg::TestRule { id, rule, range } => rules::test(self, id, rule, range).await,
            ClientMsg::Alerts { id, watch } => alerts::apply(self, id, watch).await,
            ClientMsg::Patterns { id, params } => patterns::apply(self, id, params).await,
        }
    }

    fn is_idle(&self) -> bool {
        self.subs.is_empty()
            && self.searches.available_permits() == self.limits.max_concurrent_searches
    }
}

impl Handlers {
    pub(crate) fn new(source: Arc<dyn Source>, limits: Limits, out: Outbox) -> Handlers {
        Handlers {
            searches: Arc::new(Semaphore::new(limits.max_concurrent_searches)),
            source,
            limits,
            out,
            subs: HashMap::new(),
        }
    }

    async fn send(&self, msg: ServerMsg) {
        self.out.send(msg).await;
    }

    /// Replies with an error about request `id`.
    async fn error(&self, id: ReqId, code: ErrorCode, message: impl Into<String>) {
        self.send(ServerMsg::error(Some(id), code, message)).await
    }

    /// Replies with an error body about request `id`.
    async fn error_body(&self, id: ReqId, error: ErrorBody) {
        self.send(reply_error(id, error)).await
    }

    /// Whether `id` may open a new subscription: free, and under the limit.
    fn check_new_sub(&self, id: ReqId) -> Result<(), Box<ServerMsg>> {
        if self.subs.contains_key(&id) {
            return Err(Box::new(ServerMsg::error(
                Some(id),
                ErrorCode::Conflict,
                format!("subscription id {id} is already in use on this connection"),
            )));
        }
        let max = self.limits.max_subscriptions;
        if self.subs.len() >= max {
            return Err(Box::new(ServerMsg::error(
                Some(id),
                ErrorCode::LimitExceeded,
                format!("at most {max} subscriptions per connection; unsubscribe one first"),
            )));
        }
        Ok(())
    }

    /// Runs `job` on a blocking thread under the connection's concurrency limit and
    /// the query timeout; its reply (or the limit/timeout error) goes to the client.
    async fn blocking<F>(&self, id: ReqId, what: &'static str, job: F)
    where
        F: FnOnce(&dyn Source) -> ServerMsg + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.searches).try_acquire_owned() else {
            let max = self.limits.max_concurrent_searches;
            let m =
                format!("at most {max} searches at once per connection; wait for a reply first");
            return self.error(id, ErrorCode::LimitExceeded, m).await;
        };
        let source = Arc::clone(&self.source);
        let out = self.out.clone();
        let timeout = self.limits.query_timeout;
        tokio::spawn(async move {
            let h = tokio::task::spawn_blocking(move || {
                // Held until the work really ends, even past a timeout reply.
                let _permit = permit;
                job(source.as_ref())
            });
            let reply = match tokio::time::timeout(timeout, h).await {
                Ok(Ok(m)) => m,
                Ok(Err(_)) => {
                    ServerMsg::error(Some(id), ErrorCode::Internal, format!("{what} failed"))
                }
                Err(_) => ServerMsg::error(
                    Some(id),
                    ErrorCode::Timeout,
                    format!(
                        "{what} took longer than {} s; narrow the time range or the query",
                        timeout.as_secs_f64()
                    ),
                ),
            };
            out.send(reply).await;
        });
    }
}

/// An error reply to request `id`.
fn reply_error(id: ReqId, error: ErrorBody) -> ServerMsg {
    ServerMsg::Error {
        id: Some(id),
        error,
    }
}

/// A query that did not parse, as the client sees it: what and where.
fn bad_query(e: lookout_shared::query::QueryError) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::BadQuery,
        message: e.message,
        position: Some(e.position),
        field: None,
    }
}
