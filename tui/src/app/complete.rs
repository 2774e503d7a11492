//! `Tab` completion in the query language's inputs (the search box, the tail
//! filter): field names, and after `field:` the values the node has (namespaces,
//! pods and containers from the stream list; levels; output streams).

use std::collections::BTreeSet;

use lookout_shared::protocol::StreamInfo;

use super::input::TextInput;

/// Field names a query can start a term with.
const FIELDS: &[&str] = &["namespace", "pod", "container", "node", "level", "stream"];
const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];
const STREAMS: &[&str] = &["stdout", "stderr"];

/// What `Tab` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The word at the cursor was completed (fully, or to what every choice shares).
    Done,
    /// Several choices share nothing more: these are they (for the message line).
    Choices(Vec<String>),
    /// Nothing to complete here.
    Nothing,
}

/// Completes the word before the cursor of `input` from `streams`.
pub fn complete(input: &mut TextInput, streams: &[StreamInfo]) -> Completion {
    let chars: Vec<char> = input.text.chars().collect();
    let end = input.cursor.min(chars.len());
    let mut start = chars[..end]
        .iter()
        .rposition(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"'))
        .map_or(0, |i| i + 1);
    // `-pod:…` negates the term: complete what follows the dash.
    if chars.get(start) == Some(&'-') {
        start += 1;
    }
    let word: String = chars[start..end].iter().collect();
    if word.is_empty() {
        return Completion::Nothing;
    }
    let (prefix, partial, candidates): (String, String, Vec<String>) = match word.split_once(':') {
        Some((field, partial)) => {
            let values: BTreeSet<String> = match field {
                "namespace" => streams.iter().map(|s| s.source.namespace.clone()).collect(),
                "pod" => streams.iter().map(|s| s.source.pod.clone()).collect(),
                "container" => streams.iter().map(|s| s.source.container.clone()).collect(),
                "level" => LEVELS.iter().map(|s| s.to_string()).collect(),
                "stream" => STREAMS.iter().map(|s| s.to_string()).collect(),
                _ => return Completion::Nothing,
            };
            (
                format!("{field}:"),
                partial.to_string(),
                values.into_iter().collect(),
            )
        }
        None => (
            String::new(),
            word.clone(),
            FIELDS.iter().map(|f| format!("{f}:")).collect(),
        ),
    };
    let fits: Vec<&String> = candidates
        .iter()
        .filter(|c| c.starts_with(partial.as_str()) && c.as_str() != partial)
        .collect();
    let replacement = match fits.as_slice() {
        [] => return Completion::Nothing,
        [one] => {
            // A whole value is followed by a space, a field name by nothing.
            if prefix.is_empty() {
                (*one).clone()
            } else {
                format!("{prefix}{one} ")
            }
        }
        many => {
            let shared = common_prefix(many);
            if shared.chars().count() <= partial.chars().count() {
                return Completion::Choices(many.iter().map(|s| s.to_string()).collect());
            }
            format!("{prefix}{shared}")
        }
    };
    let before: String = chars[..start].iter().collect();
    let after: String = chars[end..].iter().collect();
    input.cursor = before.chars().count() + replacement.chars().count();
    input.text = format!("{before}{replacement}{after}");
    Completion::Done
}

fn common_prefix(words: &[&String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut n = first.chars().count();
    for w in &words[1..] {
        n = n.min(
            first
                .chars()
                .zip(w.chars())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::StreamId;

    fn streams() -> Vec<StreamInfo> {
        [
            ("payments", "checkout-7d9f", "app"),
            ("payments", "checkout-2b1c", "app"),
            ("payments", "ledger-0", "envoy"),
        ]
        .iter()
        .map(|(ns, pod, c)| StreamInfo {
            source: StreamId {
                namespace: ns.to_string(),
                pod: pod.to_string(),
                container: c.to_string(),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect()
    }

    fn tab(text: &str) -> (String, Completion) {
        let mut t = TextInput::new(text);
        let c = complete(&mut t, &streams());
        (t.text, c)
    }

    #[test]
    fn fields_then_values_then_shared_prefixes() {
        assert_eq!(tab("level:error AND po").0, "level:error AND pod:");
        assert_eq!(tab("pod:le").0, "pod:ledger-0 ");
        assert_eq!(tab("pod:ch").0, "pod:checkout-");
        let (text, c) = tab("pod:checkout-");
        assert_eq!(text, "pod:checkout-");
        assert_eq!(
            c,
            Completion::Choices(vec!["checkout-2b1c".into(), "checkout-7d9f".into()])
        );
        assert_eq!(tab("-namespace:pay").0, "-namespace:payments ");
        assert_eq!(tab("level:w").0, "level:warn ");
        assert_eq!(tab("timeout").1, Completion::Nothing);
        assert_eq!(tab("bogus:x").1, Completion::Nothing);
        assert_eq!(tab("").1, Completion::Nothing);
        // In the middle of the text: the word before the cursor, the rest kept.
        let mut t = TextInput::new("co AND level:error");
        t.cursor = 2;
        complete(&mut t, &streams());
        assert_eq!(t.text, "container: AND level:error");
        assert_eq!(t.cursor, "container:".len());
    }
}
