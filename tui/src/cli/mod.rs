//! The script-friendly subcommands: `tail`, `search`, `patterns`, `streams`, `rules`.
//!
//! Human output by default; `--json` prints one JSON object per line (entries exactly
//! as the data model). Errors come back as `anyhow` errors, which `main` prints and
//! turns into a non-zero exit code.

mod format;
mod patterns;
mod rules_file;

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use lookout_shared::duration::parse_duration;
use lookout_shared::limits::MAX_PAGE;
use lookout_shared::protocol::{
    ClientMsg, ErrorBody, Order, RuleSpec, SearchParams, ServerMsg, TimeRange,
};
use lookout_shared::Timestamp;
use serde::Serialize;

use crate::client::{self, ClientEvent, Conn};
pub use format::{entry_line, entry_line_color, query_error_caret};
pub use patterns::{patterns, sparkline, PatternsArgs};
pub use rules_file::parse_rules;

/// Flags every subcommand shares.
#[derive(Debug, Clone)]
pub struct Global {
    pub url: String,
    pub token: Option<String>,
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Query language; empty follows everything.
    pub query: Option<String>,
    /// Print this many of the latest stored matches first.
    #[arg(long, default_value_t = 0, conflicts_with = "since")]
    pub backfill: u32,
    /// Start this far back (`10m`, `2h`): stored matches since then, then live,
    /// with no gap and no repeat between them.
    #[arg(long)]
    pub since: Option<String>,
}

/// What `--url` means: a bare `HOST:PORT` (as `kubectl port-forward` prints it) is
/// `ws://HOST:PORT`; an address with a scheme is taken as written.
pub fn normalize_url(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_string()
    } else {
        format!("ws://{url}")
    }
}

/// An error and its causes on one line, each said once: a cause whose words the
/// message before it already holds is left out (`cannot connect to …: Connection
/// refused` rather than the same refusal three times).
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query language (`*` matches everything).
    pub query: String,
    /// How far back from now, e.g. `15m`, `24h`, `7d`.
    #[arg(long, conflicts_with = "from")]
    pub since: Option<String>,
    /// Start (inclusive), RFC 3339.
    #[arg(long)]
    pub from: Option<String>,
    /// End (exclusive), RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// Most entries to print; 0 prints every match (paged underneath).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Oldest matches first instead of newest first.
    #[arg(long)]
    pub oldest_first: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// List rules with their state.
    List,
    /// Show one rule as YAML, with its alert instances.
    Get { name: String },
    /// Create or replace the rules in a YAML file (one rule, a list, or `rules:`).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a rule.
    Delete { name: String },
    /// Evaluate the rules in a file over stored history without saving them.
    Test {
        file: PathBuf,
        /// How far back to evaluate.
        #[arg(long, default_value = "24h")]
        since: String,
    },
}

async fn connect(g: &Global) -> anyhow::Result<Conn> {
    Ok(Conn::connect(&g.url, g.token.as_deref()).await?)
}

/// Turns a protocol error into a readable one (with a caret under the query when the
/// daemon says where).
fn server_error(error: &ErrorBody, query: Option<&str>) -> anyhow::Error {
    let mut msg = error.message.clone();
    if let Some(f) = &error.field {
        msg = format!("{f}: {msg}");
    }
    if let (Some(q), Some(p)) = (query, error.position) {
        msg.push('\n');
        msg.push_str(&query_error_caret(q, p.column, p.length));
    }
    anyhow!(msg)
}

fn unexpected(m: ServerMsg) -> anyhow::Error {
    match m {
        ServerMsg::Error { error, .. } => server_error(&error, None),
        other => anyhow!("unexpected reply from the daemon: {other:?}"),
    }
}

/// Stdout that ends quietly when the reader goes away (`| head`).
struct Out {
    w: io::BufWriter<io::Stdout>,
    color: bool,
}

impl Out {
    fn new() -> Out {
        use std::io::IsTerminal;
        Out {
            w: io::BufWriter::new(io::stdout()),
            color: io::stdout().is_terminal() && crate::color_enabled(),
        }
    }

