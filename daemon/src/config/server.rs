//! `[server]`: licd's own settings, as opposed to QLM's server properties.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{IpList, TlsIdentity, document};

/// The database file inside `server.dataDir`.
pub const DATABASE_FILE: &str = "licd.redb";

/// `[server]`: licd's own settings (not QLM server properties).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerConfig {
    /// Address and port to listen on; port 0 picks a free port (tests).
    #[serde(deserialize_with = "document::socket_addr")]
    pub listen: SocketAddr,
    /// URL prefix before `qlmservice.asmx`, e.g. `/qlmLicenseServer`; empty for none.
    pub base_path: String,
    /// Directory holding `licd.redb` and `admin.sock`.
    pub data_dir: PathBuf,
    /// Connections served at once; past this, new connections wait.
    pub max_connections: u32,
    /// Time allowed for a whole request, headers and body, from its first byte (and for a
    /// TLS handshake from the accept); also the idle keep-alive timeout.
    pub header_read_timeout_ms: u64,
    /// Time after which an unanswered request gets code 3000.
    pub request_timeout_ms: u64,
    /// Limit on request line plus headers (HTTP 431 past it).
    pub max_header_bytes: usize,
    /// Limit on a request body (HTTP 413 past it).
    pub max_body_bytes: usize,
    /// Limit on a webhook's body (`QlmWebHookHandler`; HTTP 413 past it): a store's event
    /// for a large order exceeds the form limit.
    pub max_webhook_body_bytes: usize,
    /// Limit on the number of arguments of one request.
    pub max_args: usize,
    /// Limit on the length of one argument value.
    pub max_value_bytes: usize,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// redb page cache size.
    #[serde(rename = "cacheSizeMiB")]
    pub cache_size_mib: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: IpList,
    /// Client addresses that may read `/metrics`.
    #[serde(rename = "metricsAllowedIPs")]
    pub metrics_allowed_ips: IpList,
    /// Log line format.
    pub log_format: LogFormat,
    /// Least severe level logged.
    pub log_level: LogLevel,
    /// PEM certificate chain (server certificate first) to serve HTTPS with; with
    /// `tlsKeyFile`, or neither for plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate in `tlsCertFile`.
    pub tls_key_file: Option<PathBuf>,
    /// The certificate and key read from those files when the configuration was loaded;
    /// `None`: plain HTTP.
    #[serde(skip)]
    pub tls: Option<TlsIdentity>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_path: String::new(),
            data_dir: PathBuf::from("./licd-data"),
            max_connections: 10_000,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 15_000,
            max_header_bytes: 8192,
            max_body_bytes: 65_536,
            max_webhook_body_bytes: 1_048_576,
            max_args: 64,
            max_value_bytes: 4096,
            shutdown_grace_seconds: 10,
            cache_size_mib: 64,
            trusted_proxies: IpList::default(),
            metrics_allowed_ips: IpList::loopback(),
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
            tls_cert_file: None,
            tls_key_file: None,
            tls: None,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// The least severe level that is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and things that may need attention.
    Warn,
    /// Normal operation (start, stop, reloads).
    Info,
    /// Detail for troubleshooting.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}
