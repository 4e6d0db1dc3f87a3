//! `export_vendor_plugin!` turns a `VendorPlugin` into a table whose functions never unwind:
//! refusals, panics and buffer sizes behave as the header promises.

use std::ffi::{CStr, c_void};
use std::ptr;

use licd_plugin_api::ffi::*;
use licd_plugin_api::{Request, VendorPlugin, Verdict, export_vendor_plugin};

struct Fussy;

impl VendorPlugin for Fussy {
    fn create(config_json: &str) -> Result<Self, String> {
        if config_json.contains("panic") {
            panic!("boom in create");
        }
        if config_json.contains("refuse") {
            return Err("privateKey is missing".into());
        }
        Ok(Fussy)
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        match req.arg("MODE") {
            Some("panic") => panic!("boom in authenticate"),
            Some("allow") => Verdict::Allow,
            _ => Verdict::Deny("é".repeat(10)),
        }
    }

    fn map_args(&self, req: &Request<'_>) -> Result<Vec<(String, String)>, String> {
        let quantity = req.arg("quantity").ok_or("no quantity")?;
        Ok(vec![("is_quantity".into(), quantity.into())])
    }
}

export_vendor_plugin!(
    Fussy,
    name = "fussy",
    flags = FLAG_SERIALIZE | FLAG_SIGNS_BODY_ONLY
);

fn table() -> &'static LicdPluginV1 {
    // SAFETY: the generated entry returns a pointer to its static table.
    unsafe { &*licd_plugin_entry_v1() }
}

fn instance() -> *mut c_void {
    let mut inst = ptr::null_mut();
    let mut err = [0u8; 64];
    let mut len = 0;
    let json = b"{}";
    // SAFETY: valid buffers and out-pointers.
    let rc = unsafe {
        (table().create.unwrap())(
            json.as_ptr(),
            json.len(),
            &mut inst,
            err.as_mut_ptr(),
            64,
            &mut len,
        )
    };
    assert_eq!(rc, LICD_ALLOW);
    inst
}

/// Calls `authenticate` or `map_args` with `args`, a buffer of `cap` bytes; returns the code
/// and what was written.
fn call(f: AuthenticateFn, args: &[(&str, &str)], cap: usize) -> (i32, usize, Vec<u8>) {
    let pairs: Vec<LicdPair> = args
        .iter()
        .map(|(n, v)| LicdPair {
            name: LicdStr::new(n),
            value: LicdStr::new(v),
        })
        .collect();
    let empty = LicdStr::new("");
    let req = LicdRequest {
        struct_size: size_of::<LicdRequest>() as u32,
        method: LicdStr::new("GetActivationKey"),
        vendor: LicdStr::new("Shop"),
        client_addr: LicdStr::new("127.0.0.1"),
        url: empty,
        args: pairs.as_ptr(),
        args_len: pairs.len(),
        headers: ptr::null(),
        headers_len: 0,
        body: LicdBytes::new(b""),
    };
    let mut buf = vec![0u8; cap];
    let mut len = usize::MAX;
    let inst = instance();
    // SAFETY: the request's pointers live until the end of this function; buf has cap bytes.
    let rc = unsafe { f(inst, &req, buf.as_mut_ptr(), cap, &mut len) };
    // SAFETY: inst came from create and is not used again.
    unsafe { (table().destroy.unwrap())(inst) };
    (rc, len, buf)
}

#[test]
fn table_declares_version_size_name_flags_and_every_function() {
    let t = table();
    assert_eq!(t.abi_version, ABI_VERSION);
    assert_eq!(t.struct_size as usize, size_of::<LicdPluginV1>());
    // SAFETY: the macro's name is a static NUL-terminated string.
    assert_eq!(unsafe { CStr::from_ptr(t.name) }.to_str(), Ok("fussy"));
    assert_eq!(t.flags, FLAG_SERIALIZE | FLAG_SIGNS_BODY_ONLY);
    assert!(t.create.is_some() && t.destroy.is_some());
    assert!(t.authenticate.is_some() && t.map_args.is_some());
}

#[test]
fn create_refusal_and_create_panic_return_errors_with_their_reason() {
    for (json, code, reason) in [
        (
            &b"{\"refuse\":1}"[..],
            LICD_E_CONFIG,
            "privateKey is missing",
        ),
        (
            &b"{\"panic\":1}"[..],
            LICD_E_PANIC,
            "the plugin panicked: boom in create",
        ),
    ] {
        let mut inst = ptr::null_mut();
        let mut err = [0u8; 128];
        let mut len = 0;
        // SAFETY: valid buffers and out-pointers.
        let rc = unsafe {
            (table().create.unwrap())(
                json.as_ptr(),
                json.len(),
                &mut inst,
                err.as_mut_ptr(),
                128,
                &mut len,
            )
        };
        assert_eq!(rc, code);
        assert!(inst.is_null());
        assert_eq!(std::str::from_utf8(&err[..len]), Ok(reason));
    }
}

#[test]
fn panic_in_authenticate_is_caught_and_returned_as_licd_e_panic() {
    let (rc, len, buf) = call(table().authenticate.unwrap(), &[("mode", "panic")], 256);
    assert_eq!(rc, LICD_E_PANIC);
    assert_eq!(
        std::str::from_utf8(&buf[..len]),
        Ok("the plugin panicked: boom in authenticate")
    );
    let (rc, len, _) = call(table().authenticate.unwrap(), &[("mode", "allow")], 256);
    assert_eq!((rc, len), (LICD_ALLOW, 0));
}

#[test]
fn deny_reason_longer_than_the_buffer_is_cut_at_a_character_boundary() {
    // Ten two-byte characters into 7 bytes: 3 whole characters fit.
    let (rc, len, buf) = call(table().authenticate.unwrap(), &[], 7);
    assert_eq!(rc, LICD_DENY);
    assert_eq!(std::str::from_utf8(&buf[..len]), Ok("ééé"));
}

#[test]
fn map_args_that_does_not_fit_returns_too_small_with_the_length_needed() {
    let map = table().map_args.unwrap();
    let (rc, len, _) = call(map, &[("quantity", "12345")], 4);
    assert_eq!((rc, len), (LICD_E_TOO_SMALL, "is_quantity=12345".len()));
    let (rc, len, buf) = call(map, &[("quantity", "12345")], len);
    assert_eq!(rc, LICD_ALLOW);
    assert_eq!(std::str::from_utf8(&buf[..len]), Ok("is_quantity=12345"));
    let (rc, len, buf) = call(map, &[], 64);
    assert_eq!(rc, LICD_E_INTERNAL);
    assert_eq!(std::str::from_utf8(&buf[..len]), Ok("no quantity"));
}
