//! The Debian packaging (operations.md, Signals and systemd): the configuration the package
//! installs, the systemd unit, and the package itself when `cargo-deb` is installed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use licd::config::Config;

use crate::util::licd_cmd;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(workspace().join(relative)).expect("read")
}

/// Every `name =` key mentioned in a TOML file, set or commented out.
fn keys_mentioned(toml: &str) -> BTreeSet<String> {
    toml.lines()
        .map(|l| l.trim_start_matches(|c: char| c == '#' || c.is_whitespace()))
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect()
}

#[test]
fn packaged_configuration_is_valid_keeps_data_in_var_lib_licd_and_has_no_vendor() {
    let path = workspace().join("packaging/licd.toml");
    let dir = tempfile::tempdir().expect("dir");
    let (code, out, err) = licd_cmd(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        None,
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let config = Config::load(Some(&path)).expect("valid");
    assert_eq!(config.server.data_dir, Path::new("/var/lib/licd"));
    assert!(config.vendors.is_empty(), "no demo vendor");
    assert!(config.products.is_empty());
    assert!(
        config.server.listen.ip().is_loopback(),
        "loopback until the admin decides"
    );
}

#[test]
fn packaged_configuration_mentions_every_key_of_the_embedded_default() {
    let embedded = keys_mentioned(&read("conf/licd.toml"));
    let packaged = keys_mentioned(&read("packaging/licd.toml"));
    let missing: Vec<_> = embedded.difference(&packaged).collect();
    assert!(
        missing.is_empty(),
        "keys not in packaging/licd.toml: {missing:?}"
    );
    assert!(
        embedded.len() > 60,
        "the key scan found too little: {embedded:?}"
    );
}

#[test]
fn packaged_example_product_and_vendor_are_valid_once_uncommented() {
    let text = read("packaging/licd.toml");
    let hash = licd::auth::password::hash_password("a long password").expect("hash");
    // The two examples, each from its table header to the next section's banner.
    let section = |header: &str, next: &str| -> (usize, usize) {
        let start = text.find(header).expect("example header");
        let end = start + text[start..].find(next).expect("next section");
        (start, end)
    };
    let banner = "# ------";
    let (product_start, product_end) = section("# [[product]]", banner);
    let (vendor_start, vendor_end) = section("# [[vendor]]", banner);
    let uncomment = |range: (usize, usize)| -> String {
        text[range.0..range.1]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| {
                if l.starts_with("passwordHash = ") {
                    format!("passwordHash = \"{hash}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let example = format!(
        "{}\n{}",
        uncomment((product_start, product_end)),
        uncomment((vendor_start, vendor_end))
    );
    let whole = format!("{}\n{example}\n", &text[..product_start]);
    let config = Config::parse(&whole, "uncommented example", None)
        .unwrap_or_else(|e| panic!("{e}\n---\n{example}"));
    assert_eq!(config.products.len(), 1);
    assert_eq!(config.vendors.len(), 1);
}

#[test]
fn service_unit_has_the_settings_the_spec_names() {
    let unit = read("packaging/licd.service");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LimitNOFILE=65536",
        "User=licd",
        "StateDirectory=licd",
        "ConfigurationDirectory=licd",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "MemoryDenyWriteExecute=yes",
        "WatchdogSec=30",
        "ExecStart=/usr/bin/licd serve --config /etc/licd/licd.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
}

/// `ProtectSystem=strict` alone leaves `/etc/licd` (a `ConfigurationDirectory=`) and `/run`
/// writable to the service, and `PrivateDevices=` keeps the shared `/dev/shm`:
/// packaging/test-in-systemd.sh found all three under systemd 252. The unit takes them back.
#[test]
fn service_unit_makes_etc_licd_run_and_shared_memory_read_only() {
    let unit = read("packaging/licd.service");
    let read_only: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ReadOnlyPaths="))
        .flat_map(str::split_whitespace)
        .collect();
    for path in ["/etc/licd", "/run", "-/dev/shm", "-/dev/mqueue"] {
        assert!(read_only.contains(&path), "{path} not in {read_only:?}");
    }
}

fn cargo_deb_installed() -> bool {
    Command::new(env!("CARGO"))
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The profile the package is built from here: a debug build in its own directory rather
/// than `release`, so that a change to licd costs seconds, not a release build (the first
/// run builds every dependency once).
const PROFILE: &str = "packaging-test";

/// Builds the package as packaging/README.md says, when `cargo-deb` is installed (.ci/run
/// installs it; elsewhere, without it, the test only says so).
#[test]
fn deb_package_builds_when_cargo_deb_is_installed() {
    if !cargo_deb_installed() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "cargo-deb is not installed: cargo install cargo-deb --locked"
        );
        eprintln!(
            "cargo-deb is not installed (cargo install cargo-deb --locked): the package is not built"
        );
        return;
    }
    let cargo = env!("CARGO");
    let root = workspace();
    let built = Command::new(cargo)
        .args([
            "build",
            "--profile",
            PROFILE,
            "-p",
            "licd",
            "-p",
            "licd-fastspring",
        ])
        .current_dir(&root)
        .status()
        .expect("cargo build");
    assert!(built.success());
    let out = tempfile::tempdir().expect("dir");
    let made = Command::new(cargo)
        .args([
            "deb",
            "-p",
            "licd",
            "--no-build",
            "--fast",
            "--profile",
            PROFILE,
            "-o",
        ])
        .arg(out.path())
        .current_dir(&root)
        .output()
        .expect("cargo deb");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let deb = std::fs::read_dir(out.path())
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in [
        "./usr/bin/licd",
        "./etc/licd/licd.toml",
        "./usr/lib/systemd/system/licd.service",
        "./usr/lib/licd/plugins/liblicd_fastspring.so",
        "./usr/share/doc/licd/admin-api.md",
        "./usr/share/doc/licd/packaging.md",
    ] {
        assert!(
            listing.contains(path),
            "{path} not in the package:\n{listing}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rw-r-----") && l.ends_with("./etc/licd/licd.toml")),
        "the configuration is not mode 640:\n{listing}"
    );
    let field = |name: &str| {
        let o = Command::new("dpkg-deb")
            .args(["--ctrl-tarfile"])
            .arg(&deb)
            .output()
            .expect("dpkg-deb");
        let t = Command::new("tar")
            .args(["-xO", &format!("./{name}")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().expect("stdin").write_all(&o.stdout)?;
                c.wait_with_output()
            })
            .expect("tar");
        String::from_utf8_lossy(&t.stdout).to_string()
    };
    assert!(field("conffiles").contains("/etc/licd/licd.toml"));
    // The unit's ExecReload= runs /bin/kill, which minimal Debian systems lack.
    let control = field("control");
    assert!(
        control
            .lines()
            .any(|l| l.starts_with("Depends:") && l.contains("procps")),
        "{control}"
    );
    let postinst = field("postinst");
    assert!(postinst.contains("adduser --system"), "{postinst}");
    assert!(
        postinst.contains("deb-systemd-helper enable licd.service"),
        "{postinst}"
    );
}
