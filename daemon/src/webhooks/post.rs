//! POSTs one event to its endpoint: HTTP/1.1 over TCP, or over TLS (rustls, with the
//! system's CA certificates) for `https://`. One connection per event: events are rare next
//! to requests, and a fresh connection never inherits a half-broken one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How long one delivery may take, connection and answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the system keeps its CA certificates: `SSL_CERT_FILE` first (as OpenSSL reads
/// it), then the bundles of Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine and macOS.
const CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why a delivery failed: the text `licd webhooks list` shows.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The URL cannot be used (validation refuses such a configuration).
    #[error("the endpoint URL cannot be used: {0}")]
    Url(String),
    /// No connection.
    #[error("cannot connect to {host}:{port}: {reason}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The OS reason.
        reason: std::io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, say).
    #[error("TLS with {host} failed: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// rustls's reason.
        reason: String,
    },
    /// The HTTP exchange broke.
    #[error("HTTP error: {0}")]
    Http(String),
    /// No answer within [`TIMEOUT`].
    #[error("no answer within {} seconds", TIMEOUT.as_secs())]
    Timeout,
    /// The receiver answered with a status other than 2xx.
    #[error("the endpoint answered {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The status.
        status: u16,
        /// The start of its body, for the operator.
        body: String,
    },
}

/// The headers an event is sent with, besides the content type.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `X-QLM-Signature`.
    pub qlm: String,
    /// `X-Licd-Signature`.
    pub licd: String,
    /// The event's id, also sent as `X-Licd-Event-Id` so a receiver can deduplicate before
    /// parsing the body.
    pub event_id: String,
}

/// POSTs `body` to `url`; `Ok` when the receiver answered 2xx within [`TIMEOUT`].
pub async fn post(url: &str, body: Vec<u8>, signed: &Signed) -> Result<(), PostError> {
    match tokio::time::timeout(TIMEOUT, exchange(url, body, signed)).await {
        Ok(result) => result,
        Err(_) => Err(PostError::Timeout),
    }
}

async fn exchange(url: &str, body: Vec<u8>, signed: &Signed) -> Result<(), PostError> {
    let uri: http::Uri = url.parse().map_err(|e| PostError::Url(format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(PostError::Url("not http:// or https://".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| PostError::Url("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|reason| PostError::Connect {
            host: host.clone(),
            port,
            reason,
        })?;
    let _ = tcp.set_nodelay(true);
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let request = Request::post(path)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("licd/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-QLM-Signature", &signed.qlm)
        .header("X-Licd-Signature", &signed.licd)
        .header("X-Licd-Event-Id", &signed.event_id)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| PostError::Http(e.to_string()))?;
    if https {
        let name = ServerName::try_from(host.clone())
            .map_err(|e| PostError::Url(format!("{host}: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| PostError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })?;
        send(tls, request).await
    } else {
        send(tcp, request).await
    }
}

/// Sends `request` on `io` and reads the answer.
async fn send<IO>(io: IO, request: Request<Full<Bytes>>) -> Result<(), PostError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| PostError::Http(e.to_string()))?;
    let driver = tokio::spawn(async move {
        // The connection ends with the exchange; its error is the exchange's.
        let _ = conn.await;
    });
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| PostError::Http(e.to_string()))?;
        let status = response.status();
        // Read (a little of) the body so the operator sees what the receiver said.
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            let text: String = String::from_utf8_lossy(&bytes)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            Err(PostError::Status {
                status: status.as_u16(),
                body: text,
            })
        }
    }
    .await;
    driver.abort();
    result
}

/// The TLS client settings: the system's CA certificates, read once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, PostError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(build_tls_config)
        .clone()
        .map_err(|reason| PostError::Tls {
            host: "-".into(),
            reason,
        })
}

fn build_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let from_env = std::env::var("SSL_CERT_FILE").ok();
    let files = from_env
        .iter()
        .map(String::as_str)
        .chain(CA_FILES.iter().copied());
    for file in files {
        let Ok(certs) = CertificateDer::pem_file_iter(file) else {
            continue;
        };
        let (added, _) = roots.add_parsable_certificates(certs.flatten());
        if added > 0 {
            break;
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "no CA certificates found (looked in SSL_CERT_FILE and {}); install the \
             ca-certificates package",
            CA_FILES.join(", ")
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
