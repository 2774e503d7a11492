//! The tailer's side of multi-line events: each complete line becomes text and
//! goes through the stream's [`multiline`] assembler, whose open events are held
//! here (one per stream) until a line that does not continue them, or the hold
//! time, closes them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lookout_shared::{LogEntry, Stream, Timestamp};

use super::super::multiline::{self, Event, OpenEvent};
use super::super::MultilineConfig;
use super::{slot, TailCtx, Tailer, TRUNCATED_MARKER};

/// The open events of one file's two streams.
#[derive(Debug, Default)]
pub(super) struct Events {
    /// Multi-line assembly applies to this file (`--multiline auto` and the
    /// stream not excluded); decided on its first line.
    enabled: Option<bool>,
    /// Per stream: the open event and when it was opened (the hold counts from
    /// there, so a lone line waits at most the hold time).
    open: [Option<(OpenEvent, Instant)>; 2],
    /// Reused for the events one line closes (usually one).
    scratch: Vec<Event>,
}

impl Events {
    /// The open events, for the file's position.
    pub(super) fn persisted(&self) -> Vec<OpenEvent> {
        self.open.iter().flatten().map(|(e, _)| e.clone()).collect()
    }

    /// Reopens events stored in a position; their hold starts over now.
    pub(super) fn restore(&mut self, stored: &[OpenEvent]) {
        let now = Instant::now();
        for e in stored {
            self.open[slot(e.stream)] = Some((e.clone(), now));
        }
    }

    pub(super) fn any_open(&self) -> bool {
        self.open.iter().any(Option::is_some)
    }

    /// When the earliest open event's hold ends.
    pub(super) fn deadline(&self, hold: Duration) -> Option<Instant> {
        self.open.iter().flatten().map(|(_, t)| *t + hold).min()
    }
}

/// Whether `--multiline` applies to a stream of `namespace` and `pod`.
fn enabled_for(cfg: &MultilineConfig, namespace: &str, pod: &str) -> bool {
    cfg.enabled
        && !cfg.exclude.iter().any(|pat| match pat.split_once('/') {
            Some((ns, p)) => glob(ns, namespace) && glob(p, pod),
            None => glob(pat, namespace),
        })
}

/// `*` matches any run of characters, everything else itself. Linear in
/// practice: the classic greedy matcher backtracking only to the last `*`.
fn glob(pat: &str, s: &str) -> bool {
    let (p, s) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl Tailer {
    /// One complete line of `stream` (raw bytes, `cut` when over the size limit):
    /// decoded, then held in its stream's open event or emitted.
    pub(super) fn emit(
        &mut self,
        ctx: &TailCtx,
        ts: Timestamp,
        stream: Stream,
        text: &[u8],
        cut: bool,
        out: &mut Vec<LogEntry>,
    ) {
        let mut text = text;
        let mut cut = cut;
        if text.len() > ctx.max_line {
            text = &text[..ctx.max_line];
            cut = true;
        } else if let Some(t) = text.strip_suffix(b"\r") {
            text = t;
        }
        // `from_utf8` validates ASCII a word at a time; the lossy decoder walks
        // every byte, so it only runs on text that is not valid UTF-8.
        let mut message = match std::str::from_utf8(text) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(text).into_owned(),
        };
        if cut {
            ctx.truncated_lines.fetch_add(1, Ordering::Relaxed);
            if let Some(m) = &ctx.metrics {
                m.truncated_lines.inc();
            }
            message.push_str(TRUNCATED_MARKER);
        }
        let source = &self.meta.source;
        let enabled = *self
            .events
            .enabled
            .get_or_insert_with(|| enabled_for(&ctx.multiline, &source.namespace, &source.pod));
        if !enabled {
            out.push(self.entry(ctx, ts, stream, message, 1));
            return;
        }
        let s = slot(stream);
        let mut scratch = std::mem::take(&mut self.events.scratch);
        let mut open = self.events.open[s].take();
        let since = open.as_ref().map(|(_, t)| *t);
        let mut ev = open.take().map(|(e, _)| e);
        if cut {
            // A truncated line stands alone: it is already as long as an event may be.
            multiline::flush(&mut ev, &mut scratch);
            scratch.push(Event {
                ts,
                stream,
                message,
                lines: 1,
            });
        } else {
            let had = ev.is_some();
            multiline::push(
                &mut ev,
                ctx.multiline.limits(ctx.max_line),
                ts,
                stream,
                message,
                &mut scratch,
            );
            // Still the same event (nothing closed): its hold keeps running.
            let same = had && scratch.is_empty();
            let t = match since {
                Some(t) if same => t,
                _ => Instant::now(),
            };
            self.events.open[s] = ev.map(|e| (e, t));
        }
        for e in scratch.drain(..) {
            out.push(self.entry(ctx, e.ts, e.stream, e.message, e.lines));
        }
        self.events.scratch = scratch;
    }

    /// Closes open events opened at least `hold` ago (`None`: all of them).
    pub(super) fn close_events(
        &mut self,
        ctx: &TailCtx,
        hold: Option<Duration>,
        out: &mut Vec<LogEntry>,
    ) {
        for s in 0..2 {
            let due = self.events.open[s]
                .as_ref()
                .is_some_and(|(_, t)| hold.is_none_or(|h| t.elapsed() >= h));
            if !due {
                continue;
            }
            let mut ev = self.events.open[s].take().map(|(e, _)| e);
            let mut scratch = std::mem::take(&mut self.events.scratch);
            multiline::flush(&mut ev, &mut scratch);
            for e in scratch.drain(..) {
                out.push(self.entry(ctx, e.ts, e.stream, e.message, e.lines));
            }
            self.events.scratch = scratch;
            self.dirty = true;
        }
    }

    fn entry(
        &self,
        ctx: &TailCtx,
        ts: Timestamp,
        stream: Stream,
        message: String,
        lines: u32,
    ) -> LogEntry {
        LogEntry {
            ts,
            node: ctx.node.clone(),
            source: self.meta.source.clone(),
            stream,
            message,
            level: None,
            seq: 0,
            lines,
            fields: Default::default(),
            pattern: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("kube-system", "kube-system"));
        assert!(!glob("kube-system", "kube-systems"));
        assert!(glob("kube-*", "kube-public"));
        assert!(glob("*", ""));
        assert!(glob("*-canary-*", "checkout-canary-7d9f"));
        assert!(!glob("*-canary-*", "checkout-7d9f"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }
}
