//! The `lookoutd` binary: flags in, [`lookout_daemon::app::run`] (or, for
//! `lookoutd hub`, [`lookout_daemon::hub::run`]) out.

use clap::Parser;
use lookout_daemon::config::{Config, Mode};

fn main() -> anyhow::Result<()> {
    let mut config = Config::parse();
    match config.mode.take() {
        Some(Mode::Hub(args)) => Ok(lookout_daemon::hub::run(args)?),
        None => lookout_daemon::app::run(config),
    }
}
