//! Annotation templates, Prometheus style: `{{ $labels.pod }}`, `{{ $value }}`
//! (and the `.Labels.pod` / `.Value` spellings), so rules copied from Prometheus or
//! Loki files keep working. Parsed once at validation, so a typo is reported with its
//! column before the rule is saved, never at 3 a.m. in a notification.

use std::collections::BTreeMap;

use crate::protocol::Position;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Label(String),
    Value,
}

/// A parsed annotation template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What is wrong with a template, and where (0-based character column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub position: Position,
}

impl Template {
    /// Parses `text`; `{{` must be closed by `}}` and hold `$value` or `$labels.NAME`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0usize; // byte offset of `rest` in `text`
        let col = |byte: usize| text[..byte].chars().count();
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(TemplateError {
                    message: "unclosed `{{`: expected `}}`".into(),
                    position: Position {
                        column: col(offset + open),
                        length: 2,
                    },
                });
            };
            let inner = &after[..close];
            let expr = inner.trim();
            let expr_byte = offset + open + 2 + (inner.len() - inner.trim_start().len());
            let part = if expr == "$value" || expr == ".Value" {
                Part::Value
            } else if let Some(name) = expr
                .strip_prefix("$labels.")
                .or_else(|| expr.strip_prefix(".Labels."))
            {
                if !super::is_label_name(name) {
                    return Err(TemplateError {
                        message: format!("invalid label name {name:?} in template"),
                        position: Position {
                            column: col(expr_byte),
                            length: expr.chars().count(),
                        },
                    });
                }
                Part::Label(name.to_string())
            } else {
                return Err(TemplateError {
                    message: format!(
                        "unknown template expression {expr:?}: use {{{{ $value }}}} or {{{{ $labels.NAME }}}}"
                    ),
                    position: Position {
                        column: col(expr_byte),
                        length: expr.chars().count().max(1),
                    },
                });
            };
            parts.push(part);
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Fills in the labels and value; a label the alert lacks renders as empty, as in
    /// Prometheus.
    pub fn render(&self, labels: &BTreeMap<String, String>, value: u64) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Label(l) => {
                    if let Some(v) = labels.get(l) {
                        out.push_str(v)
                    }
                }
                Part::Value => out.push_str(&value.to_string()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_and_value() {
        let t =
            Template::parse("pod {{ $labels.pod }} logged {{$value}} errors ({{ .Labels.ns }})")
                .unwrap();
        let mut l = BTreeMap::new();
        l.insert("pod".to_string(), "web-1".to_string());
        assert_eq!(t.render(&l, 7), "pod web-1 logged 7 errors ()");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = Template::parse("x {{ $labels.pod ").unwrap_err();
        assert_eq!(e.position.column, 2);
        let e = Template::parse("ab {{ $foo }}").unwrap_err();
        assert_eq!(e.position.column, 6);
        assert!(e.message.contains("$foo"));
        let e = Template::parse("é {{ $labels.a-b }}").unwrap_err();
        assert_eq!(e.position.column, 5);
    }
}
