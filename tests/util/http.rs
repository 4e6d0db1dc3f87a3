//! HTTP on loopback, plain or TLS: requests to a test daemon, and the reply with its XML or
//! JSON body parsed on demand.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use quick_xml::events::Event;

use super::{TestDaemon, VENDOR};

/// Calls of the daemon's HTTP methods, the requests nearly every test makes.
impl TestDaemon {
    /// GET `path` (with its query string).
    pub fn get(&self, path_and_query: &str) -> HttpReply {
        self.raw(&format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        ))
    }

    /// POST a form body to `path`.
    pub fn post_form(&self, path_and_query: &str, body: &str) -> HttpReply {
        self.raw(&format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        ))
    }

    /// Calls `/qlmservice.asmx/{method}?{query}` with GET.
    pub fn call(&self, method: &str, query: &str) -> HttpReply {
        self.get(&format!("/qlmservice.asmx/{method}?{query}"))
    }

    /// Sends raw bytes and reads the reply until the server closes the connection.
    pub fn raw(&self, request: &str) -> HttpReply {
        send_raw(self.addr, request.as_bytes())
    }

    /// ValidateLicenseHttp for `key` on computer `pc`: activates, or validates an existing
    /// activation.
    pub fn activate(&self, key: &str, pc: &str) -> HttpReply {
        self.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid={pc}"),
        )
    }

    /// The licence info elements of `key`, from a report-only validation (asserted a
    /// success).
    pub fn licence_info(&self, key: &str) -> HttpReply {
        let r = self.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_activate=false"),
        );
        r.expect_ok();
        r
    }

    /// The licence as stored, seen through a report-only validation, without the server
    /// date: equal before and after a request that must change nothing.
    pub fn license_snapshot(&self, key: &str) -> String {
        self.licence_info(key)
            .body
            .lines()
            .filter(|l| !l.starts_with("<serverDate>"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Creates one demo key (product 1, version 1.0) with extra arguments; returns it dashed.
    pub fn create_key(&self, extra: &str) -> String {
        let r = self.call(
            "GetActivationKey",
            &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}&{extra}"),
        );
        assert!(r.error_code().is_none(), "key creation failed: {}", r.body);
        r.all("activationKey")
            .into_iter()
            .next()
            .expect("an activationKey")
    }
}

/// Sends raw bytes to `addr` and reads the HTTP reply until the connection closes.
pub fn send_raw(addr: SocketAddr, request: &[u8]) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request).expect("write request");
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    HttpReply::parse(&bytes)
}

/// An HTTP reply with the XML (or JSON) body parsed on demand.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// HTTP status code.
    pub status: u16,
    /// Headers, names in lower case (the last value of a header sent several times).
    pub headers: HashMap<String, String>,
    /// Every header line in order, names in lower case (each `Set-Cookie`, say).
    pub header_lines: Vec<(String, String)>,
    /// The body bytes.
    pub bytes: Vec<u8>,
    /// The body as text (lossy).
    pub body: String,
}

impl HttpReply {
    fn parse(raw: &[u8]) -> HttpReply {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let header_lines: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let headers = header_lines.iter().cloned().collect::<HashMap<_, _>>();
        let mut bytes = raw[split + 4..].to_vec();
        if headers
            .get("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            bytes = dechunk(&bytes);
        }
        let body = String::from_utf8_lossy(&bytes).to_string();
        HttpReply {
            status,
            headers,
            header_lines,
            bytes,
            body,
        }
    }

    /// The header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Text of every element named `name`, at any depth, in document order.
    pub fn all(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut reader = quick_xml::Reader::from_str(self.body.trim_start_matches('\u{feff}'));
        let mut inside: Option<String> = None;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.name().0 == name => {
                    inside = Some(String::new());
                }
                Ok(Event::Text(t)) => {
                    if let Some(s) = inside.as_mut() {
                        s.push_str(&t[..]);
                    }
                }
                Ok(Event::GeneralRef(r)) => {
                    if let Some(s) = inside.as_mut() {
                        let name = r[..].to_string();
                        let resolved = match name.as_str() {
                            "amp" => "&".to_string(),
                            "lt" => "<".to_string(),
                            "gt" => ">".to_string(),
                            "quot" => "\"".to_string(),
                            "apos" => "'".to_string(),
                            "#xD" => "\r".to_string(),
                            other => panic!("unexpected entity {other}"),
                        };
                        s.push_str(&resolved);
                    }
                }
                Ok(Event::End(e)) if e.name().0 == name => {
                    if let Some(s) = inside.take() {
                        out.push(s);
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => panic!("reply is not well-formed XML ({e}): {}", self.body),
                _ => {}
            }
        }
        out
    }

    /// Names of the children of `<QuickLicenseManager>`, in order.
    pub fn element_names(&self) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(self.body.trim_start_matches('\u{feff}'));
        let (mut depth, mut names) = (0, Vec::new());
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    depth += 1;
                    if depth == 2 {
                        names.push(e.name().0.to_string());
                    }
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Eof) => return names,
                Err(e) => panic!("not XML ({e}): {}", self.body),
                _ => {}
            }
        }
    }

    /// Text of the first element named `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    /// `<errorCode>` of an error reply (XML), or `errorCode` of a JSON one.
    pub fn error_code(&self) -> Option<u32> {
        if self.body.trim_start().starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&self.body).expect("json");
            return v
                .get("errorCode")
                .and_then(|c| c.as_u64())
                .map(|c| c as u32);
        }
        if !self.body.contains("<QuickLicenseManager>") {
            return None;
        }
        self.get("errorCode")
            .map(|c| c.parse().expect("numeric errorCode"))
    }

    /// The `<error>` sentence.
    pub fn error(&self) -> Option<String> {
        self.get("error")
    }

    /// The JSON body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes).expect("json body")
    }

    /// Asserts an error reply with this code and returns its message.
    #[track_caller]
    pub fn expect_error(&self, code: u32) -> String {
        assert_eq!(self.error_code(), Some(code), "reply: {}", self.body);
        self.error().unwrap_or_default()
    }

    /// Asserts a success reply.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert_eq!(self.status, 200, "reply: {}", self.body);
        assert!(
            self.error_code().is_none(),
            "unexpected error: {}",
            self.body
        );
        self
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// What a TLS client saw: the reply, the server's certificate and the protocol version.
pub struct TlsReply {
    /// The HTTP reply.
    pub reply: HttpReply,
    /// The server certificate presented (DER).
    pub peer_cert: Vec<u8>,
    /// The negotiated protocol version.
    pub version: rustls::ProtocolVersion,
}

/// Sends `request` over TLS to `addr` (server name 127.0.0.1), trusting only `ca` and
/// offering only `versions`; reads the reply until the server closes. `Err` says why the
/// TLS connection failed.
pub fn send_tls(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    request: &[u8],
) -> Result<TlsReply, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let peer_cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no server certificate")?;
    let version = conn.protocol_version().ok_or("no protocol version")?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    stream.write_all(request).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    // A server that closes without close_notify ends the read with an error; the bytes
    // read before it are the reply all the same.
    let _ = stream.read_to_end(&mut bytes);
    Ok(TlsReply {
        reply: HttpReply::parse(&bytes),
        peer_cert,
        version,
    })
}

/// GET `path` over TLS with TLS 1.3 or 1.2, trusting only `ca`.
pub fn tls_get(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> Result<TlsReply, String> {
    send_tls(
        addr,
        ca,
        rustls::ALL_VERSIONS,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}
