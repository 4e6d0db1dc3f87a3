//! The vendor-plugin ABI of licd, for plugin authors.
//!
//! A licd vendor plugin is a shared library that decides whether a request from one eCommerce
//! vendor is genuine, and may translate the store's own field names into `is_*` arguments. The
//! contract is the C header `include/licd_plugin.h`; [`ffi`] mirrors it. Rust authors do not
//! touch [`ffi`]: they implement [`VendorPlugin`] and call [`export_vendor_plugin!`], which
//! generates the entry symbol and wraps every call in `catch_unwind`, because since Rust 1.81
//! a panic unwinding out of an `extern "C"` function aborts the whole process (licd with it).
//!
//! ```no_run
//! use licd_plugin_api::{Request, Verdict, VendorPlugin, export_vendor_plugin};
//!
//! struct SharedToken(String);
//!
//! impl VendorPlugin for SharedToken {
//!     fn create(config_json: &str) -> Result<Self, String> {
//!         // A real plugin would use serde_json; this one takes {"token":"…"} literally.
//!         let token = config_json
//!             .split("\"token\":\"")
//!             .nth(1)
//!             .and_then(|rest| rest.split('"').next())
//!             .ok_or("config needs a \"token\" string")?;
//!         Ok(SharedToken(token.to_string()))
//!     }
//!
//!     fn authenticate(&self, req: &Request<'_>) -> Verdict {
//!         match req.header("x-shop-token") {
//!             Some(t) if t == self.0 => Verdict::Allow,
//!             _ => Verdict::Deny("missing or wrong X-Shop-Token header".into()),
//!         }
//!     }
//! }
//!
//! export_vendor_plugin!(SharedToken, name = "shared-token");
//! ```
//!
//! Build it as a `cdylib` (`[lib] crate-type = ["cdylib"]`) and keep `panic = "unwind"` (the
//! default): with `panic = "abort"` no panic can be caught.

pub mod export;
pub mod ffi;
pub mod form;
pub mod webhook;

use std::slice;

use ffi::{LicdPair, LicdRequest, LicdStr};

pub use ffi::{FLAG_SERIALIZE, FLAG_SIGNS_BODY_ONLY};
pub use webhook::{WebhookAction, WebhookEvent, WebhookRefusal};

/// The answer of [`VendorPlugin::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The request is genuine.
    Allow,
    /// Refuse it. The reason goes to licd's log (with the plugin and vendor names), never to
    /// the client, which gets code 8.
    Deny(String),
}

/// A vendor-authentication plugin. One instance serves every request of every vendor that
/// names the plugin, from many threads at once unless the plugin is exported with
/// `flags = FLAG_SERIALIZE`.
///
/// A plugin whose check covers the request body only (a signature over the form body, as
/// FastSpring's) is exported with `flags = FLAG_SIGNS_BODY_ONLY`: licd then refuses the
/// `is_*` arguments that neither [`VendorPlugin::map_args`] wrote nor the vendor's
/// `unsignedArgs` lists (so a captured request cannot be replayed with a larger quantity in
/// its URL), and remembers the `is_replayid` that `map_args` writes.
pub trait VendorPlugin: Send + Sync + Sized + 'static {
    /// Builds the instance from the plugin's `[plugin.config]` table (of its `[[plugin]]`
    /// entry), given as a JSON object.
    /// An `Err` stops licd at start with this text, the plugin's name and its path.
    ///
    /// # Errors
    /// A sentence saying what is wrong with the configuration.
    fn create(config_json: &str) -> Result<Self, String>;

    /// Decides whether the request is genuine.
    fn authenticate(&self, req: &Request<'_>) -> Verdict;

    /// `is_*` arguments to add to an allowed request (e.g. FastSpring's `quantity` as
    /// `is_quantity`). An argument the request already carries is refused (code 5): the
    /// store's explicit value is never silently overridden. The default adds nothing.
    ///
    /// With `FLAG_SIGNS_BODY_ONLY`, `("is_replayid", id)` names the signed request (its
    /// signature, say; 1 to 255 characters): licd takes it out of the arguments and answers a
    /// repeat of the same (vendor, id) within 30 days with the first reply and no second
    /// change. Without the flag, writing `is_replayid` denies the request.
    ///
    /// # Errors
    /// A sentence saying why the request cannot be mapped; the request is then denied.
    fn map_args(&self, req: &Request<'_>) -> Result<Vec<(String, String)>, String> {
        let _ = req;
        Ok(Vec::new())
    }

    /// Whether the plugin receives its store's webhooks ([`VendorPlugin::webhook`]). The export
    /// macro fills the table's `webhook` slot only when this is `true`; licd answers a webhook
    /// for a vendor whose plugin has none with 404.
    const HANDLES_WEBHOOKS: bool = false;

    /// A webhook the store pushed to `QlmWebHookHandler` (`req.method()` is
    /// `"QlmWebHookHandler"`, `req.body()` the raw body, `req.header()` the store's
    /// headers): check the signature over the raw body, then name the event and the actions to
    /// take, with product data from the signed body (or the plugin's configuration) only.
    ///
    /// # Errors
    /// [`WebhookRefusal::BadSignature`] (licd answers 401 and records nothing) or
    /// [`WebhookRefusal::BadEvent`] (400).
    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        let _ = req;
        Err(WebhookRefusal::BadEvent(
            "this plugin does not handle webhooks".into(),
        ))
    }
}

