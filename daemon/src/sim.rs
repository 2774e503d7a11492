//! A node simulator: writes a kubelet-style log tree the way a real node does.
//!
//! Used by `lookoutd --demo` (a realistic tree in a temp dir, so the product can be
//! tried anywhere) and by the `loadgen` benchmark binary (a target rate, with a
//! count and an order-independent checksum of what was written, so a run can prove
//! completeness). Message bodies are real lines from the Loghub samples, embedded
//! in the binary (see `testdata/loghub/README.md` for their origin and licence).
//!
//! What it reproduces: `pods/<ns>_<pod>_<uid>/<container>/<N>.log` files with
//! `containers/<pod>_<ns>_<container>-<id>.log` symlinks; CRI lines (with `P`
//! partials for long lines) or docker json-file records; kubelet rotation (rename to
//! `N.log.<YYYYmmdd-HHMMSS>`, a few late writes to the renamed inode, a fresh
//! `N.log`, older rotations removed); a crash-looping container that restarts into
//! `N+1.log` with a new container id; and bursts of errors.

use crate::shutdown::Shutdown;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lookout_shared::{StreamId, Timestamp};

mod demo;

pub use demo::{demo_config, demo_containers};

/// The Loghub samples compiled into the binary: (system, text).
pub const SAMPLES: &[(&str, &str)] = &[
    (
        "apache",
        include_str!("../../testdata/loghub/Apache_2k.log"),
    ),
    ("hdfs", include_str!("../../testdata/loghub/HDFS_2k.log")),
    (
        "hadoop",
        include_str!("../../testdata/loghub/Hadoop_2k.log"),
    ),
    (
        "healthapp",
        include_str!("../../testdata/loghub/HealthApp_2k.log"),
    ),
    ("linux", include_str!("../../testdata/loghub/Linux_2k.log")),
    (
        "openssh",
        include_str!("../../testdata/loghub/OpenSSH_2k.log"),
    ),
    ("spark", include_str!("../../testdata/loghub/Spark_2k.log")),
    (
        "zookeeper",
        include_str!("../../testdata/loghub/Zookeeper_2k.log"),
    ),
];

/// The lines of one sample, without line ends (CR and LF both cut).
pub fn sample_lines(system: &str) -> Vec<&'static str> {
    SAMPLES
        .iter()
        .filter(|(name, _)| *name == system)
        .flat_map(|(_, text)| text.split(['\n', '\r']))
        .filter(|l| !l.is_empty())
        .collect()
}

/// On-disk format of a container's log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Cri,
    DockerJson,
}

/// Where a container's lines come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Cycle through a Loghub sample.
    Sample(&'static str),
    /// A small payments app with levels (JSON logs) and occasional declines.
    Checkout,
}

/// One simulated container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub format: Format,
    pub source: Source,
    /// Share of the total rate this container writes.
    pub weight: f64,
    /// Crash and restart every this often (a crash-looping container).
    pub restart_every: Option<Duration>,
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The log root (gets `pods/` and `containers/`).
    pub root: PathBuf,
    pub containers: Vec<ContainerSpec>,
    /// Lines per second over all containers (before `vary`); 0 or less writes as fast
    /// as it can (pre-writing a fixed tree for throughput benchmarks).
    pub rate: f64,
    /// Swing the rate by ±this fraction over a minute (0 = steady).
    pub vary: f64,
    /// Rotate a file once it passes this many bytes (0 = never).
    pub rotate_bytes: u64,
    /// Emit an error burst in the checkout app every this often.
    pub burst_every: Option<Duration>,
    /// Stop after this many lines (None = until stopped).
    pub max_lines: Option<u64>,
    /// Stop after this long (None = until stopped).
    pub duration: Option<Duration>,
}

/// What the simulator wrote: the count, bytes, and an order-independent checksum of
/// every message (wrapping sum of FNV-1a hashes), comparable with what a reader got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub lines: u64,
    pub bytes: u64,
    pub checksum: u64,
}

impl Written {
    fn add(&mut self, message: &str, bytes: usize) {
        self.lines += 1;
        self.bytes += bytes as u64;
        self.checksum = self.checksum.wrapping_add(message_hash(message));
    }
}

/// FNV-1a of a message: the checksum unit of [`Written`].
pub fn message_hash(message: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in message.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Container {
    spec: ContainerSpec,
    /// The file written now, named as the collector will read it back: the uid in
    /// the pod directory, the restart in the file name, the id in the symlink's name.
    id: StreamId,
    pod_dir: PathBuf,
    /// Buffered; [`run`] flushes every container at the end of each tick, so readers
    /// see whole lines at most one tick late.
    file: BufWriter<File>,
    file_bytes: u64,
    lines: Vec<&'static str>,
    next: usize,
    seq: u64,
    started: Instant,
    credit: f64,
    rotated: Vec<PathBuf>,
}

fn hex_id(seed: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}"));
    }
    out.truncate(len);
    out
}

