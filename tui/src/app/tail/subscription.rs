//! The subscription query for a stream selection and a filter.

use std::collections::BTreeSet;

use lookout_shared::protocol::StreamInfo;
use lookout_shared::query::quote;

use super::StreamKey;

/// The query that selects `selected` streams (all when empty), narrowed by `filter`:
/// the daemon filters, so a quiet stream stays cheap next to a loud one.
///
/// A namespace or pod selected whole (every stream of it that `known` lists) becomes
/// one clause, so taking a namespace of 50 containers sends one term, not 50. Names
/// are written with the shared [`quote`], so the daemon's lexer reads back each name.
pub fn subscription_query(
    selected: &BTreeSet<StreamKey>,
    known: &[StreamInfo],
    filter: &str,
) -> String {
    let filter = filter.trim();
    let filter = if filter == "*" { "" } else { filter };
    let whole = |ns: &str, pod: Option<&str>| {
        let mut under = known
            .iter()
            .map(|s| &s.source)
            .filter(|s| s.namespace == ns && pod.is_none_or(|p| s.pod == p))
            .peekable();
        under.peek().is_some() && under.all(|s| selected.contains(&StreamKey::of(s)))
    };
    let mut clauses = Vec::new();
    let mut done_ns: BTreeSet<&str> = BTreeSet::new();
    let mut done_pod: BTreeSet<(&str, &str)> = BTreeSet::new();
    for k in selected {
        if done_ns.contains(k.namespace.as_str())
            || done_pod.contains(&(k.namespace.as_str(), k.pod.as_str()))
        {
            continue;
        }
        if whole(&k.namespace, None) {
            done_ns.insert(&k.namespace);
            clauses.push(format!("namespace:{}", quote(&k.namespace)));
        } else if whole(&k.namespace, Some(&k.pod)) {
            done_pod.insert((&k.namespace, &k.pod));
            clauses.push(format!(
                "(namespace:{} AND pod:{})",
                quote(&k.namespace),
                quote(&k.pod)
            ));
        } else {
            clauses.push(format!(
                "(namespace:{} AND pod:{} AND container:{})",
                quote(&k.namespace),
                quote(&k.pod),
                quote(&k.container)
            ));
        }
    }
    let sel = match clauses.len() {
        0 => String::new(),
        1 => clauses.remove(0),
        _ => format!("({})", clauses.join(" OR ")),
    };
    match (sel.is_empty(), filter.is_empty()) {
        (true, true) => String::new(),
        (true, false) => filter.to_string(),
        (false, true) => sel,
        (false, false) => format!("{sel} AND ({filter})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_from_selection_and_filter() {
        let mut sel = BTreeSet::new();
        assert_eq!(subscription_query(&sel, &[], ""), "");
        assert_eq!(subscription_query(&sel, &[], "level:error"), "level:error");
        sel.insert(StreamKey {
            namespace: "payments".into(),
            pod: "checkout-7d9f".into(),
            container: "app".into(),
        });
        assert_eq!(
            subscription_query(&sel, &[], "timeout"),
            "(namespace:payments AND pod:checkout-7d9f AND container:app) AND (timeout)"
        );
        sel.insert(StreamKey {
            namespace: "payments".into(),
            pod: "ledger 0".into(),
            container: "app".into(),
        });
        let q = subscription_query(&sel, &[], "");
        assert!(q.contains(" OR "), "{q}");
        assert!(q.contains("pod:\"ledger 0\""), "{q}");
    }
}
