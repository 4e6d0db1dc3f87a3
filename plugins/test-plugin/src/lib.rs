//! A misbehaving licd vendor plugin for licd's own tests; never packaged.
//!
//! `[plugin.config] mode` picks the behaviour:
//! - `"panic"`: `authenticate` panics (the export macro must turn it into an error return);
//! - `"sleep"`: `authenticate` sleeps `sleepMs` milliseconds, then allows (past the host's
//!   timeout, the host must deny and keep serving);
//! - `"refuse"`: `create` refuses the configuration (licd must not start);
//! - `"spy"`: allows, maps `customer` to `is_userdata1`, and writes everything it was given
//!   (configuration and every request field) as JSON lines to `dumpFile`, so a test can check
//!   what a plugin sees and what it never sees;
//! - `"webhook"`: denies every method call; its `webhook` takes a body that is already in the
//!   ABI's event lines (`event_id=…&event_type=…`, then `method=…&is_…=…` a line) when the
//!   header `X-Test-Token` equals `token`, so the host's webhook rules are tested apart from
//!   any store's signature. A body `panic` panics, `sleep` sleeps `sleepMs`.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use licd_plugin_api::{
    Request, VendorPlugin, Verdict, WebhookEvent, WebhookRefusal, export_vendor_plugin, webhook,
};
use serde_json::{Value, json};

/// The behaviour chosen by the configuration.
enum Mode {
    Panic,
    Sleep(Duration),
    Spy { dump: Mutex<std::fs::File> },
    Webhook { token: String, sleep: Duration },
}

/// The plugin instance.
pub struct TestPlugin {
    mode: Mode,
}

impl VendorPlugin for TestPlugin {
    fn create(config_json: &str) -> Result<Self, String> {
        let config: Value = serde_json::from_str(config_json).map_err(|e| e.to_string())?;
        let mode = match config.get("mode").and_then(Value::as_str) {
            Some("panic") => Mode::Panic,
            Some("sleep") => Mode::Sleep(Duration::from_millis(
                config
                    .get("sleepMs")
                    .and_then(Value::as_u64)
                    .unwrap_or(5_000),
            )),
            Some("spy") => {
                let path = config
                    .get("dumpFile")
                    .and_then(Value::as_str)
                    .ok_or("spy mode needs dumpFile")?;
                let mut file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open {path}: {e}"))?;
                writeln!(file, "{}", json!({ "config": config })).map_err(|e| e.to_string())?;
                Mode::Spy {
                    dump: Mutex::new(file),
                }
            }
            Some("webhook") => Mode::Webhook {
                token: config
                    .get("token")
                    .and_then(Value::as_str)
                    .ok_or("webhook mode needs token")?
                    .to_string(),
                sleep: Duration::from_millis(
                    config
                        .get("sleepMs")
                        .and_then(Value::as_u64)
                        .unwrap_or(5_000),
                ),
            },
            Some("refuse") => {
                return Err("mode \"refuse\": this configuration is refused on purpose".into());
            }
            other => return Err(format!("unknown mode {other:?}")),
        };
        Ok(TestPlugin { mode })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        match &self.mode {
            Mode::Panic => panic!("test plugin panics on purpose"),
            Mode::Sleep(d) => {
                std::thread::sleep(*d);
                Verdict::Allow
            }
            Mode::Webhook { .. } => Verdict::Deny("a webhook-only vendor".into()),
            Mode::Spy { dump } => {
                let seen = json!({
                    "method": req.method(),
                    "vendor": req.vendor(),
                    "client": req.client_addr(),
                    "url": req.url(),
                    "args": req.args().collect::<Vec<_>>(),
                    "headers": req.headers().collect::<Vec<_>>(),
                    "body": String::from_utf8_lossy(req.body()),
                });
                let mut file = dump.lock().unwrap_or_else(|p| p.into_inner());
                match writeln!(file, "{seen}") {
                    Ok(()) => Verdict::Allow,
                    Err(e) => Verdict::Deny(format!("cannot write the dump: {e}")),
                }
            }
        }
    }

    const HANDLES_WEBHOOKS: bool = true;

    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        let Mode::Webhook { token, sleep } = &self.mode else {
            return Err(WebhookRefusal::BadEvent("not in webhook mode".into()));
        };
        if req.header("x-test-token") != Some(token.as_str()) {
            return Err(WebhookRefusal::BadSignature(
                "missing or wrong X-Test-Token".into(),
            ));
        }
        let body = std::str::from_utf8(req.body())
            .map_err(|_| WebhookRefusal::BadEvent("the body is not UTF-8".into()))?;
        match body {
            "panic" => panic!("test plugin panics on purpose in webhook"),
            "sleep" => {
                std::thread::sleep(*sleep);
                Err(WebhookRefusal::BadEvent("slept".into()))
            }
            _ => webhook::parse(body).map_err(WebhookRefusal::BadEvent),
        }
    }

    fn map_args(&self, req: &Request<'_>) -> Result<Vec<(String, String)>, String> {
        Ok(req
            .arg("customer")
            .map(|c| vec![("is_userdata1".to_string(), c.to_string())])
            .unwrap_or_default())
    }
}

export_vendor_plugin!(TestPlugin, name = "licd-test-plugin");
