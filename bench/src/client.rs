//! One keep-alive HTTP/1.1 connection to the server, reconnecting after an error.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A client connection.
pub struct Connection {
    addr: SocketAddr,
    host: String,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl Connection {
    /// A connection to `addr` (opened on first use).
    pub fn new(addr: SocketAddr) -> Self {
        Connection {
            addr,
            host: addr.to_string(),
            sender: None,
        }
    }

    async fn sender(&mut self) -> anyhow::Result<&mut SendRequest<Empty<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connect {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        self.sender.as_mut().context("no connection")
    }

    /// GET `path_and_query`; returns the status and the body.
    pub async fn get(&mut self, path_and_query: &str) -> anyhow::Result<(u16, Bytes)> {
        let host = self.host.clone();
        let result = async {
            let sender = self.sender().await?;
            sender.ready().await?;
            let request = http::Request::get(path_and_query)
                .header(http::header::HOST, host)
                .body(Empty::new())?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        match tokio::time::timeout(crate::REQUEST_TIMEOUT, result).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                bail!("request timed out")
            }
        }
    }
}

/// The address of a base URL such as `http://127.0.0.1:8080`.
pub fn address(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let host = rest.split('/').next().unwrap_or(rest);
    host.parse()
        .with_context(|| format!("{host} is not an ip:port address"))
}

/// Whether an XML reply reports a failure.
pub fn is_error(body: &[u8]) -> bool {
    body.windows(7).any(|w| w == b"<error>")
}

/// The text of the first `<name>` element of a reply.
pub fn element(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find('<')? + start;
    Some(text[start..end].to_string())
}
