//! Changing the tail filter without losing the scrollback.
//!
//! The filter used to be only the subscription's: each change re-subscribed with a
//! 500-line backfill and emptied the ring, so clearing `pod:ledger-0` left about
//! 5 s of a 10,000-line history. Now the ring keeps every line it has; the filter
//! is also evaluated here, on the lines already held (with the daemon's own
//! matcher, `lookout_shared::query::Matches`), hiding those that do not match,
//! and the subscription changes for what comes next, resuming after the newest
//! line held so nothing is repeated or skipped. Clearing the filter shows every
//! line the ring kept.
//!
//! A filter that does not parse never leaves the prompt (the error shows under it
//! with a caret) and the old one keeps running. One the daemon refuses all the
//! same puts the old filter back; the pane's title then says so, never
//! "following".

use std::collections::VecDeque;

use lookout_shared::protocol::{ClientMsg, Cursor, ErrorBody, ErrorCode};
use lookout_shared::query::{Matches, Query, QueryError};

use super::{Log, Tail, TailLine, BACKFILL};
use crate::app::{Effect, Outbox};

/// Whether each line passes the view's filter, beside the ring (the same length).
/// Worked out once per line, as it arrives or when the filter changes, since the
/// pane asks for every line it walks past on every frame.
#[derive(Debug, Default)]
pub struct Passes(VecDeque<bool>);

impl Log {
    /// Whether `l` passes the view's filter (notices and drop markers always do).
    pub(super) fn passes(&self, l: &TailLine) -> bool {
        match (&self.view_filter, l) {
            (Some(q), TailLine::Entry(e)) => q.matches(e),
            _ => true,
        }
    }

    /// Records whether a line just pushed passes.
    pub(super) fn note_pushed(&mut self, pass: bool) {
        self.passes.0.push_back(pass);
    }

    /// Forgets the oldest line's entry (evicted).
    pub(super) fn note_evicted(&mut self) {
        self.passes.0.pop_front();
    }

    pub(super) fn clear_passes(&mut self) {
        self.passes.0.clear();
    }

    /// Whether line `i` passes the view's filter.
    pub(super) fn passes_at(&self, i: usize) -> bool {
        self.passes.0.get(i).copied().unwrap_or(false)
    }

    /// Whether anything can be hidden (a filter or a minimum level), so that
    /// stepping through the view must look at each line.
    pub(super) fn hides(&self) -> bool {
        self.min_level.is_some() || self.view_filter.is_some()
    }

    /// Filters the lines held by `q` (`None`: show all); the cursor, if any,
    /// moves to a line still shown.
    pub fn set_view_filter(&mut self, q: Option<Query>) {
        self.view_filter = q.filter(|q| !q.is_all());
        let passes = self.lines.iter().map(|l| self.passes(l)).collect();
        self.passes = Passes(passes);
        self.clamp_cursor();
    }
}

/// The daemon refused the subscription itself (as opposed to a warning about a
/// live one, such as history read only in part).
fn refuses(e: &ErrorBody) -> bool {
    matches!(
        e.code,
        ErrorCode::BadQuery | ErrorCode::BadRequest | ErrorCode::LimitExceeded
    )
}

impl Tail {
    /// The filter prompt's answer. A changed filter applies at once to the lines
    /// held and re-subscribes for new ones, keeping the scrollback. A filter that
    /// does not parse changes nothing and comes back as the error (the prompt
    /// stays open on it).
    pub fn set_filter(&mut self, text: &str, out: &mut Outbox) -> Result<(), QueryError> {
        let text = text.trim();
        if text == self.filter && self.refused.is_none() {
            return Ok(());
        }
        let q = Query::parse(text)?;
        let old = std::mem::replace(&mut self.filter, text.to_string());
        self.fallback = self.refused.is_none().then_some(old);
        self.refused = None;
        self.log.set_view_filter(Some(q));
        self.push([TailLine::Notice(if text.is_empty() {
            "filter cleared: every line kept shows again".to_string()
        } else {
            format!("filter: {text} (applied to the lines above too)")
        })]);
        self.resubscribe_keep(out);
        Ok(())
    }

    /// Replaces the subscription with one for the current selection and filter,
    /// keeping the lines held: it resumes after the newest entry (no repeat, no
    /// gap), or backfills when there is none yet.
    pub(super) fn resubscribe_keep(&mut self, out: &mut Outbox) {
        if let Some(sub) = self.sub.take() {
            out.send(|id| ClientMsg::Unsubscribe { id, sub });
        }
        let newest = self.log.lines.iter().rev().find_map(|l| match l {
            TailLine::Entry(e) => Some(Cursor::of(e)),
            _ => None,
        });
        let query = self.query();
        self.sub = Some(out.send(|id| ClientMsg::Subscribe {
            id,
            query,
            backfill: if newest.is_some() { 0 } else { BACKFILL },
            resume_after: newest,
        }));
    }

    /// The daemon refused the subscription: the old filter comes back (and its
    /// subscription), or with none to go back to the pane says it is refused.
    pub(super) fn on_refused(&mut self, error: &ErrorBody, out: &mut Outbox) -> Effect {
        if !refuses(error) {
            self.push([TailLine::Notice(format!("daemon: {}", error.message))]);
            return Effect::Say(format!("tail: {}", error.message));
        }
        let bad = self.filter.clone();
        self.push([TailLine::Notice(format!(
            "filter {bad:?} refused: {}",
            error.message
        ))]);
        match self.fallback.take() {
            Some(old) if old != bad => {
                let q = Query::parse(&old).ok();
                self.filter = old;
                self.log.set_view_filter(q);
                self.resubscribe_keep(out);
                Effect::Say(format!(
                    "filter refused: {}; the previous filter runs again",
                    error.message
                ))
            }
            _ => {
                self.sub = None;
                self.refused = Some(error.message.clone());
                Effect::Say(format!("filter refused: {}", error.message))
            }
        }
    }
}
