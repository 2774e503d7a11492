//! Wires collector, ingest, index, live, alert and serve together.

use crate::config::Config;

/// Runs the daemon until it is told to stop.
pub fn run(config: Config) -> anyhow::Result<()> {
    if config.stdout {
        return crate::stdout_sink::run(&config);
    }
    let _ = config;
    anyhow::bail!("not wired yet")
}
