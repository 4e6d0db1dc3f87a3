//! The host's rules, proved on plugin tables defined in this file (no `dlopen`): output checks,
//! the buffer retry, timeout, the concurrency cap, the serialize flag, ABI checks, `create`
//! and `destroy`. The real libraries are loaded by the black-box tests (tests/plugins.rs).

use std::ffi::c_void;
use std::ptr::null;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use licd_plugin_api::ffi::*;
use tokio::time::Instant;

use super::loader::{self, PluginLoadError, instantiate};
use super::{MAX_CALLS_IN_FLIGHT, Plugin, PluginHost, PluginRequest, RefusalKind};
use crate::config::PluginConfig;

static INSTANCE: u8 = 0;

fn config(timeout_ms: u64, table: &str) -> PluginConfig {
    PluginConfig {
        name: "t".into(),
        path: "/plugins/t.so".into(),
        timeout_ms,
        config: toml::from_str(table).expect("toml"),
    }
}

fn load(table: &'static LicdPluginV1, timeout_ms: u64) -> Result<Plugin, PluginLoadError> {
    // SAFETY: a static version-1 table defined below.
    unsafe { instantiate(&config(timeout_ms, ""), table, None) }
}

fn plugin(table: &'static LicdPluginV1, timeout_ms: u64) -> Arc<Plugin> {
    Arc::new(load(table, timeout_ms).unwrap_or_else(|e| panic!("{e}")))
}

async fn judge(p: &Arc<Plugin>) -> Result<String, super::Refusal> {
    p.judge(
        PluginRequest::default(),
        Instant::now() + Duration::from_secs(10),
    )
    .await
}

/// Writes `text` into the host's buffer and returns `code`; `claim` overrides the length.
unsafe fn put(text: &[u8], buf: *mut u8, cap: usize, len: *mut usize, code: i32) -> i32 {
    // SAFETY: the host's buffer; callers keep `text` within `cap` unless testing the retry.
    unsafe {
        *len = text.len();
        if text.len() > cap {
            return LICD_E_TOO_SMALL;
        }
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len());
    }
    code
}

unsafe extern "C" fn create_ok(
    _json: *const u8,
    _len: usize,
    instance: *mut *mut c_void,
    _err: *mut u8,
    _cap: usize,
    err_len: *mut usize,
) -> i32 {
    // SAFETY: the host's out-pointers.
    unsafe {
        *instance = (&raw const INSTANCE).cast_mut().cast();
        *err_len = 0;
    }
    LICD_ALLOW
}

unsafe extern "C" fn destroy_noop(_instance: *mut c_void) {}

const fn table(
    authenticate: AuthenticateFn,
    map_args: Option<MapArgsFn>,
    flags: u32,
) -> LicdPluginV1 {
    LicdPluginV1 {
        abi_version: ABI_VERSION,
        struct_size: size_of::<LicdPluginV1>() as u32,
        name: c"test-table".as_ptr(),
        flags,
        create: Some(create_ok),
        destroy: Some(destroy_noop),
        authenticate: Some(authenticate),
        map_args,
        webhook: None,
    }
}

unsafe extern "C" fn allow(
    _: *mut c_void,
    _: *const LicdRequest,
    _: *mut u8,
    _: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's out-pointer.
    unsafe { *len = 0 };
    LICD_ALLOW
}

unsafe extern "C" fn deny(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's buffer.
    unsafe { put(b"bad signature", buf, cap, len, LICD_DENY) }
}

unsafe extern "C" fn overflow(
    _: *mut c_void,
    _: *const LicdRequest,
    _: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's out-pointer.
    unsafe { *len = cap + 1 };
    LICD_ALLOW
}

unsafe extern "C" fn not_utf8(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's buffer.
    unsafe { put(b"\xff\xfe", buf, cap, len, LICD_DENY) }
}

unsafe extern "C" fn map_long(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    let text = format!("is_userdata1={}", "a".repeat(5000));
    // SAFETY: the host's buffer; `put` answers TOO_SMALL when it does not fit.
    unsafe { put(text.as_bytes(), buf, cap, len, LICD_ALLOW) }
}

unsafe extern "C" fn map_huge(
    _: *mut c_void,
    _: *const LicdRequest,
    _: *mut u8,
    _: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's out-pointer.
    unsafe { *len = 1 << 20 };
    LICD_E_TOO_SMALL
}

unsafe extern "C" fn sleepy(
    _: *mut c_void,
    _: *const LicdRequest,
    _: *mut u8,
    _: usize,
    len: *mut usize,
) -> i32 {
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: the host's out-pointer.
    unsafe { *len = 0 };
    LICD_ALLOW
}

