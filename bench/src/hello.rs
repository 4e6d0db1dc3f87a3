//! The baseline: a hyper http1 server answering a fixed small XML body, configured like
//! licd's (keep-alive, no per-request work). Every licd figure is also given as a ratio to
//! this server's, measured on the same machine with the same client.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<QuickLicenseManager>\n<result>Your license is valid.</result>\n</QuickLicenseManager>";

/// Serves the baseline until the process is stopped.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    eprintln!(
        "hello baseline listening on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                let mut r = hyper::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/xml; charset=utf-8"),
                );
                Ok::<_, Infallible>(r)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
