//! A message that is a JSON object: nested objects become dotted paths.

use serde_json::{Map, Value};

use super::{Sink, MAX_DEPTH};
use crate::Fields;

/// The fields of a JSON object message, or `None` when it is not valid JSON (then
/// it has no fields: it is kept raw, as written).
pub(super) fn extract(text: &str) -> Option<Fields> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let mut sink = Sink::default();
    let mut path = String::new();
    flatten(&mut sink, &mut path, map, 1);
    Some(sink.into_fields())
}

fn flatten(sink: &mut Sink, path: &mut String, map: Map<String, Value>, depth: usize) {
    for (k, v) in map {
        if sink.is_full() {
            return;
        }
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&k);
        match v {
            Value::Object(inner) if depth < MAX_DEPTH => flatten(sink, path, inner, depth + 1),
            Value::Object(inner) => {
                let text = Value::Object(inner).to_string();
                sink.put(path, Value::String(text));
            }
            other => sink.put(path, other),
        }
        path.truncate(len);
    }
}
