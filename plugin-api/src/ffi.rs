//! The `#[repr(C)]` mirror of `include/licd_plugin.h`, field for field.
//!
//! `tests/layout.rs` compiles a C program against the header and compares every size and
//! offset with these types, so the two cannot drift apart silently.

use std::ffi::{c_char, c_void};

/// `LICD_PLUGIN_ABI_VERSION`: the value of [`LicdPluginV1::abi_version`].
pub const ABI_VERSION: u32 = 1;

/// `LICD_ALLOW`: the request is genuine (authenticate), or success (create, map_args).
pub const LICD_ALLOW: i32 = 0;
/// `LICD_DENY`: refuse the request; the reason is in the message buffer.
pub const LICD_DENY: i32 = 1;
/// `LICD_E_TOO_SMALL`: the output needs `*len` bytes; the host retries once.
pub const LICD_E_TOO_SMALL: i32 = -1;
/// `LICD_E_CONFIG`: `create` found the configuration unusable.
pub const LICD_E_CONFIG: i32 = -2;
/// `LICD_E_INTERNAL`: any other failure of the plugin.
pub const LICD_E_INTERNAL: i32 = -3;
/// `LICD_E_BAD_EVENT`: `webhook` found the body genuine but not an event it can read.
pub const LICD_E_BAD_EVENT: i32 = -4;
/// `LICD_E_PANIC`: the export macro caught a panic.
pub const LICD_E_PANIC: i32 = -99;

/// `LICD_FLAG_SERIALIZE`: the host never calls the instance from two threads at once.
pub const FLAG_SERIALIZE: u32 = 1;
/// `LICD_FLAG_SIGNS_BODY_ONLY`: the plugin's check covers the request body only, so the host
/// limits the `is_*` arguments `map_args` did not write to the vendor's `unsignedArgs` and
/// honours the `is_replayid` that `map_args` writes (see the header).
pub const FLAG_SIGNS_BODY_ONLY: u32 = 1 << 1;

/// The name of the entry symbol, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"licd_plugin_entry_v1\0";

/// `LicdStr`: UTF-8 text as (pointer, length); the pointer may be null only when the length
/// is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LicdStr {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// `LicdBytes`: bytes that need not be UTF-8 (the request body).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LicdBytes {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// `LicdPair`: one argument or header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LicdPair {
    /// The name.
    pub name: LicdStr,
    /// The value.
    pub value: LicdStr,
}

/// `LicdRequest`: what a plugin judges. Every pointer is valid during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LicdRequest {
    /// `size_of::<LicdRequest>()` as the host built it.
    pub struct_size: u32,
    /// The method name as licd spells it.
    pub method: LicdStr,
    /// The configured vendor name.
    pub vendor: LicdStr,
    /// The client address.
    pub client_addr: LicdStr,
    /// The request target as sent (path and query).
    pub url: LicdStr,
    /// Every argument, percent-decoded, names as sent.
    pub args: *const LicdPair,
    /// Number of arguments.
    pub args_len: usize,
    /// The headers, names in lower case.
    pub headers: *const LicdPair,
    /// Number of headers.
    pub headers_len: usize,
    /// The raw body.
    pub body: LicdBytes,
}

/// `licd_create_fn`.
pub type CreateFn = unsafe extern "C" fn(
    config_json: *const u8,
    config_len: usize,
    instance: *mut *mut c_void,
    err_buf: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> i32;

/// `licd_destroy_fn`.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// `licd_authenticate_fn`.
pub type AuthenticateFn = unsafe extern "C" fn(
    instance: *mut c_void,
    req: *const LicdRequest,
    msg_buf: *mut u8,
    msg_cap: usize,
    msg_len: *mut usize,
) -> i32;

/// `licd_map_args_fn`.
pub type MapArgsFn = unsafe extern "C" fn(
    instance: *mut c_void,
    req: *const LicdRequest,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32;

/// `licd_webhook_fn` (appended to the v1 table in licd 0.2).
pub type WebhookFn = unsafe extern "C" fn(
    instance: *mut c_void,
    req: *const LicdRequest,
    out_buf: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32;

/// `LICD_PLUGIN_V1_BASE_SIZE`: the size of the first v1 table (up to `map_args`), the smallest
/// `struct_size` licd accepts. Fields after it are read only when `struct_size` covers them.
pub const V1_BASE_SIZE: usize = std::mem::offset_of!(LicdPluginV1, webhook);

/// `LicdPluginV1`: the table `licd_plugin_entry_v1` returns. The function pointers are
/// `Option`s because C may leave them NULL; `Option<fn>` has the layout of a nullable pointer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LicdPluginV1 {
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<LicdPluginV1>()` as the plugin was built.
    pub struct_size: u32,
    /// NUL-terminated UTF-8 name, for logs.
    pub name: *const c_char,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Required.
    pub create: Option<CreateFn>,
    /// Required.
    pub destroy: Option<DestroyFn>,
    /// Required.
    pub authenticate: Option<AuthenticateFn>,
    /// May be NULL.
    pub map_args: Option<MapArgsFn>,
    /// May be NULL; appended in licd 0.2, so present only when `struct_size` covers it.
    pub webhook: Option<WebhookFn>,
}

// SAFETY: a table is immutable once built (a `static` in the plugin) and its only pointer
// field, `name`, points to static read-only text, so sharing it between threads is sound. The
// export macro needs this to put the table in a `static`.
unsafe impl Sync for LicdPluginV1 {}

/// `licd_plugin_entry_v1`'s type.
pub type EntryFn = unsafe extern "C" fn() -> *const LicdPluginV1;

impl LicdStr {
    /// A view of `s`, valid as long as `s` is.
    pub fn new(s: &str) -> LicdStr {
        LicdStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}

impl LicdBytes {
    /// A view of `b`, valid as long as `b` is.
    pub fn new(b: &[u8]) -> LicdBytes {
        LicdBytes {
            ptr: b.as_ptr(),
            len: b.len(),
        }
    }
}
