//! `lookout`: the terminal dashboard for lookoutd, and plain subcommands for scripts.

fn main() -> anyhow::Result<()> {
    println!("lookout {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
