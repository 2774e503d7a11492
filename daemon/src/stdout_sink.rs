//! `lookoutd --stdout`: every collected entry as one JSON line on stdout.
//!
//! The seed's first milestone and a lasting debugging aid. Positions are saved in
//! `<data-dir>/positions.json` after the output is flushed (write to a temporary
//! file, fsync, rename, fsync the directory), so a restart continues where the
//! previous run stopped. A graceful stop (SIGTERM, SIGINT) prints and saves
//! everything already collected: exactly once. A SIGKILL between a flush and the
//! rename re-delivers the batches printed since the last save: at least once.
//! (The index makes it exactly once by committing positions with the data.)

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::collect::{Batch, Collector, Positions};
use crate::config::Config;

/// Where positions live under `--data-dir`.
pub fn positions_path(data_dir: &Path) -> PathBuf {
    data_dir.join("positions.json")
}

/// Reads saved positions; a missing file means a first start.
pub fn load_positions(path: &Path) -> anyhow::Result<Positions> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a valid positions file (move it away to start over)",
                path.display()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Positions::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Saves positions atomically and durably ([`crate::durable::write_atomic`]).
pub fn save_positions(path: &Path, positions: &Positions) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(positions)?;
    crate::durable::write_atomic(path, &bytes)
        .with_context(|| format!("saving positions to {}", path.display()))
}

/// Runs the collector and prints until SIGTERM/SIGINT or a closed stdout.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let shutdown = crate::shutdown::on_signals().context("installing signal handlers")?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let pos_path = positions_path(&config.data_dir);
    let mut positions = load_positions(&pos_path)?;
    let cfg = crate::config::collector_config(config);
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(4);
    let handle = Collector::spawn(cfg, positions.clone(), tx)
        .with_context(|| format!("collecting {}", config.log_dir.display()))?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());

    loop {
        let first = crossbeam_channel::select! {
            recv(rx) -> b => match b {
                Ok(b) => b,
                Err(_) => anyhow::bail!("the collector stopped unexpectedly"),
            },
            recv(shutdown.channel()) -> _ => break,
        };
        print_batch(&mut out, &first, &mut positions)?;
        while let Ok(b) = rx.try_recv() {
            print_batch(&mut out, &b, &mut positions)?;
        }
        out.flush().context("writing to stdout")?;
        save_positions(&pos_path, &positions)?;
    }
    // Graceful stop: what was already collected is printed and saved.
    handle.stop();
    while let Ok(b) = rx.try_recv() {
        print_batch(&mut out, &b, &mut positions)?;
    }
    out.flush().context("writing to stdout")?;
    save_positions(&pos_path, &positions)?;
    Ok(())
}

fn print_batch(
    out: &mut impl Write,
    batch: &Batch,
    positions: &mut Positions,
) -> anyhow::Result<()> {
    for e in &batch.entries {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
    }
    positions.apply(&batch.positions);
    Ok(())
}
