//! Helpers that make and register one metric family. A leaf: the stages use these to
//! register their own metric sets, and [`super::Metrics`] composes those sets, so
//! the stages never import the composition (imports flow one way).

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// Registers `m` on `r` and returns it (for the stages' `register` functions).
pub fn register<M>(r: &Registry, m: M) -> prometheus::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

/// A registered integer counter.
pub fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    register(r, IntCounter::new(name, help)?)
}

/// A registered integer gauge.
pub fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    register(r, IntGauge::new(name, help)?)
}

/// A registered float gauge.
pub fn float_gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<Gauge> {
    register(r, Gauge::new(name, help)?)
}

/// A registered integer counter with labels.
pub fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// A registered integer gauge with labels.
pub fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    register(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

/// A gauge value from a count (gauges are `i64`).
pub fn as_gauge(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}
