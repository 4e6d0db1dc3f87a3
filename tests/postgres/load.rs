//! Activations sent without pause from a few threads while a test breaks something (a
//! PostgreSQL restart, a node killed), each on a computer of its own, with every answer kept
//! so that the test can hold each definite one against what the database stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{HttpReply, send_raw};

/// What one activation got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Activated: the change is stored.
    Activated,
    /// Code 210, no seat left: nothing was changed.
    NoSeat,
    /// 503 with `Retry-After`: nothing was changed.
    NotApplied,
    /// Code 3000: the outcome is unknown, or the server says nothing was changed.
    Code3000,
    /// The connection closed without a reply.
    Dropped,
    /// Anything else: always wrong.
    Other(String),
}

impl Answer {
    fn of(reply: &HttpReply) -> Answer {
        if reply.status == 503 {
            return match reply.header("retry-after") {
                Some(_) => Answer::NotApplied,
                None => Answer::Other(format!("503 without Retry-After: {}", reply.body)),
            };
        }
        match (reply.status, reply.error_code()) {
            (200, None) => Answer::Activated,
            (200, Some(210)) => Answer::NoSeat,
            (_, Some(3000)) => Answer::Code3000,
            (status, _) => Answer::Other(format!("{status}: {}", reply.body)),
        }
    }

    /// Whether the answer says the change is not stored.
    pub fn not_applied(&self) -> bool {
        matches!(self, Answer::NoSeat | Answer::NotApplied)
    }
}

/// One request of the load and its answer.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The computer it activated.
    pub pc: String,
    /// The node it went to.
    pub node: SocketAddr,
    /// What came back.
    pub answer: Answer,
    /// How long the answer took.
    pub took: Duration,
}

/// The running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<JoinHandle<Vec<Sent>>>,
}

/// Running counts the test waits on.
#[derive(Default)]
struct Counts {
    activated: AtomicUsize,
    no_seat: AtomicUsize,
    gap: AtomicUsize,
}

impl Load {
    /// `threads` threads activating `key` on fresh computers, spread over `nodes` in turn.
    pub fn start(nodes: &[SocketAddr], key: &str, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..threads)
            .map(|t| {
                let (stop, counts) = (stop.clone(), counts.clone());
                let (nodes, key) = (nodes.to_vec(), key.to_string());
                std::thread::spawn(move || {
                    let mut sent = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let pc = format!("load-{t}-{n}");
                        let node = nodes[(t + n) % nodes.len()];
                        let began = Instant::now();
                        let answer = activate(node, &key, &pc);
                        let count = match answer {
                            Answer::Activated => &counts.activated,
                            Answer::NoSeat => &counts.no_seat,
                            _ => &counts.gap,
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        let took = began.elapsed();
                        sent.push(Sent {
                            pc,
                            node,
                            answer,
                            took,
                        });
                        // A short breath, so that the seats last across the outage.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    sent
                })
            })
            .collect();
        Load {
            stop,
            counts,
            threads,
        }
    }

    /// Activations answered as done so far.
    pub fn activated(&self) -> usize {
        self.counts.activated.load(Ordering::SeqCst)
    }

    /// Code 210 answers so far.
    pub fn no_seat(&self) -> usize {
        self.counts.no_seat.load(Ordering::SeqCst)
    }

    /// Answers other than an activation or a 210 so far.
    pub fn gap(&self) -> usize {
        self.counts.gap.load(Ordering::SeqCst)
    }

    /// Stops the load and returns every request sent.
    pub fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .flat_map(|t| t.join().expect("a load thread"))
            .collect()
    }
}

/// ValidateLicenseHttp activating `pc`; a connection closed without a reply is
/// [`Answer::Dropped`].
fn activate(node: SocketAddr, key: &str, pc: &str) -> Answer {
    let request = format!(
        "GET /qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc} \
         HTTP/1.1\r\nHost: {node}\r\nConnection: close\r\n\r\n"
    );
    // `send_raw` panics on a reply without an HTTP head (or a refused connection): here
    // that is an answer to record, not the end of the thread.
    match std::panic::catch_unwind(|| send_raw(node, request.as_bytes())) {
        Ok(reply) => Answer::of(&reply),
        Err(_) => Answer::Dropped,
    }
}

/// Waits until `done` holds, up to `limit`; whether it did.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let began = Instant::now();
    while began.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}
