//! How text is split into searchable words: one definition for the parser (the words a
//! query looks for), the daemon's live matcher (the words a message has) and the
//! dashboard's highlighting (which words to mark).
//!
//! The daemon's tantivy analyzer for `message` must split exactly like this; it lives
//! with the index (tantivy stays out of this crate), and a property test there runs
//! both over arbitrary text and compares words and positions.
//!
//! Words are runs of Unicode letters and digits (`char::is_alphanumeric`), lower-cased
//! character by character (no final-sigma rule, like the index); everything else
//! separates them. A word of [`MAX_WORD_BYTES`] bytes or more is not searchable: the
//! index drops such terms (tantivy refuses huge terms, and nobody types them) but the
//! word still takes its position, so the words on either side of it are not adjacent.

use std::ops::Range;
use std::str::CharIndices;

/// Words this long (in UTF-8 bytes, before lower-casing) or longer are not searchable.
pub const MAX_WORD_BYTES: usize = 256;

/// Byte ranges of every word of `text`, in order, too-long words included.
pub fn spans(text: &str) -> Spans<'_> {
    Spans {
        len: text.len(),
        chars: text.char_indices(),
    }
}

/// The iterator behind [`spans`].
#[derive(Debug, Clone)]
pub struct Spans<'a> {
    len: usize,
    chars: CharIndices<'a>,
}

impl Iterator for Spans<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let start = loop {
            let (i, c) = self.chars.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        // The separator that ends the word is consumed too: it is not a word.
        let end = self
            .chars
            .by_ref()
            .find(|(_, c)| !c.is_alphanumeric())
            .map_or(self.len, |(i, _)| i);
        Some(start..end)
    }
}

/// One word as it is searched: lower-cased, or `None` when it is too long to search.
pub fn searchable(word: &str) -> Option<String> {
    if word.len() >= MAX_WORD_BYTES {
        return None;
    }
    Some(if word.is_ascii() {
        word.to_ascii_lowercase()
    } else {
        word.chars().flat_map(char::to_lowercase).collect()
    })
}

/// The words of `text` by position, lower-cased. A word too long to search is an
/// empty string: a position that no query word (never empty) can match, as the gap
/// it leaves in the index.
pub fn words(text: &str) -> Vec<String> {
    spans(text)
        .map(|r| searchable(&text[r]).unwrap_or_default())
        .collect()
}

/// The searchable words of `text`, in order, too-long ones left out: what a query's
/// word or phrase looks for.
pub fn query_words(text: &str) -> Vec<String> {
    spans(text).filter_map(|r| searchable(&text[r])).collect()
}
