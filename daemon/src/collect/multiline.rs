//! Multi-line events: which physical lines of one stream continue the event
//! before them (stack traces, tracebacks, goroutine dumps, indented lines).
//!
//! Pure code over complete lines (CRI/docker partials are already joined). The
//! tailer holds one [`OpenEvent`] per stream (stdout and stderr apart, since the
//! runtime interleaves them in one file), persists it in positions so a restart
//! resumes it exactly, and closes it on the hold timer; this module only decides
//! what joins and builds the closed [`Event`]s.
//!
//! What joins (see docs/collector.md for examples):
//! - any line starting with a space or a tab (Java `\tat`, Node `    at`, Ruby
//!   `\tfrom`, .NET `   at … in file:line`, `\t... 3 more`, `\tSuppressed:`);
//! - `Caused by:`, `Suppressed:`, `... N more`, `--- End of …` (.NET), and a Java
//!   exception header (`java.lang.IllegalStateException: boom`, as logback prints
//!   it under the message);
//! - `Traceback (most recent call last):`, its indented frames, and the exception
//!   line that ends it (then only the chaining sentences and a new `Traceback`);
//! - inside a Go panic or goroutine dump: function lines (`main.main()`),
//!   `goroutine N [state]:` headers, `created by …`, `[signal …]`, and blank lines
//!   between them.
//!
//! What never joins: a JSON object line (it also never opens an event, so JSON
//! loggers pay no hold), and a truncated line. A blank line outside a Go dump or
//! a chained Python traceback is an entry of its own. A blank line inside one is
//! held tentatively: if nothing continues after it, it comes out as its own entry
//! again, so a trace never ends in an empty line it did not need.

use lookout_shared::{Stream, Timestamp};
use serde::{Deserialize, Serialize};

/// Appended to an event closed because it reached the byte or line cap: its next
/// line opens a new entry.
pub const SPLIT_MARKER: &str = " [continued]";

/// Default line cap: a deep JVM trace with three causes is ~300 lines; a Go dump
/// of a busy server can have thousands, and is cut into several entries.
pub const DEFAULT_MAX_LINES: u32 = 500;

/// The caps of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of message (the `--max-line-bytes` limit of a single line).
    pub max_bytes: usize,
    /// Most physical lines.
    pub max_lines: u32,
}

/// What kind of event is open: decides which lines may continue it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Any line; the general rules apply.
    #[default]
    Plain,
    /// Inside a Python traceback's frames, waiting for the exception line.
    Python,
    /// After a Python exception line: only chaining continues.
    PythonEnd,
    /// A Go panic or goroutine dump.
    Go,
}

/// An event still open on one stream; persisted in positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenEvent {
    pub stream: Stream,
    /// The first line's timestamp.
    pub ts: Timestamp,
    /// The lines so far, joined with `\n` (tentative blank lines not included).
    pub text: String,
    /// Physical lines in `text`.
    pub lines: u32,
    #[serde(default)]
    pub shape: Shape,
    /// Timestamps of blank lines after `text`, joined only if a continuation
    /// follows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blanks: Vec<Timestamp>,
}

/// A closed event, ready to become an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub ts: Timestamp,
    pub stream: Stream,
    pub message: String,
    pub lines: u32,
}

impl OpenEvent {
    fn start(ts: Timestamp, stream: Stream, line: String) -> Self {
        let shape = start_shape(&line);
        OpenEvent {
            stream,
            ts,
            text: line,
            lines: 1,
            shape,
            blanks: Vec::new(),
        }
    }

    /// Bytes a message would hold with `line` appended after the blanks.
    fn len_with(&self, line: &str) -> usize {
        self.text.len() + self.blanks.len() + 1 + line.len()
    }

    /// Closes the event: it, then its tentative blank lines as entries of their own.
    fn close(self, marker: bool, out: &mut Vec<Event>) {
        let stream = self.stream;
        let mut message = self.text;
        if marker {
            message.push_str(SPLIT_MARKER);
        }
        out.push(Event {
            ts: self.ts,
            stream,
            message,
            lines: self.lines,
        });
        for ts in self.blanks {
            out.push(Event {
                ts,
                stream,
                message: String::new(),
                lines: 1,
            });
        }
    }
}

/// Feeds one complete line of `stream` (its open event is `open`); events it
/// closes go to `out`, in stream order. The line itself may stay open.
pub fn push(
    open: &mut Option<OpenEvent>,
    limits: Limits,
    ts: Timestamp,
    stream: Stream,
    line: String,
    out: &mut Vec<Event>,
) {
    if let Some(mut ev) = open.take() {
        match continues(ev.shape, &line) {
            Some(Join::Blank)
                if ev.lines as usize + ev.blanks.len() < limits.max_lines as usize =>
            {
                ev.blanks.push(ts);
                *open = Some(ev);
                return;
            }
            Some(Join::Line(shape)) => {
                let fits = ev.lines as usize + ev.blanks.len() < limits.max_lines as usize
                    && ev.len_with(&line) <= limits.max_bytes;
                if fits {
                    for _ in ev.blanks.drain(..) {
                        ev.text.push('\n');
                        ev.lines += 1;
                    }
                    ev.text.push('\n');
                    ev.text.push_str(&line);
                    ev.lines += 1;
                    ev.shape = shape;
                    *open = Some(ev);
                    return;
                }
                ev.close(true, out);
            }
            Some(Join::Blank) => ev.close(true, out),
            None => ev.close(false, out),
        }
    }
    if line.is_empty() || is_json_object(&line) {
        out.push(Event {
            ts,
            stream,
            message: line,
            lines: 1,
        });
        return;
    }
    *open = Some(OpenEvent::start(ts, stream, line));
}