/// Counts how many calls run at once, for the serialize tests; one counter pair per table.
macro_rules! overlap_probe {
    ($name:ident, $now:ident, $max:ident) => {
        static $now: AtomicUsize = AtomicUsize::new(0);
        static $max: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" fn $name(
            _: *mut c_void,
            _: *const LicdRequest,
            _: *mut u8,
            _: usize,
            len: *mut usize,
        ) -> i32 {
            let running = $now.fetch_add(1, Ordering::SeqCst) + 1;
            $max.fetch_max(running, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            $now.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: the host's out-pointer.
            unsafe { *len = 0 };
            LICD_ALLOW
        }
    };
}
overlap_probe!(probe_serial, SERIAL_NOW, SERIAL_MAX);
overlap_probe!(probe_parallel, PARALLEL_NOW, PARALLEL_MAX);

static ALLOW: LicdPluginV1 = table(allow, None, 0);
static DENY: LicdPluginV1 = table(deny, None, 0);
static OVERFLOW: LicdPluginV1 = table(overflow, None, 0);
static NOT_UTF8: LicdPluginV1 = table(not_utf8, None, 0);
static MAP_LONG: LicdPluginV1 = table(allow, Some(map_long), 0);
static MAP_HUGE: LicdPluginV1 = table(allow, Some(map_huge), 0);
static SLEEPY: LicdPluginV1 = table(sleepy, None, 0);
static SERIAL: LicdPluginV1 = table(probe_serial, None, FLAG_SERIALIZE);
static PARALLEL: LicdPluginV1 = table(probe_parallel, None, 0);

#[tokio::test]
async fn allow_without_map_args_maps_nothing_and_deny_carries_its_reason() {
    assert_eq!(judge(&plugin(&ALLOW, 1000)).await, Ok(String::new()));
    let refused = judge(&plugin(&DENY, 1000)).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Denied);
    assert_eq!(refused.detail, "denied: bad signature");
}

#[tokio::test]
async fn a_length_past_the_buffer_turns_an_allow_into_a_refusal() {
    let refused = judge(&plugin(&OVERFLOW, 1000)).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Garbage);
    assert!(
        refused.detail.contains("past the buffer"),
        "{}",
        refused.detail
    );
}

#[tokio::test]
async fn text_that_is_not_utf8_is_a_refusal_naming_it() {
    let refused = judge(&plugin(&NOT_UTF8, 1000)).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Garbage);
    assert!(
        refused.detail.contains("not valid UTF-8"),
        "{}",
        refused.detail
    );
}

#[tokio::test]
async fn output_too_small_is_retried_once_with_the_size_asked_but_not_past_64_kib() {
    let mapped = judge(&plugin(&MAP_LONG, 1000)).await.unwrap();
    assert_eq!(mapped.len(), "is_userdata1=".len() + 5000);
    let refused = judge(&plugin(&MAP_HUGE, 1000)).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::ErrorCode);
    assert!(refused.detail.contains("1048576"), "{}", refused.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_timeout_is_refused_and_a_full_cap_refuses_at_once_as_busy() {
    let p = plugin(&SLEEPY, 100);
    let started = std::time::Instant::now();
    let refused = judge(&p).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Timeout);
    // Far below the plugin's 1.5 s: the refusal did not wait for the call.
    assert!(started.elapsed() < Duration::from_millis(1000));
    // The timed-out call still holds its slot; fill the others, then one more is busy.
    let fill: Vec<_> = (1..MAX_CALLS_IN_FLIGHT)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { judge(&p).await })
        })
        .collect();
    for f in fill {
        assert_eq!(f.await.unwrap().unwrap_err().kind, RefusalKind::Timeout);
    }
    let refused = judge(&p).await.unwrap_err();
    assert_eq!(refused.kind, RefusalKind::Busy, "{}", refused.detail);
    // Once the sleepers return, the plugin answers again.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let p = Arc::clone(&p);
    assert_eq!(judge(&p).await.unwrap_err().kind, RefusalKind::Timeout);
}

async fn max_overlap(table: &'static LicdPluginV1, max: &AtomicUsize) -> usize {
    let p = plugin(table, 5000);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { judge(&p).await })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), Ok(String::new()));
    }
    max.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialize_flag_means_never_two_calls_at_once() {
    assert_eq!(max_overlap(&SERIAL, &SERIAL_MAX).await, 1);
    // Without the flag the same calls do overlap, so the probe can see it.
    assert!(max_overlap(&PARALLEL, &PARALLEL_MAX).await > 1);
}

static BODY_ONLY: LicdPluginV1 = table(allow, None, FLAG_SIGNS_BODY_ONLY | 1 << 31);

