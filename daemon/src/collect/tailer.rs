//! One open file being read: chunked reads at our own offset (`pread`), line
//! splitting, format detection, CRI/docker chunk joining, truncation of over-long
//! lines, and the state a restart needs.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookout_shared::{LogEntry, Stream, Timestamp};

use super::batch::Room;
use super::contain::{LogRoot, OpenError};
use super::fds::{is_exhaustion, Fds, TrackedFile};
use super::layout::FileMeta;
use super::parse::{parse_cri, parse_docker};
use super::positions::{
    fingerprint_of, FileKey, FilePosition, Format, PendingPartial, FINGERPRINT_MAX,
};

/// Bytes asked of the kernel per read.
pub const CHUNK: usize = 256 * 1024;

/// Appended to a message cut at the size limit.
pub const TRUNCATED_MARKER: &str = " [truncated]";

/// Room for a CRI/docker header on top of the message size limit.
const HEADER_SLACK: usize = 256;
/// Most buffer a tailer keeps while idle (a partial line usually fits).
const IDLE_BUFFER: usize = 4096;

/// What every tailer needs to build entries.
pub struct TailCtx {
    pub node: String,
    pub max_line: usize,
    /// Lines not valid in their file's format (kept raw).
    pub bad_lines: Arc<AtomicU64>,
    /// Lines cut at the size limit.
    pub truncated_lines: Arc<AtomicU64>,
    /// The same two counts, exported as Prometheus metrics when the daemon runs.
    pub metrics: Option<super::CollectMetrics>,
    /// Where a closed tailer's file may be reopened (checked as at first open).
    pub root: LogRoot,
    /// The fds tailers hold, and their budget.
    pub fds: Arc<Fds>,
}

struct Pending {
    p: PendingPartial,
    since: Instant,
}

/// Why [`Tailer::read`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Everything the file holds now was consumed (a trailing line without `\n`
    /// stays buffered).
    Eof,
    /// The batch is full: send it and call again.
    Full,
}

