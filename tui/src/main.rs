//! `lookout`: the terminal dashboard for lookoutd, and plain subcommands for scripts.
//!
//! With no subcommand it opens the dashboard; every subcommand prints human text by
//! default and one JSON object per line with `--json`, and exits non-zero on errors.

use clap::{Parser, Subcommand};
use lookout_tui::cli;

#[derive(Debug, Parser)]
#[command(
    name = "lookout",
    version,
    about = "Terminal dashboard and CLI for lookoutd (live tail, search, alerts)"
)]
struct Cli {
    /// The daemon's websocket address, e.g. after
    /// `kubectl -n lookout port-forward pod/<lookout pod on the node> 7700`.
    #[arg(
        long,
        env = "LOOKOUT_URL",
        default_value = "ws://127.0.0.1:7700",
        global = true
    )]
    url: String,
    /// Shared secret when the daemon requires one.
    #[arg(long, env = "LOOKOUT_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// One JSON object per line instead of human text.
    #[arg(long, global = true)]
    json: bool,
    /// Dashboard: how many tail lines to keep in memory.
    #[arg(long, default_value_t = 10_000)]
    scrollback: usize,
    /// Dashboard: show times in UTC (default: the local zone, `TZ` honoured).
    #[arg(long)]
    utc: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Follow matching entries live (Ctrl-C stops).
    Tail(cli::TailArgs),
    /// Search stored entries, newest first.
    Search(cli::SearchArgs),
    /// The kinds of lines (patterns) among stored matches, most frequent first.
    Patterns(cli::PatternsArgs),
    /// List the node's container log streams.
    Streams,
    /// Manage alert rules (YAML).
    Rules {
        #[command(subcommand)]
        cmd: cli::RulesCmd,
    },
}

fn main() {
    let args = Cli::parse();
    let global = cli::Global {
        url: cli::normalize_url(&args.url),
        token: args.token,
        json: args.json,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lookout: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async move {
        match args.cmd {
            None => {
                let zone = if args.utc {
                    lookout_tui::clock::Zone::Utc
                } else {
                    lookout_tui::clock::Zone::Local
                };
                lookout_tui::run_dashboard(global, args.scrollback, zone).await
            }
            Some(Cmd::Tail(a)) => cli::tail(&global, a).await,
            Some(Cmd::Search(a)) => cli::search(&global, a).await,
            Some(Cmd::Patterns(a)) => cli::patterns(&global, a).await,
            Some(Cmd::Streams) => cli::streams(&global).await,
            Some(Cmd::Rules { cmd }) => cli::rules(&global, cmd).await,
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    if let Err(e) = result {
        let code = cli::exit_code(&e);
        if code != cli::PARTIAL_EXIT {
            eprintln!("lookout: {}", cli::error_report(&e));
        }
        std::process::exit(code);
    }
}
