//! Annotation templates, Prometheus style: `{{ $labels.pod }}`, `{{ $value }}`
//! (and the `.Labels.pod` / `.Value` spellings), so rules copied from Prometheus or
//! Loki files keep working. A `new_pattern` rule's templates may also name the
//! pattern's `{{ $template }}` and an `{{ $example }}` line of it: what the person
//! paged needs to see which kind of line is new without running a search. Parsed once at validation, so a typo is reported with its
//! column before the rule is saved, never at 3 a.m. in a notification.

use std::collections::BTreeMap;

use crate::protocol::Position;

/// Longest annotation template. An annotation is a sentence or two for a
/// notification (Alertmanager's own examples are under 200 bytes); 4 KiB leaves room
/// for a runbook paragraph while a rule set of hundreds of rules stays small, and
/// every alert renders each template once per notification.
pub const MAX_TEMPLATE_BYTES: usize = 4096;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Label(String),
    Value,
    PatternTemplate,
    PatternExample,
}

/// The pattern a novelty alert is about, for `{{ $template }}` and `{{ $example }}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatternInfo<'a> {
    /// The pattern's template (`Invalid user <*> from <*>`).
    pub template: &'a str,
    /// One line of it.
    pub example: &'a str,
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
    /// Parses `text`; `{{` must be closed by `}}` and hold `$value`, `$labels.NAME`,
    /// `$template` or `$example` (whether the last two are allowed is the rule's
    /// business: [`Template::uses_pattern`]).
    ///
    /// Longer than [`MAX_TEMPLATE_BYTES`] is refused at the first byte past it.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            let mut end = MAX_TEMPLATE_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return Err(TemplateError {
                message: format!(
                    "template is {} bytes long: at most {MAX_TEMPLATE_BYTES}",
                    text.len()
                ),
                position: Position {
                    column: text[..end].chars().count(),
                    length: 0,
                },
            });
        }
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
            } else if expr == "$template" || expr == ".Template" {
                Part::PatternTemplate
            } else if expr == "$example" || expr == ".Example" {
                Part::PatternExample
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
                        "unknown template expression {expr:?}: use {{{{ $value }}}}, {{{{ $labels.NAME }}}}, {{{{ $template }}}} or {{{{ $example }}}}"
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

    /// The first `{{ $template }}` or `{{ $example }}` in it, if any: what only a
    /// `new_pattern` rule can fill in.
    pub fn uses_pattern(&self) -> Option<&'static str> {
        self.parts.iter().find_map(|p| match p {
            Part::PatternTemplate => Some("$template"),
            Part::PatternExample => Some("$example"),
            _ => None,
        })
    }

    /// Fills in the labels and value; a label the alert lacks renders as empty, as in
    /// Prometheus.
    pub fn render(&self, labels: &BTreeMap<String, String>, value: u64) -> String {
        self.render_pattern(labels, value, PatternInfo::default())
    }

    /// [`Template::render`], with the pattern of a novelty alert.
    pub fn render_pattern(
        &self,
        labels: &BTreeMap<String, String>,
        value: u64,
        pattern: PatternInfo<'_>,
    ) -> String {
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
                Part::PatternTemplate => out.push_str(pattern.template),
                Part::PatternExample => out.push_str(pattern.example),
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
    fn renders_a_pattern() {
        let t = Template::parse("new: {{ $template }} e.g. {{.Example}}").unwrap();
        assert_eq!(t.uses_pattern(), Some("$template"));
        let p = PatternInfo {
            template: "Invalid user <*>",
            example: "Invalid user bob",
        };
        assert_eq!(
            t.render_pattern(&BTreeMap::new(), 1, p),
            "new: Invalid user <*> e.g. Invalid user bob"
        );
        assert_eq!(
            Template::parse("{{ $value }}").unwrap().uses_pattern(),
            None
        );
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

    #[test]
    fn a_template_over_the_size_limit_is_refused_where_it_goes_over() {
        let ok = "x".repeat(MAX_TEMPLATE_BYTES);
        assert!(Template::parse(&ok).is_ok());
        let long = format!("é{}", "{{ $value }}".repeat(MAX_TEMPLATE_BYTES / 11 + 1));
        let e = Template::parse(&long).unwrap_err();
        assert!(e.message.contains("at most 4096"), "{}", e.message);
        assert_eq!(e.position.column, MAX_TEMPLATE_BYTES - 1);
    }
}
