//! Helpers shared by the areas: a log tree and collector harness, an index on disk
//! fed straight to the writer, a server on loopback, an HTTP peer that misbehaves
//! on request.

pub mod collect;
pub mod http;
pub mod index;
pub mod serve;

use std::time::{Duration, Instant};

/// Runs `f` to completion on a runtime of its own (for tests that are not async).
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Polls `f` every 50 ms until it gives a value; fails the test, naming `what`,
/// after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
