//! The recursive-descent parser over [`super::lex`]'s tokens.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*          juxtaposition is AND
//! unary   := ("NOT" | "-") unary | "+" unary | primary
//! primary := "(" or ")" | FIELD ":" value | FIELD ":" "IN" "[" value* "]" | "phrase" | word
//! value   := word | "phrase" | ("<"|"<="|">"|">=") number       comparisons and
//!          | ("["|"{") bound "TO" bound ("]"|"}")                ranges: extracted
//!                                                               fields only
//! ```
//!
//! Operators are upper-case only (`and` is a word to search for). Columns in errors
//! count characters from 0. What a single word, phrase or field value becomes is
//! [`super::terms`]'s job.

use super::lex::{lex, Tok, Token};
use super::terms::{phrase, value, word};
use std::ops::Bound;

use super::{err, FieldTest, MessageRegex, Node, Num, QueryError, RawField};

/// The prefix that always addresses an extracted field, even one named like a
/// built-in (`fields.level:warn` is the JSON `level` key, `level:warn` the entry's
/// level).
pub const FIELDS_PREFIX: &str = "fields.";

/// How deeply parentheses, `NOT`, `-` and `+` may nest. Parsing, simplifying,
/// compiling to tantivy and matching all recurse once per level, and the daemon runs
/// them on threads with 2 MiB stacks: 500 nested `-` overflowed one and aborted the
/// daemon (a stored rule did it at every start). Real queries nest a handful of
/// levels; 64 leaves room for generated ones at a few hundred KiB of stack.
pub const MAX_DEPTH: usize = 64;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end_col: usize,
    /// Open levels of nesting at the current position.
    depth: usize,
}

/// Parses a whole query into its simplified tree.
pub(super) fn parse(input: &str) -> Result<Node, QueryError> {
    let toks = lex(input)?;
    let end_col = input.chars().count();
    if toks.is_empty() {
        return Ok(Node::All);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_col,
        depth: 0,
    };
    let node = p.or()?;
    if let Some(t) = p.peek() {
        let t = t.clone();
        return Err(match t.tok {
            Tok::RParen => err("unexpected `)`: no `(` to close", t.col, 1),
            Tok::RBracket => err("unexpected `]`: no `[` to close", t.col, 1),
            _ => err("unexpected input", t.col, t.len),
        });
    }
    Ok(node.simplify())
}

