//! Failed token attempts: counted, logged at `warn` (at most one line per
//! [`WARN_EVERY`], with a count), and answered late.
//!
//! A peer's wrong tokens cost it a growing wait before the `unauthorized` reply:
//! [`FIRST_DELAY`], doubling per failure up to [`MAX_DELAY`], forgotten after
//! [`FORGET_AFTER`] without failures. The wait is an async sleep in that
//! connection's own task, so other connections are not slowed, and the right
//! token is never delayed. Before this, one peer tried 1,000 tokens in 0.3 s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The wait before answering a peer's first wrong token: unnoticeable to a person
/// who mistyped, four guesses a second at most for a script on one connection.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);

/// The longest wait: reached at the sixth failure in a row. A peer guessing on the
/// 256 connections the websocket port allows gets 32 answers a second at most.
pub const MAX_DELAY: Duration = Duration::from_secs(8);

/// A peer with no failure for this long starts again at [`FIRST_DELAY`].
pub const FORGET_AFTER: Duration = Duration::from_secs(60);

/// At most one `warn` line per this interval; the line says how many failures it
/// stands for.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Peers remembered at once. Beyond it (a guesser spread over many addresses),
/// a new peer gets [`MAX_DELAY`] at once: memory stays bounded and the spread buys
/// no speed.
const MAX_PEERS: usize = 4096;

/// The failure record of one server.
#[derive(Default)]
pub(crate) struct AuthFailures {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    peers: HashMap<IpAddr, Peer>,
    /// Failures not yet in a log line, and when the last line was written.
    unlogged: u64,
    last_warn: Option<Instant>,
}

struct Peer {
    strikes: u32,
    last: Instant,
}

/// What to do about one failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Wait this long before answering.
    pub delay: Duration,
    /// Write a `warn` line now, standing for this many failures.
    pub warn: Option<u64>,
}

impl AuthFailures {
    /// Records a wrong or missing token from `ip` at `now`.
    pub fn record(&self, ip: IpAddr, now: Instant) -> Verdict {
        let mut s = crate::sync::lock(&self.state);
        if s.peers.len() >= MAX_PEERS && !s.peers.contains_key(&ip) {
            s.peers
                .retain(|_, p| now.saturating_duration_since(p.last) < FORGET_AFTER);
        }
        let delay = if s.peers.len() >= MAX_PEERS && !s.peers.contains_key(&ip) {
            MAX_DELAY
        } else {
            let p = s.peers.entry(ip).or_insert(Peer {
                strikes: 0,
                last: now,
            });
            if now.saturating_duration_since(p.last) >= FORGET_AFTER {
                p.strikes = 0;
            }
            p.strikes = p.strikes.saturating_add(1);
            p.last = now;
            delay_for(p.strikes)
        };
        s.unlogged += 1;
        let due = s
            .last_warn
            .is_none_or(|t| now.saturating_duration_since(t) >= WARN_EVERY);
        let warn = due.then(|| {
            s.last_warn = Some(now);
            std::mem::take(&mut s.unlogged)
        });
        Verdict { delay, warn }
    }
}

/// The wait after `strikes` failures in a row (1 is the first).
fn delay_for(strikes: u32) -> Duration {
    let doublings = strikes.saturating_sub(1).min(16);
    FIRST_DELAY.saturating_mul(1u32 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn delays_grow_per_peer_cap_and_are_forgotten() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        let d: Vec<Duration> = (0..8).map(|_| f.record(ip(1), t0).delay).collect();
        assert_eq!(d[0], FIRST_DELAY);
        assert_eq!(d[1], FIRST_DELAY * 2);
        assert_eq!(d[5], MAX_DELAY);
        assert_eq!(d[7], MAX_DELAY);
        // Another peer is not slowed by the first one's failures.
        assert_eq!(f.record(ip(2), t0).delay, FIRST_DELAY);
        assert_eq!(f.record(ip(1), t0 + FORGET_AFTER).delay, FIRST_DELAY);
    }

    #[test]
    fn one_warn_line_per_interval_counts_the_rest() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        assert_eq!(f.record(ip(1), t0).warn, Some(1));
        for i in 1..1000u32 {
            let at = t0 + Duration::from_micros(u64::from(i));
            assert_eq!(f.record(ip(1), at).warn, None);
        }
        assert_eq!(f.record(ip(3), t0 + WARN_EVERY).warn, Some(1000));
    }

    #[test]
    fn the_peer_table_is_bounded() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        for i in 0..MAX_PEERS as u32 {
            f.record(IpAddr::from(i.to_be_bytes()), t0);
        }
        let stranger = IpAddr::from([255, 255, 255, 255]);
        assert_eq!(f.record(stranger, t0).delay, MAX_DELAY);
        assert_eq!(crate::sync::lock(&f.state).peers.len(), MAX_PEERS);
        // Once the old entries expire, there is room again.
        assert_eq!(f.record(stranger, t0 + FORGET_AFTER).delay, FIRST_DELAY);
    }
}
