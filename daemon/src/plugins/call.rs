//! One loaded plugin and how it is called: off the async runtime, under its timeout and the
//! per-plugin cap, serialized when it asks, with every output checked before it is believed.

use std::ffi::c_void;
use std::fmt;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use licd_plugin_api::ffi::{
    AuthenticateFn, DestroyFn, FLAG_SERIALIZE, FLAG_SIGNS_BODY_ONLY, LICD_ALLOW, LICD_DENY,
    LICD_E_BAD_EVENT, LICD_E_PANIC, LICD_E_TOO_SMALL, LicdBytes, LicdPair, LicdRequest, LicdStr,
    MapArgsFn, WebhookFn,
};
use licd_plugin_api::webhook::{self as events, WebhookEvent};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::loader::LoadedLibrary;
use super::{FIRST_BUFFER_BYTES, MAX_BUFFER_BYTES, MAX_CALLS_IN_FLIGHT, PluginRequest};

/// Why a plugin call did not allow the request. Every kind means "deny".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The plugin answered `LICD_DENY`.
    Denied,
    /// No answer within `timeoutMs` (or before the request's own deadline).
    Timeout,
    /// Every slot of the concurrency cap stayed taken until the timeout.
    Busy,
    /// The export macro caught a panic (`LICD_E_PANIC`).
    Panicked,
    /// A negative or undefined return code.
    ErrorCode,
    /// Output that cannot be believed: a length past the buffer, or text that is not UTF-8.
    Garbage,
    /// The plugin has been destroyed (shutdown).
    Unavailable,
    /// `webhook`: the body is genuine but no event the plugin can read (`LICD_E_BAD_EVENT`).
    BadEvent,
    /// `webhook`: the plugin has no `webhook` function.
    NoWebhook,
}

/// A refusal and the sentence that goes to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What went wrong.
    pub kind: RefusalKind,
    /// Why, for the log (never for the client).
    pub detail: String,
}

