//! The tantivy schema of one bucket, and conversions between entries and documents.
//!
//! - `ts`: date, fast only, nanosecond precision: ordering, histograms and time ranges
//!   all read the fast field (tantivy's `RangeQuery` on a fast field scans the column,
//!   and the column's min/max skip whole segments). Not indexed: the inverted-index
//!   terms were never read and cost a term per distinct second.
//! - `seq`: u64, fast and indexed; the tie-break for equal timestamps and the handle
//!   a context request finds an entry by (a term query on it).
//! - `ts` and `seq` are not stored: results take them from the fast fields, which
//!   are exact.
//! - raw fields (`namespace`, `pod`, `container`, `stream`, `node`, `level`, `pod_uid`):
//!   one untokenised term each, stored, no fieldnorms (never scored) and no fast
//!   column (nothing reads one; building the per-segment dictionaries for six string
//!   columns was about a third of ingest CPU).
//! - `message`: [`analyzer`] words with positions (phrase queries), stored.
//! - `workload` (format 3): the pod's workload ([`StreamId::workload`]) as a raw
//!   term, not stored (it is derived from the stored pod again on the way out).
//! - `lines` (format 3): how many physical lines the event spans, stored.
//! - `fields` (format 4): the message's extracted fields ([`lookout_shared::fields`])
//!   as raw terms ([`super::field_terms`]), not stored: they are extracted again
//!   from the stored message on the way out, so they cost no stored bytes.
//! - `pattern` (format 5): the event's pattern id ([`lookout_shared::PatternId`])
//!   as a u64: indexed (`pattern:ID` is a term lookup) and fast (the `patterns`
//!   request counts ids per matching document from the column without loading
//!   documents; results read it back from there too). Not stored: with it
//!   stored as well the ingest bench's index was 126 MiB instead of 111 MiB for
//!   1M entries. Absent on entries without one.
//!
//! Fields are only ever added at the end, so that an older bucket's schema is a
//! prefix of this one: it is read as it is (a field it lacks matches nothing there,
//! [`super::compile::compile_for`], and reads as its default), never appended to
//! (the writer starts a new bucket, [`Fields::known`]).
//!
//! Time range: a search's open end is `until = i64::MAX`, exclusive, so the one
//! instant `i64::MAX` (2262-04-11T23:47:16.854775807Z, where a saturated parse of
//! any later stamp lands) would be stored yet never found. It is stored 1 ns
//! earlier ([`stored_ts`]); every other instant is stored as it is.
//!
//! Changing any of this changes the schema: bump [`super::bucket::FORMAT_VERSION`].

use lookout_shared::query::RawField;
use lookout_shared::{Level, LogEntry, Stream, StreamId, Timestamp};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, Value, STORED,
};
use tantivy::{DateTime, TantivyDocument};

use super::analyzer;

/// The latest instant stored (see the module docs).
pub const MAX_TS: i64 = i64::MAX - 1;

/// The time an entry is stored (and found) at.
pub fn stored_ts(ts: i64) -> i64 {
    ts.min(MAX_TS)
}

/// Field handles of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub ts: Field,
    pub seq: Field,
    pub namespace: Field,
    pub pod: Field,
    pub container: Field,
    pub stream: Field,
    pub node: Field,
    pub level: Field,
    pub pod_uid: Field,
    pub container_id: Field,
    pub restart: Field,
    pub message: Field,
    pub workload: Field,
    pub lines: Field,
    /// Extracted fields' terms (format 4).
    pub extracted: Field,
    /// The pattern id (format 5).
    pub pattern: Field,
}

/// Fields of format 2, the first ones of every later schema.
const FORMAT_2_FIELDS: usize = 12;

