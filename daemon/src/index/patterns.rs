//! The `patterns` request: the kinds of lines among the events matching a query.
//!
//! One pass over the matches reads two fast columns per document (`ts` and
//! `pattern`), no stored document: counts, first and last times and a sparkline
//! per pattern id. Ids are then grouped by the id their pattern goes by now (a
//! merge joins its ids), sorted by count, and only the listed patterns load one
//! stored document each, their newest event, as the example.
//!
//! Whether a pattern is new (first seen inside the range) is asked of its
//! workload's miner (its first-seen time, by event time) and, when that says
//! new, confirmed on the index: no stored event of the pattern before the range.

use std::collections::HashMap;
use std::time::Instant;

use lookout_shared::histogram::Bars;
use lookout_shared::protocol::{PatternSummary, PatternsParams, PatternsResult};
use lookout_shared::query::Query;
use lookout_shared::{PatternId, Timestamp};
use tantivy::query::{EnableScoring, Query as TQuery};
use tantivy::{DocAddress, TantivyDocument};

use super::collect::TopSpec;
use super::{Index, SearchError, DEFAULT_LIMIT, MAX_LIMIT};

/// Bars of every pattern's sparkline.
pub const SPARK_BARS: usize = 30;
/// Distinct pattern ids counted per request; matches of further ids count in the
/// total only. 10,000 ids of 30 bars is about 3 MiB of counters.
pub const MAX_DISTINCT: usize = 10_000;

struct Agg {
    count: u64,
    first: i64,
    last: i64,
    /// The newest match: where it is, and its `seq`.
    newest: (usize, DocAddress, u64),
    bars: Vec<u64>,
}

struct Group {
    id: PatternId,
    ids: Vec<PatternId>,
    count: u64,
    first: i64,
    last: i64,
    newest: (usize, DocAddress, u64),
    newest_ts: i64,
    newest_id: PatternId,
    bars: Vec<u64>,
}

impl Index {
    /// The patterns of the events matching `params` (see the module docs).
    pub fn patterns(&self, params: &PatternsParams) -> Result<PatternsResult, SearchError> {
        let t0 = Instant::now();
        let query = Query::parse(&params.query)?;
        let bounds = params.range.resolve(Timestamp::now())?;
        let st = self.stats();
        let now = Timestamp::now().0;
        let until = bounds
            .until
            .map(|t| t.0)
            .unwrap_or_else(|| now.max(st.newest.map_or(now, |t| t.0.saturating_add(1))));
        let from = bounds.from.map(|t| t.0).unwrap_or_else(|| {
            st.oldest
                .map_or(until.saturating_sub(3_600_000_000_000), |t| t.0)
                .min(until.saturating_sub(1))
        });
        let span = (i128::from(until) - i128::from(from)).max(1);
        let bars_n = SPARK_BARS as i128;
        let width = i64::try_from((span + bars_n - 1) / bars_n).unwrap_or(i64::MAX);
        let bars = Bars::new(from, width, SPARK_BARS);
        let spec = TopSpec::counting(from, until, None);

        let buckets = self.shared.snapshot();
        let mut searchers = Vec::new();
        let mut aggs: HashMap<u64, Agg> = HashMap::new();
        let mut total = 0u64;
        for b in buckets.iter() {
            if !crate::sync::read(&b.meta).overlaps(from, until) {
                continue;
            }
            let searcher = b.reader.searcher();
            let schema = b.index.schema();
            let (inner, ranged) = self.compiled(&query, &spec, &schema);
            let tq: Box<dyn TQuery> = ranged.unwrap_or(inner);
            let weight = tq.weight(EnableScoring::disabled_from_searcher(&searcher))?;
            let bi = searchers.len();
            for (ord, reader) in searcher.segment_readers().iter().enumerate() {
                let ff = reader.fast_fields();
                let ts = ff.date("ts")?;
                let seq = ff.u64("seq")?;
                // Buckets older than format 5 have no pattern column.
                let pattern = ff.u64("pattern").ok();
                let alive = reader.alive_bitset();
                weight.for_each_no_score(reader, &mut |docs| {
                    for &doc in docs {
                        if alive.is_some_and(|a| !a.is_alive(doc)) {
                            continue;
                        }
                        let Some(t) = ts.first(doc).map(|d| d.into_timestamp_nanos()) else {
                            continue;
                        };
                        if t < from || t >= until {
                            continue;
                        }
                        total += 1;
                        let Some(p) = pattern.as_ref().and_then(|c| c.first(doc)) else {
                            continue;
                        };
                        let addr = DocAddress::new(ord as u32, doc);
                        let bar = usize::try_from((t - bars.start) / bars.width)
                            .unwrap_or(0)
                            .min(SPARK_BARS - 1);
                        if !aggs.contains_key(&p) && aggs.len() >= MAX_DISTINCT {
                            continue;
                        }
                        let a = aggs.entry(p).or_insert_with(|| Agg {
                            count: 0,
                            first: t,
                            last: t,
                            newest: (bi, addr, 0),
                            bars: vec![0; SPARK_BARS],
                        });
                        a.count += 1;
                        a.first = a.first.min(t);
                        if t >= a.last {
                            a.last = t;
                            a.newest = (bi, addr, seq.first(doc).unwrap_or(0));
                        }
                        a.bars[bar] += 1;
                    }
                })?;
            }
            searchers.push(searcher);
        }

        // Group the ids by the pattern they go by now.
        let miners = self.miners();
        let mut groups: HashMap<PatternId, Group> = HashMap::new();
        for (raw, a) in aggs {
            let raw = PatternId::new(raw);
            let id = miners.resolve(raw);
            let g = groups.entry(id).or_insert_with(|| Group {
                id,
                ids: Vec::new(),
                count: 0,
                first: a.first,
                last: a.last,
                newest: a.newest,
                newest_ts: a.last,
                newest_id: raw,
                bars: vec![0; SPARK_BARS],
            });
            g.ids.push(raw);
            g.count += a.count;
            g.first = g.first.min(a.first);
            if a.last > g.newest_ts {
                g.newest_ts = a.last;
                g.newest = a.newest;
                g.newest_id = raw;
            }
            g.last = g.last.max(a.last);
            for (x, y) in g.bars.iter_mut().zip(&a.bars) {
                *x += y;
            }
        }
        let distinct = groups.len() as u64;
        let mut groups: Vec<Group> = groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        let limit = match params.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        } as usize;