impl Refusal {
    fn new(kind: RefusalKind, detail: impl Into<String>) -> Self {
        Refusal {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// A plugin instance pointer.
#[derive(Clone, Copy)]
pub(super) struct Instance(pub(super) *mut c_void);

// SAFETY: the ABI (licd_plugin.h) requires an instance to be usable from any thread, and from
// several at once unless the plugin sets LICD_FLAG_SERIALIZE, which `Plugin` honours with a
// mutex. The pointer itself is only passed back to the plugin.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

/// The functions of a checked table and the instance `create` made.
#[derive(Clone, Copy)]
pub(super) struct Api {
    pub(super) instance: Instance,
    pub(super) authenticate: AuthenticateFn,
    pub(super) map_args: Option<MapArgsFn>,
    pub(super) webhook: Option<WebhookFn>,
    pub(super) destroy: DestroyFn,
}

impl Api {
    /// Calls the plugin's `destroy`.
    ///
    /// # Safety
    /// Once, with no call to the instance running or to come.
    unsafe fn destroy(self) {
        // SAFETY: the caller's contract; `destroy` was checked non-null at load.
        unsafe { (self.destroy)(self.instance.0) }
    }
}

/// A loaded plugin, shared by every request of the vendors that name it.
pub struct Plugin {
    name: String,
    path: PathBuf,
    table_name: String,
    timeout: Duration,
    api: Api,
    /// `Some` when the plugin set `LICD_FLAG_SERIALIZE`: held around every call.
    serialize: Option<Mutex<()>>,
    /// The plugin set `LICD_FLAG_SIGNS_BODY_ONLY`.
    signs_body_only: bool,
    permits: Semaphore,
    destroyed: AtomicBool,
    /// Never dropped, so never `dlclose`d (module docs), nor its descriptor closed. `None`
    /// for in-process test tables.
    _library: Option<ManuallyDrop<LoadedLibrary>>,
}

impl Plugin {
    /// A plugin from a checked table and its instance; `flags` are the table's
    /// (`LICD_FLAG_*`; bits this licd does not know are ignored, as later minor versions may
    /// add some).
    pub(super) fn new(
        name: &str,
        path: &Path,
        table_name: String,
        timeout: Duration,
        flags: u32,
        api: Api,
        library: Option<LoadedLibrary>,
    ) -> Plugin {
        Plugin {
            name: name.to_string(),
            path: path.to_path_buf(),
            table_name,
            timeout,
            api,
            serialize: (flags & FLAG_SERIALIZE != 0).then(|| Mutex::new(())),
            signs_body_only: flags & FLAG_SIGNS_BODY_ONLY != 0,
            permits: Semaphore::new(MAX_CALLS_IN_FLIGHT),
            destroyed: AtomicBool::new(false),
            _library: library.map(ManuallyDrop::new),
        }
    }

    /// The `[[plugin]] name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The library's path as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name the plugin gives itself in its table.
    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Whether the plugin asked never to be called from two threads at once.
    pub fn serialized(&self) -> bool {
        self.serialize.is_some()
    }

    /// Whether the plugin declared that its check covers the request body only
    /// (`LICD_FLAG_SIGNS_BODY_ONLY`): the host then limits unsigned `is_*` arguments and
    /// honours the replay id `map_args` writes.
    pub fn signs_body_only(&self) -> bool {
        self.signs_body_only
    }

    /// Whether the plugin has a `webhook` function (licd 0.2's appended table field).
    pub fn handles_webhooks(&self) -> bool {
        self.api.webhook.is_some()
    }

    /// Asks the plugin about `request`: `authenticate`, then `map_args` when it has one.
    /// Returns the mapped arguments (form-encoded, possibly empty) when it allows.
    ///
    /// The call runs on the blocking pool and is given until `timeoutMs` from now or
    /// `request_deadline`, whichever comes first; past that the request is refused while the
    /// call, which cannot be stopped, finishes on its own thread still holding its slot.
    ///
    /// # Errors
    /// A [`Refusal`] for anything but a clean allow.
    pub async fn judge(
        self: &Arc<Self>,
        request: PluginRequest,
        request_deadline: Instant,
    ) -> Result<String, Refusal> {
        self.call(request, request_deadline, Plugin::run).await
    }

    /// Hands a store's webhook to the plugin's `webhook` function, under the same timeout,
    /// cap and checks as [`Plugin::judge`], and reads the event it answers.
    ///
    /// # Errors
    /// [`RefusalKind::Denied`] for a signature the plugin refused, [`RefusalKind::BadEvent`]
    /// for a genuine body it cannot read, [`RefusalKind::NoWebhook`] when it has no
    /// `webhook`, [`RefusalKind::Garbage`] for lines that are no event, and the other kinds
    /// as for [`Plugin::judge`].
    pub async fn webhook(
        self: &Arc<Self>,
        request: PluginRequest,
        request_deadline: Instant,
    ) -> Result<WebhookEvent, Refusal> {
        if !self.handles_webhooks() {
            return Err(Refusal::new(
                RefusalKind::NoWebhook,
                "the plugin has no webhook function",
            ));
        }
        self.call(request, request_deadline, Plugin::run_webhook)
            .await
    }

    /// Runs `body` on the blocking pool under the plugin's timeout and cap.
    async fn call<R: Send + 'static>(
        self: &Arc<Self>,
        request: PluginRequest,
        request_deadline: Instant,
        body: fn(&Plugin, &PluginRequest) -> Result<R, Refusal>,
    ) -> Result<R, Refusal> {
        let deadline = (Instant::now() + self.timeout).min(request_deadline);
        let timeout_ms = self.timeout.as_millis();
        let permit = match tokio::time::timeout_at(deadline, self.acquire()).await {
            Ok(Some(permit)) => permit,
            Ok(None) => {
                return Err(Refusal::new(
                    RefusalKind::Unavailable,
                    "the plugin has been shut down",
                ));
            }
            Err(_) => {
                return Err(Refusal::new(
                    RefusalKind::Busy,
                    format!(
                        "{MAX_CALLS_IN_FLIGHT} calls of this plugin were still running after {timeout_ms} ms (calls past their timeout keep their threads)"
                    ),
                ));
            }
        };
        let plugin = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            // Held until the plugin returns, even when the caller has stopped waiting.
            let _permit = permit;
            body(&plugin, &request)
        });
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(join)) => Err(Refusal::new(
                RefusalKind::ErrorCode,
                format!("the call failed on the host side: {join}"),
            )),
            Err(_) => Err(Refusal::new(
                RefusalKind::Timeout,
                format!("the plugin did not answer within {timeout_ms} ms"),
            )),
        }
    }

    /// One slot of the cap, released when dropped; `None` once the plugin is destroyed.
    async fn acquire(self: &Arc<Self>) -> Option<OwnedSlot> {
        let permit = self.permits.acquire().await.ok()?;
        permit.forget();
        Some(OwnedSlot(Arc::clone(self)))
    }

    /// The blocking part of [`Plugin::judge`].
    fn run(&self, request: &PluginRequest) -> Result<String, Refusal> {
        let _serial = self
            .serialize
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        with_raw(request, |raw| self.authenticate_and_map(raw))
    }

    /// `authenticate`, then `map_args`, on the request as the ABI has it.
    fn authenticate_and_map(&self, raw: &LicdRequest) -> Result<String, Refusal> {
        let api = self.api;
        let (code, message) = buffered("the authenticate message", |buf, cap, len| {
            // SAFETY: `authenticate` was checked non-null at load and `instance` came from this
            // plugin's `create`; `raw` and everything it points to (`args`, `headers`,
            // `request`) outlive the call; `buf` is valid for `cap` bytes and `len` writable.
            unsafe { (api.authenticate)(api.instance.0, raw, buf, cap, len) }
        })?;
        match code {
            LICD_ALLOW => {}
            LICD_DENY if message.is_empty() => {
                return Err(Refusal::new(
                    RefusalKind::Denied,
                    "denied (no reason given)",
                ));
            }
            LICD_DENY => {
                return Err(Refusal::new(
                    RefusalKind::Denied,
                    format!("denied: {message}"),
                ));
            }
            other => return Err(error_code("authenticate", other, &message)),
        }
        let Some(map_args) = api.map_args else {
            return Ok(String::new());
        };
        let (code, mapped) = buffered("the map_args output", |buf, cap, len| {
            // SAFETY: as for `authenticate`; `map_args` is non-null here.
            unsafe { map_args(api.instance.0, raw, buf, cap, len) }
        })?;
        if code != LICD_ALLOW {
            return Err(error_code("map_args", code, &mapped));
        }
        Ok(mapped)
    }

    /// The blocking part of [`Plugin::webhook`].
    fn run_webhook(&self, request: &PluginRequest) -> Result<WebhookEvent, Refusal> {
        let _serial = self
            .serialize
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        let api = self.api;
        let Some(webhook) = api.webhook else {
            return Err(Refusal::new(
                RefusalKind::NoWebhook,
                "the plugin has no webhook function",
            ));
        };
        let (code, text) = with_raw(request, |raw| {
            buffered("the webhook output", |buf, cap, len| {
                // SAFETY: as for `authenticate`; `webhook` was read from the table only when
                // its `struct_size` covers the field, and is non-null here.
                unsafe { webhook(api.instance.0, raw, buf, cap, len) }
            })
        })?;
        match code {
            LICD_ALLOW => events::parse(&text).map_err(|e| {
                Refusal::new(
                    RefusalKind::Garbage,
                    format!("webhook wrote no readable event: {e}"),
                )
            }),
            LICD_DENY if text.is_empty() => Err(Refusal::new(
                RefusalKind::Denied,
                "signature refused (no reason given)",
            )),
            LICD_DENY => Err(Refusal::new(
                RefusalKind::Denied,
                format!("signature refused: {text}"),
            )),
            LICD_E_BAD_EVENT => Err(Refusal::new(
                RefusalKind::BadEvent,
                format!("the body is no event the plugin can read: {text}"),
            )),
            other => Err(error_code("webhook", other, &text)),
        }
    }

    /// Runs `destroy` once every call has returned, waiting at most the plugin's timeout for
    /// calls still running (see [`super::PluginHost::shutdown`]).
    pub(super) async fn destroy(&self) {
        let grace = self.timeout;
        if self.destroyed.swap(true, Ordering::SeqCst) {
            return;
        }
        let all = u32::try_from(MAX_CALLS_IN_FLIGHT).unwrap_or(u32::MAX);
        let idle = tokio::time::timeout(grace, self.permits.acquire_many(all)).await;
        // From here on every call is refused as "shut down".
        self.permits.close();
        match idle {
            Ok(Ok(permits)) => {
                permits.forget();
                let api = self.api;
                // SAFETY: no call is running (every slot is held) and none can start (the
                // semaphore is closed), so the instance is destroyed exactly once, unused.
                let done = tokio::task::spawn_blocking(move || unsafe { api.destroy() });
                if tokio::time::timeout(grace, done).await.is_err() {
                    tracing::warn!(plugin = %self.name, path = %self.path.display(), "plugin destroy did not return in time");
                } else {
                    tracing::info!(plugin = %self.name, "vendor plugin destroyed");
                }
            }
            _ => tracing::warn!(
                plugin = %self.name,
                path = %self.path.display(),
                "plugin calls still running at shutdown; its instance is not destroyed"
            ),
        }
    }
}

