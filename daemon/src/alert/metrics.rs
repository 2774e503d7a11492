//! The alerting engine's exported metrics, updated by the evaluator and the sinks.

/// The engine's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct AlertMetrics {
    /// Rule evaluations: one per enabled rule per evaluation tick.
    pub rule_evaluations: prometheus::IntCounter,
    pub alerts_firing: prometheus::IntGauge,
    /// [`super::EngineStats::dropped_entries`].
    pub dropped_entries: prometheus::IntCounter,
    /// [`super::EngineStats::send_failures`].
    pub notification_failures: prometheus::IntCounter,
}

impl AlertMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, gauge};
        Ok(AlertMetrics {
            rule_evaluations: counter(
                r,
                "lookout_rule_evaluations_total",
                "Alert rule evaluations.",
            )?,
            alerts_firing: gauge(r, "lookout_alerts_firing", "Alert instances firing now.")?,
            dropped_entries: counter(
                r,
                "lookout_alert_dropped_entries_total",
                "Entries alert evaluation never saw because it fell behind.",
            )?,
            notification_failures: counter(
                r,
                "lookout_alert_notification_failures_total",
                "Failed attempts to deliver alert notifications (all sinks).",
            )?,
        })
    }
}