/// A followed file.
pub struct Tailer {
    pub key: FileKey,
    /// `None` while closed (idle, or over the fd budget): every other field is
    /// kept, and the file is reopened by identity when it grows.
    file: Option<TrackedFile>,
    pub path: PathBuf,
    pub meta: Arc<FileMeta>,
    /// Sits at its live name (`X.log`), so writers append to it.
    pub live: bool,
    /// Stream identity within its directory (`X` of `X.log`).
    pub stem: String,
    offset: u64,
    buf: Vec<u8>,
    format: Option<Format>,
    partials: [Option<Pending>; 2],
    skipping: bool,
    fp_len: u32,
    fingerprint: u64,
    /// Changed since the last position update was taken.
    pub dirty: bool,
    /// Last time data arrived.
    pub last_data: Instant,
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Tailer {
    /// Starts following `file` at `offset` with fresh parser state.
    pub fn new(
        key: FileKey,
        file: TrackedFile,
        path: PathBuf,
        meta: Arc<FileMeta>,
        stem: String,
        live: bool,
        offset: u64,
    ) -> Self {
        let mut t = Tailer {
            key,
            file: Some(file),
            path,
            meta,
            live,
            stem,
            offset,
            buf: Vec::new(),
            format: None,
            partials: [None, None],
            skipping: false,
            fp_len: 0,
            fingerprint: 0,
            dirty: true,
            last_data: Instant::now(),
        };
        t.refresh_fingerprint();
        t
    }

    /// Resumes from a stored position (already checked against this file).
    pub fn resume(
        pos: &FilePosition,
        file: TrackedFile,
        path: PathBuf,
        meta: Arc<FileMeta>,
        stem: String,
        live: bool,
    ) -> Self {
        let mut t = Tailer::new(pos.key, file, path, meta, stem, live, pos.offset);
        t.format = pos.format;
        t.skipping = pos.skipping;
        let now = Instant::now();
        for p in &pos.partials {
            t.partials[slot(p.stream)] = Some(Pending {
                p: p.clone(),
                since: now,
            });
        }
        t
    }

    /// Offset just after the last consumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Recomputes the fingerprint while the file is still shorter than its span.
    fn refresh_fingerprint(&mut self) {
        if self.fp_len >= FINGERPRINT_MAX {
            return;
        }
        let Some(file) = &self.file else { return };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let len = size.min(u64::from(FINGERPRINT_MAX)) as u32;
        if len > self.fp_len {
            if let Some(fp) = fingerprint_of(file, len) {
                self.fp_len = len;
                self.fingerprint = fp;
            }
        }
    }

    /// The state to persist for this file.
    pub fn position(&self) -> FilePosition {
        FilePosition {
            key: self.key,
            fp_len: self.fp_len,
            fingerprint: self.fingerprint,
            path: self.path.clone(),
            offset: self.offset,
            format: self.format,
            partials: self
                .partials
                .iter()
                .flatten()
                .map(|p| p.p.clone())
                .collect(),
            skipping: self.skipping,
        }
    }

    /// The inode's metadata: through the fd, or, while closed, at its path if
    /// the path still names it (else `None`: gone, as far as we can tell).
    fn stat(&self) -> Option<Metadata> {
        match &self.file {
            Some(f) => f.metadata().ok(),
            None => std::fs::symlink_metadata(&self.path)
                .ok()
                .filter(|m| m.dev() == self.key.dev && m.ino() == self.key.ino),
        }
    }

    /// Links to the inode (0 once deleted).
    pub fn nlink(&self) -> u64 {
        self.stat().map(|m| m.nlink()).unwrap_or(0)
    }

    /// Current size of the inode.
    pub fn size(&self) -> u64 {
        self.stat().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the fd is open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Closes the fd, keeping everything else ([`Tailer::read_with`] reopens).
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Reopens a closed tailer's file if it changed size; `false` if it stays
    /// closed (nothing new, gone, refused, or out of fds: tried again on its next
    /// event or rescan).
    fn reopen(&mut self, ctx: &TailCtx, out: &mut Vec<LogEntry>) -> bool {
        let Some(md) = self.stat() else {
            return false;
        };
        if md.len() == self.offset + self.buf.len() as u64 {
            return false;
        }
        let file = match ctx.root.open(&self.path, self.key) {
            Ok(f) => f,
            Err(OpenError::Io(e)) if is_exhaustion(&e) => {
                ctx.fds.exhausted(&e);
                return false;
            }
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = ?e, "cannot reopen");
                return false;
            }
        };
        // The same file, not a new one that got the inode of a deleted one?
        let same = self.fp_len == 0 || fingerprint_of(&file, self.fp_len) == Some(self.fingerprint);
        self.file = Some(ctx.fds.track(file));
        if !same {
            tracing::debug!(path = %self.path.display(), "inode reused while closed: reading from the start");
            self.restart(ctx, out);
        }
        true
    }

    /// The file starts over (copytruncate, or a reused inode): what was buffered
    /// is emitted, and reading resumes at 0.
    fn restart(&mut self, ctx: &TailCtx, out: &mut Vec<LogEntry>) {
        self.flush_tail(ctx, out, Timestamp::now());
        self.offset = 0;
        self.buf.clear();
        self.skipping = false;
        self.fp_len = 0;
        self.refresh_fingerprint();
        self.dirty = true;
    }

    /// Bytes read but not yet consumed (an incomplete last line).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a logical line is waiting for its continuation.
    pub fn has_partials(&self) -> bool {
        self.partials.iter().any(Option::is_some)
    }

