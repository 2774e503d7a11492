//! Lexer and recursive-descent parser for the query language.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*          juxtaposition is AND
//! unary   := ("NOT" | "-") unary | "+" unary | primary
//! primary := "(" or ")" | FIELD ":" value | FIELD ":" "IN" "[" value* "]" | "phrase" | word
//! ```
//!
//! Operators are upper-case only (`and` is a word to search for). Columns in errors
//! count characters from 0.

use lookout_shared::protocol::Position;

use super::text::tokens;
use super::{Node, QueryError, RawField, RawValue};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Minus,
    Plus,
    Word(String),
    Quoted(String),
    Field(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
    len: usize,
}

fn err(message: impl Into<String>, col: usize, len: usize) -> QueryError {
    QueryError {
        message: message.into(),
        position: Position {
            column: col,
            length: len,
        },
    }
}

fn is_sep(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

fn lex(input: &str) -> Result<Vec<Token>, QueryError> {
    let cs: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '-' if i + 1 < cs.len() && !cs[i + 1].is_whitespace() => Some(Tok::Minus),
            '+' if i + 1 < cs.len() && !cs[i + 1].is_whitespace() => Some(Tok::Plus),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token {
                tok,
                col: i,
                len: 1,
            });
            i += 1;
            continue;
        }
        if c == '"' {
            let start = i;
            i += 1;
            let mut s = String::new();
            let mut closed = false;
            while i < cs.len() {
                match cs[i] {
                    '\\' if i + 1 < cs.len() => {
                        s.push(cs[i + 1]);
                        i += 2;
                    }
                    '"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    ch => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(err(
                    "unterminated phrase: missing closing `\"`",
                    start,
                    cs.len() - start,
                ));
            }
            out.push(Token {
                tok: Tok::Quoted(s),
                col: start,
                len: i - start,
            });
            continue;
        }
        // A word, possibly `field:` followed by its value.
        let start = i;
        while i < cs.len() && !is_sep(cs[i]) {
            if cs[i] == ':' {
                break;
            }
            i += 1;
        }
        let head: String = cs[start..i].iter().collect();
        if i < cs.len()
            && cs[i] == ':'
            && !head.is_empty()
            && head
                .chars()
                .all(|ch| ch.is_ascii_alphabetic() || ch == '_' || ch == '.')
        {
            i += 1;
            out.push(Token {
                tok: Tok::Field(head),
                col: start,
                len: i - start,
            });
            continue;
        }
        // Not a field: the colon belongs to the word.
        while i < cs.len() && !is_sep(cs[i]) {
            i += 1;
        }
        out.push(Token {
            tok: Tok::Word(cs[start..i].iter().collect()),
            col: start,
            len: i - start,
        });
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end_col: usize,
}

