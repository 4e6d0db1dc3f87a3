//! Builds the plugin libraries the tests load, once per test run.
//!
//! `cargo test` does not put a workspace member's `.so` in `target/debug/`, so the Rust
//! plugins are built here with `cargo build -p …` into the same target directory (found from
//! this test binary's path), and the C plugins with the system C compiler (`cc`, or `$CC`).
//! Every library is then made `0755`, because licd refuses a plugin file its group may write
//! and a developer's umask may say otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the built libraries.
pub struct Built {
    /// plugins/fastspring.
    pub fastspring: PathBuf,
    /// plugins/stripe.
    pub stripe: PathBuf,
    /// plugins/shopify.
    pub shopify: PathBuf,
    /// plugins/woocommerce.
    pub woocommerce: PathBuf,
    /// plugins/paddle.
    pub paddle: PathBuf,
    /// plugins/test-plugin (panic, sleep, refuse, spy).
    pub test_plugin: PathBuf,
    /// plugins/example-c.
    pub example_c: PathBuf,
    /// … with -DFIRST_V1_TABLE: its table's size is the first v1 header's.
    pub example_c_first_v1: PathBuf,
    /// plugins/test-c/misbehaving.c with -DBAD_UTF8.
    pub bad_utf8: PathBuf,
    /// … with -DOVERFLOW.
    pub overflow: PathBuf,
    /// … with -DWRONG_ABI.
    pub wrong_abi: PathBuf,
    /// … with -DNO_ENTRY.
    pub no_entry: PathBuf,
}

/// The libraries, built on first use.
pub fn plugins() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the daemon crate lives in the workspace")
        .to_path_buf()
}

/// `target/` of this run: the test binary is `target/<profile>/deps/tests-…`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<binary>")
        .to_path_buf()
}

fn build() -> Built {
    let root = workspace();
    let target = target_dir();
    let status = Command::new(env!("CARGO"))
        // One job: the other tests run meanwhile on a 2-core machine, some of them timed.
        .args(["build", "--quiet", "-j", "1"])
        .args(["-p", "licd-fastspring", "-p", "licd-test-plugin"])
        .args(["-p", "licd-stripe", "-p", "licd-shopify"])
        .args(["-p", "licd-woocommerce", "-p", "licd-paddle"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(&root)
        .status()
        .expect("run cargo build for the plugins");
    assert!(status.success(), "cargo build of the plugins failed");
    let debug = target.join("debug");
    let c_dir = target.join("licd-c-plugins");
    std::fs::create_dir_all(&c_dir).expect("directory for the C plugins");
    let example = root.join("plugins/example-c/licd_example.c");
    let misbehaving = root.join("plugins/test-c/misbehaving.c");
    let built = Built {
        fastspring: debug.join("liblicd_fastspring.so"),
        stripe: debug.join("liblicd_stripe.so"),
        shopify: debug.join("liblicd_shopify.so"),
        woocommerce: debug.join("liblicd_woocommerce.so"),
        paddle: debug.join("liblicd_paddle.so"),
        test_plugin: debug.join("liblicd_test_plugin.so"),
        example_c: compile_c(&root, &example, None, &c_dir.join("liblicd_example.so")),
        example_c_first_v1: compile_c(
            &root,
            &example,
            Some("FIRST_V1_TABLE"),
            &c_dir.join("liblicd_example_first_v1.so"),
        ),
        bad_utf8: compile_c(
            &root,
            &misbehaving,
            Some("BAD_UTF8"),
            &c_dir.join("libbad_utf8.so"),
        ),
        overflow: compile_c(
            &root,
            &misbehaving,
            Some("OVERFLOW"),
            &c_dir.join("liboverflow.so"),
        ),
        wrong_abi: compile_c(
            &root,
            &misbehaving,
            Some("WRONG_ABI"),
            &c_dir.join("libwrong_abi.so"),
        ),
        no_entry: compile_c(
            &root,
            &misbehaving,
            Some("NO_ENTRY"),
            &c_dir.join("libno_entry.so"),
        ),
    };
    for so in [
        &built.fastspring,
        &built.test_plugin,
        &built.stripe,
        &built.shopify,
        &built.woocommerce,
        &built.paddle,
    ] {
        std::fs::set_permissions(so, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", so.display()));
    }
    built
}

/// Compiles one C plugin unless it is newer than its source and the header; written under a
/// temporary name and renamed, so that another test run sharing the target directory never
/// loads a half-written file.
fn compile_c(root: &Path, source: &Path, define: Option<&str>, out: &Path) -> PathBuf {
    let header = root.join("plugin-api/include/licd_plugin.h");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let Some(built) = modified(out)
        && [source, header.as_path()]
            .iter()
            .all(|s| modified(s).is_some_and(|t| t <= built))
    {
        return out.to_path_buf();
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let partial = out.with_extension(format!("so.{}", std::process::id()));
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-O1", "-I",
    ])
    .arg(root.join("plugin-api/include"));
    if let Some(d) = define {
        cmd.arg(format!("-D{d}"));
    }
    let status = cmd
        .arg("-o")
        .arg(&partial)
        .arg(source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(status.success(), "{} did not compile", source.display());
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&partial, out).expect("rename the built plugin");
    out.to_path_buf()
}
