//! Against a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`,
//! installed by `scripts/test-deps.sh`): an alert from real published lines arrives
//! with the right labels, keeps firing (resends), resolves; and an Alertmanager
//! that is down at first still receives the alert once it comes up.
//!
//! If the binary is missing these tests FAIL: CI installs it, and a skipped test
//! proves nothing.

use crate::support::{block, wait_for};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookout_daemon::alert::http::{http_request, HttpUrl};
use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::ingest::EntrySink;
use lookout_shared::protocol::RuleSpec;
use lookout_shared::{LogEntry, StreamId, Timestamp};
use serde_json::Value;

const AM_BIN: &str = "/usr/bin/prometheus-alertmanager";

/// A running Alertmanager, killed on drop.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn am_binary() -> PathBuf {
    let p = PathBuf::from(AM_BIN);
    assert!(
        p.exists(),
        "{AM_BIN} is missing: install Debian's prometheus-alertmanager (scripts/test-deps.sh does)"
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Alertmanager {
    fn start(port: u16) -> Alertmanager {
        let bin = am_binary();
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("am.yml");
        std::fs::write(
            &cfg,
            "route:\n  receiver: devnull\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n- name: devnull\n",
        )
        .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager {
            child,
            port,
            _dir: dir,
        };
        let url = am.url();
        wait_for("alertmanager ready", Duration::from_secs(20), || {
            let u = HttpUrl::parse(&format!("{url}/-/ready")).unwrap();
            matches!(
                block(http_request("GET", &u, None, Duration::from_secs(2))),
                Ok((200, _))
            )
            .then_some(())
        });
        am
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v2/alerts`: the active alerts Alertmanager holds.
    fn alerts(&self) -> Vec<Value> {
        let u = HttpUrl::parse(&format!("{}/api/v2/alerts", self.url())).unwrap();
        match block(http_request("GET", &u, None, Duration::from_secs(5))) {
            Ok((200, body)) => serde_json::from_slice(&body).unwrap(),
            other => panic!("GET /api/v2/alerts failed: {other:?}"),
        }
    }

    fn find(&self, alertname: &str) -> Option<Value> {
        self.alerts()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == alertname)
    }
}

fn boom(pod: &str) -> Arc<LogEntry> {
    Arc::new(LogEntry {
        ts: Timestamp::now(),
        node: "node-7".into(),
        source: StreamId {
            namespace: "payments".into(),
            pod: pod.into(),
            container: "api".into(),
            ..Default::default()
        },
        message: "checkout boom: connection refused".into(),
        ..LogEntry::default()
    })
}

fn rule(name: &str, window: &str) -> RuleSpec {
    let mut labels = BTreeMap::new();
    labels.insert("team".into(), "payments".into());
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "summary".into(),
        "{{ $labels.pod }} logged {{ $value }} booms".into(),
    );
    RuleSpec {
        name: name.into(),
        query: "boom".into(),
        window: window.into(),
        condition: "> 1".into(),
        for_: "0s".into(),
        group_by: vec!["pod".into()],
        severity: "critical".into(),
        labels,
        annotations,
        enabled: true,
    }
}

fn engine(dir: &Path, am: String, resend: Duration) -> AlertEngine {
    let (e, w) = AlertEngine::open(
        dir,
        EngineConfig {
            alertmanager_urls: vec![am],
            node: "node-7".into(),
            resend_interval: resend,
            generator_url: "http://lookout.example:7700".into(),
            backoff: lookout_daemon::alert::deliver::Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(1),
                request_timeout: Duration::from_secs(5),
            },
            ..EngineConfig::default()
        },
    )
    .unwrap();
    assert!(w.is_empty());
    e
}

fn ts(v: &Value, key: &str) -> Timestamp {
    Timestamp::parse_rfc3339(v[key].as_str().unwrap()).unwrap()
}

#[test]
fn alert_arrives_keeps_firing_and_resolves() {
    let am = Alertmanager::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    // Resend every 3 s: Alertmanager's endsAt is then 12 s ahead of each send.
    let eng = engine(dir.path(), am.url(), Duration::from_secs(3));
    eng.put(rule("PaymentsBoom", "4s")).unwrap();

    // Keep the condition true (> 1 in 4 s) for a while with real lines.
    let feed_until = Instant::now() + Duration::from_secs(9);
    let first = wait_for("alert in alertmanager", Duration::from_secs(20), || {
        eng.publish(&[boom("checkout-5d8f"), boom("checkout-5d8f")]);
        std::thread::sleep(Duration::from_millis(200));
        am.find("PaymentsBoom")
    });
    let labels = &first["labels"];
    assert_eq!(labels["alertname"], "PaymentsBoom");
    assert_eq!(labels["pod"], "checkout-5d8f");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["team"], "payments");
    assert_eq!(labels["node"], "node-7");
    assert!(
        first["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("checkout-5d8f logged "),
        "{first}"
    );
    assert_eq!(
        first["generatorURL"],
        "http://lookout.example:7700/rules/PaymentsBoom"
    );
    assert_ne!(first["status"]["state"], "suppressed", "{first}");
    let starts = ts(&first, "startsAt");
    let first_end = ts(&first, "endsAt");

    // Kept firing: a resend pushes endsAt further out, startsAt stays.
    let later = wait_for("a resend", Duration::from_secs(20), || {
        if Instant::now() < feed_until {
            eng.publish(&[boom("checkout-5d8f"), boom("checkout-5d8f")]);
        }
        std::thread::sleep(Duration::from_millis(200));
        am.find("PaymentsBoom")
            .filter(|a| ts(a, "endsAt") > first_end)
    });
    assert_eq!(ts(&later, "startsAt"), starts, "same alert, still firing");
    while Instant::now() < feed_until {
        eng.publish(&[boom("checkout-5d8f"), boom("checkout-5d8f")]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let last_end = am
        .find("PaymentsBoom")
        .map(|a| ts(&a, "endsAt"))
        .expect("still firing while lines keep coming");

    // Lines stop: the window empties, lookout resolves, and Alertmanager drops the
    // alert before the endsAt of the last resend could have expired it.
    wait_for("resolution", Duration::from_secs(20), || {
        am.find("PaymentsBoom").is_none().then_some(())
    });
    assert!(
        Timestamp::now() < last_end,
        "gone from Alertmanager only by expiry, not by our resolution"
    );
    assert_eq!(eng.stats().send_failures, 0);
}

#[test]
fn alertmanager_down_then_up_gets_the_alert_later() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let eng = engine(
        dir.path(),
        format!("http://127.0.0.1:{port}"),
        Duration::from_secs(3600),
    );
    let mut r = rule("LateBoom", "5m");
    r.group_by = vec![];
    eng.put(r).unwrap();
    eng.publish(&[boom("a"), boom("b"), boom("c")]);
    wait_for("firing", Duration::from_secs(20), || {
        (!eng.alerts().is_empty()).then_some(())
    });
    wait_for("a failed delivery", Duration::from_secs(20), || {
        (eng.stats().send_failures > 0).then_some(())
    });
    let am = Alertmanager::start(port);
    let a = wait_for("late delivery", Duration::from_secs(20), || {
        am.find("LateBoom")
    });
    assert_eq!(a["labels"]["team"], "payments");
    assert!(!a["labels"].as_object().unwrap().contains_key("pod"));
    assert_eq!(a["annotations"]["summary"], " logged 3 booms");
    assert!(eng.stats().sent >= 1);
}
