//! End to end in a real terminal: a real daemon on a temp log tree, `lookout` in a
//! tmux pane, log lines written to files, keys sent with `send-keys`, and assertions
//! on what `capture-pane` shows.
//!
//! Fails, saying why, when tmux is missing (make test installs it) or the daemon cannot start.

use std::time::Duration;

use crate::support::{Daemon, LogTree, Tmux};

const DEADLINE: Duration = Duration::from_secs(20);

/// With `LOOKOUT_CAPTURE_DIR` set, keeps each screen as text (the docs' captures).
fn keep(name: &str, screen: &str) {
    if let Some(dir) = std::env::var_os("LOOKOUT_CAPTURE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.txt")), screen);
    }
}

#[test]
fn dashboard_tails_searches_and_creates_a_rule() {
    let Some(tmux) = Tmux::available() else {
        panic!("tmux is not installed: run scripts/test-deps.sh (make test does)");
    };
    let tree = LogTree::new();
    tree.write("payments", "checkout-7d9f", "app", &["booting checkout"]);
    let daemon = match Daemon::start(&tree) {
        Ok(d) => d,
        Err(reason) => panic!("cannot start the daemon in-process: {reason}"),
    };
    let url = daemon.url();
    // The input history goes here, and the second run below reads it back.
    let state = tempfile::tempdir().expect("state dir");
    let state_dir = state.path().to_string_lossy().into_owned();
    let pane = tmux.open(
        120,
        40,
        &[
            ("LOOKOUT_URL", url.as_str()),
            ("NO_COLOR", "1"),
            ("TERM", "xterm-256color"),
            // Times follow TZ (New York is UTC-5 in December, UTC-4 in summer).
            ("TZ", "America/New_York"),
            ("XDG_STATE_HOME", state_dir.as_str()),
        ],
        &[env!("CARGO_BIN_EXE_lookout")],
    );

    // Tail: connected, the stream tree, and a line written after start arriving live.
    pane.wait_for("connected", DEADLINE);
    pane.wait_for("checkout-7d9f", DEADLINE);
    tree.write(
        "payments",
        "checkout-7d9f",
        "app",
        &["ERROR card declined for order 8831 (issuer timeout)"],
    );
    let screen = pane.wait_for("card declined for order 8831", DEADLINE);
    assert!(screen.contains("[1 Tail]"), "{screen}");
    assert!(
        screen.contains("times UTC-05:00") || screen.contains("times UTC-04:00"),
        "TZ=America/New_York is not the zone shown:\n{screen}"
    );
    let ny = |back: i64| {
        let off = if screen.contains("UTC-05:00") { 5 } else { 4 };
        (chrono::Utc::now() - chrono::Duration::hours(off) - chrono::Duration::minutes(back))
            .format("%H:%M:")
            .to_string()
    };
    let line = screen
        .lines()
        .find(|l| l.contains("order 8831"))
        .unwrap_or_default();
    assert!(
        line.contains(&ny(0)) || line.contains(&ny(1)),
        "the line's time is not New York's ({} or {}): {line}",
        ny(0),
        ny(1)
    );
    assert!(screen.contains("following"), "{screen}");
    keep("tail", &screen);

    // Esc never quits: not from the stream picker, not after cancelling prompts
    // (each used to end the session). The dashboard still runs: a new line arrives.
    pane.keys(&["Tab", "Escape", "Escape", "Escape"]);
    pane.wait_for("nothing to close · q quits", DEADLINE);
    pane.keys(&["f", "Escape", "Escape", "/", "Escape", "Escape"]);
    tree.write(
        "payments",
        "checkout-7d9f",
        "app",
        &["still here after Esc"],
    );
    pane.wait_for("still here after Esc", DEADLINE);

    // The line cursor and copy: `k` puts the cursor on the line above the newest,
    // `y` copies it through OSC 52, and tmux (set-clipboard on) keeps it as a
    // paste buffer, as it would forward it to the terminal over ssh.
    tmux.set_clipboard_on();
    pane.keys(&["k", "y"]);
    pane.wait_for("copied 1 line to the clipboard", DEADLINE);
    let start = std::time::Instant::now();
    let copied = loop {
        match tmux.buffer() {
            Some(b) => break b,
            None if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("no paste buffer after y:\n{}", pane.capture()),
        }
    };
    assert_eq!(
        copied,
        "ERROR card declined for order 8831 (issuer timeout)"
    );
    let screen = pane.capture();
    assert!(
        screen.contains("paused"),
        "the cursor pauses follow:\n{screen}"
    );
    pane.keys(&["G"]);
    pane.wait_for("following", DEADLINE);

    // Search: switch screen, type a query, see the hit and the count.
    pane.keys(&["2"]);
    pane.wait_for("[2 Search]", DEADLINE);
    pane.type_text("declined");
    // The line reached the tail live; the index commits it within a commit
    // interval, so a search run at once may not see it yet: run it again, as a
    // user would, until it does.
    let start = std::time::Instant::now();
    let mut first = true;
    let screen = loop {
        if first {
            pane.keys(&["Enter"]);
            first = false;
        } else {
            // Enter moved focus to the results: `/` goes back to the query.
            pane.keys(&["/", "Enter"]);
        }
        std::thread::sleep(Duration::from_millis(300));
        let screen = pane.capture();
        if screen.contains("order 8831") && screen.contains("matches") {
            break screen;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "search never found the line:\n{screen}"
        );
    };
    assert!(screen.contains("Results"), "{screen}");
    keep("search", &screen);

    // Patterns: `P` lists the kinds of lines among the matches, the daemon's miner
    // having turned the order number into a parameter; `Enter` narrows the search
    // to that pattern, and the hit is still there.
    pane.keys(&["P"]);
    let screen = pane.wait_for("kinds in", DEADLINE);
    assert!(screen.contains("Patterns of declined"), "{screen}");
    assert!(
        screen.contains("card declined for order <*>"),
        "the order number is a parameter:\n{screen}"
    );
    keep("patterns", &screen);
    pane.keys(&["Enter"]);
    pane.wait_for("(declined) AND pattern:", DEADLINE);
    // The old results stay until the answer: wait for the narrowed search's.
    let start = std::time::Instant::now();
    let screen = loop {
        let screen = pane.capture();
        if !screen.contains("searching…") && screen.contains("Results") {
            break screen;
        }
        assert!(start.elapsed() < DEADLINE, "no answer:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        screen.contains("order 8831"),
        "the hit is of that pattern:\n{screen}"
    );
    assert!(
        !screen.contains("Patterns of"),
        "back on the results:\n{screen}"
    );

    // Alerts: new rule through the form, saved, listed.
    pane.keys(&["3"]);
    pane.wait_for("[3 Alerts]", DEADLINE);
    pane.keys(&["n"]);
    pane.wait_for("New rule", DEADLINE);
    pane.type_text("CardDeclines");
    pane.keys(&["Tab"]);
    pane.type_text("declined");
    pane.keys(&["Tab", "C-u"]);
    pane.type_text("1h");
    let screen = pane.wait_for("would have fired", DEADLINE);
    keep("editor", &screen);
    pane.keys(&["C-s"]);
    let screen = pane.wait_for("rule CardDeclines saved", DEADLINE);
    assert!(screen.contains("CardDeclines"), "{screen}");
    keep("alerts", &screen);

    // Help overlay, then quit: the terminal comes back.
    pane.keys(&["?"]);
    pane.wait_for("any key closes", DEADLINE);
    pane.keys(&["Escape", "q"]);
    pane.wait_exited(DEADLINE);

    // A second run recalls the first run's query with ↑.
    let pane = tmux.open(
        120,
        40,
        &[
            ("LOOKOUT_URL", url.as_str()),
            ("NO_COLOR", "1"),
            ("TERM", "xterm-256color"),
            ("XDG_STATE_HOME", state_dir.as_str()),
        ],
        &[env!("CARGO_BIN_EXE_lookout")],
    );
    pane.wait_for("connected", DEADLINE);
    pane.keys(&["2"]);
    pane.wait_for("[2 Search]", DEADLINE);
    pane.keys(&["Up"]);
    let screen = pane.wait_for("declined", DEADLINE);
    assert!(screen.contains("[2 Search]"), "{screen}");
    pane.keys(&["C-c"]);
    pane.wait_exited(DEADLINE);
    drop(daemon);
}