#[test]
fn the_body_only_flag_is_read_from_the_table_and_unknown_bits_are_ignored() {
    let p = plugin(&BODY_ONLY, 1000);
    assert!(p.signs_body_only());
    assert!(!p.serialized());
    assert!(!plugin(&SERIAL, 1000).signs_body_only());
}

static WRONG_VERSION: LicdPluginV1 = LicdPluginV1 {
    abi_version: 2,
    ..table(allow, None, 0)
};
static TOO_SMALL: LicdPluginV1 = LicdPluginV1 {
    struct_size: 8,
    ..table(allow, None, 0)
};
static NO_AUTHENTICATE: LicdPluginV1 = LicdPluginV1 {
    authenticate: None,
    ..table(allow, None, 0)
};

#[test]
fn wrong_version_small_table_or_missing_function_is_refused_naming_plugin_and_path() {
    let e = load(&WRONG_VERSION, 1000)
        .err()
        .expect("refused")
        .to_string();
    for part in [
        "plugin t",
        "/plugins/t.so",
        "ABI version 2",
        "ABI version 1",
    ] {
        assert!(e.contains(part), "{part:?} in {e}");
    }
    let e = load(&TOO_SMALL, 1000).err().expect("refused").to_string();
    assert!(e.contains("8 bytes") && e.contains("/plugins/t.so"), "{e}");
    let e = load(&NO_AUTHENTICATE, 1000)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("authenticate"), "{e}");
    // SAFETY: null is allowed by `instantiate`'s contract.
    let e = unsafe { instantiate(&config(1000, ""), null(), None) }
        .err()
        .expect("refused");
    assert!(e.to_string().contains("NULL"), "{e}");
}

static SEEN_CONFIG: Mutex<String> = Mutex::new(String::new());

unsafe extern "C" fn create_picky(
    json: *const u8,
    len: usize,
    instance: *mut *mut c_void,
    err: *mut u8,
    cap: usize,
    err_len: *mut usize,
) -> i32 {
    // SAFETY: the host's JSON is valid for `len` bytes.
    let text =
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(json, len) }).into_owned();
    let refuse = text.contains("refuse");
    *SEEN_CONFIG.lock().unwrap() = text;
    if refuse {
        // SAFETY: the host's buffer.
        return unsafe { put(b"privateKey is missing", err, cap, err_len, LICD_E_CONFIG) };
    }
    // SAFETY: the host's out-pointers.
    unsafe { create_ok(json, len, instance, err, cap, err_len) }
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn destroy_counted(_instance: *mut c_void) {
    DESTROYED.fetch_add(1, Ordering::SeqCst);
}

static PICKY: LicdPluginV1 = LicdPluginV1 {
    create: Some(create_picky),
    destroy: Some(destroy_counted),
    ..table(allow, None, 0)
};

#[tokio::test]
async fn create_gets_the_config_table_as_json_and_a_refusal_names_its_reason() {
    let toml = "privateKeyFile = \"/k\"\nn = 3\nwhen = 2026-01-02\n[nested]\nok = true\n";
    // SAFETY: a static version-1 table.
    let p = unsafe { instantiate(&config(1000, toml), &PICKY, None) }.unwrap();
    let seen: serde_json::Value = serde_json::from_str(&SEEN_CONFIG.lock().unwrap()).unwrap();
    assert_eq!(
        seen,
        serde_json::json!({"privateKeyFile": "/k", "n": 3, "when": "2026-01-02", "nested": {"ok": true}})
    );
    // SAFETY: as above.
    let e = unsafe { instantiate(&config(1000, "refuse = 1"), &PICKY, None) }
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("plugin t") && e.contains("/plugins/t.so"), "{e}");
    assert!(e.contains("privateKey is missing"), "{e}");

    // destroy runs once at shutdown, and nothing is called after it.
    let host = PluginHost::from_plugins(vec![p]);
    host.shutdown().await;
    host.shutdown().await;
    assert_eq!(DESTROYED.load(Ordering::SeqCst), 1);
    let p = host.get("t").expect("loaded").clone();
    assert_eq!(judge(&p).await.unwrap_err().kind, RefusalKind::Unavailable);
}

