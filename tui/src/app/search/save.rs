//! Search's `s`: every result of the query to a file, not only the pages loaded
//! (it saved 200 of 5,800). The loaded results are written first, then the rest
//! is paged through with the search's cursor, one page at a time, each written as
//! it arrives, so the file grows and memory does not.

use std::io::Write;
use std::path::PathBuf;

use lookout_shared::limits::MAX_PAGE;
use lookout_shared::protocol::{ClientMsg, ErrorBody, ReqId, SearchPage};

use super::Search;
use crate::app::{Effect, Outbox};

/// A save in progress.
#[derive(Debug)]
pub struct SaveJob {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// The page request in flight.
    pub req: Option<ReqId>,
    pub written: u64,
}

impl SaveJob {
    fn write(&mut self, entries: &[lookout_shared::LogEntry]) -> std::io::Result<()> {
        for e in entries {
            writeln!(self.file, "{}", crate::cli::entry_line(e))?;
        }
        self.written += entries.len() as u64;
        Ok(())
    }

    fn done(mut self) -> Effect {
        match self.file.flush() {
            Ok(()) => Effect::Say(format!(
                "saved {} lines to {}",
                self.written,
                self.path.display()
            )),
            Err(e) => Effect::Say(format!("cannot save {}: {e}", self.path.display())),
        }
    }
}

impl Search {
    /// The save prompt's answer on the results: writes what is loaded, then asks
    /// for the rest page by page.
    pub fn start_save(&mut self, path: PathBuf, out: &mut Outbox) -> Effect {
        let file = match std::fs::File::create(&path) {
            Ok(f) => f,
            Err(e) => return Effect::Say(format!("cannot save {}: {e}", path.display())),
        };
        let mut job = SaveJob {
            path,
            file: std::io::BufWriter::new(file),
            req: None,
            written: 0,
        };
        if let Err(e) = job.write(&self.results) {
            return Effect::Say(format!("cannot save {}: {e}", job.path.display()));
        }
        let next = self.next_cursor.zip(self.params.clone());
        let Some((cursor, mut params)) = next else {
            return job.done();
        };
        if !out.online() {
            let e = job.done();
            return Effect::Say(format!(
                "{} (not connected: the rest was not fetched)",
                match e {
                    Effect::Say(s) => s,
                    _ => String::new(),
                }
            ));
        }
        params.cursor = Some(cursor);
        params.cursor_node.clone_from(&self.next_cursor_node);
        params.limit = MAX_PAGE;
        params.histogram = false;
        job.req = Some(out.send(|id| ClientMsg::Search { id, params }));
        let said = format!(
            "saving to {}: {} of {} lines…",
            job.path.display(),
            job.written,
            self.total
        );
        self.saving = Some(job);
        Effect::Say(said)
    }

    /// A page for the save in flight: written, then the next asked for, or the
    /// save finished. `None` when the page is not the save's.
    pub(super) fn on_save_page(
        &mut self,
        id: ReqId,
        page: SearchPage,
        out: &mut Outbox,
    ) -> Option<Effect> {
        let job = self.saving.as_mut().filter(|j| j.req == Some(id))?;
        job.req = None;
        if let Err(e) = job.write(&page.entries) {
            self.saving = None;
            return Some(Effect::Say(format!("save stopped: {e}")));
        }
        let next = page.next_cursor.zip(self.params.clone());
        match next {
            Some((cursor, mut params)) if out.online() => {
                params.cursor = Some(cursor);
                params.cursor_node = page.next_cursor_node;
                params.limit = MAX_PAGE;
                params.histogram = false;
                job.req = Some(out.send(|id| ClientMsg::Search { id, params }));
                Some(Effect::Say(format!(
                    "saving to {}: {} of {} lines…",
                    job.path.display(),
                    job.written,
                    self.total
                )))
            }
            _ => self.saving.take().map(SaveJob::done),
        }
    }

    /// The save's page request failed or the connection went: what was written
    /// stays, and the message says how far it got.
    pub(super) fn stop_save(&mut self, id: Option<ReqId>, why: &str) -> Option<Effect> {
        let job = self.saving.as_ref()?;
        if id.is_some() && job.req != id {
            return None;
        }
        let job = self.saving.take()?;
        let (path, n) = (job.path.display().to_string(), job.written);
        let _ = job.done();
        Some(Effect::Say(format!(
            "save stopped after {n} lines in {path}: {why}"
        )))
    }

    /// An error for the save's page request.
    pub(super) fn on_save_error(&mut self, id: ReqId, e: &ErrorBody) -> Option<Effect> {
        self.stop_save(Some(id), &e.message)
    }
}
