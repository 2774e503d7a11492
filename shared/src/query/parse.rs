//! The recursive-descent parser over [`super::lex`]'s tokens.
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
//! count characters from 0. What a single word, phrase or field value becomes is
//! [`super::terms`]'s job.

use super::lex::{lex, Tok, Token};
use super::terms::{phrase, value, word};
use super::{err, Node, QueryError, RawField};

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
            "workload" => Some(RawField::Workload),
            "restart" => Some(RawField::Restart),
            _ => {
                return Err(err(
                    format!(
                        "unknown field `{name}`: fields are message, namespace, pod, container, \
                         workload, restart, node, stream, level (quote the text to search it literally)"
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
                    Tok::Word(w) => values.push(value(field, &w, false, x.col, x.len)?),
                    Tok::Quoted(w) => values.push(value(field, &w, true, x.col, x.len)?),
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
            Tok::Word(w) => value(field, &w, false, v.col, v.len),
            Tok::Quoted(w) => value(field, &w, true, v.col, v.len),
            Tok::LParen => Err(err(
                format!("grouping after a field is not supported: write `{name}:IN [a b]`"),
                v.col,
                1,
            )),
            _ => Err(err(format!("`{name}:` needs a value"), col, len)),
        }
    }
}