#[test]
fn a_file_others_may_write_or_a_stranger_owns_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join("p.so");
    std::fs::write(&so, b"not really a library").unwrap();
    std::fs::set_permissions(&so, std::fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    assert_eq!(loader::check_path(&so, me), Ok(()));
    std::fs::set_permissions(&so, std::fs::Permissions::from_mode(0o775)).unwrap();
    let e = loader::check_path(&so, me).unwrap_err();
    assert!(e.contains("0775") && e.contains("chmod go-w"), "{e}");
    std::fs::set_permissions(&so, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file owned by neither root nor licd's user: as root, give it away; otherwise ask
    // as if licd ran under another uid.
    let e = if me == 0 {
        std::os::unix::fs::chown(&so, Some(54_321), None).unwrap();
        loader::check_path(&so, 0).unwrap_err()
    } else {
        loader::check_path(&so, me + 1).unwrap_err()
    };
    assert!(e.contains("chown root:"), "{e}");
    assert!(
        loader::check_path(dir.path(), me)
            .unwrap_err()
            .contains("not a regular file")
    );
}

unsafe extern "C" fn webhook_event(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    let text = b"event_id=evt_1&event_type=checkout.session.completed\nmethod=GetActivationKey&is_productid=1";
    // SAFETY: the host's buffer.
    unsafe { put(text, buf, cap, len, LICD_ALLOW) }
}

unsafe extern "C" fn webhook_bad_signature(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's buffer.
    unsafe { put(b"v1 does not match", buf, cap, len, LICD_DENY) }
}

unsafe extern "C" fn webhook_bad_event(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's buffer.
    unsafe { put(b"no data.object", buf, cap, len, LICD_E_BAD_EVENT) }
}

unsafe extern "C" fn webhook_other_method(
    _: *mut c_void,
    _: *const LicdRequest,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    // SAFETY: the host's buffer.
    unsafe { put(b"event_id=e\nmethod=ActivateKey", buf, cap, len, LICD_ALLOW) }
}

const fn with_webhook(webhook: WebhookFn) -> LicdPluginV1 {
    LicdPluginV1 {
        webhook: Some(webhook),
        ..table(allow, None, 0)
    }
}

static WEBHOOK: LicdPluginV1 = with_webhook(webhook_event);
static WEBHOOK_BAD_SIGNATURE: LicdPluginV1 = with_webhook(webhook_bad_signature);
static WEBHOOK_BAD_EVENT: LicdPluginV1 = with_webhook(webhook_bad_event);
static WEBHOOK_OTHER_METHOD: LicdPluginV1 = with_webhook(webhook_other_method);
/// A table as a plugin built before `webhook` was appended says it is: its `struct_size`
/// ends at `map_args`, so whatever lies past it is not the plugin's and must not be read.
static V1_BASE_TABLE: LicdPluginV1 = LicdPluginV1 {
    struct_size: V1_BASE_SIZE as u32,
    ..with_webhook(webhook_event)
};

async fn webhook(table: &'static LicdPluginV1) -> Result<WebhookEventSeen, super::Refusal> {
    plugin(table, 1000)
        .webhook(
            PluginRequest::default(),
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .map(|e| WebhookEventSeen {
            id: e.id,
            kind: e.kind,
            methods: e.actions.into_iter().map(|a| a.method).collect(),
        })
}

#[derive(Debug, PartialEq)]
struct WebhookEventSeen {
    id: String,
    kind: String,
    methods: Vec<String>,
}

#[tokio::test]
async fn a_webhook_answer_is_read_as_an_event_with_its_actions() {
    assert_eq!(
        webhook(&WEBHOOK).await,
        Ok(WebhookEventSeen {
            id: "evt_1".into(),
            kind: "checkout.session.completed".into(),
            methods: vec!["GetActivationKey".into()],
        })
    );
}

#[tokio::test]
async fn a_refused_signature_a_bad_event_and_a_foreign_method_are_told_apart() {
    let e = webhook(&WEBHOOK_BAD_SIGNATURE).await.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.as_str()),
        (RefusalKind::Denied, "signature refused: v1 does not match")
    );
    let e = webhook(&WEBHOOK_BAD_EVENT).await.unwrap_err();
    assert_eq!(e.kind, RefusalKind::BadEvent);
    assert!(e.detail.contains("no data.object"), "{}", e.detail);
    let e = webhook(&WEBHOOK_OTHER_METHOD).await.unwrap_err();
    assert_eq!(e.kind, RefusalKind::Garbage);
    assert!(e.detail.contains("ActivateKey"), "{}", e.detail);
}

#[tokio::test]
async fn a_table_built_before_webhook_existed_loads_and_its_slot_is_never_read() {
    let old = plugin(&V1_BASE_TABLE, 1000);
    assert!(!old.handles_webhooks());
    assert_eq!(judge(&old).await, Ok(String::new()));
    assert_eq!(
        webhook(&V1_BASE_TABLE).await.unwrap_err().kind,
        RefusalKind::NoWebhook
    );
    assert!(plugin(&WEBHOOK, 1000).handles_webhooks());
    assert!(!plugin(&ALLOW, 1000).handles_webhooks());
}
