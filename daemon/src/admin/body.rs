//! Bodies of admin requests and replies: small JSON documents, and streams (backups,
//! exports, imports) that never sit whole in memory.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Frame;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// The body of every admin request and reply, on the socket and in process alike.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, io::Error>;

/// Largest JSON request body an endpoint reads.
const MAX_JSON_BODY: usize = 1 << 20;
/// Size of the chunks a stream is sent in.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the blocking producer and the socket.
const CHUNKS_IN_FLIGHT: usize = 8;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A reply with `value` as JSON.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, "application/json", full(bytes)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A refusal: `{"error": message}`, the one line the CLI prints.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string();
    with_type(status, "application/json", full(body))
}

/// A reply of `status` with `content_type`.
pub fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Reads a JSON request body of at most 1 MiB.
pub async fn read_json<T: DeserializeOwned>(body: Body) -> Result<T, String> {
    let bytes = Limited::new(body, MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| format!("cannot read the request: {e}"))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("the request is not valid JSON: {e}"))
}

/// A 200 reply streaming what `produce` writes, produced on the blocking pool (redb reads
/// block). A failure after the first bytes ends the stream with an error, which the client
/// sees as a broken reply, never as a complete one.
pub fn stream<E: std::fmt::Display>(
    content_type: &'static str,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), E> + Send + 'static,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = produce(&mut out).map_err(|e| e.to_string());
        let result = result.and_then(|()| out.flush().map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(error = %e, "admin stream failed");
            let _ = tx.blocking_send(Err(io::Error::other(e)));
        }
    });
    with_type(StatusCode::OK, content_type, ChannelBody(rx).boxed_unsync())
}

/// Sends what is written as chunks over a channel; fails once the receiver is gone (the
/// client hung up), which stops the producer.
struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// A body fed by a channel of chunks.
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

/// A body read with blocking `Read` calls (an import parsed on the blocking pool). Must be
/// created on the runtime; read only off it.
pub fn blocking_reader(mut body: Body) -> impl Read + Send {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(f) => match f.into_data() {
                    Ok(data) => Ok(data),
                    // Trailers carry nothing an import reads.
                    Err(_) => continue,
                },
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    ChannelReader {
        rx,
        current: Bytes::new(),
    }
}

struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A reader's bytes as a streamed request body (the CLI uploading an import file).
pub fn from_reader(mut input: impl Read + Send + 'static) -> Body {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    ChannelBody(rx).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_delivers_everything_written_and_ends() {
        let reply = stream("text/plain", |out| {
            for i in 0..10_000 {
                writeln!(out, "line {i}")?;
            }
            Ok::<(), io::Error>(())
        });
        let bytes = reply.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
        assert_eq!(text.lines().count(), 10_000);
        assert!(text.ends_with("line 9999\n"));
    }

    #[tokio::test]
    async fn a_stream_that_fails_ends_with_an_error_not_a_clean_end() {
        let reply = stream("text/plain", |out| {
            writeln!(out, "partial")?;
            out.flush()?;
            Err(io::Error::other("disk gone"))
        });
        assert!(reply.into_body().collect().await.is_err());
    }

    #[tokio::test]
    async fn a_body_reads_back_through_the_blocking_reader() {
        let body = from_reader(io::Cursor::new(vec![7u8; 200_000]));
        let mut reader = blocking_reader(body);
        let read = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all)
        })
        .await
        .expect("join")
        .expect("read");
        assert_eq!(read.len(), 200_000);
    }
}
