//! The engine's settings, its error type (with the protocol's error body for each
//! failure) and the figures it reports: what callers of [`super::AlertEngine`]
//! handle, apart from the engine's machinery.

use std::sync::Arc;
use std::time::Duration;

use lookout_shared::protocol::{ErrorBody, ErrorCode};
use lookout_shared::range::RangeError;

use super::deliver::Backoff;
use super::metrics::AlertMetrics;
use super::rules::RuleError;
use crate::index::SearchError;
use crate::pattern::miners::Miners;

/// Engine settings (from the daemon's flags; tests shorten the intervals).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Alertmanager base URLs (`http://am:9093`); alerts go to `/api/v2/alerts`.
    pub alertmanager_urls: Vec<String>,
    /// A generic JSON webhook.
    pub webhook_url: Option<String>,
    /// How often rules are evaluated.
    pub eval_interval: Duration,
    /// How often firing alerts are re-sent (Alertmanager forgets them after
    /// `endsAt = now + 4 × resend_interval`).
    pub resend_interval: Duration,
    /// Base of `generatorURL` (`<base>/rules/<name>`); empty leaves it out.
    pub generator_url: String,
    /// This node's name, added as the `node` label.
    pub node: String,
    /// Retry timing of the sinks.
    pub backoff: Backoff,
    /// A `group_by` group silent this long beyond its window is forgotten.
    pub group_ttl: Duration,
    /// How long a resolved instance stays listed.
    pub resolved_keep: Duration,
    /// The daemon's exported metrics; `None` for an engine of its own (tools, tests).
    pub metrics: Option<AlertMetrics>,
    /// The index's pattern miners, for `new_pattern` rules (`None`: they never fire).
    pub patterns: Option<Arc<Miners>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            alertmanager_urls: Vec::new(),
            webhook_url: None,
            eval_interval: Duration::from_secs(1),
            resend_interval: Duration::from_secs(60),
            generator_url: String::new(),
            node: String::new(),
            backoff: Backoff::default(),
            group_ttl: Duration::from_secs(3600),
            resolved_keep: Duration::from_secs(15 * 60),
            metrics: None,
            patterns: None,
        }
    }
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("no rule named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    BadRange(#[from] RangeError),
    #[error("{0}")]
    Config(String),
    #[error("rules file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl AlertError {
    /// The protocol's error body for this failure.
    pub fn to_error_body(&self) -> ErrorBody {
        let plain = |code| ErrorBody {
            code,
            message: self.to_string(),
            position: None,
            field: None,
        };
        match self {
            AlertError::Rule(e) => e.to_error_body(),
            AlertError::NotFound(_) => plain(ErrorCode::NotFound),
            AlertError::BadRange(_) => plain(ErrorCode::BadRange),
            AlertError::Search(SearchError::BadQuery { message, position }) => ErrorBody {
                code: ErrorCode::BadRule,
                message: message.clone(),
                position: Some(*position),
                field: Some("query".into()),
            },
            AlertError::Search(SearchError::BadRange(_)) => plain(ErrorCode::BadRange),
            _ => plain(ErrorCode::Internal),
        }
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    pub rules: usize,
    /// Entries dropped because the evaluator fell behind (its channel was full).
    pub dropped_entries: u64,
    /// CPU time the evaluator thread has used (matching + evaluation).
    pub eval_cpu: Duration,
    pub ticks: u64,
    /// Notifications delivered / failed attempts / dropped from full queues, all sinks.
    pub sent: u64,
    pub send_failures: u64,
    pub send_dropped: u64,
}
