//! What `lookoutd --demo` simulates: a dozen pods across namespaces, in the formats
//! and rhythms of a real node (chatty and quiet, CRI and docker, a crash loop).

use std::path::PathBuf;
use std::time::Duration;

use super::{ContainerSpec, Format, SimConfig, Source};

/// The demo's dozen pods across namespaces.
pub fn demo_containers() -> Vec<ContainerSpec> {
    let c = |ns: &str, pod: &str, container: &str, format, source, weight| ContainerSpec {
        namespace: ns.into(),
        pod: pod.into(),
        container: container.into(),
        format,
        source,
        weight,
        restart_every: None,
    };
    let mut v = vec![
        c(
            "payments",
            "checkout-7d9f5c",
            "app",
            Format::Cri,
            Source::Checkout,
            3.0,
        ),
        c(
            "payments",
            "checkout-7d9f5c",
            "envoy",
            Format::Cri,
            Source::Sample("apache"),
            1.0,
        ),
        c(
            "payments",
            "checkout-2b1c88",
            "app",
            Format::Cri,
            Source::Checkout,
            2.0,
        ),
        c(
            "payments",
            "ledger-0",
            "app",
            Format::Cri,
            Source::Sample("zookeeper"),
            1.5,
        ),
        c(
            "data",
            "hdfs-datanode-0",
            "datanode",
            Format::Cri,
            Source::Sample("hdfs"),
            2.0,
        ),
        c(
            "data",
            "hdfs-datanode-1",
            "datanode",
            Format::Cri,
            Source::Sample("hdfs"),
            2.0,
        ),
        c(
            "data",
            "spark-worker-5f7b",
            "worker",
            Format::DockerJson,
            Source::Sample("spark"),
            2.0,
        ),
        c(
            "data",
            "mapreduce-job-x81",
            "job",
            Format::Cri,
            Source::Sample("hadoop"),
            1.0,
        ),
        c(
            "kube-system",
            "node-sshd-q2x",
            "sshd",
            Format::Cri,
            Source::Sample("openssh"),
            1.0,
        ),
        c(
            "kube-system",
            "syslog-agent-m4k",
            "agent",
            Format::DockerJson,
            Source::Sample("linux"),
            1.0,
        ),
        c(
            "health",
            "healthapp-6c9d",
            "api",
            Format::Cri,
            Source::Sample("healthapp"),
            2.0,
        ),
        c(
            "web",
            "frontend-84fd",
            "httpd",
            Format::DockerJson,
            Source::Sample("apache"),
            1.5,
        ),
    ];
    let mut crashy = c(
        "default",
        "flaky-worker-9h2",
        "worker",
        Format::Cri,
        Source::Sample("spark"),
        0.5,
    );
    crashy.restart_every = Some(Duration::from_secs(45));
    v.push(crashy);
    v
}

/// The demo's settings: a lively but readable node.
pub fn demo_config(root: PathBuf) -> SimConfig {
    SimConfig {
        root,
        containers: demo_containers(),
        rate: 120.0,
        vary: 0.6,
        rotate_bytes: 512 * 1024,
        burst_every: Some(Duration::from_secs(40)),
        max_lines: None,
        duration: None,
    }
}