fn is_op(t: &Tok, op: &str) -> bool {
    matches!(t, Tok::Word(w) if w == op)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Node, QueryError> {
        let mut items = vec![self.and()?];
        while let Some(t) = self.peek() {
            if !is_op(&t.tok, "OR") {
                break;
            }
            let t = t.clone();
            self.pos += 1;
            if !self.starts_term() {
                return Err(err("`OR` needs a term after it", t.col, t.len));
            }
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    /// Whether the next token can begin a term.
    fn starts_term(&self) -> bool {
        match self.peek() {
            None => false,
            Some(t) => match &t.tok {
                Tok::RParen | Tok::RBracket => false,
                Tok::Word(w) => w != "OR" && w != "AND",
                _ => true,
            },
        }
    }

    fn and(&mut self) -> Result<Node, QueryError> {
        if !self.starts_term() {
            return Err(self.expected_term());
        }
        let mut items = vec![self.unary()?];
        while let Some(t) = self.peek() {
            if is_op(&t.tok, "AND") {
                let t = t.clone();
                self.pos += 1;
                if !self.starts_term() {
                    return Err(err("`AND` needs a term after it", t.col, t.len));
                }
                items.push(self.unary()?);
            } else if self.starts_term() {
                items.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn expected_term(&self) -> QueryError {
        match self.peek() {
            None => err("expected a term at the end of the query", self.end_col, 0),
            Some(t) => match &t.tok {
                Tok::RParen => err("expected a term before `)`", t.col, 1),
                Tok::RBracket => err("unexpected `]`", t.col, 1),
                Tok::Word(w) => err(format!("expected a term before `{w}`"), t.col, t.len),
                _ => err("expected a term", t.col, t.len),
            },
        }
    }

    /// Enters one level of nesting at `t`, refusing past [`MAX_DEPTH`]; the caller
    /// leaves it with `self.depth -= 1` once the nested part is parsed.
    fn descend(&mut self, t: &Token) -> Result<(), QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(err(
                format!(
                    "the query nests too deeply here: at most {MAX_DEPTH} levels of `(`, `NOT`, `-` and `+`"
                ),
                t.col,
                t.len,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.expected_term());
        };
        if matches!(t.tok, Tok::Minus | Tok::Plus) || is_op(&t.tok, "NOT") {
            self.descend(&t)?;
            let node = self.unary_op(&t);
            self.depth -= 1;
            return node;
        }
        self.primary()
    }

    /// `t` is `-`, `NOT` or `+`, at the current position.
    fn unary_op(&mut self, t: &Token) -> Result<Node, QueryError> {
        match &t.tok {
            Tok::Minus => {
                self.pos += 1;
                if !self.starts_term() {
                    return Err(err("`-` needs a term right after it", t.col, 1));
                }
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Tok::Word(w) if w == "NOT" => {
                self.pos += 1;
                if !self.starts_term() {
                    return Err(err("`NOT` needs a term after it", t.col, t.len));
                }
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Tok::Plus => {
                self.pos += 1;
                if !self.starts_term() {
                    return Err(err("`+` needs a term right after it", t.col, 1));
                }
                self.unary()
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, QueryError> {
        let Some(t) = self.next() else {
            return Err(self.expected_term());
        };
        match t.tok {
            Tok::LParen => {
                if matches!(self.peek().map(|x| &x.tok), Some(Tok::RParen)) {
                    return Err(err("empty parentheses", t.col, 2));
                }
                self.descend(&t)?;
                let inner = self.or();
                self.depth -= 1;
                let inner = inner?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(inner),
                    _ => Err(err("missing `)` to close this `(`", t.col, 1)),
                }
            }
            Tok::Quoted(s) => phrase(&s, t.col, t.len),
            Tok::Word(w) => word(&w, t.col, t.len),
            Tok::Field(name) => self.field(&name, t.col, t.len),
            Tok::Regex(p) => regex(&p, t.col, t.len),
            Tok::RParen => Err(err("unexpected `)`", t.col, 1)),
            Tok::RBracket => Err(err("unexpected `]`", t.col, 1)),
            Tok::LBracket => Err(err("`[` only follows `IN`, as in `pod:IN [a b]`", t.col, 1)),
            Tok::Minus | Tok::Plus => Err(err("expected a term", t.col, 1)),
        }
    }

    fn field(&mut self, name: &str, col: usize, len: usize) -> Result<Node, QueryError> {
        let field = match builtin(name) {
            Builtin::Message => None,
            Builtin::Raw(f) => Some(f),
            Builtin::Extracted(path) => return self.extracted(name, path, col, len),
        };
        let Some(v) = self.next() else {
            return Err(err(format!("`{name}:` needs a value"), col, len));
        };
        // `field:IN [a b c]`
        if is_op(&v.tok, "IN") && matches!(self.peek().map(|x| &x.tok), Some(Tok::LBracket)) {
            let open = self.next().map(|x| x.col).unwrap_or(v.col);
            let mut values = Vec::new();
            for (w, quoted, c, l) in self.in_list(open)? {
                values.push(value(field, &w, quoted, c, l)?);
            }
            return Ok(match field {
                None => Node::Or(values),
                Some(f) => {
                    let vals = values
                        .into_iter()
                        .flat_map(|n| match n {
                            Node::Raw { values, .. } => values,
                            _ => Vec::new(),
                        })
                        .collect();
                    Node::Raw {
                        field: f,
                        values: vals,
                    }
                }
            });
        }
        match v.tok {
            Tok::Word(w) => value(field, &w, false, v.col, v.len),
            Tok::Quoted(w) => value(field, &w, true, v.col, v.len),
            Tok::Regex(p) if field.is_none() => regex(&p, v.col, v.len),
            Tok::Regex(_) => Err(err(
                format!("regular expressions apply to the message: write `message:/…/` or `/…/`, not `{name}:/…/`"),
                v.col,
                v.len,
            )),
            Tok::LParen => Err(err(
                format!("grouping after a field is not supported: write `{name}:IN [a b]`"),
                v.col,
                1,
            )),
            Tok::LBracket => Err(err(
                format!("`{name}` is not a number field: ranges apply to extracted fields"),
                v.col,
                1,
            )),
            _ => Err(err(format!("`{name}:` needs a value"), col, len)),
        }
    }

    /// The values of `IN [ ... ]` after its `[` (at column `open`): each as
    /// (text, quoted, column, length).
    fn in_list(&mut self, open: usize) -> Result<Vec<(String, bool, usize, usize)>, QueryError> {
        let mut values = Vec::new();
        loop {
            let Some(x) = self.next() else {
                return Err(err("missing `]` to close this `[`", open, 1));
            };
            match x.tok {
                Tok::RBracket => break,
                Tok::Word(w) => values.push((w, false, x.col, x.len)),
                Tok::Quoted(w) => values.push((w, true, x.col, x.len)),
                _ => {
                    return Err(err(
                        "only values may appear inside `IN [...]`",
                        x.col,
                        x.len,
                    ))
                }
            }
        }
        if values.is_empty() {
            return Err(err("`IN []` needs at least one value", open, 2));
        }
        Ok(values)
    }

    /// `path:…` on a field extracted from the message: a value, a prefix, `*`, a
    /// comparison (`>=500`), a range (`[500 TO 599]`) or `IN [...]`.
    fn extracted(
        &mut self,
        name: &str,
        path: &str,
        col: usize,
        len: usize,
    ) -> Result<Node, QueryError> {
        let Some(v) = self.next() else {
            return Err(err(format!("`{name}:` needs a value"), col, len));
        };
        let node = |test| Node::Field {
            path: path.to_string(),
            test,
        };
        if is_op(&v.tok, "IN") && matches!(self.peek().map(|x| &x.tok), Some(Tok::LBracket)) {
            let open = self.next().map(|x| x.col).unwrap_or(v.col);
            let mut alts = Vec::new();
            for (w, quoted, c, _) in self.in_list(open)? {
                alts.push(node(field_value(&w, quoted, c)?));
            }
            return Ok(if alts.len() == 1 {
                alts.remove(0)
            } else {
                Node::Or(alts)
            });
        }
        match v.tok {
            Tok::Quoted(w) => Ok(node(field_value(&w, true, v.col)?)),
            Tok::Regex(_) => Err(err(
                format!("regular expressions apply to the message: write `message:/…/` or `/…/`, not `{name}:/…/`"),
                v.col,
                v.len,
            )),
            // `delta:-5`: the lexer reads a `-` before a word as NOT.
            Tok::Minus => match self.next() {
                Some(Token {
                    tok: Tok::Word(w), ..
                }) => Ok(node(field_value(&format!("-{w}"), false, v.col)?)),
                _ => Err(err(format!("`{name}:` needs a value"), col, len)),
            },
            Tok::LBracket => self.range(path, true, None, v.col),
            Tok::Word(w) if w.starts_with('{') => {
                let rest = &w[1..];
                let lower = (!rest.is_empty()).then(|| (rest.to_string(), v.col + 1, v.len - 1));
                self.range(path, false, lower, v.col)
            }
            Tok::Word(w) if w.starts_with(['>', '<']) => {
                let (op, rest) = split_op(&w);
                let op_len = op.len();
                let (num_text, ncol, nlen) = if rest.is_empty() {
                    match self.next() {
                        Some(Token {
                            tok: Tok::Word(n),
                            col,
                            len,
                        }) => (n, col, len),
                        // `<= -2`: the lexer reads a `-` before a word as NOT.
                        Some(Token {
                            tok: Tok::Minus,
                            col,
                            ..
                        }) => match self.next() {
                            Some(Token {
                                tok: Tok::Word(n),
                                len,
                                ..
                            }) => (format!("-{n}"), col, len + 1),
                            _ => {
                                return Err(err(
                                    format!("`{op}` needs a number after it"),
                                    v.col,
                                    op_len,
                                ))
                            }
                        },
                        _ => {
                            return Err(err(
                                format!("`{op}` needs a number after it"),
                                v.col,
                                op_len,
                            ))
                        }
                    }
                } else {
                    (rest.to_string(), v.col + op_len, v.len - op_len)
                };
                let n = number(&num_text, ncol, nlen)?;
                let (lo, hi) = match op {
                    ">=" => (Bound::Included(n), Bound::Unbounded),
                    ">" => (Bound::Excluded(n), Bound::Unbounded),
                    "<=" => (Bound::Unbounded, Bound::Included(n)),
                    _ => (Bound::Unbounded, Bound::Excluded(n)),
                };
                Ok(node(FieldTest::Range { lo, hi }))
            }
            Tok::Word(w) => Ok(node(field_value(&w, false, v.col)?)),
            Tok::LParen => Err(err(
                format!("grouping after a field is not supported: write `{name}:IN [a b]`"),
                v.col,
                1,
            )),
            _ => Err(err(format!("`{name}:` needs a value"), col, len)),
        }
    }

    /// A range after its opening `[` (inclusive) or `{` (exclusive) at `open_col`;
    /// `lower` is the lower bound when it was glued to a `{`.
    fn range(
        &mut self,
        path: &str,
        lo_inclusive: bool,
        lower: Option<(String, usize, usize)>,
        open_col: usize,
    ) -> Result<Node, QueryError> {
        let bad = |c: usize, l: usize| {
            err(
                "a range is written `[LOW TO HIGH]` (inclusive) or `{LOW TO HIGH}` \
                 (exclusive), with numbers or `*`",
                c,
                l,
            )
        };
        let lower = match lower {
            Some(x) => x,
            None => match self.next() {
                Some(Token {
                    tok: Tok::Word(w),
                    col,
                    len,
                }) => (w, col, len),
                _ => return Err(bad(open_col, 1)),
            },
        };
        match self.next() {
            Some(t) if is_op(&t.tok, "TO") => {}
            Some(t) => return Err(bad(t.col, t.len)),
            None => return Err(bad(open_col, 1)),
        }
        let (upper, hi_inclusive) = match self.next() {
            Some(Token {
                tok: Tok::Word(w),
                col,
                len,
            }) => {
                if let Some(u) = w.strip_suffix('}') {
                    ((u.to_string(), col, len - 1), false)
                } else {
                    match self.next() {
                        Some(Token {
                            tok: Tok::RBracket, ..
                        }) => ((w, col, len), true),
                        _ => {
                            return Err(err("missing `]` or `}` to close this range", open_col, 1))
                        }
                    }
                }
            }
            Some(t) => return Err(bad(t.col, t.len)),
            None => return Err(err("missing `]` or `}` to close this range", open_col, 1)),
        };
        let bound = |(text, c, l): (String, usize, usize), inclusive: bool| {
            if text == "*" {
                return Ok(Bound::Unbounded);
            }
            let n = number(&text, c, l)?;
            Ok(if inclusive {
                Bound::Included(n)
            } else {
                Bound::Excluded(n)
            })
        };
        let lo = bound(lower, lo_inclusive)?;
        let hi = bound(upper, hi_inclusive)?;
        Ok(Node::Field {
            path: path.to_string(),
            test: FieldTest::Range { lo, hi },
        })
    }
}

/// `/pattern/` at column `col` (`len` characters with its slashes).
fn regex(pattern: &str, col: usize, len: usize) -> Result<Node, QueryError> {
    match MessageRegex::new(pattern) {
        Ok(r) => Ok(Node::Regex(r)),
        Err(e) => {
            // The regex crate's message spans several lines with its own caret; the
            // last line says what is wrong.
            let text = e.to_string();
            let why = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ");
            Err(err(format!("invalid regular expression: {why}"), col, len))
        }
    }
}

/// What a field name before `:` addresses.
enum Builtin<'a> {
    Message,
    Raw(RawField),
    /// A field extracted from the message, by its dotted path.
    Extracted(&'a str),
}

/// Built-in names win over extracted fields of the same name; `fields.NAME` always
/// addresses the extracted one (`fields.level`, `fields.message`).
fn builtin(name: &str) -> Builtin<'_> {
    if let Some(path) = name.strip_prefix(FIELDS_PREFIX) {
        if !path.is_empty() {
            return Builtin::Extracted(path);
        }
    }
    match name {
        "message" | "msg" => Builtin::Message,
        "namespace" | "ns" => Builtin::Raw(RawField::Namespace),
        "pod" => Builtin::Raw(RawField::Pod),
        "container" => Builtin::Raw(RawField::Container),
        "node" => Builtin::Raw(RawField::Node),
        "stream" => Builtin::Raw(RawField::Stream),
        "level" => Builtin::Raw(RawField::Level),
        "workload" => Builtin::Raw(RawField::Workload),
        "restart" => Builtin::Raw(RawField::Restart),
        "pattern" => Builtin::Raw(RawField::Pattern),
        _ => Builtin::Extracted(name),
    }
}

/// `>=500` as (`>=`, `500`).
fn split_op(w: &str) -> (&str, &str) {
    for op in [">=", "<=", ">", "<"] {
        if let Some(rest) = w.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", w)
}

/// A finite number for a comparison or range bound.
fn number(text: &str, col: usize, len: usize) -> Result<Num, QueryError> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && text.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
            Ok(Num(if n == 0.0 { 0.0 } else { n }))
        }
        _ => Err(err(
            format!("`{text}` is not a number: comparisons and ranges take numbers, like `>=500`"),
            col,
            len,
        )),
    }
}

/// A value on an extracted field: `*` (present), a prefix `abc*`, or a value
/// compared as text and, when written as a number, as a number.
fn field_value(w: &str, quoted: bool, col: usize) -> Result<FieldTest, QueryError> {
    if !quoted {
        if w == "*" {
            return Ok(FieldTest::Exists);
        }
        if let Some(i) = w.find('*') {
            if i + 1 != w.len() {
                return Err(err(
                    "`*` is only allowed at the end of a value (a prefix)",
                    col + w[..i].chars().count(),
                    1,
                ));
            }
            return Ok(FieldTest::Prefix(w[..i].to_string()));
        }
    }
    let num = w
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && w.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
        .map(|n| Num(if n == 0.0 { 0.0 } else { n }));
    Ok(FieldTest::Eq {
        text: w.to_string(),
        num,
    })
}