/// Closes the open event (hold expired, file finished, or a line that must stand
/// alone follows).
pub fn flush(open: &mut Option<OpenEvent>, out: &mut Vec<Event>) {
    if let Some(ev) = open.take() {
        ev.close(false, out);
    }
}

/// How a line continues an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Joins, and the event's shape becomes this.
    Line(Shape),
    /// A blank line held tentatively.
    Blank,
}

fn start_shape(line: &str) -> Shape {
    if line == PY_TRACEBACK {
        Shape::Python
    } else if line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
        || is_goroutine_header(line)
    {
        Shape::Go
    } else {
        Shape::Plain
    }
}

const PY_TRACEBACK: &str = "Traceback (most recent call last):";

/// Whether `line` continues an event of `shape`, and how.
fn continues(shape: Shape, line: &str) -> Option<Join> {
    if is_json_object(line) {
        return None;
    }
    if line.is_empty() {
        return matches!(shape, Shape::Go | Shape::PythonEnd).then_some(Join::Blank);
    }
    let indented = line.starts_with([' ', '\t']);
    match shape {
        Shape::Python => Some(Join::Line(if indented {
            Shape::Python
        } else {
            Shape::PythonEnd
        })),
        Shape::PythonEnd => {
            if line == PY_TRACEBACK {
                Some(Join::Line(Shape::Python))
            } else if line.starts_with("During handling of the above exception")
                || line.starts_with("The above exception was the direct cause")
            {
                Some(Join::Line(Shape::PythonEnd))
            } else {
                None
            }
        }
        Shape::Go => {
            if indented || go_line(line) {
                Some(Join::Line(Shape::Go))
            } else {
                general(line)
            }
        }
        Shape::Plain => {
            if indented {
                Some(Join::Line(Shape::Plain))
            } else {
                general(line)
            }
        }
    }
}

/// The rules for unindented lines that continue any event.
fn general(line: &str) -> Option<Join> {
    if line == PY_TRACEBACK {
        return Some(Join::Line(Shape::Python));
    }
    let joins = line.starts_with("Caused by: ")
        || line.starts_with("Suppressed: ")
        || line.starts_with("--- End of ")
        || is_more_line(line)
        || is_java_exception(line);
    joins.then_some(Join::Line(Shape::Plain))
}

/// `{…}` on one line (surrounding whitespace allowed).
fn is_json_object(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 2 && t.starts_with('{') && t.ends_with('}')
}

/// `... 3 more` (JVM frames in common with the enclosing trace).
fn is_more_line(line: &str) -> bool {
    line.strip_prefix("... ")
        .and_then(|r| r.strip_suffix(" more"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `java.lang.IllegalStateException: boom` or `com.x.FooError`: a dotted class
/// name whose last part ends in Exception, Error or Throwable. One pass over the
/// class name only, rejecting at the first byte most lines (a timestamp, `INFO`):
/// it runs on every line that opens no other rule.
fn is_java_exception(line: &str) -> bool {
    let b = line.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let mut end = b.len();
    let mut last_dot = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'.' => {
                if last_dot.map_or(i == 0, |d| d + 1 == i) {
                    return false;
                }
                last_dot = Some(i);
            }
            b':' if b.get(i + 1) == Some(&b' ') => {
                end = i;
                break;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => {}
            _ => return false,
        }
    }
    let Some(d) = last_dot else { return false };
    let name = &line[d + 1..end];
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && (name.ends_with("Exception") || name.ends_with("Error") || name.ends_with("Throwable"))
}

/// `goroutine 1 [running]:` (Go 1.23 adds ` gp=… m=… mp=…` before the state).
fn is_goroutine_header(line: &str) -> bool {
    line.strip_prefix("goroutine ")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()) && r.ends_with("]:"))
}

/// The unindented lines of a Go dump besides its headers: function lines
/// (`main.main()`, `net/http.(*conn).serve(0xc000…, {0x6e0a58, 0xc000064150})`,
/// `panic({0x4a1f20?, 0xc000012018?})`), `created by …`, `[signal …]`, and a
/// following `panic:` or `fatal error:`.
fn go_line(line: &str) -> bool {
    if is_goroutine_header(line)
        || line.starts_with("created by ")
        || line.starts_with("[signal ")
        || line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
    {
        return true;
    }
    let Some(open) = line.find('(') else {
        return false;
    };
    let func = &line[..open];
    line.ends_with(')') && !func.is_empty() && !func.contains(' ')
}

#[cfg(test)]
#[path = "multiline_tests.rs"]
mod tests;
