//! Regular expressions on the message (`/conn(ection)? refused/`) in the index: the
//! inverted index holds words, not text, so a pattern is checked on candidates'
//! stored messages. The candidates are what the rest of the query's AND selects
//! (`namespace:payments /timed? out/` reads only payments' messages); a pattern with
//! nothing else to narrow it reads every message in the time range.
//!
//! The cost per candidate is one stored-document read (its block decompressed,
//! [`STORE_CACHE_BLOCKS`] blocks cached per segment) plus a linear-time match; the
//! compiled pattern is size-capped at parse time
//! ([`lookout_shared::query::MessageRegex::SIZE_LIMIT`]). docs/query.md gives the
//! measured figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lookout_shared::query::MessageRegex;

use crate::sync::lock;
use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, Explanation, Query as TQuery, Scorer, Weight};
use tantivy::schema::{Field, Value};
use tantivy::store::StoreReader;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyDocument, TERMINATED};

/// Stored blocks kept decompressed per segment while a search filters: candidates
/// come in doc order, so consecutive ones mostly share a block.
pub const STORE_CACHE_BLOCKS: usize = 8;

/// `inner`'s matches whose message matches every pattern of `must` and none of
/// `must_not`.
#[derive(Debug)]
pub struct RegexFilter {
    pub inner: Box<dyn TQuery>,
    pub message: Field,
    pub must: Vec<MessageRegex>,
    pub must_not: Vec<MessageRegex>,
}

impl Clone for RegexFilter {
    fn clone(&self) -> Self {
        RegexFilter {
            inner: self.inner.box_clone(),
            message: self.message,
            must: self.must.clone(),
            must_not: self.must_not.clone(),
        }
    }
}

impl TQuery for RegexFilter {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(FilterWeight {
            inner: self.inner.weight(scoring)?,
            check: Check {
                message: self.message,
                must: self.must.clone(),
                must_not: self.must_not.clone(),
            },
            memo: Mutex::new(HashMap::new()),
        }))
    }
}

/// What is known of one segment's documents during one search: a search scans
/// newest-first in doubling windows and counts its total separately, each with a
/// fresh scorer, and without this every scorer would read the same stored
/// messages again (a pattern with no hits read 500k messages about five times
/// over: 8.7 s instead of 1.7 s). One byte per document of the segment.
type Memo = Arc<Mutex<Vec<u8>>>;
const UNKNOWN: u8 = 0;
const PASS: u8 = 1;
const FAIL: u8 = 2;

#[derive(Clone)]
struct Check {
    message: Field,
    must: Vec<MessageRegex>,
    must_not: Vec<MessageRegex>,
}

impl Check {
    /// Whether the stored document `doc` passes. A document that cannot be read
    /// does not (the integrity check reports damaged stores on its own).
    fn passes(&self, store: &StoreReader, doc: DocId) -> bool {
        let Ok(d) = store.get::<TantivyDocument>(doc) else {
            return false;
        };
        let text = d
            .get_first(self.message)
            .and_then(|v| v.as_str())
            .unwrap_or("");
        self.must.iter().all(|r| r.is_match(text))
            && !self.must_not.iter().any(|r| r.is_match(text))
    }
}

struct FilterWeight {
    inner: Box<dyn Weight>,
    check: Check,
    memo: Mutex<HashMap<SegmentId, Memo>>,
}

impl Weight for FilterWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let inner = self.inner.scorer(reader, boost)?;
        let store = reader.get_store_reader(STORE_CACHE_BLOCKS)?;
        let memo = lock(&self.memo)
            .entry(reader.segment_id())
            .or_insert_with(|| Arc::new(Mutex::new(vec![UNKNOWN; reader.max_doc() as usize])))
            .clone();
        let mut s = FilterScorer {
            inner,
            store,
            check: self.check.clone(),
            memo,
        };
        s.settle();
        Ok(Box::new(s))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut s = self.scorer(reader, 1.0)?;
        if s.seek(doc) == doc {
            Ok(Explanation::new("RegexFilter", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )))
        }
    }
}

struct FilterScorer {
    inner: Box<dyn Scorer>,
    store: StoreReader,
    check: Check,
    memo: Memo,
}

impl FilterScorer {
    /// Moves forward from the inner scorer's current doc to the first that passes.
    fn settle(&mut self) -> DocId {
        let mut d = self.inner.doc();
        while d != TERMINATED && !self.passes(d) {
            d = self.inner.advance();
        }
        d
    }

    fn passes(&self, doc: DocId) -> bool {
        let known = lock(&self.memo)
            .get(doc as usize)
            .copied()
            .unwrap_or(UNKNOWN);
        match known {
            PASS => true,
            FAIL => false,
            _ => {
                let ok = self.check.passes(&self.store, doc);
                if let Some(slot) = lock(&self.memo).get_mut(doc as usize) {
                    *slot = if ok { PASS } else { FAIL };
                }
                ok
            }
        }
    }
}

impl DocSet for FilterScorer {
    fn advance(&mut self) -> DocId {
        if self.inner.advance() == TERMINATED {
            return TERMINATED;
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.inner.doc() >= target {
            return self.inner.doc();
        }
        if self.inner.seek(target) == TERMINATED {
            return TERMINATED;
        }
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }

    /// Reading a stored document costs far more than stepping a posting list: an
    /// intersection should drive with any other clause first.
    fn cost(&self) -> u64 {
        self.inner.cost().saturating_mul(64)
    }
}

impl Scorer for FilterScorer {
    fn score(&mut self) -> Score {
        1.0
    }
}
