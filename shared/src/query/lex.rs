//! The lexer: query text to tokens with their character columns, and [`quote`], its
//! inverse for a raw-field value (so a client that writes queries, like the
//! dashboard's stream selection, writes what this lexer reads back).

use super::{err, QueryError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Minus,
    Plus,
    Word(String),
    Quoted(String),
    /// `name:` (the colon included in the token's length).
    Field(String),
    /// `/pattern/`, with `\/` read as `/`.
    Regex(String),
}

/// A token and where it is: `col` and `len` count characters, not bytes, because
/// they point a caret under the query the user typed.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub col: usize,
    pub len: usize,
}

/// Characters that end a bare word.
fn is_sep(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Whether `head` (the text before a `:`) names a field rather than being part of a
/// word like `12:30` or `10.0.0.1:80`.
///
/// A name starts with a letter, `_` or `@` and goes on with letters, digits and
/// `_ . - @` (JSON keys like `x-request-id` and `@timestamp` are fields too).
pub(crate) fn is_field_name(head: &str) -> bool {
    let mut cs = head.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '@')
        && cs.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-' | '@'))
}

pub(super) fn lex(input: &str) -> Result<Vec<Token>, QueryError> {
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
        if c == '/' {
            if let Some((pattern, end)) = regex_at(&cs, i) {
                out.push(Token {
                    tok: Tok::Regex(pattern),
                    col: i,
                    len: end - i,
                });
                i = end;
                continue;
            }
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
        if i < cs.len() && cs[i] == ':' && is_field_name(&head) {
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

/// A `/…/` regular expression starting at `cs[start]`: its pattern and the index
/// past its closing `/`. A closing `/` must end the token (whitespace, `)` or the end
/// follow it), so a path like `/api/v1/orders` stays a word to search for; `\/` is a
/// literal slash inside the pattern, other escapes are the pattern's own.
fn regex_at(cs: &[char], start: usize) -> Option<(String, usize)> {
    let mut pattern = String::new();
    let mut j = start + 1;
    while j < cs.len() {
        match cs[j] {
            '\\' if cs.get(j + 1) == Some(&'/') => {
                pattern.push('/');
                j += 2;
            }
            '\\' if j + 1 < cs.len() => {
                pattern.push('\\');
                pattern.push(cs[j + 1]);
                j += 2;
            }
            '/' => {
                let ends = cs.get(j + 1).is_none_or(|c| c.is_whitespace() || *c == ')');
                if ends && !pattern.is_empty() {
                    return Some((pattern, j + 1));
                }
                pattern.push('/');
                j += 1;
            }
            ch => {
                pattern.push(ch);
                j += 1;
            }
        }
    }
    None
}

/// `value` written so that `field:<it>` parses back to exactly `value`: bare when it
/// is one plain token (`checkout-7d9f-x2`, `odd.ns`), quoted and escaped otherwise.
///
/// A leading `-` or `+` is quoted: bare, the lexer reads it as an operator and
/// `pod:-x` would be an error rather than the pod `-x`.
pub fn quote(value: &str) -> String {
    let plain = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