/// A slot of a plugin's cap, moved into the blocking task.
struct OwnedSlot(Arc<Plugin>);

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.0.permits.add_permits(1);
    }
}

/// A refusal for a return code other than allow and deny.
fn error_code(function: &str, code: i32, message: &str) -> Refusal {
    let (kind, what) = match code {
        LICD_E_PANIC => (
            RefusalKind::Panicked,
            format!("{function} returned LICD_E_PANIC"),
        ),
        c if c < 0 => (
            RefusalKind::ErrorCode,
            format!("{function} returned error {c}"),
        ),
        c => (
            RefusalKind::ErrorCode,
            format!("{function} returned the undefined code {c}"),
        ),
    };
    if message.is_empty() {
        Refusal::new(kind, what)
    } else {
        Refusal::new(kind, format!("{what}: {message}"))
    }
}

/// Calls `f` with a buffer it may write text into; when the plugin answers
/// `LICD_E_TOO_SMALL`, calls it once more with the size it asked for (at most
/// [`MAX_BUFFER_BYTES`]). Returns the code and the text, which must fit the buffer and be UTF-8.
fn buffered(
    what: &str,
    f: impl Fn(*mut u8, usize, *mut usize) -> i32,
) -> Result<(i32, String), Refusal> {
    let mut cap = FIRST_BUFFER_BYTES;
    let mut retried = false;
    loop {
        let mut buf = vec![0u8; cap];
        let mut len = 0usize;
        let code = f(buf.as_mut_ptr(), cap, &mut len);
        if code == LICD_E_TOO_SMALL {
            if retried || len <= cap || len > MAX_BUFFER_BYTES {
                return Err(Refusal::new(
                    RefusalKind::ErrorCode,
                    format!(
                        "{what} did not fit a {cap}-byte buffer and the plugin asked for {len} bytes (at most {MAX_BUFFER_BYTES}, once)"
                    ),
                ));
            }
            cap = len;
            retried = true;
            continue;
        }
        if len > cap {
            return Err(Refusal::new(
                RefusalKind::Garbage,
                format!(
                    "{what} claims {len} bytes in a {cap}-byte buffer (a length past the buffer)"
                ),
            ));
        }
        buf.truncate(len);
        return match String::from_utf8(buf) {
            Ok(text) => Ok((code, text)),
            Err(_) => Err(Refusal::new(
                RefusalKind::Garbage,
                format!("{what} is not valid UTF-8"),
            )),
        };
    }
}

/// Calls `f` with `request` as the ABI's [`LicdRequest`], whose pointers stay valid during
/// the call.
fn with_raw<R>(request: &PluginRequest, f: impl FnOnce(&LicdRequest) -> R) -> R {
    let pairs = |list: &[(String, String)]| -> Vec<LicdPair> {
        list.iter()
            .map(|(n, v)| LicdPair {
                name: LicdStr::new(n),
                value: LicdStr::new(v),
            })
            .collect()
    };
    let args = pairs(&request.args);
    let headers = pairs(&request.headers);
    let raw = LicdRequest {
        // The struct is a few dozen bytes; the cast cannot truncate.
        struct_size: size_of::<LicdRequest>() as u32,
        method: LicdStr::new(&request.method),
        vendor: LicdStr::new(&request.vendor),
        client_addr: LicdStr::new(&request.client),
        url: LicdStr::new(&request.url),
        args: args.as_ptr(),
        args_len: args.len(),
        headers: headers.as_ptr(),
        headers_len: headers.len(),
        body: LicdBytes::new(&request.body),
    };
    f(&raw)
}
