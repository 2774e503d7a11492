//! The history preview behind `lookout rules test`: a count rule replayed over
//! per-bucket counts from the index, as the live evaluator would have run it.

use std::time::Duration;

use lookout_shared::histogram::{round_width, weeks_width, Bars};
use lookout_shared::protocol::{AlertState, RuleTestResult};
use lookout_shared::rules::{Condition, RuleKind};
use lookout_shared::Timestamp;

use super::eval::{dur_nanos, sec_of, NANOS};
use super::rules::CompiledRule;

/// Most buckets a preview asks the index for.
pub const MAX_PREVIEW_BUCKETS: i64 = 3000;

/// Replays a rule over `[from, until)` from per-bucket counts, as the live
/// evaluator would have run it every `step` (the preview behind `lookout rules test`).
///
/// `counts(from, until, width)` must return the matches per `width` bucket over
/// `[from, until)`, oldest first (what `Index::histogram` gives). The step is the
/// smallest round width keeping the number of buckets under [`MAX_PREVIEW_BUCKETS`]
/// (`preview_step`); when it does not divide the window the window is rounded up
/// to a whole number of steps. Groups are not separated: a `group_by`
/// rule is previewed on its total.
pub fn preview<E>(
    rule: &CompiledRule,
    from: Timestamp,
    until: Timestamp,
    counts: impl FnOnce(Timestamp, Timestamp, Duration) -> Result<Vec<u64>, E>,
) -> Result<RuleTestResult, E> {
    let w = rule.window_secs();
    let start = sec_of(from);
    let end = sec_of(until).max(start + 1);
    let step = preview_step(w, (end - start + w) as i128 * NANOS as i128);
    let wb = (w + step - 1) / step; // window in buckets
    let first = start - wb * step; // first bucket start
    let nb = ((end - first) + step - 1) / step;
    let buckets = counts(
        Timestamp(first.saturating_mul(NANOS)),
        Timestamp((first + nb * step).saturating_mul(NANOS)),
        Duration::from_secs(step as u64),
    )?;
    // A novelty rule has no count to replay; [`super::AlertEngine::test`] refuses
    // it before it gets here, and here it never holds.
    let condition = match rule.kind {
        RuleKind::Count(c) => Some(c),
        RuleKind::NewPattern => None,
    };
    let for_ = dur_nanos(rule.for_);
    let mut res = RuleTestResult::default();
    let mut series = Vec::new();
    let mut state = AlertState::Inactive;
    let mut cond_since = 0i64;
    let mut sum: u64 = buckets.iter().take(wb as usize).sum();
    // Evaluate at the end of each bucket from `start` on.
    for i in wb..nb {
        let t = first + (i + 1) * step; // evaluation second
        sum += buckets.get(i as usize).copied().unwrap_or(0);
        sum = sum.saturating_sub(buckets.get((i - wb) as usize).copied().unwrap_or(0));
        res.peak = res.peak.max(sum);
        series.push(sum);
        let cond = condition.is_some_and(|c: Condition| c.holds(sum));
        let t_ns = t.saturating_mul(NANOS);
        let prev = state;
        state = match (prev, cond) {
            (AlertState::Firing, true) => AlertState::Firing,
            (AlertState::Pending, true) if t_ns - cond_since >= for_ => AlertState::Firing,
            (AlertState::Pending, true) => AlertState::Pending,
            (_, true) if for_ == 0 => AlertState::Firing,
            (_, true) => {
                cond_since = t_ns;
                AlertState::Pending
            }
            (_, false) => AlertState::Inactive,
        };
        if state == AlertState::Firing && prev != AlertState::Firing {
            res.fired += 1;
            res.last_fired = Some(Timestamp(t_ns));
        }
    }
    // One bar per evaluation: bar `i` ends at the `i`-th evaluation second.
    let bars = Bars::new(start.saturating_mul(NANOS), step * NANOS, series.len());
    res.histogram = Some(bars.histogram(series));
    Ok(res)
}

/// The preview's step in seconds for a replay of `span` nanoseconds with a window of
/// `window` seconds: the smallest round width (the search histogram's, from
/// [`lookout_shared::histogram`]) of whole seconds keeping the buckets under
/// [`MAX_PREVIEW_BUCKETS`], one that divides the window if any does, so that a window
/// is a whole number of buckets.
fn preview_step(window: i64, span: i128) -> i64 {
    let secs = |w: i64| w >= NANOS && w % NANOS == 0;
    let width = round_width(span, MAX_PREVIEW_BUCKETS, |w| {
        secs(w) && (window * NANOS) % w == 0
    })
    .or_else(|| round_width(span, MAX_PREVIEW_BUCKETS, secs))
    .unwrap_or_else(|| weeks_width(span, MAX_PREVIEW_BUCKETS));
    width / NANOS
}
