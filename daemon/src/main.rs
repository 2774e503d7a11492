//! The `lookoutd` binary: flags in, [`lookout_daemon::app::run`] out.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let config = lookout_daemon::config::Config::parse();
    lookout_daemon::app::run(config)
}
