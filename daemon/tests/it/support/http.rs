//! A real HTTP peer on a loopback socket that answers with exactly the bytes a test
//! gives it: for the receivers that misbehave (endless bodies, bodies that never
//! end, an IPv6 address) that no well-behaved server would play.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the peer answers each request.
#[derive(Clone)]
pub enum Answer {
    /// These bytes, then close.
    Bytes(Vec<u8>),
    /// These bytes, then `chunk` over and over until the client goes away (or
    /// `limit` bytes went out, so a broken client cannot keep the test running).
    Endless {
        head: Vec<u8>,
        chunk: Vec<u8>,
        limit: usize,
    },
    /// These bytes, then the connection held open without a word for `hold`.
    Stall { bytes: Vec<u8>, hold: Duration },
}

/// A request as received: head and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub head: String,
    pub body: Vec<u8>,
}

/// The peer; its thread serves until the test process ends.
pub struct Peer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Peer {
    pub fn start(bind: &str, answer: Answer) -> Peer {
        let listener = TcpListener::bind(bind).expect("bind the HTTP peer");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&received);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (rec, answer) = (Arc::clone(&rec), answer.clone());
                std::thread::spawn(move || serve(conn, &rec, &answer));
            }
        });
        Peer { addr, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(mut conn: TcpStream, rec: &Mutex<Vec<Received>>, answer: &Answer) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    rec.lock().unwrap().push(req);
    match answer {
        Answer::Bytes(b) => {
            let _ = conn.write_all(b);
        }
        Answer::Endless { head, chunk, limit } => {
            if conn.write_all(head).is_err() {
                return;
            }
            let mut sent = 0;
            while sent < *limit && conn.write_all(chunk).is_ok() {
                sent += chunk.len();
            }
        }
        Answer::Stall { bytes, hold } => {
            let _ = conn.write_all(bytes);
            std::thread::sleep(*hold);
        }
    }
}

/// Reads one request: the head, then `Content-Length` bytes of body (at most 1 MiB).
fn read_request(conn: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = conn.read(&mut byte).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut byte).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&byte[..n]);
    }
    Some(Received { head, body })
}
