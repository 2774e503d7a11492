//! `lookout patterns`: the kinds of lines among the stored matches of a query.

use clap::Args;
use lookout_shared::protocol::{ClientMsg, PatternSummary, PatternsParams, ServerMsg};

use super::{connect, server_error, time_range, unexpected, Global, Out};

#[derive(Debug, Args)]
pub struct PatternsArgs {
    /// Query language; empty or `*` takes every event.
    pub query: Option<String>,
    /// How far back from now, e.g. `15m`, `24h`, `7d`.
    #[arg(long, conflicts_with = "from", default_value = "1h")]
    pub since: Option<String>,
    /// Start (inclusive), RFC 3339.
    #[arg(long)]
    pub from: Option<String>,
    /// End (exclusive), RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// Only the patterns first seen inside the range.
    #[arg(long)]
    pub new: bool,
    /// Most patterns to list (the daemon serves at most 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// Lists the patterns, most frequent first: one JSON object each with `--json`,
/// otherwise a table (count, trend, first seen, id, template) and a summary line on
/// stderr.
pub async fn patterns(g: &Global, a: PatternsArgs) -> anyhow::Result<()> {
    let since = if a.from.is_some() {
        None
    } else {
        a.since.as_deref()
    };
    let range = time_range(since, a.from.as_deref(), a.until.as_deref())?;
    let query = a.query.unwrap_or_default();
    let mut conn = connect(g).await?;
    let id = conn.next_id();
    let msg = ClientMsg::Patterns {
        id,
        params: PatternsParams {
            query: query.clone(),
            range,
            new_only: a.new,
            limit: a.limit,
        },
    };
    let result = match conn.request(&msg).await? {
        ServerMsg::Patterns { result, .. } => result,
        ServerMsg::Error { error, .. } => return Err(server_error(&error, Some(&query))),
        other => return Err(unexpected(other)),
    };
    conn.close().await;
    let mut out = Out::new();
    for p in &result.patterns {
        let ok = if g.json {
            out.json(p)?
        } else {
            out.line(&row(p))?
        };
        if !ok {
            return Ok(());
        }
    }
    out.flush()?;
    if !g.json {
        eprintln!(
            "{} of {} patterns, {} matching events",
            result.patterns.len(),
            result.distinct,
            result.total
        );
    }
    Ok(())
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `counts`, scaled to its largest bar; an empty bar is a space.
pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                ' '
            } else {
                // 1..=8 eighths of the largest, so the smallest non-zero bar is ▁.
                let i = ((c * 8).div_ceil(max)) as usize;
                BARS[i.clamp(1, 8) - 1]
            }
        })
        .collect()
}

/// One table row: count, trend, first seen (UTC, seconds), new mark, id, template.
pub fn row(p: &PatternSummary) -> String {
    let first = p.first_seen.to_datetime().format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        "{:>8}  {}  {}  {}  {}  {}",
        p.count,
        sparkline(&p.sparkline),
        first,
        if p.new { "NEW" } else { "   " },
        p.id,
        p.template
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_bar() {
        assert_eq!(sparkline(&[0, 1, 7, 14]), " ▁▄█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0, 0]), "  ");
    }
}
