//! Delivery to Prometheus Alertmanager (v2 API) and to a generic JSON webhook.
//!
//! Each sink has its own bounded queue and task, so a dead Alertmanager delays
//! nothing else: the evaluator only enqueues (a short mutex, never I/O), a full
//! queue drops its oldest notification and counts it, and a failed POST is retried
//! with exponential backoff until the sink answers. A newer notification for the
//! same alert (same labels) replaces a queued older one, so a sink that comes back
//! hears the latest state, not a backlog.
//!
//! HTTP is [`super::http`]: a deadline on every exchange, a byte bound on every
//! response body.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lookout_shared::protocol::AlertState;
use lookout_shared::{LogEntry, Timestamp};
use serde::Serialize;

use super::eval::Notification;
use super::http::{HttpClient, HttpUrl};
use crate::shutdown::Shutdown;

/// Most notifications waiting per sink.
pub const QUEUE_CAP: usize = 1000;
/// Most alerts per POST.
const BATCH: usize = 64;

/// Where notifications go.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// Base URL; alerts are POSTed to `<base>/api/v2/alerts`.
    Alertmanager(HttpUrl),
    /// Receives [`WebhookPayload`]s.
    Webhook(HttpUrl),
}

/// Alertmanager's v2 `postableAlert`.
#[derive(Debug, Serialize)]
pub struct AmAlert<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: Timestamp,
    #[serde(rename = "endsAt")]
    pub ends_at: Timestamp,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
}

/// The generic webhook's body: shaped like Alertmanager's own webhook payload so
/// existing receivers parse it, plus lookout's value and sample lines.
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    pub version: &'static str,
    pub receiver: &'static str,
    /// `firing` when any alert in the batch fires, else `resolved`.
    pub status: &'static str,
    pub alerts: Vec<WebhookAlert<'a>>,
}

#[derive(Debug, Serialize)]
pub struct WebhookAlert<'a> {
    pub status: &'static str,
    pub rule: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: Timestamp,
    #[serde(rename = "endsAt")]
    pub ends_at: Timestamp,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    pub value: u64,
    pub sample: &'a [LogEntry],
}

/// Figures for metrics and tests.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub sent: AtomicU64,
    pub failures: AtomicU64,
    pub dropped: AtomicU64,
    /// The daemon's exported failure count (all sinks), when it runs.
    pub exported_failures: Option<prometheus::IntCounter>,
}

impl SinkStats {
    /// Counts a failed delivery attempt.
    fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = &self.exported_failures {
            c.inc();
        }
    }
}

/// One destination with its queue.
pub struct Sink {
    pub kind: SinkKind,
    queue: Mutex<VecDeque<Notification>>,
    wake: tokio::sync::Notify,
    pub stats: SinkStats,
}

impl Sink {
    pub fn new(kind: SinkKind) -> Sink {
        Sink {
            kind,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            stats: SinkStats::default(),
        }
    }

    /// Queues `n`, replacing a queued notification for the same alert; never blocks
    /// on I/O.
    pub fn enqueue(&self, n: Notification) {
        {
            let mut q = crate::sync::lock(&self.queue);
            q.retain(|old| old.alert.labels != n.alert.labels);
            q.push_back(n);
            while q.len() > QUEUE_CAP {
                q.pop_front();
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<Notification> {
        let mut q = crate::sync::lock(&self.queue);
        let n = q.len().min(BATCH);
        q.drain(..n).collect()
    }

    /// Puts a failed batch back in front, unless newer notifications replaced them.
    fn put_back(&self, batch: Vec<Notification>) {
        let mut q = crate::sync::lock(&self.queue);
        for n in batch.into_iter().rev() {
            if !q.iter().any(|o| o.alert.labels == n.alert.labels) {
                q.push_front(n);
            }
        }
        while q.len() > QUEUE_CAP {
            q.pop_front();
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn body(&self, batch: &[Notification], generator_url: &str) -> Vec<u8> {
        let gen = |rule: &str| {
            if generator_url.is_empty() {
                String::new()
            } else {
                format!("{}/rules/{rule}", generator_url.trim_end_matches('/'))
            }
        };
        let res = match &self.kind {
            SinkKind::Alertmanager(_) => serde_json::to_vec(
                &batch
                    .iter()
                    .map(|n| AmAlert {
                        labels: &n.alert.labels,
                        annotations: &n.alert.annotations,
                        starts_at: n.starts_at,
                        ends_at: n.ends_at,
                        generator_url: gen(&n.alert.rule),
                    })
                    .collect::<Vec<_>>(),
            ),
            SinkKind::Webhook(_) => {
                let alerts: Vec<WebhookAlert> = batch
                    .iter()
                    .map(|n| WebhookAlert {
                        status: status_word(n.alert.state),
                        rule: &n.alert.rule,
                        labels: &n.alert.labels,
                        annotations: &n.alert.annotations,
                        starts_at: n.starts_at,
                        ends_at: n.ends_at,
                        generator_url: gen(&n.alert.rule),
                        value: n.alert.value,
                        sample: &n.alert.sample,
                    })
                    .collect();
                let firing = alerts.iter().any(|a| a.status == "firing");
                serde_json::to_vec(&WebhookPayload {
                    version: "1",
                    receiver: "lookout",
                    status: if firing { "firing" } else { "resolved" },
                    alerts,
                })
            }
        };
        res.unwrap_or_default()
    }

    fn url(&self) -> HttpUrl {
        match &self.kind {
            SinkKind::Alertmanager(u) => u.join("/api/v2/alerts"),
            SinkKind::Webhook(u) => u.clone(),
        }
    }
}

fn status_word(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing | AlertState::Pending => "firing",
        AlertState::Resolved | AlertState::Inactive => "resolved",
    }
}

/// Retry timing.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub request_timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Runs one sink until shutdown: POST batches, back off on failure.
pub async fn run_sink(
    sink: Arc<Sink>,
    generator_url: String,
    backoff: Backoff,
    shutdown: Shutdown,
) {
    let url = sink.url();
    let client = HttpClient::new(backoff.request_timeout);
    let mut delay = backoff.initial;
    while !shutdown.is_triggered() {
        let batch = sink.take();
        if batch.is_empty() {
            // Wake on enqueue, or now and then to notice shutdown.
            let _ = tokio::time::timeout(Duration::from_millis(200), sink.wake.notified()).await;
            continue;
        }
        let body = sink.body(&batch, &generator_url);
        match client.request("POST", &url, Some(&body)).await {
            Ok((code, _)) if (200..300).contains(&code) => {
                sink.stats
                    .sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                delay = backoff.initial;
            }
            Ok((code, resp)) if (400..500).contains(&code) => {
                // The receiver refuses this content: retrying will not help.
                sink.stats.failed();
                tracing::warn!(
                    "alert sink {url} refused {} alerts: HTTP {code}: {}",
                    batch.len(),
                    String::from_utf8_lossy(&resp)
                );
            }
            res => {
                sink.stats.failed();
                let why = match res {
                    Ok((code, _)) => format!("HTTP {code}"),
                    Err(e) => e.to_string(),
                };
                tracing::warn!("alert sink {url} unreachable ({why}); retrying in {delay:?}");
                sink.put_back(batch);
                let until = tokio::time::Instant::now() + delay;
                while tokio::time::Instant::now() < until && !shutdown.is_triggered() {
                    tokio::time::sleep(Duration::from_millis(100).min(delay)).await;
                }
                delay = (delay * 2).min(backoff.max);
            }
        }
    }
}
