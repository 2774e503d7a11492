//! The tantivy analyzer for `message`: the index's half of the word rules in
//! [`lookout_shared::query::words`], which the parser and the live matcher use.
//!
//! tantivy's `SimpleTokenizer` splits on `!char::is_alphanumeric`, `RemoveLongFilter`
//! drops tokens of 256 bytes or more (checked before lower-casing, keeping their
//! position), and `LowerCaser` lower-cases per character: exactly the shared rules.
//! The test below runs both over arbitrary text and compares words and positions, so
//! a search and a live tail cannot drift apart on what a word is.

use lookout_shared::query::words::MAX_WORD_BYTES;
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

/// Name the analyzer is registered under in every index.
pub const TOKENIZER: &str = "lookout_words";

/// The analyzer for `message`.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::query::words::words;
    use proptest::prelude::*;

    /// What the index stores for `text`, by position: a dropped token is a gap,
    /// spelled as the shared splitter spells it (an empty word).
    fn indexed(text: &str) -> Vec<String> {
        let mut a = analyzer();
        let mut stream = a.token_stream(text);
        let mut out: Vec<String> = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.resize(t.position, String::new());
            out.push(t.text.clone());
        }
        // A trailing dropped token leaves no trace in the stream.
        let n = words(text).len();
        if out.len() < n {
            out.resize(n, String::new());
        }
        out
    }

    #[test]
    fn splits_like_the_shared_rules() {
        let long = "Q".repeat(MAX_WORD_BYTES);
        for text in [
            "ERROR blk_-1608 10.0.0.1:80 Ünïcode",
            "ΟΔΟΣ İstanbul ǅ",
            &format!("a {long} b"),
            long.as_str(),
            "",
        ] {
            assert_eq!(indexed(text), words(text), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_shared_rules_on_any_text(
            parts in proptest::collection::vec(
                prop_oneof![
                    "\\PC{0,12}",
                    "[a-zA-Z0-9ÀΣİ]{250,260}",
                    "[ _.:/-]{1,3}",
                ],
                0..8,
            )
        ) {
            let text = parts.concat();
            prop_assert_eq!(indexed(&text), words(&text));
        }
    }
}
