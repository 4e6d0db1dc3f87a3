//! What [`export_vendor_plugin!`](crate::export_vendor_plugin) expands to: the table and the
//! `extern "C"` functions that call a [`VendorPlugin`] safely.
//!
//! Every function runs the plugin's code inside `catch_unwind`: a panic that unwound out of an
//! `extern "C"` function would abort licd (Rust 1.81 and later), so a panic becomes
//! [`LICD_E_PANIC`] with the panic message as the reason instead. Public only because the
//! macro expands in the plugin's crate; plugin authors never call these directly.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ffi::{
    ABI_VERSION, LICD_ALLOW, LICD_DENY, LICD_E_BAD_EVENT, LICD_E_CONFIG, LICD_E_INTERNAL,
    LICD_E_PANIC, LICD_E_TOO_SMALL, LicdPluginV1, LicdRequest, WebhookFn,
};
use crate::{Request, VendorPlugin, Verdict, WebhookRefusal, bytes, form, webhook as events};

/// The table of a plugin type. `name_nul` must end with a NUL (the macro appends one).
pub const fn table<T: VendorPlugin>(name_nul: &'static str, flags: u32) -> LicdPluginV1 {
    let name = name_nul.as_bytes();
    assert!(
        !name.is_empty() && name[name.len() - 1] == 0,
        "the plugin name must end with a NUL"
    );
    LicdPluginV1 {
        abi_version: ABI_VERSION,
        // The table is a few words long; the cast cannot truncate.
        struct_size: size_of::<LicdPluginV1>() as u32,
        name: name_nul.as_ptr().cast(),
        flags,
        create: Some(create::<T>),
        destroy: Some(destroy::<T>),
        authenticate: Some(authenticate::<T>),
        map_args: Some(map_args::<T>),
        webhook: if T::HANDLES_WEBHOOKS {
            Some(webhook::<T> as WebhookFn)
        } else {
            None
        },
    }
}

/// The text of a caught panic, for the host's log.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_string());
    format!("the plugin panicked: {detail}")
}

/// Writes a message (a reason for the log) into the host's buffer, cut at a character boundary
/// when it is longer than the buffer: a reason is for people, and calling the plugin a second
/// time only to fit a longer one is not worth it. Returns `code`.
///
/// # Safety
/// `buf` must be valid for `cap` bytes and `len` writable, or null.
unsafe fn write_message(
    message: &str,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    code: i32,
) -> i32 {
    let mut n = message.len().min(if buf.is_null() { 0 } else { cap });
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    if n > 0 {
        // SAFETY: `buf` is valid for `cap` bytes and `n <= cap`; the source is our own string.
        unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), buf, n) };
    }
    if !len.is_null() {
        // SAFETY: the caller's contract.
        unsafe { *len = n };
    }
    code
}

/// `create`: builds the instance from the configuration JSON.
///
/// # Safety
/// Called by the host with the pointers of `licd_create_fn`.
pub unsafe extern "C" fn create<T: VendorPlugin>(
    config_json: *const u8,
    config_len: usize,
    instance: *mut *mut c_void,
    err_buf: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> i32 {
    let built = catch_unwind(AssertUnwindSafe(|| {
        let json = std::str::from_utf8(bytes(config_json, config_len))
            .map_err(|_| "the configuration JSON is not UTF-8".to_string())?;
        T::create(json)
    }));
    // SAFETY (all `write_message` calls): the host's buffers, as `licd_create_fn` promises.
    match built {
        Ok(Ok(plugin)) if !instance.is_null() => {
            // SAFETY: `instance` is the host's writable out-pointer.
            unsafe { *instance = Box::into_raw(Box::new(plugin)).cast() };
            unsafe { write_message("", err_buf, err_cap, err_len, LICD_ALLOW) }
        }
        Ok(Ok(_)) => unsafe {
            write_message(
                "no instance pointer",
                err_buf,
                err_cap,
                err_len,
                LICD_E_INTERNAL,
            )
        },
        Ok(Err(why)) => unsafe { write_message(&why, err_buf, err_cap, err_len, LICD_E_CONFIG) },
        Err(panic) => unsafe {
            write_message(
                &panic_text(&*panic),
                err_buf,
                err_cap,
                err_len,
                LICD_E_PANIC,
            )
        },
    }
}

/// `destroy`: drops the instance.
///
/// # Safety
/// `instance` must come from [`create`] for the same `T` and not be used afterwards.
pub unsafe extern "C" fn destroy<T: VendorPlugin>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // A panic in Drop is dropped here: there is nobody left to tell at shutdown.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `instance` came from `Box::into_raw` in `create::<T>` and the host calls
        // destroy once, after every other call has returned.
        drop(unsafe { Box::from_raw(instance.cast::<T>()) });
    }));
}

