//! Answering queries: a page of matches, the context around an entry, counts and
//! histograms. Each parses with the shared query language, resolves its range with
//! the shared [`TimeRange::resolve`](lookout_shared::protocol::TimeRange::resolve),
//! compiles to tantivy ([`super::compile`]) and collects over every bucket that may
//! hold entries in range ([`super::collect`]). All are blocking calls.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lookout_shared::histogram::Bars;
use lookout_shared::protocol::{
    ContextPage, ContextScope, Cursor, Histogram, Order, SearchPage, SearchParams,
};
use lookout_shared::query::Query;
use lookout_shared::{LogEntry, Timestamp};
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query as TQuery, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, TantivyDocument, Term};

use super::collect::{self, key, unkey, Hit, Seg, TopFruit, TopSpec};
use super::compile;
use super::{Index, SearchError, DEFAULT_LIMIT, MAX_CONTEXT, MAX_LIMIT, SEARCH_BARS};

type BoxedWeight = Box<dyn Weight>;

impl Index {
    /// One page of matches, with the total (and a histogram when asked).
    pub fn search(&self, params: &SearchParams) -> Result<SearchPage, SearchError> {
        let t0 = Instant::now();
        let query = Query::parse(&params.query)?;
        let bounds = params.range.resolve(Timestamp::now())?;
        let (from, until) = (bounds.from.map(|t| t.0), bounds.until.map(|t| t.0));
        let limit = match params.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        } as usize;
        let hist = if params.histogram {
            Some(self.hist_spec(from, until))
        } else {
            None
        };
        let spec = TopSpec {
            limit: limit + 1,
            newest_first: params.order == Order::NewestFirst,
            after: params.cursor.map(|c| key(c.ts.0, c.seq)),
            from: from.unwrap_or(i64::MIN),
            until: until.unwrap_or(i64::MAX),
            hist,
        };
        let (searchers, fruit) = self.run(&query, &spec)?;
        let more = fruit.hits.len() > limit;
        let entries = self.load(&searchers, &fruit.hits[..fruit.hits.len().min(limit)])?;
        let next_cursor = if more {
            entries.last().map(Cursor::of)
        } else {
            None
        };
        let histogram = hist.map(|h| h.histogram(fruit.hist.iter().copied()));
        Ok(SearchPage {
            entries,
            total: fruit.total,
            histogram,
            next_cursor,
            took_ms: t0.elapsed().as_secs_f64() * 1000.0,
            ..Default::default()
        })
    }

    /// The entries around `at` in the same stream (same namespace, pod, pod uid,
    /// container, restart and stream), oldest first on both sides.
    pub fn context(&self, at: Cursor, before: u32, after: u32) -> Result<ContextPage, SearchError> {
        self.context_in(at, before, after, ContextScope::Stream)
    }

    /// [`Index::context`] over `scope`: the entry's stream, or its whole pod (every
    /// container and output stream with the same pod uid).
    pub fn context_in(
        &self,
        at: Cursor,
        before: u32,
        after: u32,
        scope: ContextScope,
    ) -> Result<ContextPage, SearchError> {
        let f = &self.shared.fields;
        // As it was stored (a live entry may carry the unstorable instant).
        let at = Cursor {
            ts: Timestamp(super::schema::stored_ts(at.ts.0)),
            ..at
        };
        let spec = TopSpec {
            limit: 1,
            newest_first: true,
            after: None,
            from: at.ts.0,
            until: at.ts.0.saturating_add(1),
            hist: None,
        };
        let by_seq: Box<dyn TQuery> = Box::new(TermQuery::new(
            Term::from_field_u64(f.seq, at.seq),
            IndexRecordOption::Basic,
        ));
        let (searchers, found) = self.run_tantivy(&*by_seq, None, &spec, None)?;
        let entry = self
            .load(&searchers, &found.hits)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                SearchError::NotFound(format!(
                    "no stored entry at {} with seq {} (retention may have removed it)",
                    at.ts, at.seq
                ))
            })?;
        let text = |field, v: &str| -> (Occur, Box<dyn TQuery>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                )),
            )
        };
        // The same log file and output stream; not the container id, which the
        // entries of one file need not all carry (see `StreamId`).
        let src = &entry.source;
        let mut clauses = vec![text(f.namespace, &src.namespace), text(f.pod, &src.pod)];
        if scope == ContextScope::Stream {
            clauses.extend([
                text(f.container, &src.container),
                text(f.stream, entry.stream.as_str()),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_u64(f.restart, u64::from(src.restart)),
                        IndexRecordOption::Basic,
                    )) as Box<dyn TQuery>,
                ),
            ]);
        }
        if !src.pod_uid.is_empty() {
            clauses.push(text(f.pod_uid, &src.pod_uid));
        }
        let stream_q = BooleanQuery::new(clauses);
        let side = |n: u32, newest_first: bool| -> Result<Vec<LogEntry>, SearchError> {
            if n == 0 {
                return Ok(Vec::new());
            }
            let spec = TopSpec {
                limit: n.min(MAX_CONTEXT) as usize,
                newest_first,
                after: Some(key(at.ts.0, at.seq)),
                from: i64::MIN,
                until: i64::MAX,
                hist: None,
            };
            let (s, found) = self.run_tantivy(&stream_q, None, &spec, None)?;
            self.load(&s, &found.hits)
        };
        let mut b = side(before, true)?;
        b.reverse();
        let a = side(after, false)?;
        Ok(ContextPage {
            before: b,
            entry: Some(entry),
            after: a,
        })
    }

    /// Matches of `query` with `from <= ts < until` (alert evaluation, rule tests).
    pub fn count(
        &self,
        query: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u64, SearchError> {
        let q = Query::parse(query)?;
        self.count_query(&q, from, until)
    }

    /// [`Index::count`] for an already parsed query.
    pub fn count_query(
        &self,
        query: &Query,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u64, SearchError> {
        let spec = TopSpec::counting(from.0, until.0, None);
        Ok(self.run(query, &spec)?.1.total)
    }

    /// Counts of `query` per `width` bar over `[from, until)`, oldest bar first (rule
    /// tests, sparklines).
    pub fn histogram(
        &self,
        query: &Query,
        from: Timestamp,
        until: Timestamp,
        width: Duration,
    ) -> Result<Histogram, SearchError> {
        let w = i64::try_from(width.as_nanos()).unwrap_or(i64::MAX);
        let h = Bars::covering(from.0, until.0, w);
        if h.n > 100_000 {
            return Err(SearchError::BadRange("too many histogram bars".into()));
        }
        let spec = TopSpec::counting(from.0, until.0, Some(h));
        let fruit = self.run(query, &spec)?.1;
        Ok(h.histogram(fruit.hist.iter().copied()))
    }

    /// Chooses histogram bars for a range: about 60 to 120 of a round width (an open
    /// end is the newest or oldest stored entry).
    fn hist_spec(&self, from: Option<i64>, until: Option<i64>) -> Bars {
        let st = self.stats();
        let now = Timestamp::now().0;
        let until =
            until.unwrap_or_else(|| now.max(st.newest.map_or(now, |t| t.0.saturating_add(1))));
        let from = from.unwrap_or_else(|| {
            st.oldest
                .map_or(until.saturating_sub(3_600_000_000_000), |t| t.0)
                .min(until.saturating_sub(1))
        });
        Bars::round(from, until, SEARCH_BARS)
    }

    fn run(&self, query: &Query, spec: &TopSpec) -> Result<(Vec<Searcher>, TopFruit), SearchError> {
        let f = &self.shared.fields;
        let (tq, ranged) = self.compiled(query, spec, &f.schema);
        self.run_tantivy(&*tq, ranged.as_deref(), spec, Some(query))
    }

    /// `query` compiled for buckets of `schema` (an older format's lacks the fields
    /// added since, which match nothing there), and narrowed to the range if any.
    pub(super) fn compiled(
        &self,
        query: &Query,
        spec: &TopSpec,
        schema: &tantivy::schema::Schema,
    ) -> (Box<dyn TQuery>, Option<Box<dyn TQuery>>) {
        let f = &self.shared.fields;
        let tq = compile::compile_for(query.root(), f, schema);
        let from = (spec.from != i64::MIN).then_some(spec.from);
        let until = (spec.until != i64::MAX).then_some(spec.until);
        let ranged = (from.is_some() || until.is_some())
            .then(|| compile::with_range(tq.box_clone(), f, from, until));
        (tq, ranged)
    }

    /// Runs one tantivy query over every bucket that may hold entries in range.
    /// `ranged` is the query narrowed to the time range, for segments straddling
    /// its bounds (the exact bounds are checked on the fast field either way).
    /// `query`, when given, is compiled again for a bucket of an older format (whose
    /// schema lacks the newer fields: a term on a field it has not would not run).
    fn run_tantivy(
        &self,
        inner: &dyn TQuery,
        ranged: Option<&dyn TQuery>,
        spec: &TopSpec,
        query: Option<&Query>,
    ) -> Result<(Vec<Searcher>, TopFruit), SearchError> {
        let buckets = self.shared.snapshot();
        let mut searchers = Vec::new();
        let mut weights: Vec<(Box<dyn Weight>, Option<BoxedWeight>)> = Vec::new();
        let mut live = HashSet::new();
        for b in buckets.iter() {
            let searcher = b.reader.searcher();
            live.extend(searcher.segment_readers().iter().map(|r| r.segment_id()));
            let overlaps = crate::sync::read(&b.meta).overlaps(spec.from, spec.until);
            if !overlaps {
                continue;
            }
            let es = EnableScoring::disabled_from_searcher(&searcher);
            let schema = b.index.schema();
            let (w, r) = match query {
                Some(q) if schema != self.shared.fields.schema => {
                    let (inner, ranged) = self.compiled(q, spec, &schema);
                    let r = match ranged {
                        Some(q) => Some(q.weight(es)?),
                        None => None,
                    };
                    (inner.weight(es)?, r)
                }
                _ => {
                    let r = match ranged {
                        Some(q) => Some(q.weight(es)?),
                        None => None,
                    };
                    (inner.weight(es)?, r)
                }
            };
            weights.push((w, r));
            searchers.push(searcher);
        }
        let mut segs = Vec::new();
        for (i, (s, (w, r))) in searchers.iter().zip(&weights).enumerate() {
            for (ord, reader) in s.segment_readers().iter().enumerate() {
                segs.push(Seg {
                    bucket: i,
                    ord: ord as u32,
                    reader,
                    inner: &**w,
                    ranged: r.as_deref().unwrap_or(&**w),
                });
            }
        }
        let fruit = collect::collect(spec, &segs, &self.shared.summaries)?;
        self.shared.summaries.retain(&live);
        Ok((searchers, fruit))
    }

    fn load(&self, searchers: &[Searcher], found: &[Hit]) -> Result<Vec<LogEntry>, SearchError> {
        let f = &self.shared.fields;
        let mut out = Vec::with_capacity(found.len());
        // The pattern id lives in a fast column only (not stored): one column
        // handle per segment, absent in buckets older than format 5.
        let mut patterns = std::collections::HashMap::new();
        for h in found {
            let Some(s) = searchers.get(h.bucket) else {
                continue;
            };
            let doc: TantivyDocument = s.doc(h.addr).inspect_err(|_| {
                // A store block that does not decompress: have every bucket checked.
                self.shared.verify_soon();
            })?;
            let (ts, seq) = unkey(h.key);
            let mut e = f.to_entry(&doc, ts, seq);
            let column = patterns
                .entry((h.bucket, h.addr.segment_ord))
                .or_insert_with(|| {
                    s.segment_reader(h.addr.segment_ord)
                        .fast_fields()
                        .u64("pattern")
                        .ok()
                });
            e.pattern = column
                .as_ref()
                .and_then(|c| c.first(h.addr.doc_id))
                .map(lookout_shared::PatternId::new);
            out.push(e);
        }
        Ok(out)
    }
}
