use super::*;

const LIMITS: Limits = Limits {
    max_bytes: 1 << 20,
    max_lines: DEFAULT_MAX_LINES,
};

/// Feeds `text`'s lines to one stream, then closes: the events, as messages.
fn events_with(limits: Limits, text: &str) -> Vec<Event> {
    let mut open = None;
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        push(
            &mut open,
            limits,
            Timestamp(i as i64),
            Stream::Stderr,
            line.to_string(),
            &mut out,
        );
    }
    flush(&mut open, &mut out);
    out
}

fn messages(text: &str) -> Vec<String> {
    events_with(LIMITS, text)
        .into_iter()
        .map(|e| e.message)
        .collect()
}

const JAVA: &str = "\
Exception in thread \"main\" java.lang.IllegalStateException: order 42 cannot be shipped
\tat com.shop.orders.Shipping.ship(Shipping.java:118)
\tat com.shop.orders.OrderService.complete(OrderService.java:77)
\tat com.shop.Main.main(Main.java:21)
Caused by: java.io.UncheckedIOException: warehouse unreachable
\tat com.shop.stock.Warehouse.reserve(Warehouse.java:54)
\tat com.shop.orders.Shipping.ship(Shipping.java:112)
\t... 3 more
\tSuppressed: java.net.SocketTimeoutException: connect timed out
\t\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)
\t\t... 4 more
Caused by: java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.connect0(Native Method)
\t... 5 more";

#[test]
fn java_trace_with_causes_is_one_event() {
    let ev = events_with(LIMITS, JAVA);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0].message, JAVA);
    assert_eq!(ev[0].lines, 14);
    assert_eq!(ev[0].ts, Timestamp(0), "the first line's timestamp");
    assert_eq!(ev[0].stream, Stream::Stderr);
}

#[test]
fn logback_message_then_exception_then_next_line() {
    let text = "\
2026-11-25 19:42:07.118 ERROR [http-nio-8080-exec-3] c.s.api.OrderController - request failed
java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null
\tat com.shop.api.OrderController.create(OrderController.java:61)
\t... 12 more
2026-11-25 19:42:07.120 INFO  [http-nio-8080-exec-4] c.s.api.OrderController - GET /orders 200";
    let m = messages(text);
    assert_eq!(m.len(), 2, "{m:#?}");
    assert_eq!(m[0].lines().count(), 4);
    assert!(m[1].contains("GET /orders 200"));
}