        let f = &self.shared.fields;
        let mut out = Vec::new();
        for mut g in groups {
            if out.len() >= limit {
                break;
            }
            let (bi, addr, seq) = g.newest;
            let Some(s) = searchers.get(bi) else {
                continue;
            };
            let doc: TantivyDocument = s.doc(addr).inspect_err(|_| self.shared.verify_soon())?;
            let mut example = f.to_entry(&doc, g.newest_ts, seq);
            example.pattern = Some(g.newest_id);
            let (ns, wl) = (&example.source.namespace, example.source.workload());
            let known = miners.pattern(ns, wl, g.id);
            let new = bounds.from.is_some()
                && known.as_ref().is_some_and(|p| p.first_seen >= from)
                && !self.seen_before(&g.ids, from)?;
            if params.new_only && !new {
                continue;
            }
            for x in miners.family(g.id) {
                if !g.ids.contains(&x) {
                    g.ids.push(x);
                }
            }
            g.ids.sort_unstable();
            out.push(PatternSummary {
                id: g.id,
                ids: g.ids,
                template: known.map_or_else(|| example.message.clone(), |p| p.template),
                count: g.count,
                first_seen: Timestamp(g.first),
                last_seen: Timestamp(g.last),
                new,
                sparkline: g.bars,
                example,
            });
        }
        Ok(PatternsResult {
            patterns: out,
            total,
            distinct,
            start: Timestamp(bars.start),
            width_ms: u64::try_from(bars.width / 1_000_000).unwrap_or(0),
            took_ms: t0.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Whether any stored event carrying one of `ids` is older than `before`.
    pub(crate) fn seen_before(&self, ids: &[PatternId], before: i64) -> Result<bool, SearchError> {
        if ids.is_empty() {
            return Ok(false);
        }
        let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        let q = Query::parse(&format!("pattern:IN [{}]", list.join(" ")))?;
        Ok(self.count_query(&q, Timestamp(i64::MIN), Timestamp(before))? > 0)
    }
}
