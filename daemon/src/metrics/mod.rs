//! `/metrics`: counters kept by hand in atomics and rendered in the Prometheus text format.
//!
//! Hand-written rather than `metrics-exporter-prometheus`, whose default features pull in a
//! TLS stack with a C build (aws-lc-rs) for a dozen counters. Every label value comes from a
//! fixed set (the methods licd serves, named at start, `unknown` for the rest; the error
//! codes; the plugins configured at start), so no request can grow the number of series.

mod histogram;

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use histogram::Histogram;

use crate::errors::ErrorCode;
use crate::mail::MailCounters;
use crate::store::{StoreError, StoreStats};
use crate::webhooks::WebhookCounters;

/// Request-latency bucket bounds in microseconds (0.25 ms to 10 s): reads answer in well
/// under a millisecond, durable writes wait for an fsync, and requestTimeoutMs caps the rest.
const LATENCY_BOUNDS: &[u64] = &[
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 2_500_000,
    10_000_000,
];

/// The `method` label of a request whose method name licd does not know.
const UNKNOWN_METHOD: &str = "unknown";

/// How a plugin call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginOutcome {
    /// The plugin authenticated the vendor.
    Allowed,
    /// The plugin refused.
    Denied,
    /// The plugin did not answer within its `timeoutMs`.
    Timeout,
    /// The plugin failed (error code, panic, garbage).
    Error,
}

impl PluginOutcome {
    const ALL: [PluginOutcome; 4] = [
        PluginOutcome::Allowed,
        PluginOutcome::Denied,
        PluginOutcome::Timeout,
        PluginOutcome::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            PluginOutcome::Allowed => "allowed",
            PluginOutcome::Denied => "denied",
            PluginOutcome::Timeout => "timeout",
            PluginOutcome::Error => "error",
        }
    }
}

/// The process's counters.
pub struct Metrics {
    /// The `method` label values but `unknown`: every name the server serves.
    methods: Vec<&'static str>,
    /// Requests by (method index, code index); see [`Metrics::record_request`].
    requests: Box<[AtomicU64]>,
    /// Latency per method index (the last is `unknown`).
    latency: Box<[Histogram]>,
    open_connections: Arc<AtomicU64>,
    /// Plugin names configured at start (the plugin set only changes with a restart).
    plugins: Vec<String>,
    /// Plugin calls by (plugin index, outcome index).
    plugin_calls: Box<[AtomicU64]>,
    /// What the mail sender did (`crate::mail::sender`).
    pub mail: MailCounters,
    /// What the webhook sender did (`crate::webhooks::sender`).
    pub webhooks: WebhookCounters,
}

/// Number of `code` label values: success (0) and every error code.
const CODES: usize = ErrorCode::ALL.len() + 1;
impl Metrics {
    /// Counters for a server serving the methods named `methods` (each alias its own label),
    /// whose configured plugins are `plugins`.
    pub fn new(plugins: Vec<String>, methods: Vec<&'static str>) -> Self {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        // Every method and `unknown`.
        let labels = methods.len() + 1;
        Metrics {
            methods,
            requests: zeros(labels * CODES),
            latency: (0..labels)
                .map(|_| Histogram::new(LATENCY_BOUNDS, 1e6))
                .collect(),
            open_connections: Arc::new(AtomicU64::new(0)),
            plugin_calls: zeros(plugins.len() * PluginOutcome::ALL.len()),
            plugins,
            mail: MailCounters::default(),
            webhooks: WebhookCounters::default(),
        }
    }

    fn method_index(&self, method: Option<&str>) -> usize {
        method
            .and_then(|m| self.methods.iter().position(|&k| k == m))
            .unwrap_or(self.methods.len())
    }