    /// One entry, human or JSON.
    fn entry(&mut self, json: bool, e: &lookout_shared::LogEntry) -> anyhow::Result<bool> {
        if json {
            self.json(e)
        } else if self.color {
            self.line(&entry_line_color(e))
        } else {
            self.line(&entry_line(e))
        }
    }
    fn line(&mut self, s: &str) -> anyhow::Result<bool> {
        match writeln!(self.w, "{s}") {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    fn json<T: Serialize>(&mut self, v: &T) -> anyhow::Result<bool> {
        self.line(&serde_json::to_string(v)?)
    }
    fn flush(&mut self) -> anyhow::Result<bool> {
        match self.w.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// `lookout tail`: follows live, reconnecting and resuming on its own.
pub async fn tail(g: &Global, a: TailArgs) -> anyhow::Result<()> {
    let query = a.query.unwrap_or_default();
    // `--since`: resume after the first instant of the window; the daemon replays
    // what it stored since then, then goes live (the resume path the dashboard's
    // reconnects use, so the seam has no gap and no repeat).
    let resume_after = match &a.since {
        Some(s) => {
            let back = parse_duration(s).with_context(|| "--since")?;
            let nanos = i64::try_from(back.as_nanos()).unwrap_or(i64::MAX);
            Some(lookout_shared::protocol::Cursor {
                ts: Timestamp::now().add_nanos(nanos.saturating_neg()),
                seq: 0,
            })
        }
        None => None,
    };
    // Connect once up front so a wrong token or protocol fails fast with a clear
    // message; a daemon that is not up yet is waited for, as the dashboard does.
    match connect(g).await {
        Ok(c) => c.close().await,
        Err(e) => {
            let fatal = e
                .downcast_ref::<client::ClientError>()
                .is_some_and(client::ClientError::is_fatal);
            if fatal {
                return Err(e);
            }
            eprintln!("lookout: {}; waiting for the daemon", error_report(&e));
        }
    }
    let (tx, mut rx) = client::spawn(g.url.clone(), g.token.clone());
    tx.send(ClientMsg::Subscribe {
        id: 1,
        query: query.clone(),
        backfill: a.backfill,
        resume_after,
    })
    .map_err(|_| anyhow!("connection task ended"))?;
    let mut out = Out::new();
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            _ = tokio::signal::ctrl_c() => { out.flush()?; return Ok(()); }
        };
        let Some(ev) = ev else {
            bail!("connection task ended")
        };
        match ev {
            ClientEvent::Msg(ServerMsg::Entries { entries, .. }) => {
                for e in &entries {
                    let ok = out.entry(g.json, e)?;
                    if !ok {
                        return Ok(());
                    }
                }
                if !out.flush()? {
                    return Ok(());
                }
            }
            ClientEvent::Msg(ServerMsg::Dropped {
                count, from, until, ..
            }) => {
                eprintln!(
                    "lookout: {count} entries dropped between {from} and {until} (reading too slowly)"
                );
            }
            ClientEvent::Msg(ServerMsg::Error { id: Some(1), error }) => {
                return Err(server_error(&error, Some(&query)));
            }
            ClientEvent::Disconnected {
                reason,
                retry_in,
                fatal,
            } => {
                if fatal {
                    bail!(reason);
                }
                eprintln!(
                    "lookout: {reason}; reconnecting in {:.1}s",
                    retry_in.as_secs_f64()
                );
            }
            _ => {}
        }
    }
}

/// Builds the time range from `--since/--from/--until`, checking them locally.
pub fn time_range(
    since: Option<&str>,
    from: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<TimeRange> {
    let mut r = TimeRange::default();
    if let Some(s) = since {
        parse_duration(s).with_context(|| "--since")?;
        r.since = Some(s.to_string());
    }
    if let Some(f) = from {
        r.from = Some(Timestamp::parse_rfc3339(f).context("--from")?);
    }
    if let Some(u) = until {
        r.until = Some(Timestamp::parse_rfc3339(u).context("--until")?);
    }
    Ok(r)
}

/// `lookout search`: pages through matches with the cursor until `--limit`.
pub async fn search(g: &Global, a: SearchArgs) -> anyhow::Result<()> {
    let range = time_range(a.since.as_deref(), a.from.as_deref(), a.until.as_deref())?;
    let mut conn = connect(g).await?;
    let mut out = Out::new();
    let mut printed: u64 = 0;
    let mut cursor = None;
    let mut cursor_node = None;
    let mut missing = std::collections::BTreeSet::new();
    let mut total;
    loop {
        // Pages as large as the daemon serves; it clamps anything larger.
        let page = u64::from(MAX_PAGE);
        let want = if a.limit == 0 {
            page
        } else {
            (a.limit - printed).min(page)
        };
        let id = conn.next_id();
        let msg = ClientMsg::Search {
            id,
            params: SearchParams {
                query: a.query.clone(),
                range: range.clone(),
                limit: want as u32,
                cursor,
                cursor_node: cursor_node.clone(),
                order: if a.oldest_first {
                    Order::OldestFirst
                } else {
                    Order::NewestFirst
                },
                histogram: false,
            },
        };
        let page = match conn.request(&msg).await? {
            ServerMsg::SearchResult { page, .. } => page,
            ServerMsg::Error { error, .. } => return Err(server_error(&error, Some(&a.query))),
            other => return Err(unexpected(other)),
        };
        total = page.total;
        for e in &page.entries {
            let ok = out.entry(g.json, e)?;
            if !ok {
                return Ok(());
            }
            printed += 1;
        }
        missing.extend(page.missing);
        cursor = page.next_cursor;
        cursor_node = page.next_cursor_node;
        if cursor.is_none() || page.entries.is_empty() || (a.limit != 0 && printed >= a.limit) {
            break;
        }
    }
    out.flush()?;
    conn.close().await;
    if !g.json {
        eprintln!("{printed} of {total} matches");
    }
    if !missing.is_empty() {
        let nodes: Vec<String> = missing.into_iter().collect();
        eprintln!(
            "lookout: warning: partial result: node(s) {} did not answer; their matches are missing",
            nodes.join(", ")
        );
        return Err(Partial { nodes }.into());
    }
    Ok(())
}

/// A search through a cluster hub came back without some nodes' matches: what
/// was printed is right but incomplete. `lookout` exits with [`PARTIAL_EXIT`].
#[derive(Debug, thiserror::Error)]
#[error("partial result: missing node(s) {}", nodes.join(", "))]
pub struct Partial {
    pub nodes: Vec<String>,
}

/// The exit status of a partial result (documented in the README and docs/hub.md).
pub const PARTIAL_EXIT: i32 = 3;

/// The process exit status for an error: [`PARTIAL_EXIT`] for a partial result
/// (its warning is already printed), 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<Partial>().is_some() {
        PARTIAL_EXIT
    } else {
        1
    }
}

/// `lookout streams`: one line per container log stream.
pub async fn streams(g: &Global) -> anyhow::Result<()> {
    let mut conn = connect(g).await?;
    let id = conn.next_id();
    let mut streams = match conn
        .request(&ClientMsg::Streams { id, watch: false })
        .await?
    {
        ServerMsg::Streams { streams, .. } => streams,
        other => return Err(unexpected(other)),
    };
    conn.close().await;
    streams.sort_by(|a, b| {
        let (a, b) = (&a.source, &b.source);
        (&a.namespace, &a.pod, &a.container, a.restart).cmp(&(
            &b.namespace,
            &b.pod,
            &b.container,
            b.restart,
        ))
    });
    let mut out = Out::new();
    if g.json {
        for s in &streams {
            if !out.json(s)? {
                return Ok(());
            }
        }
    } else {
        for l in format::streams_table(&streams) {
            if !out.line(&l)? {
                return Ok(());
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `lookout rules …`.
pub async fn rules(g: &Global, cmd: RulesCmd) -> anyhow::Result<()> {
    let mut out = Out::new();
    match cmd {
        RulesCmd::List => {
            let mut conn = connect(g).await?;
            let id = conn.next_id();
            let rules = match conn.request(&ClientMsg::ListRules { id }).await? {
                ServerMsg::Rules { rules, .. } => rules,
                other => return Err(unexpected(other)),
            };
            conn.close().await;
            if g.json {
                for r in &rules {
                    out.json(r)?;
                }
            } else {
                for l in format::rules_table(&rules) {
                    out.line(&l)?;
                }
            }
        }
        RulesCmd::Get { name } => {
            let mut conn = connect(g).await?;
            let id = conn.next_id();
            let rule = match conn.request(&ClientMsg::GetRule { id, name }).await? {
                ServerMsg::Rule { rule, .. } => rule,
                other => return Err(unexpected(other)),
            };
            conn.close().await;
            if g.json {
                out.json(&rule)?;
            } else {
                out.line(lookout_shared::rules::rule_to_yaml(&rule.rule)?.trim_end())?;
                out.line(&format!("# state: {:?}", rule.state).to_lowercase())?;
                for a in &rule.alerts {
                    out.line(&format!("# {}", format::alert_line(a)))?;
                }
            }
        }
        RulesCmd::Apply { file } => {
            let rules = read_rules(&file)?;
            let mut conn = connect(g).await?;
            let mut failed = 0;
            for rule in rules {
                let id = conn.next_id();
                let name = rule.name.clone();
                let query = rule.query.clone();
                match conn.request(&ClientMsg::PutRule { id, rule }).await? {
                    ServerMsg::Rule { rule, .. } => {
                        if g.json {
                            out.json(&rule)?;
                        } else {
                            out.line(&format!("rule {name:?} applied"))?;
                        }
                    }
                    ServerMsg::Ok { .. } => {
                        if !g.json {
                            out.line(&format!("rule {name:?} applied"))?;
                        }
                    }
                    ServerMsg::Error { error, .. } => {
                        failed += 1;
                        let q = (error.field.as_deref() == Some("query")).then_some(&*query);
                        out.flush()?;
                        eprintln!("rule {name:?}: {}", server_error(&error, q));
                    }
                    other => return Err(unexpected(other)),
                }
            }
            conn.close().await;
            if failed > 0 {
                out.flush()?;
                bail!("{failed} rule(s) not applied");
            }
        }
        RulesCmd::Delete { name } => {
            let mut conn = connect(g).await?;
            let id = conn.next_id();
            match conn
                .request(&ClientMsg::DeleteRule {
                    id,
                    name: name.clone(),
                })
                .await?
            {
                ServerMsg::Ok { .. } => {
                    if !g.json {
                        out.line(&format!("rule {name:?} deleted"))?;
                    }
                }
                other => return Err(unexpected(other)),
            }
            conn.close().await;
        }
        RulesCmd::Test { file, since } => {
            parse_duration(&since).context("--since")?;
            let rules = read_rules(&file)?;
            let mut conn = connect(g).await?;
            let mut failed = 0;
            for rule in rules {
                let id = conn.next_id();
                let name = rule.name.clone();
                let query = rule.query.clone();
                let msg = ClientMsg::TestRule {
                    id,
                    rule,
                    range: TimeRange {
                        since: Some(since.clone()),
                        ..Default::default()
                    },
                };
                match conn.request(&msg).await? {
                    ServerMsg::RuleTest { result, .. } => {
                        if g.json {
                            #[derive(Serialize)]
                            struct Named<'a, T> {
                                rule: &'a str,
                                #[serde(flatten)]
                                result: T,
                            }
                            out.json(&Named {
                                rule: &name,
                                result: &result,
                            })?;
                        } else {
                            out.line(&format::test_line(&name, &since, &result))?;
                        }
                    }
                    ServerMsg::Error { error, .. } => {
                        failed += 1;
                        let q = (error.field.as_deref() == Some("query")).then_some(&*query);
                        out.flush()?;
                        eprintln!("rule {name:?}: {}", server_error(&error, q));
                    }
                    other => return Err(unexpected(other)),
                }
            }
            conn.close().await;
            if failed > 0 {
                out.flush()?;
                bail!("{failed} rule(s) invalid");
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn read_rules(file: &PathBuf) -> anyhow::Result<Vec<RuleSpec>> {
    use std::io::Read;
    // One byte past the limit is enough for `parse_rules` to refuse the file with its
    // size, without reading all of a huge one.
    let limit = lookout_shared::rules::MAX_RULES_BYTES as u64 + 1;
    let mut text = String::new();
    if file.as_os_str() == "-" {
        io::stdin()
            .take(limit)
            .read_to_string(&mut text)
            .context("reading rules from stdin")?;
    } else {
        std::fs::File::open(file)
            .and_then(|f| f.take(limit).read_to_string(&mut text))
            .with_context(|| format!("reading {}", file.display()))?;
    }
    parse_rules(&text).with_context(|| format!("in {}", file.display()))
}
