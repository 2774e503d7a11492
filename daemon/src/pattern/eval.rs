//! Grouping accuracy against labelled logs, for the tests and the bench.
//!
//! Grouping accuracy (Zhu et al., "Tools and Benchmarks for Automated Log
//! Parsing", ICSE-SEIP 2019): a line counts as right when the set of lines in
//! its predicted group is exactly the set of lines of its true group. One
//! wrong line in a group of 300 makes all 300 wrong, so it punishes merging
//! two events and splitting one alike.

use std::collections::HashMap;
use std::hash::Hash;

/// The share of lines whose predicted group equals their true group.
/// `predicted[i]` and `truth[i]` are line `i`'s group labels; lengths must
/// match (0.0 otherwise, and for no lines).
pub fn grouping_accuracy<P: Hash + Eq, T: Hash + Eq>(predicted: &[P], truth: &[T]) -> f64 {
    if predicted.len() != truth.len() || predicted.is_empty() {
        return 0.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    // Per predicted group: its size, and its true label if it has only one.
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let right: usize = groups
        .values()
        .filter_map(|&(size, t, pure)| {
            let t = t?;
            (pure && truth_size.get(t) == Some(&size)).then_some(size)
        })
        .sum();
    right as f64 / predicted.len() as f64
}

/// Error reading a CSV column.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header has no such column.
    #[error("CSV has no column {0:?}")]
    NoColumn(String),
    /// A quoted field runs to the end of the text.
    #[error("CSV row {row}: unterminated quote")]
    Unterminated { row: usize },
}

/// One named column of a CSV text (RFC 4180 quoting, `""` escapes, quoted
/// newlines), the header row excluded.
pub fn csv_column(text: &str, name: &str) -> Result<Vec<String>, CsvError> {
    let rows = csv_rows(text)?;
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    let col = header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| CsvError::NoColumn(name.to_string()))?;
    Ok(rows
        .filter(|r| !(r.len() == 1 && r[0].is_empty()))
        .map(|mut r| {
            if col < r.len() {
                r.swap_remove(col)
            } else {
                String::new()
            }
        })
        .collect())
}

fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(CsvError::Unterminated { row: rows.len() });
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_or_a_split_makes_every_line_of_both_groups_wrong() {
        let truth = ["a", "a", "b", "b", "c"];
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2, 3], &truth), 1.0);
        // a and b merged: only c is right.
        assert_eq!(grouping_accuracy(&[1, 1, 1, 1, 3], &truth), 0.2);
        // b split: a and c are right.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 4, 3], &truth), 0.6);
    }

    #[test]
    fn csv_quotes_commas_and_newlines() {
        let text = "Id,Content\r\n1,\"a, \"\"b\"\"\nc\"\r\n2,plain\r\n";
        assert_eq!(
            csv_column(text, "Content").unwrap(),
            ["a, \"b\"\nc", "plain"]
        );
        assert!(csv_column(text, "Nope").is_err());
        assert!(csv_column("a\n\"open", "a").is_err());
    }
}
