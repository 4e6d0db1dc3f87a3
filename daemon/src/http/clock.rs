//! When a request began: the moment its first byte was read from the connection.
//!
//! The whole request, headers and body, must arrive within `headerReadTimeoutMs` of its first
//! byte (spec operations.md, Limits of load). hyper bounds the headers itself, but its timer
//! knows nothing of the body, and the handler only starts once the headers are in. So the
//! connection's byte stream is wrapped in [`Clocked`], which notes when the first byte after
//! the previous request arrived; the handler reads that moment from the request's
//! [`RequestStart`] extension and gives the body what is left of the allowance.
//!
//! Bytes read while a request is being handled (its body, or a pipelined next request) are
//! forgotten when the handler ends, so the next request of a keep-alive connection gets its
//! own clock. A request whose first bytes came in while the previous one was still being
//! answered therefore starts when its handler starts; hyper's header timer, which starts
//! when hyper begins reading a request, still bounds its headers.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// When the request's first byte was read; put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart(pub Instant);

/// The first-byte moment of one connection's current request, shared by its byte stream
/// (which sets it) and its request handler (which takes it).
#[derive(Debug)]
pub struct RequestClock {
    /// The connection's accept time; moments are stored relative to it.
    base: Instant,
    /// Nanoseconds after `base`, plus one, of the first byte not yet claimed; 0: none.
    first_byte: AtomicU64,
}

impl RequestClock {
    /// A clock for a connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(RequestClock {
            base: Instant::now(),
            first_byte: AtomicU64::new(0),
        })
    }

    /// Notes that bytes arrived now, unless earlier ones are still unclaimed.
    fn bytes_arrived(&self) {
        if self.first_byte.load(Ordering::Relaxed) != 0 {
            return;
        }
        let since = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        let _ = self.first_byte.compare_exchange(
            0,
            since.saturating_add(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// When the request now starting began: its first byte's arrival, or now if that was
    /// forgotten (see the module comment).
    pub fn claim(&self) -> RequestStart {
        let stored = self.first_byte.swap(0, Ordering::Relaxed);
        let at = match stored.checked_sub(1) {
            Some(nanos) => self.base + std::time::Duration::from_nanos(nanos),
            None => Instant::now(),
        };
        RequestStart(at)
    }

    /// Forgets bytes read while the current request was handled: whatever arrives from now
    /// on belongs to the next request.
    pub fn request_done(&self) {
        self.first_byte.store(0, Ordering::Relaxed);
    }
}

/// A connection's byte stream that tells its [`RequestClock`] when bytes arrive.
#[derive(Debug)]
pub struct Clocked<S> {
    inner: S,
    clock: Arc<RequestClock>,
}

impl<S> Clocked<S> {
    /// Wraps `inner`, reporting arrivals to `clock`.
    pub fn new(inner: S, clock: Arc<RequestClock>) -> Self {
        Clocked { inner, clock }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Clocked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.bytes_arrived();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Clocked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_request_starts_at_its_first_byte_and_the_next_one_at_its_own() {
        let (mut client, server) = tokio::io::duplex(64);
        let clock = RequestClock::new();
        let mut stream = Clocked::new(server, clock.clone());
        let mut buf = [0u8; 16];
        client.write_all(b"GET").await.expect("write");
        let first = Instant::now();
        let _ = stream.read(&mut buf).await.expect("read");
        tokio::time::sleep(Duration::from_millis(30)).await;
        client.write_all(b" / HTTP/1.1").await.expect("write");
        let _ = stream.read(&mut buf).await.expect("read");
        let start = clock.claim().0;
        assert!(
            start <= first + Duration::from_millis(10),
            "later bytes moved the start"
        );

        // The body, read while the request is handled, must not start the next request.
        client.write_all(b"body").await.expect("write");
        let _ = stream.read(&mut buf).await.expect("read");
        clock.request_done();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let second_bytes = Instant::now();
        client.write_all(b"GET").await.expect("write");
        let _ = stream.read(&mut buf).await.expect("read");
        assert!(clock.claim().0 >= second_bytes);
    }

    #[test]
    fn with_no_byte_noted_a_request_starts_now() {
        let clock = RequestClock::new();
        let before = Instant::now();
        assert!(clock.claim().0 >= before);
    }
}
