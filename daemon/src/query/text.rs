//! How `message` is split into searchable words, for the index and the matcher alike.
//!
//! Words are runs of letters and digits (Unicode), lower-cased; everything else
//! separates them. Tokens of 256 bytes or more are dropped (tantivy refuses huge
//! terms, and nobody types them). Both sides run this very analyzer, so a live tail
//! and a search can never disagree on what a word is.

use std::cell::RefCell;

use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

/// Name the analyzer is registered under in every index.
pub const TOKENIZER: &str = "lookout_words";

/// The analyzer for `message`.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(256))
        .filter(LowerCaser)
        .build()
}

thread_local! {
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(analyzer());
}

/// The words of `text`, in order.
pub fn tokens(text: &str) -> Vec<String> {
    ANALYZER.with(|a| {
        let mut a = a.borrow_mut();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lowercases() {
        assert_eq!(
            tokens("ERROR blk_-1608 10.0.0.1:80 Ünïcode"),
            ["error", "blk", "1608", "10", "0", "0", "1", "80", "ünïcode"]
        );
        assert!(tokens("--- ::: ").is_empty());
    }
}