impl Fields {
    /// The schema every bucket uses.
    pub fn new() -> Fields {
        let mut b = Schema::builder();
        let ts = b.add_date_field(
            "ts",
            DateOptions::default()
                .set_fast()
                .set_precision(DateTimePrecision::Nanoseconds),
        );
        let seq = b.add_u64_field("seq", NumericOptions::default().set_indexed().set_fast());
        let raw = || {
            TextOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("raw")
                        .set_fieldnorms(false)
                        .set_index_option(IndexRecordOption::Basic),
                )
                .set_stored()
        };
        let namespace = b.add_text_field("namespace", raw());
        let pod = b.add_text_field("pod", raw());
        let container = b.add_text_field("container", raw());
        let stream = b.add_text_field("stream", raw());
        let node = b.add_text_field("node", raw());
        let level = b.add_text_field("level", raw());
        let pod_uid = b.add_text_field(
            "pod_uid",
            TextOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("raw")
                        .set_fieldnorms(false)
                        .set_index_option(IndexRecordOption::Basic),
                )
                .set_stored(),
        );
        let container_id = b.add_text_field("container_id", STORED);
        let restart = b.add_u64_field(
            "restart",
            NumericOptions::default().set_indexed().set_stored(),
        );
        let message = b.add_text_field(
            "message",
            TextOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(analyzer::TOKENIZER)
                        .set_fieldnorms(false)
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions),
                )
                .set_stored(),
        );
        let workload = b.add_text_field(
            "workload",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        let lines = b.add_u64_field("lines", NumericOptions::default().set_stored());
        let extracted = b.add_text_field(
            "fields",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        let pattern = b.add_u64_field(
            "pattern",
            NumericOptions::default().set_indexed().set_fast(),
        );
        Fields {
            schema: b.build(),
            ts,
            seq,
            namespace,
            pod,
            container,
            stream,
            node,
            level,
            pod_uid,
            container_id,
            restart,
            message,
            workload,
            lines,
            extracted,
            pattern,
        }
    }

    /// How many of these fields a bucket of `schema` has (all, for this format's).
    pub fn known(&self, schema: &Schema) -> usize {
        schema.fields().count().min(self.schema.fields().count())
    }

    /// Whether a bucket written with `other` (an older format) can be read and
    /// appended to with these handles: the same fields, in the same order, of the
    /// same types, and at least the indexing that queries read (fast `ts`/`seq`,
    /// indexed `seq`, stored and indexed raw fields, stored message words with
    /// positions). Extra stored or indexed data (format 1 stored `ts`/`seq` and had
    /// fast raw columns) is harmless: it is written and never read.
    pub fn readable(&self, other: &Schema) -> Result<(), String> {
        let mut ours: Vec<_> = self.schema.fields().collect();
        let theirs: Vec<_> = other.fields().collect();
        // Formats 1 and 2 lack the fields added at the end since.
        if (FORMAT_2_FIELDS..ours.len()).contains(&theirs.len()) {
            ours.truncate(theirs.len());
        }
        if ours.len() != theirs.len() {
            return Err(format!(
                "{} fields where this lookoutd has {}",
                theirs.len(),
                ours.len()
            ));
        }
        for ((f, a), (g, b)) in ours.iter().zip(&theirs) {
            if f != g
                || a.name() != b.name()
                || a.field_type().value_type() != b.field_type().value_type()
            {
                return Err(format!(
                    "field {} is {:?} {:?}",
                    a.name(),
                    b.name(),
                    b.field_type().value_type()
                ));
            }
            if a.is_fast() && !b.is_fast() {
                return Err(format!("field {} has no fast column", a.name()));
            }
            if a.is_indexed() && !b.is_indexed() {
                return Err(format!("field {} is not indexed", a.name()));
            }
            if a.is_stored() && !b.is_stored() {
                return Err(format!("field {} is not stored", a.name()));
            }
            let positions = |e: &tantivy::schema::FieldEntry| {
                e.field_type()
                    .get_index_record_option()
                    .is_some_and(|o| o.has_positions())
            };
            if positions(a) && !positions(b) {
                return Err(format!("field {} has no positions", a.name()));
            }
        }
        Ok(())
    }

    /// The field of a raw query field.
    pub fn raw(&self, f: RawField) -> Field {
        match f {
            RawField::Namespace => self.namespace,
            RawField::Pod => self.pod,
            RawField::Workload => self.workload,
            RawField::Container => self.container,
            RawField::Restart => self.restart,
            RawField::Node => self.node,
            RawField::Stream => self.stream,
            RawField::Level => self.level,
            RawField::Pattern => self.pattern,
        }
    }

    /// The document for an entry (`seq` and `level` already set by ingest).
    pub fn to_doc(&self, e: &LogEntry) -> TantivyDocument {
        self.to_doc_in(e, usize::MAX)
    }

    /// [`Fields::to_doc`] for a bucket with only the first `known` fields (an older
    /// format's, should one still be written to): tantivy refuses a field its
    /// schema does not have.
    pub fn to_doc_in(&self, e: &LogEntry, known: usize) -> TantivyDocument {
        let src = &e.source;
        let mut d = TantivyDocument::new();
        d.add_date(self.ts, DateTime::from_timestamp_nanos(stored_ts(e.ts.0)));
        d.add_u64(self.seq, e.seq);
        d.add_text(self.namespace, &src.namespace);
        d.add_text(self.pod, &src.pod);
        d.add_text(self.container, &src.container);
        d.add_text(self.stream, e.stream.as_str());
        d.add_text(self.node, &e.node);
        if let Some(l) = e.level {
            d.add_text(self.level, l.as_str());
        }
        d.add_text(self.pod_uid, &src.pod_uid);
        d.add_text(self.container_id, &src.container_id);
        d.add_u64(self.restart, u64::from(src.restart));
        d.add_text(self.message, &e.message);
        if (self.workload.field_id() as usize) < known {
            d.add_text(self.workload, src.workload());
        }
        if (self.lines.field_id() as usize) < known {
            d.add_u64(self.lines, u64::from(e.lines));
        }
        if (self.extracted.field_id() as usize) < known {
            for t in super::field_terms::terms(&e.fields) {
                d.add_text(self.extracted, &t);
            }
        }
        if let Some(p) = e.pattern {
            if (self.pattern.field_id() as usize) < known {
                d.add_u64(self.pattern, p.get());
            }
        }
        d
    }

    /// The entry a stored document holds; `ts` and `seq` come from the fast fields
    /// the caller already read (they are exact there).
    pub fn to_entry(&self, d: &TantivyDocument, ts: i64, seq: u64) -> LogEntry {
        let s = |f: Field| {
            d.get_first(f)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let stream = match d.get_first(self.stream).and_then(|v| v.as_str()) {
            Some("stderr") => Stream::Stderr,
            _ => Stream::Stdout,
        };
        let message = s(self.message);
        LogEntry {
            ts: Timestamp(ts),
            node: s(self.node),
            source: StreamId {
                namespace: s(self.namespace),
                pod: s(self.pod),
                pod_uid: s(self.pod_uid),
                container: s(self.container),
                container_id: s(self.container_id),
                restart: d
                    .get_first(self.restart)
                    .and_then(|v| v.as_u64())
                    .and_then(|r| u32::try_from(r).ok())
                    .unwrap_or(0),
            },
            stream,
            fields: lookout_shared::fields::extract(&message),
            message,
            lines: d
                .get_first(self.lines)
                .and_then(|v| v.as_u64())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
            level: d
                .get_first(self.level)
                .and_then(|v| v.as_str())
                .and_then(Level::parse),
            // From the fast column, by the caller (see `to_entry`'s callers).
            pattern: None,
            seq,
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Fields::new()
    }
}
