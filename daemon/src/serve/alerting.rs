//! What the server needs from the alerting engine, as a trait so the engine (its own
//! module) plugs in without the server knowing how rules are stored or evaluated.
//!
//! Every method may block (rule files, index counts): the server calls them on a
//! blocking thread. Errors are protocol [`ErrorBody`]s so a rule validation error
//! reaches the client with its `field` intact.

use lookout_shared::protocol::{
    Alert, ErrorBody, ErrorCode, RuleSpec, RuleStatus, RuleTestResult, TimeRange,
};
use tokio::sync::broadcast;

/// The alerting engine as the server sees it.
pub trait Alerting: Send + Sync + 'static {
    fn list_rules(&self) -> Vec<RuleStatus>;
    fn get_rule(&self, name: &str) -> Result<RuleStatus, ErrorBody>;
    /// Validates, then creates or replaces (by name) and persists.
    fn put_rule(&self, rule: RuleSpec) -> Result<RuleStatus, ErrorBody>;
    fn validate_rule(&self, rule: &RuleSpec) -> Result<(), ErrorBody>;
    fn delete_rule(&self, name: &str) -> Result<(), ErrorBody>;
    fn set_rule_enabled(&self, name: &str, enabled: bool) -> Result<RuleStatus, ErrorBody>;
    /// Evaluates over stored history without saving.
    fn test_rule(&self, rule: &RuleSpec, range: &TimeRange) -> Result<RuleTestResult, ErrorBody>;
    /// Current alert instances.
    fn alerts(&self) -> Vec<Alert>;
    /// Every alert instance state change, as it happens.
    fn watch_alerts(&self) -> broadcast::Receiver<Alert>;
    /// Instances firing now (for the status push).
    fn firing(&self) -> u32;
}

/// The reply when no engine is configured.
pub(crate) fn not_enabled() -> ErrorBody {
    ErrorBody {
        code: ErrorCode::NotFound,
        message: "alerting not enabled on this daemon".into(),
        position: None,
        field: None,
    }
}

/// The real engine as the server sees it: rule tests read the index.
pub struct EngineAlerting {
    pub engine: crate::alert::AlertEngine,
    pub index: crate::index::Index,
}

impl Alerting for EngineAlerting {
    fn list_rules(&self) -> Vec<RuleStatus> {
        self.engine.list()
    }
    fn get_rule(&self, name: &str) -> Result<RuleStatus, ErrorBody> {
        self.engine.get(name).map_err(|e| e.to_error_body())
    }
    fn put_rule(&self, rule: RuleSpec) -> Result<RuleStatus, ErrorBody> {
        self.engine.put(rule).map_err(|e| e.to_error_body())
    }
    fn validate_rule(&self, rule: &RuleSpec) -> Result<(), ErrorBody> {
        self.engine.validate(rule).map_err(|e| e.to_error_body())
    }
    fn delete_rule(&self, name: &str) -> Result<(), ErrorBody> {
        self.engine.delete(name).map_err(|e| e.to_error_body())
    }
    fn set_rule_enabled(&self, name: &str, enabled: bool) -> Result<RuleStatus, ErrorBody> {
        self.engine
            .set_enabled(name, enabled)
            .map_err(|e| e.to_error_body())
    }
    fn test_rule(&self, rule: &RuleSpec, range: &TimeRange) -> Result<RuleTestResult, ErrorBody> {
        self.engine
            .test(rule, range, &self.index)
            .map_err(|e| e.to_error_body())
    }
    fn alerts(&self) -> Vec<Alert> {
        self.engine.alerts()
    }
    fn watch_alerts(&self) -> broadcast::Receiver<Alert> {
        self.engine.subscribe()
    }
    fn firing(&self) -> u32 {
        self.engine.firing()
    }
}