    /// The `method` label values, in index order.
    fn method_labels(&self) -> impl Iterator<Item = &'static str> {
        self.methods
            .iter()
            .copied()
            .chain(std::iter::once(UNKNOWN_METHOD))
    }

    fn code_index(code: Option<ErrorCode>) -> usize {
        code.and_then(|c| ErrorCode::ALL.iter().position(|&k| k == c))
            .map_or(0, |i| i + 1)
    }

    /// Counts one answered method request: `method` (its QLM spelling) `None` when the name
    /// is unknown, `code` `None` on success.
    pub fn record_request(&self, method: Option<&str>, code: Option<ErrorCode>, elapsed: Duration) {
        let m = self.method_index(method);
        self.requests[m * CODES + Self::code_index(code)].fetch_add(1, Ordering::Relaxed);
        self.latency[m].observe(elapsed.as_micros() as u64);
    }

    /// Counts an open connection until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.open_connections.clone())
    }

    /// Counts a call of the plugin `plugin` (its `[[plugin]] name`). A name not configured at
    /// start is not counted: the label set stays fixed.
    pub fn record_plugin_call(&self, plugin: &str, outcome: PluginOutcome) {
        if let Some(p) = self.plugins.iter().position(|n| n == plugin) {
            let o = PluginOutcome::ALL
                .iter()
                .position(|&k| k == outcome)
                .unwrap_or(0);
            self.plugin_calls[p * PluginOutcome::ALL.len() + o].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text of every metric. The caller reads the store's figures: its commit
    /// statistics, the licences and activations stored (a store read is `async`), and the
    /// size of the database file.
    pub fn render(
        &self,
        stats: &StoreStats,
        counts: Result<(u64, u64), StoreError>,
        database_size: Option<u64>,
    ) -> String {
        let mut out = String::with_capacity(8192);
        render_build_info(&mut out);
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        render_commit_stats(&mut out, stats);
        render_database(&mut out, counts, database_size);
        self.render_plugin_calls(&mut out);
        self.render_mail(&mut out);
        self.render_webhooks(&mut out);
        gauge(
            &mut out,
            "licd_open_connections",
            "HTTP connections open now.",
            self.open_connections.load(Ordering::Relaxed),
        );
        out
    }

    /// `licd_requests_total`: only the (method, code) pairs seen at least once.
    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "licd_requests_total",
            "counter",
            "Method requests answered, by method and errorCode (0: success).",
        );
        for (m, name) in self.method_labels().enumerate() {
            for c in 0..CODES {
                let n = self.requests[m * CODES + c].load(Ordering::Relaxed);
                if n > 0 {
                    let code = if c == 0 {
                        0
                    } else {
                        ErrorCode::ALL[c - 1].number()
                    };
                    let _ = writeln!(
                        out,
                        "licd_requests_total{{method=\"{name}\",code=\"{code}\"}} {n}"
                    );
                }
            }
        }
    }

    /// `licd_request_duration_seconds`: one histogram per method that has answered.
    fn render_latency(&self, out: &mut String) {
        header(
            out,
            "licd_request_duration_seconds",
            "histogram",
            "Time from the request's arrival to its reply, by method.",
        );
        for (m, name) in self.method_labels().enumerate() {
            if self.latency[m].count() > 0 {
                self.latency[m].render(
                    out,
                    "licd_request_duration_seconds",
                    &format!("method=\"{name}\""),
                );
            }
        }
    }

    /// The webhook sender's counters, zeros included.
    fn render_webhooks(&self, out: &mut String) {
        let (delivered, retried, dead) = self.webhooks.figures();
        for (name, help, n) in [
            (
                "licd_webhook_delivered_total",
                "Events an endpoint answered with 2xx.",
                delivered,
            ),
            (
                "licd_webhook_retried_total",
                "Delivery attempts of events whose earlier attempt had failed.",
                retried,
            ),
            (
                "licd_webhook_dead_total",
                "Events given up after 1 + webHookMaxRetries failed attempts.",
                dead,
            ),
        ] {
            header(out, name, "counter", help);
            let _ = writeln!(out, "{name} {n}");
        }
    }

    /// The mail sender's counters, zeros included.
    fn render_mail(&self, out: &mut String) {
        let (sent, retried, failed) = self.mail.figures();
        for (name, help, n) in [
            (
                "licd_mail_sent_total",
                "Mails the SMTP server accepted.",
                sent,
            ),
            (
                "licd_mail_retried_total",
                "Delivery attempts of mails whose earlier attempt had failed.",
                retried,
            ),
            (
                "licd_mail_failed_total",
                "Delivery attempts that failed; the mail stays in the outbox.",
                failed,
            ),
        ] {
            header(out, name, "counter", help);
            let _ = writeln!(out, "{name} {n}");
        }
    }

    /// `licd_plugin_calls_total`: every (plugin, outcome) pair, zeros included, since the
    /// plugin set is fixed at start.
    fn render_plugin_calls(&self, out: &mut String) {
        header(
            out,
            "licd_plugin_calls_total",
            "counter",
            "Vendor-plugin calls, by plugin and outcome (allowed, denied, timeout, error).",
        );
        for (p, name) in self.plugins.iter().enumerate() {
            for (o, outcome) in PluginOutcome::ALL.iter().enumerate() {
                let n = self.plugin_calls[p * PluginOutcome::ALL.len() + o].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "licd_plugin_calls_total{{plugin=\"{}\",outcome=\"{}\"}} {n}",
                    escape_label(name),
                    outcome.label()
                );
            }
        }
    }
}

