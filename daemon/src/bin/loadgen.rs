//! `loadgen`: writes a kubelet-style node log tree at a target rate, for benchmarks.
//!
//! Prints what it wrote as one JSON object (`lines`, `bytes`, `checksum`, `seconds`),
//! where `checksum` is the wrapping sum of FNV-1a hashes of every message: the same
//! sum over what a collector or index returned proves nothing was lost or doubled.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use lookout_daemon::sim::{self, ContainerSpec, Format, SimConfig, Source};

#[derive(Clone, Copy, ValueEnum)]
enum Formats {
    Cri,
    Docker,
    Mix,
}

#[derive(Parser)]
#[command(about = "Write a kubelet-style log tree at a target rate")]
struct Args {
    /// Log root to write (gets pods/ and containers/).
    #[arg(long)]
    root: PathBuf,
    /// Lines per second over all pods; 0 = as fast as possible (pre-write a fixed
    /// tree with --lines for throughput benchmarks).
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Number of pods (one container each).
    #[arg(long, default_value_t = 12)]
    pods: usize,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
    /// Stop after this many lines.
    #[arg(long)]
    lines: Option<u64>,
    /// Rotate files at this size in bytes (0 = never).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    rotate_bytes: u64,
    /// Restart one container in ten every this many seconds (0 = never).
    #[arg(long, default_value_t = 0.0)]
    restart_every: f64,
    #[arg(long, value_enum, default_value_t = Formats::Cri)]
    format: Formats,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let systems: Vec<&'static str> = sim::SAMPLES.iter().map(|(n, _)| *n).collect();
    let namespaces = ["payments", "data", "web", "kube-system", "health", "batch"];
    let containers = (0..a.pods)
        .map(|i| ContainerSpec {
            namespace: namespaces[i % namespaces.len()].to_string(),
            pod: format!("load-{i:05}"),
            container: "app".into(),
            format: match a.format {
                Formats::Cri => Format::Cri,
                Formats::Docker => Format::DockerJson,
                Formats::Mix if i % 3 == 2 => Format::DockerJson,
                Formats::Mix => Format::Cri,
            },
            source: Source::Sample(systems[i % systems.len()]),
            weight: 1.0,
            restart_every: (a.restart_every > 0.0 && i % 10 == 0)
                .then(|| Duration::from_secs_f64(a.restart_every)),
        })
        .collect();
    let cfg = SimConfig {
        root: a.root,
        containers,
        rate: a.rate,
        vary: 0.0,
        rotate_bytes: a.rotate_bytes,
        burst_every: None,
        max_lines: a.lines,
        duration: a.seconds.map(Duration::from_secs_f64),
    };
    let start = Instant::now();
    let w = sim::run(&cfg, &lookout_daemon::shutdown::Shutdown::never())?;
    println!(
        "{}",
        serde_json::json!({
            "lines": w.lines,
            "bytes": w.bytes,
            "checksum": format!("{:016x}", w.checksum),
            "seconds": start.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