/// A safe view of the host's [`LicdRequest`], valid during one call.
///
/// Text the host sends is UTF-8; a field that is not (a broken host) reads as empty.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    raw: &'a LicdRequest,
}

impl<'a> Request<'a> {
    /// Wraps the host's request.
    ///
    /// # Safety
    /// Every pointer in `raw` must be valid for its length (null only with length 0) for `'a`,
    /// as the host guarantees during a call.
    pub unsafe fn from_raw(raw: &'a LicdRequest) -> Request<'a> {
        Request { raw }
    }

    /// The method name as licd spells it, e.g. `GetActivationKey`.
    pub fn method(&self) -> &'a str {
        text(self.raw.method)
    }

    /// The vendor name as configured.
    pub fn vendor(&self) -> &'a str {
        text(self.raw.vendor)
    }

    /// The client address (after licd's `trustedProxies` rules).
    pub fn client_addr(&self) -> &'a str {
        text(self.raw.client_addr)
    }

    /// The request target as sent: path and query.
    pub fn url(&self) -> &'a str {
        text(self.raw.url)
    }

    /// Every argument (query string first, then a form body), decoded, names as sent.
    pub fn args(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        pairs(self.raw.args, self.raw.args_len)
    }

    /// The first argument whose name matches `name` ignoring ASCII case.
    pub fn arg(&self, name: &str) -> Option<&'a str> {
        self.args()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The headers, names in lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        pairs(self.raw.headers, self.raw.headers_len)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The raw body, whatever its content type.
    pub fn body(&self) -> &'a [u8] {
        bytes(self.raw.body.ptr, self.raw.body.len)
    }
}

/// The bytes behind a (pointer, length) pair; null reads as empty.
fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: `Request::from_raw`'s contract: the host's pointers are valid for their lengths
    // during the call, and `'a` does not outlive the call.
    unsafe { slice::from_raw_parts(ptr, len) }
}

fn text<'a>(s: LicdStr) -> &'a str {
    std::str::from_utf8(bytes(s.ptr, s.len)).unwrap_or("")
}

fn pairs<'a>(ptr: *const LicdPair, len: usize) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let list: &'a [LicdPair] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: as in `bytes`: the host's array is valid for `len` entries during the call.
        unsafe { slice::from_raw_parts(ptr, len) }
    };
    list.iter().map(|p| (text(p.name), text(p.value)))
}

/// Exports a [`VendorPlugin`] as a licd plugin: generates `licd_plugin_entry_v1` and a static
/// `LicdPluginV1` table whose functions run the trait's methods inside `catch_unwind`.
///
/// `export_vendor_plugin!(MyPlugin, name = "my-plugin");` or, to have licd never call the
/// instance from two threads at once,
/// `export_vendor_plugin!(MyPlugin, name = "my-plugin", flags = licd_plugin_api::FLAG_SERIALIZE);`
/// Flags combine with `|`: a plugin that checks a signature over the body only declares
/// `flags = licd_plugin_api::FLAG_SIGNS_BODY_ONLY` (see [`VendorPlugin`]).
/// Use it once per library.
#[macro_export]
macro_rules! export_vendor_plugin {
    ($plugin:ty, name = $name:literal) => {
        $crate::export_vendor_plugin!($plugin, name = $name, flags = 0);
    };
    ($plugin:ty, name = $name:literal, flags = $flags:expr) => {
        /// The entry symbol licd looks up (ABI version 1).
        #[unsafe(no_mangle)]
        pub extern "C" fn licd_plugin_entry_v1() -> *const $crate::ffi::LicdPluginV1 {
            static TABLE: $crate::ffi::LicdPluginV1 =
                $crate::export::table::<$plugin>(concat!($name, "\0"), $flags);
            &TABLE
        }
    };
}