/// `licd_build_info`: the version as a label.
fn render_build_info(out: &mut String) {
    header(
        out,
        "licd_build_info",
        "gauge",
        "Always 1; the version is a label.",
    );
    let _ = writeln!(out, "licd_build_info{{version=\"{}\"}} 1", crate::VERSION);
}

/// The store's group-commit histograms: batch size and commit duration.
fn render_commit_stats(out: &mut String, stats: &StoreStats) {
    header(
        out,
        "licd_commit_batch_size",
        "histogram",
        "Commands applied per durable commit (group commit).",
    );
    stats.batch_size.render(out, "licd_commit_batch_size", "");
    header(
        out,
        "licd_commit_duration_seconds",
        "histogram",
        "Time of one write transaction, from begin to the end of its durable commit.",
    );
    stats
        .commit_latency
        .render(out, "licd_commit_duration_seconds", "");
}

/// The database gauges: licences and activations stored, and the file's size. A figure the
/// caller could not read is left out rather than failing the whole scrape.
fn render_database(
    out: &mut String,
    counts: Result<(u64, u64), StoreError>,
    database_size: Option<u64>,
) {
    match counts {
        Ok((licenses, activations)) => {
            gauge(
                out,
                "licd_licences_stored",
                "Licences in the database.",
                licenses,
            );
            gauge(
                out,
                "licd_activations_stored",
                "Activations in the database.",
                activations,
            );
        }
        Err(e) => tracing::warn!(error = %e, "cannot count licences for /metrics"),
    }
    if let Some(size) = database_size {
        gauge(
            out,
            "licd_database_size_bytes",
            "Size of the database: the redb file, or PostgreSQL's pg_database_size.",
            size,
        );
    }
}

/// Decrements the open-connection gauge when the connection ends.
pub struct ConnectionGuard(Arc<AtomicU64>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two served names, as the server's table would give them.
    const METHODS: [&str; 2] = ["PingHttp", "GetActivationKey"];

    #[test]
    fn unknown_method_and_success_have_their_own_slots() {
        let m = Metrics::new(vec!["fs".into()], METHODS.to_vec());
        m.record_request(None, None, Duration::from_millis(1));
        m.record_request(
            Some("PingHttp"),
            Some(ErrorCode::UnknownError),
            Duration::from_millis(1),
        );
        let unknown = METHODS.len() * CODES;
        assert_eq!(m.requests[unknown].load(Ordering::Relaxed), 1);
        let ping_3000 = m.method_index(Some("PingHttp")) * CODES + CODES - 1;
        assert_eq!(m.requests[ping_3000].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn plugin_calls_of_unconfigured_plugins_are_not_counted() {
        let m = Metrics::new(vec!["fs".into()], METHODS.to_vec());
        m.record_plugin_call("fs", PluginOutcome::Timeout);
        m.record_plugin_call("other", PluginOutcome::Denied);
        let total: u64 = m
            .plugin_calls
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        assert_eq!(total, 1);
        assert_eq!(m.plugin_calls[2].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn open_connections_gauge_falls_when_the_guard_drops() {
        let m = Metrics::new(Vec::new(), METHODS.to_vec());
        let a = m.connection_opened();
        let b = m.connection_opened();
        drop(a);
        assert_eq!(m.open_connections.load(Ordering::Relaxed), 1);
        drop(b);
        assert_eq!(m.open_connections.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
