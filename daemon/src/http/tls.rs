//! The TLS handshake of one connection, bounded by the request deadline.
//!
//! A handshake that never completes must not hold a connection slot: it gets
//! `headerReadTimeoutMs` from the accept, like the headers of a request. A client that
//! speaks plain HTTP to the TLS port gets a plain-text 400 saying so, then the connection
//! closes, instead of a TLS alert it cannot read.

use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsIdentity;

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The reply to plain HTTP on the TLS port.
const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 45\r\n\r\n\
This port serves HTTPS: use an https:// URL.\n";

/// Why a connection never got to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The client did not finish the handshake within `headerReadTimeoutMs`.
    #[error("the TLS handshake did not finish within server.headerReadTimeoutMs")]
    TimedOut,
    /// The client sent plain HTTP (or anything else that is not TLS); it was told so.
    #[error("the client did not speak TLS")]
    NotTls,
    /// The connection failed, or the handshake did (no common version or cipher, say).
    #[error("TLS handshake failed: {0}")]
    Failed(#[from] std::io::Error),
}

/// Runs the server side of the TLS handshake on `stream`, giving up at `deadline`.
pub async fn handshake(
    mut stream: TcpStream,
    identity: &TlsIdentity,
    deadline: Instant,
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    let deadline = tokio::time::Instant::from_std(deadline);
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first))
        .await
        .map_err(|_| HandshakeError::TimedOut)??;
    if peeked == 0 {
        return Err(HandshakeError::Failed(
            std::io::ErrorKind::UnexpectedEof.into(),
        ));
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        // Best effort: the client may already be gone, and either way the connection ends.
        let _ = tokio::time::timeout_at(deadline, async {
            stream.write_all(PLAIN_HTTP_REPLY).await?;
            stream.shutdown().await
        })
        .await;
        return Err(HandshakeError::NotTls);
    }
    let acceptor = TlsAcceptor::from(identity.server_config.clone());
    let stream = tokio::time::timeout_at(deadline, acceptor.accept(stream))
        .await
        .map_err(|_| HandshakeError::TimedOut)??;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_reply_declares_its_exact_length() {
        let text = std::str::from_utf8(PLAIN_HTTP_REPLY).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.parse().ok())
            .expect("Content-Length");
        assert_eq!(declared, body.len());
    }
}