/// `authenticate`: runs [`VendorPlugin::authenticate`].
///
/// # Safety
/// Called by the host with the pointers of `licd_authenticate_fn`, `instance` from
/// [`create`] for the same `T`.
pub unsafe extern "C" fn authenticate<T: VendorPlugin>(
    instance: *mut c_void,
    req: *const LicdRequest,
    msg_buf: *mut u8,
    msg_cap: usize,
    msg_len: *mut usize,
) -> i32 {
    if instance.is_null() || req.is_null() {
        return LICD_E_INTERNAL;
    }
    let verdict = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `instance` is a live `T` from `create::<T>`; the request and everything it
        // points to are valid during this call (the host's promise).
        let (plugin, req) = unsafe { (&*instance.cast::<T>(), Request::from_raw(&*req)) };
        plugin.authenticate(&req)
    }));
    // SAFETY (all `write_message` calls): the host's buffers.
    match verdict {
        Ok(Verdict::Allow) => unsafe { write_message("", msg_buf, msg_cap, msg_len, LICD_ALLOW) },
        Ok(Verdict::Deny(why)) => unsafe {
            write_message(&why, msg_buf, msg_cap, msg_len, LICD_DENY)
        },
        Err(panic) => unsafe {
            write_message(
                &panic_text(&*panic),
                msg_buf,
                msg_cap,
                msg_len,
                LICD_E_PANIC,
            )
        },
    }
}

/// `map_args`: runs [`VendorPlugin::map_args`] and writes its pairs form-encoded.
///
/// # Safety
/// As [`authenticate`].
pub unsafe extern "C" fn map_args<T: VendorPlugin>(
    instance: *mut c_void,
    req: *const LicdRequest,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    if instance.is_null() || req.is_null() || out_len.is_null() {
        return LICD_E_INTERNAL;
    }
    let mapped = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `authenticate`.
        let (plugin, req) = unsafe { (&*instance.cast::<T>(), Request::from_raw(&*req)) };
        plugin.map_args(&req).map(|pairs| form::encode(&pairs))
    }));
    match mapped {
        // SAFETY: the host's buffers, `out_len` checked non-null above.
        Ok(Ok(text)) => unsafe { write_output(&text, out_buf, out_cap, out_len) },
        // A mapping failure is not an output: its reason goes in the same buffer, cut to fit.
        // SAFETY: the host's buffers.
        Ok(Err(why)) => unsafe { write_message(&why, out_buf, out_cap, out_len, LICD_E_INTERNAL) },
        Err(panic) => unsafe {
            write_message(
                &panic_text(&*panic),
                out_buf,
                out_cap,
                out_len,
                LICD_E_PANIC,
            )
        },
    }
}

/// Writes `text` into the host's buffer whole, or asks for a larger one (`LICD_E_TOO_SMALL`).
///
/// # Safety
/// `buf` must be valid for `cap` bytes (or null with `cap` 0) and `len` writable.
unsafe fn write_output(text: &str, buf: *mut u8, cap: usize, len: *mut usize) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { *len = text.len() };
    if text.len() > cap || (buf.is_null() && !text.is_empty()) {
        return LICD_E_TOO_SMALL;
    }
    if !text.is_empty() {
        // SAFETY: `buf` is valid for `cap >= text.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len()) };
    }
    LICD_ALLOW
}

/// `webhook`: runs [`VendorPlugin::webhook`] and writes the event in the ABI's line format.
///
/// # Safety
/// As [`authenticate`].
pub unsafe extern "C" fn webhook<T: VendorPlugin>(
    instance: *mut c_void,
    req: *const LicdRequest,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    if instance.is_null() || req.is_null() || out_len.is_null() {
        return LICD_E_INTERNAL;
    }
    let answer = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `authenticate`.
        let (plugin, req) = unsafe { (&*instance.cast::<T>(), Request::from_raw(&*req)) };
        plugin.webhook(&req).map(|event| events::encode(&event))
    }));
    // SAFETY (every write): the host's buffers, `out_len` checked non-null above.
    match answer {
        Ok(Ok(text)) => unsafe { write_output(&text, out_buf, out_cap, out_len) },
        Ok(Err(WebhookRefusal::BadSignature(why))) => unsafe {
            write_message(&why, out_buf, out_cap, out_len, LICD_DENY)
        },
        Ok(Err(WebhookRefusal::BadEvent(why))) => unsafe {
            write_message(&why, out_buf, out_cap, out_len, LICD_E_BAD_EVENT)
        },
        Err(panic) => unsafe {
            write_message(
                &panic_text(&*panic),
                out_buf,
                out_cap,
                out_len,
                LICD_E_PANIC,
            )
        },
    }
}