/// Go's RFC3339Nano: trailing zeros of the fraction trimmed, `Z`.
pub fn rfc3339_nano_trimmed(ts: Timestamp) -> String {
    let full = ts.to_rfc3339(); // ...SS.nnnnnnnnnZ
    let Some(dot) = full.rfind('.') else {
        return full;
    };
    let frac = full[dot + 1..full.len() - 1].trim_end_matches('0');
    if frac.is_empty() {
        format!("{}Z", &full[..dot])
    } else {
        format!("{}.{}Z", &full[..dot], frac)
    }
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Container {
    fn create(root: &Path, spec: ContainerSpec, salt: u64) -> io::Result<Container> {
        let uid_hex = hex_id(salt.wrapping_mul(31) + 7, 32);
        let uid = format!(
            "{}-{}-{}-{}-{}",
            &uid_hex[0..8],
            &uid_hex[8..12],
            &uid_hex[12..16],
            &uid_hex[16..20],
            &uid_hex[20..32]
        );
        let id = StreamId {
            namespace: spec.namespace.clone(),
            pod: spec.pod.clone(),
            pod_uid: uid,
            container: spec.container.clone(),
            container_id: hex_id(salt, 64),
            restart: 0,
        };
        let pod_dir = root
            .join("pods")
            .join(format!("{}_{}_{}", id.namespace, id.pod, id.pod_uid));
        fs::create_dir_all(pod_dir.join(&id.container))?;
        let lines = match &spec.source {
            Source::Sample(name) => sample_lines(name),
            Source::Checkout => Vec::new(),
        };
        let (file, file_bytes) = open_log(&pod_dir, &id.container, id.restart)?;
        let c = Container {
            spec,
            id,
            pod_dir,
            file,
            file_bytes,
            lines,
            next: (salt as usize * 97) % 1000,
            seq: 0,
            started: Instant::now(),
            credit: 0.0,
            rotated: Vec::new(),
        };
        c.link(root)?;
        Ok(c)
    }

    fn log_path(&self) -> PathBuf {
        self.pod_dir
            .join(&self.id.container)
            .join(format!("{}.log", self.id.restart))
    }

    fn link(&self, root: &Path) -> io::Result<()> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir)?;
        let link = dir.join(link_name(&self.id));
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(self.log_path(), link)
    }

    fn next_message(&mut self) -> String {
        self.seq += 1;
        match &self.spec.source {
            Source::Sample(_) => {
                if self.lines.is_empty() {
                    return format!("line {}", self.seq);
                }
                let l = self.lines[self.next % self.lines.len()];
                self.next += 1;
                l.to_string()
            }
            Source::Checkout => {
                let order = 8000 + self.seq;
                match self.seq % 10 {
                    0 => format!(
                        r#"{{"level":"warn","msg":"card issuer slow","order":{order},"latency_ms":{}}}"#,
                        300 + (self.seq * 37) % 900
                    ),
                    5 => format!(r#"{{"level":"debug","msg":"cache hit","key":"cart:{order}"}}"#),
                    _ => format!(r#"{{"level":"info","msg":"order {order} accepted"}}"#),
                }
            }
        }
    }

    /// Writes one logical line in the container's format; returns bytes written.
    fn write_line(&mut self, message: &str, stream: &str) -> io::Result<usize> {
        let now = Timestamp::now();
        let mut buf = String::with_capacity(message.len() + 64);
        match self.spec.format {
            Format::Cri => {
                let ts = rfc3339_nano_trimmed(now);
                // containerd splits lines over 16 KiB into P chunks closed by F.
                const MAX: usize = 16 * 1024;
                let mut rest = message;
                while rest.len() > MAX {
                    let mut cut = MAX;
                    while !rest.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    buf.push_str(&format!("{ts} {stream} P {}\n", &rest[..cut]));
                    rest = &rest[cut..];
                }
                buf.push_str(&format!("{ts} {stream} F {rest}\n"));
            }
            Format::DockerJson => {
                let ts = now.to_rfc3339();
                buf.push_str(&format!(
                    "{{\"log\":{},\"stream\":\"{stream}\",\"time\":\"{ts}\"}}\n",
                    json_escape(&format!("{message}\n"))
                ));
            }
        }
        self.file.write_all(buf.as_bytes())?;
        self.file_bytes += buf.len() as u64;
        Ok(buf.len())
    }

    /// kubelet rotation: rename, a late write to the renamed inode, then a fresh file.
    fn rotate(&mut self, written: &mut Written) -> io::Result<()> {
        let path = self.log_path();
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let mut rotated = PathBuf::from(format!("{}.{stamp}", path.display()));
        let mut n = 1;
        while rotated.exists() {
            rotated = PathBuf::from(format!("{}.{stamp}-{n}", path.display()));
            n += 1;
        }
        fs::rename(&path, &rotated)?;
        // Until the runtime reopens, writes still land in the renamed inode.
        let m = self.next_message();
        let b = self.write_line(&m, "stdout")?;
        written.add(&m, b);
        self.file.flush()?;
        let (file, bytes) = open_log(&self.pod_dir, &self.id.container, self.id.restart)?;
        self.file = file;
        self.file_bytes = bytes;
        self.rotated.push(rotated);
        // The kubelet keeps a few rotated files; older ones go (gzipped, then removed).
        while self.rotated.len() > 2 {
            let old = self.rotated.remove(0);
            let _ = fs::remove_file(old);
        }
        Ok(())
    }

    /// A crash: a last error line, then the container restarts into `N+1.log`.
    fn restart(&mut self, root: &Path, salt: u64, written: &mut Written) -> io::Result<()> {
        let m = format!(
            "FATAL worker {} exiting: java.lang.OutOfMemoryError: Java heap space",
            self.spec.pod
        );
        let b = self.write_line(&m, "stderr")?;
        written.add(&m, b);
        self.file.flush()?;
        let old_link = root.join("containers").join(link_name(&self.id));
        self.id.restart += 1;
        self.id.container_id = hex_id(
            salt.wrapping_add(u64::from(self.id.restart) * 1_000_003),
            64,
        );
        let (file, bytes) = open_log(&self.pod_dir, &self.id.container, self.id.restart)?;
        self.file = file;
        self.file_bytes = bytes;
        self.rotated.clear();
        // The kubelet keeps the previous container's log; older ones are removed.
        if self.id.restart >= 2 {
            let older = self
                .pod_dir
                .join(&self.id.container)
                .join(format!("{}.log", self.id.restart - 2));
            let _ = fs::remove_file(older);
            let _ = fs::remove_file(&old_link);
        }
        self.link(root)?;
        self.started = Instant::now();
        Ok(())
    }
}

/// The kubelet's `containers/` symlink name for a container's log: it carries the
/// container id, which the file's own path does not.
fn link_name(id: &StreamId) -> String {
    format!(
        "{}_{}_{}-{}.log",
        id.pod, id.namespace, id.container, id.container_id
    )
}

fn open_log(pod_dir: &Path, container: &str, restart: u32) -> io::Result<(BufWriter<File>, u64)> {
    let path = pod_dir.join(container).join(format!("{restart}.log"));
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    Ok((BufWriter::with_capacity(64 * 1024, file), len))
}

fn flush_all(containers: &mut [Container]) -> io::Result<()> {
    containers.iter_mut().try_for_each(|c| c.file.flush())
}

/// Runs the simulator on the calling thread until `stop` fires or a limit is reached.
pub fn run(cfg: &SimConfig, stop: &Shutdown) -> io::Result<Written> {
    let mut written = Written::default();
    let mut containers = Vec::with_capacity(cfg.containers.len());
    for (i, spec) in cfg.containers.iter().enumerate() {
        containers.push(Container::create(&cfg.root, spec.clone(), i as u64 + 1)?);
    }
    let total_weight: f64 = containers
        .iter()
        .map(|c| c.spec.weight)
        .sum::<f64>()
        .max(1e-9);
    let start = Instant::now();
    let mut last = start;
    let mut next_burst = cfg.burst_every.map(|d| start + d);
    let unlimited = cfg.rate <= 0.0;
    let tick = if unlimited {
        Duration::ZERO
    } else if cfg.rate > 5_000.0 {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(20)
    };
    'ticks: loop {
        if stop.is_triggered() {
            break;
        }
        if cfg.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64();
        last = now;
        let phase = start.elapsed().as_secs_f64() * std::f64::consts::TAU / 60.0;
        let rate = cfg.rate * (1.0 + cfg.vary * phase.sin()).max(0.05);
        let n = containers.len() as f64;
        for (i, c) in containers.iter_mut().enumerate() {
            c.credit += if unlimited {
                // A round of about 64 lines per container, weights kept.
                64.0 * n * c.spec.weight / total_weight
            } else {
                rate * dt * c.spec.weight / total_weight
            };
            while c.credit >= 1.0 {
                c.credit -= 1.0;
                if cfg.max_lines.is_some_and(|m| written.lines >= m) {
                    break 'ticks;
                }
                let m = c.next_message();
                let stream = if m.contains("ERROR") || m.contains("[error]") {
                    "stderr"
                } else {
                    "stdout"
                };
                let b = c.write_line(&m, stream)?;
                written.add(&m, b);
                if cfg.rotate_bytes > 0 && c.file_bytes >= cfg.rotate_bytes {
                    c.rotate(&mut written)?;
                }
            }
            if let Some(every) = c.spec.restart_every {
                if c.started.elapsed() >= every {
                    c.restart(&cfg.root, i as u64 + 1, &mut written)?;
                }
            }
        }
        if let Some(at) = next_burst {
            if now >= at {
                if let Some(c) = containers
                    .iter_mut()
                    .find(|c| matches!(c.spec.source, Source::Checkout))
                {
                    for k in 0..12 {
                        let m = format!(
                            r#"{{"level":"error","msg":"card declined","order":{},"issuer":"bank-{}","reason":"do_not_honor"}}"#,
                            9000 + c.seq + k,
                            k % 3
                        );
                        let b = c.write_line(&m, "stderr")?;
                        written.add(&m, b);
                    }
                }
                next_burst = cfg.burst_every.map(|d| now + d);
            }
        }
        flush_all(&mut containers)?;
        if !tick.is_zero() {
            std::thread::sleep(tick);
        }
    }
    flush_all(&mut containers)?;
    Ok(written)
}