const PYTHON: &str = "\
Traceback (most recent call last):
  File \"/app/worker.py\", line 31, in handle
    amount = int(payload[\"amount\"])
             ^^^^^^^^^^^^^^^^^^^^^^
ValueError: invalid literal for int() with base 10: 'ten'";

#[test]
fn python_traceback_ends_at_its_exception_line() {
    let text = format!("{PYTHON}\n  indented but after the exception\nINFO next");
    let m = messages(&text);
    assert_eq!(
        m,
        vec![PYTHON, "  indented but after the exception", "INFO next"]
    );
}

#[test]
fn python_chained_traceback_and_logging_exception() {
    let text = format!(
        "ERROR:worker:payment failed\n{PYTHON}\n\nDuring handling of the above exception, \
         another exception occurred:\n\n{PYTHON}\n\nINFO:worker:next job"
    );
    let ev = events_with(LIMITS, &text);
    let m: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    let chained = text.split("\n\nINFO").next().unwrap();
    assert_eq!(m, vec![chained, "", "INFO:worker:next job"], "{ev:#?}");
    assert_eq!(ev[0].lines, 14);
    assert_eq!(
        ev[1].ts,
        Timestamp(14),
        "the held blank line keeps its own timestamp"
    );
}

const GO: &str = "\
panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.pick({0xc000012018, 0x3, 0x3}, 0x5)
\t/src/cmd/picker/main.go:14 +0x1d
main.main()
\t/src/cmd/picker/main.go:9 +0x45

goroutine 18 gp=0xc000102380 m=nil [chan receive]:
net/http.(*conn).serve(0xc00010e000, {0x6e0a58, 0xc000064150})
\t/usr/local/go/src/net/http/server.go:2009 +0x5f4
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3086 +0x4db";

#[test]
fn go_panic_with_goroutines_is_one_event() {
    let text = format!("{GO}\nexit status 2");
    let ev = events_with(LIMITS, &text);
    let m: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(m, vec![GO, "exit status 2"]);
    assert_eq!(ev[0].lines, 13);
}

#[test]
fn go_dump_trailing_blank_is_its_own_entry() {
    let text = "fatal error: all goroutines are asleep - deadlock!\n\n\
                goroutine 1 [chan receive]:\nmain.main()\n\t/src/main.go:5 +0x2d\n\nlevel=info msg=restarted";
    let m = messages(text);
    assert_eq!(m.len(), 3, "{m:#?}");
    assert_eq!(m[0].lines().count(), 5);
    assert_eq!(m[1], "");
    assert_eq!(m[2], "level=info msg=restarted");
}

#[test]
fn node_ruby_and_dotnet_stacks() {
    let node = "\
Error: connect ECONNREFUSED 10.0.3.7:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)
    at async Pool.connect (/app/node_modules/pg-pool/index.js:45:11)";
    let ruby = "\
app/models/invoice.rb:12:in `/': divided by 0 (ZeroDivisionError)
\tfrom app/models/invoice.rb:12:in `total'
\tfrom bin/bill:7:in `<main>'";
    let dotnet = "\
Unhandled exception. System.InvalidOperationException: Sequence contains no elements
 ---> System.IO.IOException: The pipe is broken.
   at Shop.Billing.Pipe.Read() in /src/Billing/Pipe.cs:line 40
   --- End of inner exception stack trace ---
--- End of stack trace from previous location ---
   at Shop.Billing.Program.Main(String[] args) in /src/Billing/Program.cs:line 12";
    let text = format!("{node}\n{ruby}\n{dotnet}");
    assert_eq!(messages(&text), vec![node, ruby, dotnet]);
}

#[test]
fn java_exception_headers() {
    for yes in [
        "java.lang.NullPointerException",
        "java.lang.NullPointerException: null",
        "com.shop.Outer$InnerError: x: y",
        "org.x.SomeThrowable",
    ] {
        assert!(is_java_exception(yes), "{yes}");
    }
    for no in [
        "NullPointerException: x",
        "java.lang.nullPointerException",
        "java..lang.IOException",
        "java.lang.IOException.",
        "java.lang.IOException:x",
        "java.lang.Thing: an Exception",
        "java lang.IOException",
        "2026-11-25 ERROR java.lang.IOException",
        "",
    ] {
        assert!(!is_java_exception(no), "{no}");
    }
}

#[test]
fn what_must_not_join() {
    let text = "\
INFO starting
INFO listening on :8080
{\"level\":\"error\",\"msg\":\"boom\"}
    indented after json opens its own event
{\"level\":\"info\",\"msg\":\"ok\"}
WARN slow request

ERROR db down
Caused by nothing at all, a sentence
...and more text";
    let m = messages(text);
    assert_eq!(
        m,
        vec![
            "INFO starting",
            "INFO listening on :8080",
            "{\"level\":\"error\",\"msg\":\"boom\"}",
            "    indented after json opens its own event",
            "{\"level\":\"info\",\"msg\":\"ok\"}",
            "WARN slow request",
            "",
            "ERROR db down",
            "Caused by nothing at all, a sentence",
            "...and more text",
        ]
    );
}

#[test]
fn json_line_after_a_trace_starts_a_new_event() {
    let text = format!("{JAVA}\n{{\"msg\":\"next\",\"level\":\"info\"}}");
    let m = messages(&text);
    assert_eq!(
        m,
        vec![
            JAVA.to_string(),
            "{\"msg\":\"next\",\"level\":\"info\"}".into()
        ]
    );
}

#[test]
fn line_cap_splits_with_a_marker_and_loses_nothing() {
    let limits = Limits {
        max_lines: 4,
        ..LIMITS
    };
    let ev = events_with(limits, JAVA);
    assert!(ev.len() >= 4, "{ev:#?}");
    for e in &ev[..ev.len() - 1] {
        assert!(e.message.ends_with(SPLIT_MARKER), "{e:?}");
        assert!(e.lines <= 4);
    }
    let joined: Vec<String> = ev
        .iter()
        .map(|e| e.message.trim_end_matches(SPLIT_MARKER).to_string())
        .collect();
    assert_eq!(joined.join("\n"), JAVA);
    assert_eq!(ev.iter().map(|e| e.lines).sum::<u32>(), 14);
}

#[test]
fn byte_cap_splits_with_a_marker() {
    let limits = Limits {
        max_bytes: 120,
        ..LIMITS
    };
    let ev = events_with(limits, JAVA);
    assert!(ev.len() > 1);
    for e in &ev {
        let body = e.message.trim_end_matches(SPLIT_MARKER);
        assert!(body.len() <= 120 || e.lines == 1, "{e:?}");
    }
    assert_eq!(ev.iter().map(|e| e.lines).sum::<u32>(), 14);
}

#[test]
fn streams_state_round_trips_through_json() {
    let mut open = None;
    let mut out = Vec::new();
    for line in GO.split('\n').take(2) {
        push(
            &mut open,
            LIMITS,
            Timestamp(7),
            Stream::Stdout,
            line.into(),
            &mut out,
        );
    }
    assert!(out.is_empty());
    let json = serde_json::to_string(&open).unwrap();
    let mut back: Option<OpenEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, open);
    for line in GO.split('\n').skip(2) {
        push(
            &mut back,
            LIMITS,
            Timestamp(8),
            Stream::Stdout,
            line.into(),
            &mut out,
        );
    }
    flush(&mut back, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message, GO);
    assert_eq!(out[0].ts, Timestamp(7));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the lines, nothing is lost or reordered: the events' lines
        /// (markers removed) are the input's, and every event is within its caps.
        #[test]
        fn lossless_and_bounded(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just(String::new()),
                    Just("\tat x.Y.z(Y.java:1)".to_string()),
                    Just("Caused by: a.B: c".to_string()),
                    Just("goroutine 3 [running]:".to_string()),
                    Just("panic: x".to_string()),
                    Just("main.f()".to_string()),
                    Just(PY_TRACEBACK.to_string()),
                    Just("{\"a\":1}".to_string()),
                    "[ a-z:{}()]{0,12}",
                ],
                0..60,
            ),
            max_lines in 1u32..6,
            max_bytes in 1usize..80,
        ) {
            let limits = Limits { max_bytes, max_lines };
            let ev = events_with(limits, &lines.join("\n"));
            let mut back = Vec::new();
            for e in &ev {
                prop_assert!(e.lines <= max_lines);
                let body = e.message.strip_suffix(SPLIT_MARKER).unwrap_or(&e.message);
                prop_assert!(e.lines == 1 || body.len() <= max_bytes);
                prop_assert_eq!(body.split('\n').count() as u32, e.lines);
                back.extend(body.split('\n').map(str::to_string));
            }
            let want: Vec<String> = lines.join("\n").split('\n').map(str::to_string).collect();
            prop_assert_eq!(back, want);
        }
    }
}