    /// Reads and parses until EOF or until `room` says `out` is full.
    pub fn read(
        &mut self,
        ctx: &TailCtx,
        out: &mut Vec<LogEntry>,
        room: &mut Room,
    ) -> io::Result<ReadOutcome> {
        let now = Timestamp::now();
        loop {
            if !self.consume(ctx, out, room, now) {
                return Ok(ReadOutcome::Full);
            }
            if self.buf.len() >= ctx.max_line + HEADER_SLACK {
                let before = out.len();
                self.cut_overlong(ctx, out, now);
                room.count(&out[before..]);
                if room.is_full(out) {
                    return Ok(ReadOutcome::Full);
                }
            }
            let start = self.buf.len();
            self.buf.resize(start + CHUNK, 0);
            let at = self.offset + start as u64;
            let Some(file) = &self.file else {
                self.buf.truncate(start);
                return Ok(ReadOutcome::Eof);
            };
            let n = loop {
                match file.read_at(&mut self.buf[start..], at) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(start);
                        return Err(e);
                    }
                }
            };
            self.buf.truncate(start + n);
            if n == 0 {
                let size = self.size();
                if size < at {
                    // copytruncate: what we had buffered is no longer there; the
                    // file starts over.
                    self.restart(ctx, out);
                    if size == 0 {
                        return Ok(ReadOutcome::Eof);
                    }
                    continue;
                }
                return Ok(ReadOutcome::Eof);
            }
            self.last_data = Instant::now();
            if self.fp_len < FINGERPRINT_MAX {
                self.refresh_fingerprint();
            }
        }
    }

    /// [`Tailer::read`] through the calling thread's `scratch` buffer: the file's
    /// unfinished line moves into it, the read happens there, and what is left
    /// unfinished moves back. A tailer thus holds only its partial line between
    /// reads, not a 256 KiB chunk: per-tailer chunks cost ~0.3 MiB per followed file
    /// (1.5 GiB at 5,000 files), and freeing them after each read still left the
    /// heap fragmented.
    pub fn read_with(
        &mut self,
        scratch: &mut Vec<u8>,
        ctx: &TailCtx,
        out: &mut Vec<LogEntry>,
        room: &mut Room,
    ) -> io::Result<ReadOutcome> {
        if self.file.is_none() && !self.reopen(ctx, out) {
            return Ok(ReadOutcome::Eof);
        }
        scratch.clear();
        scratch.extend_from_slice(&self.buf);
        std::mem::swap(&mut self.buf, scratch);
        let r = self.read(ctx, out, room);
        // Over the fd budget: a live file read to its end gives its fd back.
        if self.live && matches!(r, Ok(ReadOutcome::Eof)) && ctx.fds.over_budget() {
            self.close();
        }
        let mut own = std::mem::take(scratch);
        own.clear();
        own.extend_from_slice(&self.buf);
        if own.capacity() > IDLE_BUFFER.max(own.len() * 2) {
            own.shrink_to(own.len().max(IDLE_BUFFER / 2));
        }
        *scratch = std::mem::replace(&mut self.buf, own);
        r
    }

    /// Consumes every complete line in the buffer; `false` when `out` filled up.
    fn consume(
        &mut self,
        ctx: &TailCtx,
        out: &mut Vec<LogEntry>,
        room: &mut Room,
        now: Timestamp,
    ) -> bool {
        if room.is_full(out) {
            return false;
        }
        let buf = std::mem::take(&mut self.buf);
        let mut pos = 0usize;
        let mut full = false;
        while let Some(i) = memchr::memchr(b'\n', &buf[pos..]) {
            let line = &buf[pos..pos + i];
            pos += i + 1;
            if self.skipping {
                self.skipping = false;
            } else {
                let before = out.len();
                self.line(ctx, line, false, out, now);
                room.count(&out[before..]);
            }
            if room.is_full(out) {
                full = true;
                break;
            }
        }
        self.buf = buf;
        if pos > 0 {
            self.buf.drain(..pos);
            self.offset += pos as u64;
            self.dirty = true;
        }
        !full
    }

    /// A line longer than the limit with no end in sight: emit its head and skip
    /// the rest up to its `\n`, so the file keeps flowing with bounded memory.
    fn cut_overlong(&mut self, ctx: &TailCtx, out: &mut Vec<LogEntry>, now: Timestamp) {
        let buf = std::mem::take(&mut self.buf);
        if !self.skipping {
            self.line(ctx, &buf, true, out, now);
        }
        self.offset += buf.len() as u64;
        self.skipping = true;
        self.dirty = true;
        self.buf = buf;
        self.buf.clear();
    }

    /// Handles one raw line (without `\n`).
    fn line(
        &mut self,
        ctx: &TailCtx,
        line: &[u8],
        cut: bool,
        out: &mut Vec<LogEntry>,
        now: Timestamp,
    ) {
        if self.format.is_none() {
            self.format = if parse_cri(line).is_some() {
                Some(Format::Cri)
            } else if parse_docker(line).is_some() {
                Some(Format::Docker)
            } else if !self.meta.kubelet {
                Some(Format::Plain)
            } else {
                None
            };
        }
        match self.format {
            Some(Format::Cri) => match parse_cri(line) {
                Some(c) => self.chunk(ctx, c.stream, c.ts, c.text, c.partial, cut, out),
                None => self.raw(ctx, line, cut, out, now),
            },
            Some(Format::Docker) => match parse_docker(line) {
                Some(d) => self.chunk(
                    ctx,
                    d.stream,
                    d.ts.unwrap_or(now),
                    d.text.as_bytes(),
                    d.partial && !cut,
                    cut,
                    out,
                ),
                None => self.raw(ctx, line, cut, out, now),
            },
            Some(Format::Plain) => self.emit(ctx, now, Stream::Stdout, line, cut, out),
            None => self.raw(ctx, line, cut, out, now),
        }
    }

    /// A line that is not valid in its file's format: kept whole, and counted.
    fn raw(
        &mut self,
        ctx: &TailCtx,
        line: &[u8],
        cut: bool,
        out: &mut Vec<LogEntry>,
        now: Timestamp,
    ) {
        ctx.bad_lines.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &ctx.metrics {
            m.parse_errors.inc();
        }
        self.emit(ctx, now, Stream::Stdout, line, cut, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn chunk(
        &mut self,
        ctx: &TailCtx,
        stream: Stream,
        ts: Timestamp,
        text: &[u8],
        partial: bool,
        cut: bool,
        out: &mut Vec<LogEntry>,
    ) {
        let s = slot(stream);
        match self.partials[s].take() {
            None if !partial => self.emit(ctx, ts, stream, text, cut, out),
            None => {
                let keep = text.len().min(ctx.max_line);
                self.partials[s] = Some(Pending {
                    p: PendingPartial {
                        stream,
                        ts,
                        bytes: text[..keep].to_vec(),
                        truncated: cut || keep < text.len(),
                    },
                    since: Instant::now(),
                });
            }
            Some(mut pend) => {
                let room = ctx.max_line.saturating_sub(pend.p.bytes.len());
                let keep = text.len().min(room);
                pend.p.bytes.extend_from_slice(&text[..keep]);
                pend.p.truncated |= cut || keep < text.len();
                if partial {
                    self.partials[s] = Some(pend);
                } else {
                    let p = pend.p;
                    self.emit(ctx, p.ts, p.stream, &p.bytes, p.truncated, out);
                }
            }
        }
    }

    fn emit(
        &self,
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
        out.push(LogEntry {
            ts,
            node: ctx.node.clone(),
            source: self.meta.source.clone(),
            stream,
            message,
            level: None,
            seq: 0,
            lines: 1,
            fields: Default::default(),
            pattern: None,
        });
    }

    /// Emits partial lines that waited longer than `timeout` (a container that
    /// died mid-line never writes the closing `F`).
    pub fn flush_stale(&mut self, ctx: &TailCtx, timeout: Duration, out: &mut Vec<LogEntry>) {
        for s in 0..2 {
            if self.partials[s]
                .as_ref()
                .is_some_and(|p| p.since.elapsed() >= timeout)
            {
                if let Some(pend) = self.partials[s].take() {
                    let p = pend.p;
                    self.emit(ctx, p.ts, p.stream, &p.bytes, p.truncated, out);
                    self.dirty = true;
                }
            }
        }
    }

    /// The earliest instant a pending partial becomes stale.
    pub fn partial_deadline(&self, timeout: Duration) -> Option<Instant> {
        self.partials
            .iter()
            .flatten()
            .map(|p| p.since + timeout)
            .min()
    }

    /// The file is finished (deleted or truncated): emit the unterminated last
    /// line and every pending partial.
    pub fn flush_tail(&mut self, ctx: &TailCtx, out: &mut Vec<LogEntry>, now: Timestamp) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            if !self.skipping {
                self.line(ctx, &buf, false, out, now);
            }
            self.offset += buf.len() as u64;
            self.skipping = false;
        }
        for s in 0..2 {
            if let Some(pend) = self.partials[s].take() {
                let p = pend.p;
                self.emit(ctx, p.ts, p.stream, &p.bytes, p.truncated, out);
            }
        }
        self.dirty = true;
    }
}