/// Parses a whole query.
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
    Ok(simplify(node))
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
        loop {
            let Some(t) = self.peek() else { break };
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

    fn unary(&mut self) -> Result<Node, QueryError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.expected_term());
        };
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
                let inner = self.or()?;
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
            Tok::RParen => Err(err("unexpected `)`", t.col, 1)),
            Tok::RBracket => Err(err("unexpected `]`", t.col, 1)),
            Tok::LBracket => Err(err("`[` only follows `IN`, as in `pod:IN [a b]`", t.col, 1)),
            Tok::Minus | Tok::Plus => Err(err("expected a term", t.col, 1)),
        }
    }

    fn field(&mut self, name: &str, col: usize, len: usize) -> Result<Node, QueryError> {
        let field = match name {
            "message" | "msg" => None,
            "namespace" | "ns" => Some(RawField::Namespace),
            "pod" => Some(RawField::Pod),
            "container" => Some(RawField::Container),
            "node" => Some(RawField::Node),
            "stream" => Some(RawField::Stream),
            "level" => Some(RawField::Level),
            _ => {
                return Err(err(
                    format!(
                        "unknown field `{name}`: fields are message, namespace, pod, container, \
                         node, stream, level (quote the text to search it literally)"
                    ),
                    col,
                    len.saturating_sub(1).max(1),
                ))
            }
        };
        let Some(v) = self.next() else {
            return Err(err(format!("`{name}:` needs a value"), col, len));
        };
        // `field:IN [a b c]`
        if is_op(&v.tok, "IN") && matches!(self.peek().map(|x| &x.tok), Some(Tok::LBracket)) {
            let open = self.next().map(|x| x.col).unwrap_or(v.col);
            let mut values = Vec::new();
            loop {
                let Some(x) = self.next() else {
                    return Err(err("missing `]` to close this `[`", open, 1));
                };
                match x.tok {
                    Tok::RBracket => break,
                    Tok::Word(w) => values.push(self.value(field, &w, false, x.col, x.len)?),
                    Tok::Quoted(w) => values.push(self.value(field, &w, true, x.col, x.len)?),
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
            Tok::Word(w) => self.value(field, &w, false, v.col, v.len),
            Tok::Quoted(w) => self.value(field, &w, true, v.col, v.len),
            Tok::LParen => Err(err(
                format!("grouping after a field is not supported: write `{name}:IN [a b]`"),
                v.col,
                1,
            )),
            _ => Err(err(format!("`{name}:` needs a value"), col, len)),
        }
    }

    fn value(
        &self,
        field: Option<RawField>,
        v: &str,
        quoted: bool,
        col: usize,
        len: usize,
    ) -> Result<Node, QueryError> {
        let Some(field) = field else {
            return if quoted {
                phrase(v, col, len)
            } else {
                word(v, col, len)
            };
        };
        let value = if quoted {
            RawValue::Exact(v.to_string())
        } else {
            let star = v.find('*');
            match star {
                Some(i) if i + 1 == v.len() => RawValue::Prefix(v[..i].to_string()),
                Some(i) => {
                    return Err(err(
                        "`*` is only allowed at the end of a value (a prefix)",
                        col + v[..i].chars().count(),
                        1,
                    ))
                }
                None => RawValue::Exact(v.to_string()),
            }
        };
        let value = match field {
            RawField::Level | RawField::Stream => normalise_enum(field, value, col, len)?,
            _ => value,
        };
        Ok(Node::Raw {
            field,
            values: vec![value],
        })
    }
}

/// `level` and `stream` have fixed lower-case values; accept common spellings.
fn normalise_enum(
    field: RawField,
    v: RawValue,
    col: usize,
    len: usize,
) -> Result<RawValue, QueryError> {
    match v {
        RawValue::Prefix(p) => Ok(RawValue::Prefix(p.to_lowercase())),
        RawValue::Exact(x) => {
            let x = x.to_lowercase();
            let canon = match (field, x.as_str()) {
                (RawField::Level, "error" | "err" | "fatal" | "critical") => "error",
                (RawField::Level, "warn" | "warning") => "warn",
                (RawField::Level, "info") => "info",
                (RawField::Level, "debug") => "debug",
                (RawField::Level, "trace") => "trace",
                (RawField::Stream, "stdout") => "stdout",
                (RawField::Stream, "stderr") => "stderr",
                (RawField::Level, _) => {
                    return Err(err(
                        format!("unknown level `{x}`: use error, warn, info, debug or trace"),
                        col,
                        len,
                    ))
                }
                _ => {
                    return Err(err(
                        format!("unknown stream `{x}`: use stdout or stderr"),
                        col,
                        len,
                    ))
                }
            };
            Ok(RawValue::Exact(canon.to_string()))
        }
    }
}

/// A bare word on `message`.
fn word(w: &str, col: usize, len: usize) -> Result<Node, QueryError> {
    if w == "*" {
        return Ok(Node::All);
    }
    if let Some(i) = w.find('*') {
        if i + 1 != w.len() {
            return Err(err(
                "`*` is only allowed at the end of a word (a prefix)",
                col + w[..i].chars().count(),
                1,
            ));
        }
        let t = tokens(&w[..i]);
        // The prefix must be the tail of one word: `check*`, not `a-b*`.
        if t.len() != 1 || !w[..i].ends_with(|c: char| c.is_alphanumeric()) {
            return Err(err(
                "a prefix `*` applies to one word of letters and digits, like `check*`",
                col,
                len,
            ));
        }
        return Ok(Node::WordPrefix(t.into_iter().next().unwrap_or_default()));
    }
    phrase(w, col, len)
}

/// Words that must appear consecutively in `message`.
fn phrase(s: &str, col: usize, len: usize) -> Result<Node, QueryError> {
    let t = tokens(s);
    if t.is_empty() {
        return Err(err(
            format!("`{s}` has no letters or digits to search for"),
            col,
            len,
        ));
    }
    Ok(Node::Words(t))
}

/// Flattens nested AND/OR and drops `*` inside an AND.
fn simplify(n: Node) -> Node {
    match n {
        Node::And(xs) => {
            let mut out = Vec::new();
            for x in xs.into_iter().map(simplify) {
                match x {
                    Node::And(inner) => out.extend(inner),
                    Node::All => {}
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::All,
                1 => out.remove(0),
                _ => Node::And(out),
            }
        }
        Node::Or(xs) => {
            let mut out = Vec::new();
            for x in xs.into_iter().map(simplify) {
                match x {
                    Node::Or(inner) => out.extend(inner),
                    Node::All => return Node::All,
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.remove(0)
            } else {
                Node::Or(out)
            }
        }
        Node::Not(x) => Node::Not(Box::new(simplify(*x))),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn e(s: &str) -> QueryError {
        parse(s).expect_err(s)
    }
    fn w(x: &[&str]) -> Node {
        Node::Words(x.iter().map(|s| s.to_string()).collect())
    }
    fn raw(f: RawField, v: &str) -> Node {
        Node::Raw {
            field: f,
            values: vec![RawValue::Exact(v.into())],
        }
    }

    #[test]
    fn basics() {
        assert_eq!(p(""), Node::All);
        assert_eq!(p("  * "), Node::All);
        assert_eq!(p("Timeout"), w(&["timeout"]));
        assert_eq!(p("a b"), Node::And(vec![w(&["a"]), w(&["b"])]));
        assert_eq!(p("a AND b"), p("a b"));
        assert_eq!(p("\"Connection Refused\""), w(&["connection", "refused"]));
        assert_eq!(p("blk_-160"), w(&["blk", "160"]));
        assert_eq!(
            p("a OR b c"),
            Node::Or(vec![w(&["a"]), Node::And(vec![w(&["b"]), w(&["c"])])])
        );
        assert_eq!(
            p("namespace:payments level:ERROR"),
            Node::And(vec![
                raw(RawField::Namespace, "payments"),
                raw(RawField::Level, "error")
            ])
        );
        assert_eq!(p("-x"), Node::Not(Box::new(w(&["x"]))));
        assert_eq!(p("NOT x"), p("-x"));
        assert_eq!(p("+x"), w(&["x"]));
        assert_eq!(
            p("pod:IN [a \"b c\" d*]"),
            Node::Raw {
                field: RawField::Pod,
                values: vec![
                    RawValue::Exact("a".into()),
                    RawValue::Exact("b c".into()),
                    RawValue::Prefix("d".into())
                ]
            }
        );
        assert_eq!(p("pod: IN [a]"), raw(RawField::Pod, "a"));
        assert_eq!(p("check*"), Node::WordPrefix("check".into()));
        assert_eq!(
            p("(a OR b) c"),
            Node::And(vec![Node::Or(vec![w(&["a"]), w(&["b"])]), w(&["c"])])
        );
        assert_eq!(
            p("x and y"),
            Node::And(vec![w(&["x"]), w(&["and"]), w(&["y"])])
        );
        assert_eq!(p("12:30:01"), w(&["12", "30", "01"]));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let x = e("a AND");
        assert_eq!(x.position.column, 2);
        let x = e("(a OR b");
        assert_eq!(x.position.column, 0);
        assert!(x.message.contains("`)`"));
        let x = e("a b)");
        assert_eq!(x.position.column, 3);
        let x = e("podd:x");
        assert_eq!(x.position.column, 0);
        assert!(x.message.contains("unknown field"));
        let x = e("foo \"bar");
        assert_eq!(x.position.column, 4);
        let x = e("level:loud");
        assert_eq!(x.position.column, 6);
        let x = e("pod:a*b");
        assert_eq!(x.position.column, 5);
        let x = e("*foo");
        assert_eq!(x.position.column, 0);
        let x = e("---");
        assert!(x.message.contains("no letters"));
        let x = e("pod:");
        assert_eq!(x.position.column, 0);
        let x = e("é OR");
        assert_eq!(x.position.column, 2);
        assert!(e("()").message.contains("empty"));
        assert!(e("pod:IN [a").message.contains("`]`"));
        assert!(e("OR a").message.contains("expected a term"));
    }
}
