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
}

impl ServeMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, gauge};
        Ok(ServeMetrics {
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
