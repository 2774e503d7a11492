//! What the server exports: its metric set, registered by the server itself.

/// The server's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct ServeMetrics {
    /// Websocket clients connected now.
    pub clients: prometheus::IntGauge,
    /// Connections accepted since start.
    pub connections: prometheus::IntCounter,
    /// Entries written to clients by live tails (after backfill/resume too).
    pub entries_sent: prometheus::IntCounter,
    /// Error replies sent to clients.
    pub client_errors: prometheus::IntCounter,
    /// Clients disconnected for being too slow or silent.
    pub slow_disconnects: prometheus::IntCounter,
    /// TCP connections open now, by port (`ws`, `metrics`): what the caps bound.
    pub open_connections: prometheus::IntGaugeVec,
    /// Connections the port's cap turned away (refused, or let in by closing the
    /// oldest idle one), by port.
    pub refused_connections: prometheus::IntCounterVec,
    /// Websocket hellos refused for a missing or wrong token.
    pub auth_failures: prometheus::IntCounter,
}

/// The `port` label of the websocket listener.
pub const PORT_WS: &str = "ws";
/// The `port` label of the health and metrics listener.
pub const PORT_METRICS: &str = "metrics";

impl ServeMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, counter_vec, gauge, gauge_vec};
        let open_connections = gauge_vec(
            r,
            "lookout_connections",
            "TCP connections open now, by listener port (ws, metrics).",
            &["port"],
        )?;
        let refused_connections = counter_vec(
            r,
            "lookout_connections_refused_total",
            "Connections turned away by their listener's cap: refused with 503, or taking the place of an idle one.",
            &["port"],
        )?;
        // Both ports from the first scrape, at zero.
        for port in [PORT_WS, PORT_METRICS] {
            open_connections.with_label_values(&[port]);
            refused_connections.with_label_values(&[port]);
        }
        Ok(ServeMetrics {
            open_connections,
            refused_connections,
            auth_failures: counter(
                r,
                "lookout_auth_failures_total",
                "Websocket hellos refused for a missing or wrong token.",
            )?,
            clients: gauge(r, "lookout_clients", "Websocket clients connected now.")?,
            connections: counter(
                r,
                "lookout_connections_total",
                "Websocket connections accepted.",
            )?,
            entries_sent: counter(
                r,
                "lookout_live_sent_total",
                "Entries sent to tail subscribers.",
            )?,
            client_errors: counter(
                r,
                "lookout_client_errors_total",
                "Error replies sent to clients.",
            )?,
            slow_disconnects: counter(
                r,
                "lookout_slow_disconnects_total",
                "Clients disconnected because they stopped reading or answering pings.",
            )?,
        })
    }
}
