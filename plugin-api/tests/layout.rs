//! The `#[repr(C)]` mirror matches `include/licd_plugin.h`: a C program built against the
//! header with the system C compiler prints every size, offset and constant, and each must
//! equal what Rust computes. A field added, moved or retyped on one side only fails here.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use licd_plugin_api::ffi::*;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include "licd_plugin.h"
#define S(t) printf("sizeof %s %zu\n", #t, sizeof(t));
#define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t, f));
#define C(c) printf("const %s %lld\n", #c, (long long)(c));
int main(void) {
    S(LicdStr) O(LicdStr, ptr) O(LicdStr, len)
    S(LicdBytes) O(LicdBytes, ptr) O(LicdBytes, len)
    S(LicdPair) O(LicdPair, name) O(LicdPair, value)
    S(LicdRequest) O(LicdRequest, struct_size) O(LicdRequest, method) O(LicdRequest, vendor)
    O(LicdRequest, client_addr) O(LicdRequest, url) O(LicdRequest, args)
    O(LicdRequest, args_len) O(LicdRequest, headers) O(LicdRequest, headers_len)
    O(LicdRequest, body)
    S(LicdPluginV1) O(LicdPluginV1, abi_version) O(LicdPluginV1, struct_size)
    O(LicdPluginV1, name) O(LicdPluginV1, flags) O(LicdPluginV1, create)
    O(LicdPluginV1, destroy) O(LicdPluginV1, authenticate) O(LicdPluginV1, map_args)
    O(LicdPluginV1, webhook) C(LICD_PLUGIN_V1_BASE_SIZE) C(LICD_E_BAD_EVENT)
    C(LICD_PLUGIN_ABI_VERSION) C(LICD_ALLOW) C(LICD_DENY) C(LICD_E_TOO_SMALL)
    C(LICD_E_CONFIG) C(LICD_E_INTERNAL) C(LICD_E_PANIC) C(LICD_FLAG_SERIALIZE)
    C(LICD_FLAG_SIGNS_BODY_ONLY)
    return 0;
}
"#;

/// What the C compiler says, as "kind name" → value.
fn c_layout() -> BTreeMap<String, i64> {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("layout.c");
    let binary = dir.path().join("layout");
    std::fs::write(&source, PROGRAM).expect("write C source");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(status.success(), "the C layout program did not compile");
    let out = Command::new(&binary)
        .output()
        .expect("run the layout program");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| {
            let mut parts = line.rsplitn(2, ' ');
            let value = parts.next().and_then(|v| v.parse().ok()).expect("a number");
            (parts.next().expect("a name").to_string(), value)
        })
        .collect()
}

fn n(v: usize) -> i64 {
    i64::try_from(v).expect("small")
}

#[test]
fn rust_mirror_has_the_sizes_offsets_and_constants_of_the_c_header() {
    let rust: BTreeMap<String, i64> = [
        ("sizeof LicdStr", n(size_of::<LicdStr>())),
        ("offsetof LicdStr.ptr", n(offset_of!(LicdStr, ptr))),
        ("offsetof LicdStr.len", n(offset_of!(LicdStr, len))),
        ("sizeof LicdBytes", n(size_of::<LicdBytes>())),
        ("offsetof LicdBytes.ptr", n(offset_of!(LicdBytes, ptr))),
        ("offsetof LicdBytes.len", n(offset_of!(LicdBytes, len))),
        ("sizeof LicdPair", n(size_of::<LicdPair>())),
        ("offsetof LicdPair.name", n(offset_of!(LicdPair, name))),
        ("offsetof LicdPair.value", n(offset_of!(LicdPair, value))),
        ("sizeof LicdRequest", n(size_of::<LicdRequest>())),
        (
            "offsetof LicdRequest.struct_size",
            n(offset_of!(LicdRequest, struct_size)),
        ),
        (
            "offsetof LicdRequest.method",
            n(offset_of!(LicdRequest, method)),
        ),
        (
            "offsetof LicdRequest.vendor",
            n(offset_of!(LicdRequest, vendor)),
        ),
        (
            "offsetof LicdRequest.client_addr",
            n(offset_of!(LicdRequest, client_addr)),
        ),
        ("offsetof LicdRequest.url", n(offset_of!(LicdRequest, url))),
        (
            "offsetof LicdRequest.args",
            n(offset_of!(LicdRequest, args)),
        ),
        (
            "offsetof LicdRequest.args_len",
            n(offset_of!(LicdRequest, args_len)),
        ),
        (
            "offsetof LicdRequest.headers",
            n(offset_of!(LicdRequest, headers)),
        ),
        (
            "offsetof LicdRequest.headers_len",
            n(offset_of!(LicdRequest, headers_len)),
        ),
        (
            "offsetof LicdRequest.body",
            n(offset_of!(LicdRequest, body)),
        ),
        ("sizeof LicdPluginV1", n(size_of::<LicdPluginV1>())),
        (
            "offsetof LicdPluginV1.abi_version",
            n(offset_of!(LicdPluginV1, abi_version)),
        ),
        (
            "offsetof LicdPluginV1.struct_size",
            n(offset_of!(LicdPluginV1, struct_size)),
        ),
        (
            "offsetof LicdPluginV1.name",
            n(offset_of!(LicdPluginV1, name)),
        ),
        (
            "offsetof LicdPluginV1.flags",
            n(offset_of!(LicdPluginV1, flags)),
        ),
        (
            "offsetof LicdPluginV1.create",
            n(offset_of!(LicdPluginV1, create)),
        ),
        (
            "offsetof LicdPluginV1.destroy",
            n(offset_of!(LicdPluginV1, destroy)),
        ),
        (
            "offsetof LicdPluginV1.authenticate",
            n(offset_of!(LicdPluginV1, authenticate)),
        ),
        (
            "offsetof LicdPluginV1.map_args",
            n(offset_of!(LicdPluginV1, map_args)),
        ),
        (
            "offsetof LicdPluginV1.webhook",
            n(offset_of!(LicdPluginV1, webhook)),
        ),
        ("const LICD_PLUGIN_V1_BASE_SIZE", n(V1_BASE_SIZE)),
        ("const LICD_E_BAD_EVENT", i64::from(LICD_E_BAD_EVENT)),
        ("const LICD_PLUGIN_ABI_VERSION", i64::from(ABI_VERSION)),
        ("const LICD_ALLOW", i64::from(LICD_ALLOW)),
        ("const LICD_DENY", i64::from(LICD_DENY)),
        ("const LICD_E_TOO_SMALL", i64::from(LICD_E_TOO_SMALL)),
        ("const LICD_E_CONFIG", i64::from(LICD_E_CONFIG)),
        ("const LICD_E_INTERNAL", i64::from(LICD_E_INTERNAL)),
        ("const LICD_E_PANIC", i64::from(LICD_E_PANIC)),
        ("const LICD_FLAG_SERIALIZE", i64::from(FLAG_SERIALIZE)),
        (
            "const LICD_FLAG_SIGNS_BODY_ONLY",
            i64::from(FLAG_SIGNS_BODY_ONLY),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(c_layout(), rust);
}