/// Starts the simulator on its own thread until `stop` fires or a limit is reached.
pub fn spawn(
    cfg: SimConfig,
    stop: Shutdown,
) -> io::Result<std::thread::JoinHandle<io::Result<Written>>> {
    std::thread::Builder::new()
        .name("lookout-sim".into())
        .spawn(move || run(&cfg, &stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_embedded() {
        for (name, _) in SAMPLES {
            assert!(sample_lines(name).len() >= 1900, "{name}");
        }
        assert!(sample_lines("apache").iter().all(|l| !l.contains('\r')));
    }

    #[test]
    fn trims_like_go() {
        assert_eq!(
            rfc3339_nano_trimmed(Timestamp::parse_rfc3339("2026-01-02T03:04:05.120Z").unwrap()),
            "2026-01-02T03:04:05.12Z"
        );
        assert_eq!(
            rfc3339_nano_trimmed(Timestamp::parse_rfc3339("2026-01-02T03:04:05Z").unwrap()),
            "2026-01-02T03:04:05Z"
        );
    }

    #[test]
    fn rate_zero_writes_as_fast_as_it_can_and_stops_at_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig {
            rate: 0.0,
            vary: 0.0,
            rotate_bytes: 0,
            burst_every: None,
            max_lines: Some(10_001),
            duration: Some(Duration::from_secs(20)),
            ..demo_config(dir.path().to_path_buf())
        };
        let w = run(&cfg, &Shutdown::never()).unwrap();
        assert_eq!(w.lines, 10_001);
        let mut bytes = 0;
        let mut lines = 0;
        for pod in fs::read_dir(dir.path().join("pods")).unwrap() {
            for cont in fs::read_dir(pod.unwrap().path()).unwrap() {
                for f in fs::read_dir(cont.unwrap().path()).unwrap() {
                    let text = fs::read_to_string(f.unwrap().path()).unwrap();
                    bytes += text.len() as u64;
                    lines += text.lines().count() as u64;
                }
            }
        }
        assert_eq!((lines, bytes), (w.lines, w.bytes), "all flushed to disk");
    }

    #[test]
    fn writes_a_kubelet_tree_with_rotation_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut containers = demo_containers();
        for c in &mut containers {
            if c.restart_every.is_some() {
                c.restart_every = Some(Duration::from_millis(50));
            }
        }
        let cfg = SimConfig {
            root: dir.path().to_path_buf(),
            containers,
            rate: 20_000.0,
            vary: 0.0,
            rotate_bytes: 64 * 1024,
            burst_every: Some(Duration::from_millis(30)),
            max_lines: Some(5_000),
            duration: Some(Duration::from_secs(20)),
        };
        let w = run(&cfg, &Shutdown::never()).unwrap();
        assert!(w.lines >= 5_000);
        let links: Vec<_> = fs::read_dir(dir.path().join("containers"))
            .unwrap()
            .collect();
        assert!(links.len() >= 13);
        let mut rotated = 0;
        let mut restarted = false;
        for pod in fs::read_dir(dir.path().join("pods")).unwrap() {
            for cont in fs::read_dir(pod.unwrap().path()).unwrap() {
                for f in fs::read_dir(cont.unwrap().path()).unwrap() {
                    let name = f.unwrap().file_name().to_string_lossy().to_string();
                    rotated += usize::from(name.contains(".log."));
                    restarted |= name != "0.log" && name.ends_with(".log");
                }
            }
        }
        assert!(rotated > 0, "some file rotated");
        assert!(restarted, "the flaky container restarted");
    }
}
