//! A TCP proxy between a licd node and PostgreSQL that, once armed, cuts the connection at
//! the next `COMMIT` the node sends: after forwarding it (the server commits, the answer is
//! lost) or before (the server never sees it and rolls back). Everything else passes
//! untouched, so the node's reconnection goes through the same proxy, unless the proxy is
//! told to refuse connections after the cut (the database out of reach).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where the next `COMMIT` is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The server receives the COMMIT; the node never gets its answer.
    AfterForwarding = 1,
    /// The server never receives the COMMIT.
    BeforeForwarding = 2,
}

/// Not armed: every byte passes.
const PASS: u8 = 0;

/// A simple-query `COMMIT` as tokio-postgres sends it (message `Q`, its text NUL-ended).
const COMMIT: &[u8] = b"COMMIT\0";

struct State {
    upstream: u16,
    armed: AtomicU8,
    cuts: AtomicU32,
    refusing: AtomicBool,
    refuse_after_cut: AtomicBool,
}

/// The running proxy; stopped on drop.
pub struct CommitCutter {
    port: u16,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl CommitCutter {
    /// Listens on a free loopback port and forwards to PostgreSQL on 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> CommitCutter {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the proxy");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a proxy port");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(State {
            upstream,
            armed: AtomicU8::new(PASS),
            cuts: AtomicU32::new(0),
            refusing: AtomicBool::new(false),
            refuse_after_cut: AtomicBool::new(false),
        });
        runtime.spawn(accept(listener, state.clone()));
        CommitCutter {
            port,
            state,
            _runtime: runtime,
        }
    }

    /// The port the node connects to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts the connection carrying the next COMMIT, once.
    pub fn arm(&self, cut: Cut) {
        self.state.armed.store(cut as u8, Ordering::SeqCst);
    }

    /// From the next cut on, every new connection is closed at once and an open one at the
    /// first byte the node sends on it: the database out of reach just after it received a
    /// COMMIT.
    pub fn refuse_after_the_cut(&self) {
        self.state.refuse_after_cut.store(true, Ordering::SeqCst);
    }

    /// New connections pass again.
    pub fn stop_refusing(&self) {
        self.state.refuse_after_cut.store(false, Ordering::SeqCst);
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    while let Ok((client, _)) = listener.accept().await {
        if state.refusing.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        tokio::spawn(pipe(client, state.clone()));
    }
}

async fn pipe(client: TcpStream, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", state.upstream)).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // Set before a cut COMMIT goes out, so that no byte of its answer reaches the node.
    let cutting = Arc::new(AtomicBool::new(false));
    let back = {
        let cutting = cutting.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match from_server.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if cutting.load(Ordering::SeqCst) || to_client.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        })
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if state.refusing.load(Ordering::SeqCst) {
            back.abort();
            return;
        }
        let chunk = &buf[..n];
        if chunk.windows(COMMIT.len()).any(|w| w == COMMIT) {
            let armed = state.armed.swap(PASS, Ordering::SeqCst);
            if armed != PASS {
                cutting.store(true, Ordering::SeqCst);
                if state.refuse_after_cut.load(Ordering::SeqCst) {
                    state.refusing.store(true, Ordering::SeqCst);
                }
                if armed == Cut::AfterForwarding as u8 {
                    let _ = to_server.write_all(chunk).await;
                    let _ = to_server.flush().await;
                }
                state.cuts.fetch_add(1, Ordering::SeqCst);
                // Both sockets close: the node's side with its reader and writer here and
                // in the aborted task, the server's when `to_server` goes.
                back.abort();
                return;
            }
        }
        if to_server.write_all(chunk).await.is_err() {
            return;
        }
    }
}
