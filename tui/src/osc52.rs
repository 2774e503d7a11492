//! Copying to the user's clipboard through the terminal: OSC 52.
//!
//! `ESC ] 52 ; c ; <base64> BEL` asks the terminal to set its clipboard. It needs
//! no X server or `pbcopy`, so it works over ssh and inside tmux, which is where a
//! log viewer on a cluster runs. The dashboard's core only says *what* to copy
//! ([`crate::app::TermRequest::Copy`]); the event loop writes [`sequence`] to the
//! terminal.
//!
//! Inside tmux (`$TMUX` set) the sequence goes out twice: plain, which tmux with
//! `set -s set-clipboard on` keeps as a paste buffer (`tmux show-buffer`) and
//! forwards to the outer terminal; and wrapped in tmux's passthrough
//! (`ESC P tmux; … ESC \`, every ESC inside doubled), which reaches the outer
//! terminal when `allow-passthrough on` is set instead. tmux drops whichever its
//! settings refuse, and a terminal that gets both sets the same text twice.

use base64::Engine as _;

/// The most text one copy sends: 74,994 bytes encode to 99,992 base64 bytes, so
/// the whole sequence (8 bytes of framing) is at most 100,000 bytes. Terminals
/// differ in how long an OSC string they take, and some are reported to stop near
/// 100 kB; tmux 3.3a (set-clipboard on) keeps a copy of this size whole as a
/// paste buffer (checked: 74,994 bytes in, 74,994 from `show-buffer`). A
/// screenful of log (45 rows of 200 columns, about 9 KB) fits eight times over. A
/// larger copy is cut at a line boundary by [`fit`], and the user is told.
pub const MAX_TEXT: usize = 74_994;

/// Why a text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Osc52Error {
    #[error("{len} bytes is more than a terminal takes in one copy ({MAX_TEXT} bytes)")]
    TooLarge { len: usize },
}

/// The bytes that put `text` on the clipboard; `tmux` adds the passthrough form.
pub fn sequence(text: &str, tmux: bool) -> Result<Vec<u8>, Osc52Error> {
    if text.len() > MAX_TEXT {
        return Err(Osc52Error::TooLarge { len: text.len() });
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let plain = format!("\x1b]52;c;{b64}\x07");
    let mut out = plain.clone().into_bytes();
    if tmux {
        // Inside a DCS every ESC is doubled; BEL needs no escaping.
        out.extend_from_slice(b"\x1bPtmux;");
        out.extend_from_slice(plain.replace('\x1b', "\x1b\x1b").as_bytes());
        out.extend_from_slice(b"\x1b\\");
    }
    Ok(out)
}

/// Whether the dashboard runs inside tmux.
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

/// Joins `lines` with newlines, keeping as many whole lines from the start as fit
/// in [`MAX_TEXT`]; returns the text and how many lines it holds. A single line
/// longer than the cap is cut at a character boundary (then the count is 1).
pub fn fit(lines: &[String]) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    for l in lines {
        let extra = l.len() + usize::from(n > 0);
        if out.len() + extra > MAX_TEXT {
            if n == 0 {
                let mut end = MAX_TEXT;
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(&l[..end]);
                n = 1;
            }
            break;
        }
        if n > 0 {
            out.push('\n');
        }
        out.push_str(l);
        n += 1;
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(b64: &[u8]) -> String {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        String::from_utf8(raw).unwrap()
    }

    #[test]
    fn plain_sequence_carries_the_text_in_base64() {
        let s = sequence("ledger-0 ERROR deadlock ✗", false).unwrap();
        let s = String::from_utf8(s).unwrap();
        let body = s
            .strip_prefix("\x1b]52;c;")
            .and_then(|r| r.strip_suffix('\x07'))
            .unwrap();
        assert_eq!(decode(body.as_bytes()), "ledger-0 ERROR deadlock ✗");
        assert!(!body.contains('\x1b'));
    }

    #[test]
    fn tmux_gets_the_plain_form_and_the_passthrough_form() {
        let s = String::from_utf8(sequence("hi", true).unwrap()).unwrap();
        assert_eq!(
            s,
            "\x1b]52;c;aGk=\x07\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\"
        );
    }

    #[test]
    fn the_cap_holds_and_the_sequence_is_at_most_100_000_bytes() {
        let at_cap = "x".repeat(MAX_TEXT);
        let s = sequence(&at_cap, false).unwrap();
        assert_eq!(s.len(), 100_000);
        assert_eq!(
            sequence(&format!("{at_cap}y"), false),
            Err(Osc52Error::TooLarge { len: MAX_TEXT + 1 })
        );
    }

    #[test]
    fn fit_keeps_whole_lines_and_cuts_one_huge_line_on_a_char() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(fit(&lines), (lines.join("\n"), 10));
        let big: Vec<String> = (0..20).map(|_| "y".repeat(10_000)).collect();
        let (text, n) = fit(&big);
        assert_eq!(n, 7, "7 lines of 10,000 bytes and 6 newlines fit");
        assert!(text.len() <= MAX_TEXT);
        let huge = vec!["é".repeat(MAX_TEXT)];
        let (text, n) = fit(&huge);
        assert_eq!(n, 1);
        assert!(text.len() <= MAX_TEXT && text.len() >= MAX_TEXT - 1);
        assert_eq!(fit(&[]), (String::new(), 0));
    }
}
