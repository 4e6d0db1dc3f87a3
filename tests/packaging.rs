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

/// Whether an external tool this test needs is missing: outside CI the test then says so
/// in one line and passes; under `CI=true` (.ci/run installs the tool) it fails.
#[track_caller]
fn missing(tool: &str, found: bool, install: &str) -> bool {
    if found {
        return false;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{tool} is not installed: {install}"
    );
    eprintln!("{tool} is not installed ({install}): this package check is skipped");
    true
}

/// The profile the package is built from here: a debug build in its own directory rather
/// than `release`, so that a change to licd costs seconds, not a release build (the first
/// run builds every dependency once).
const PROFILE: &str = "packaging-test";

/// The package and its debug-symbol package, built once per test run.
struct Built {
    deb: PathBuf,
    /// `None` when cargo-deb made none (a test says so).
    dbgsym: Option<PathBuf>,
}

/// Builds the package as packaging/README.md says (from [`PROFILE`]), once for the tests
/// that look at it; `None` when cargo-deb is missing outside CI.
fn built_package() -> Option<&'static Built> {
    static BUILT: std::sync::OnceLock<Option<Built>> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_package).as_ref()
}

fn build_package() -> Option<Built> {
    if missing(
        "cargo-deb",
        cargo_deb_installed(),
        "cargo install cargo-deb --locked",
    ) {
        return None;
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
            "-p",
            "licd-stripe",
            "-p",
            "licd-shopify",
            "-p",
            "licd-woocommerce",
            "-p",
            "licd-paddle",
        ])
        .current_dir(&root)
        .status()
        .expect("cargo build");
    assert!(built.success());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging-test-deb");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("output directory");
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
        .arg(&out)
        .current_dir(&root)
        .output()
        .expect("cargo deb");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let file = |suffix: &str| {
        std::fs::read_dir(&out)
            .expect("list")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
    };
    Some(Built {
        deb: file(".deb").expect("a .deb"),
        dbgsym: file(".ddeb"),
    })
}

/// `dpkg-deb -c`: one line per file, `-rw-r--r-- 0/0 size date ./path`.
fn listing(package: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(package)
        .output()
        .expect("dpkg-deb");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the package as packaging/README.md says, when `cargo-deb` is installed (.ci/run
/// installs it; elsewhere, without it, the test only says so).
#[test]
fn deb_package_builds_when_cargo_deb_is_installed() {
    let Some(built) = built_package() else {
        return;
    };
    let deb = &built.deb;
    let listing = listing(deb);
    for path in [
        "./usr/bin/licd",
        "./etc/licd/licd.toml",
        "./usr/lib/systemd/system/licd.service",
        "./usr/lib/licd/plugins/liblicd_fastspring.so",
        "./usr/lib/licd/plugins/liblicd_stripe.so",
        "./usr/lib/licd/plugins/liblicd_shopify.so",
        "./usr/lib/licd/plugins/liblicd_woocommerce.so",
        "./usr/lib/licd/plugins/liblicd_paddle.so",
        "./usr/share/doc/licd/admin-api.md",
        "./usr/share/doc/licd/packaging.md",
        // For plugin authors.
        "./usr/include/licd/licd_plugin.h",
        "./usr/share/doc/licd/plugins.md",
        // What lintian asks for.
        "./usr/share/doc/licd/changelog.Debian.gz",
        "./usr/share/doc/licd/copyright",
        "./usr/share/man/man1/licd.1.gz",
        "./usr/share/man/man1/licd-serve.1.gz",
        "./usr/share/lintian/overrides/licd",
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
    // The unit's own header says where it is installed.
    let unit = read("packaging/licd.service");
    assert!(
        unit.lines()
            .next()
            .is_some_and(|l| l.contains("/usr/lib/systemd/system/licd.service")),
        "{unit}"
    );
    // The binary and the five plugins (FastSpring and the four store plugins) are stripped
    // in the package; their symbols are in the -dbgsym package, by build id.
    let dbgsym = built
        .dbgsym
        .as_ref()
        .expect("a -dbgsym .ddeb next to the .deb");
    let symbols = listing_of_debug_files(dbgsym);
    assert_eq!(symbols.len(), 6, "{symbols:?}");
    let field = |name: &str| {
        let o = Command::new("dpkg-deb")
            .args(["--ctrl-tarfile"])
            .arg(deb)
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

/// The `.debug` files of a -dbgsym package.
fn listing_of_debug_files(dbgsym: &Path) -> Vec<String> {
    listing(dbgsym)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|p| p.starts_with("./usr/lib/debug/.build-id/") && p.ends_with(".debug"))
        .map(str::to_string)
        .collect()
}

fn lintian_installed() -> bool {
    Command::new("lintian")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// lintian finds no error in the package: before, it found three (no changelog, the binary
/// and the plugin unstripped). The -dbgsym package is not checked: cargo-deb writes it
/// without changelog and copyright and with priority `extra` (packaging/README.md).
#[test]
fn deb_package_has_no_lintian_error() {
    if missing("lintian", lintian_installed(), "apt-get install lintian") {
        return;
    }
    let Some(built) = built_package() else {
        return;
    };
    let out = Command::new("lintian")
        .args([
            "--fail-on",
            "error",
            "--show-overrides",
            "--no-tag-display-limit",
        ])
        .arg(&built.deb)
        .output()
        .expect("lintian");
    let report = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(
        errors.is_empty() && out.status.success(),
        "lintian errors ({}):\n{report}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // lintian looked at the files: the one override, with its reason, was needed.
    assert!(
        report
            .lines()
            .any(|l| l
                .starts_with("O: licd: non-standard-file-perm 0640 != 0644 [etc/licd/licd.toml]")),
        "{report}"
    );
}

/// The manual pages the package ships are what `licd man` writes from the clap definition,
/// so that they cannot drift from `--help`.
#[test]
fn manual_pages_in_packaging_man_are_what_licd_man_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, out, err) = licd_cmd(
        &["man", "--out-dir", dir.path().to_str().expect("utf-8")],
        None,
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let pages = |d: &Path| -> std::collections::BTreeMap<String, String> {
        std::fs::read_dir(d)
            .expect("list")
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).expect("read"),
                )
            })
            .collect()
    };
    let written = pages(dir.path());
    let committed = pages(&workspace().join("packaging/man"));
    let regenerate = "rm packaging/man/*.1 && cargo run -q -p licd -- man --out-dir packaging/man";
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        committed.keys().collect::<Vec<_>>(),
        "the set of pages changed: {regenerate}"
    );
    for (name, text) in &written {
        assert!(
            committed[name] == *text,
            "{name} is out of date: {regenerate}"
        );
    }
    let top = &written["licd.1"];
    assert!(top.contains("licd\\-serve(1)"), "{top}");
    assert!(top.contains(".SH FILES"), "{top}");
    assert!(written.contains_key("licd-keys-create.1"));
    assert!(
        !written.contains_key("licd-man.1"),
        "the hidden command has no page"
    );
}

/// The Debian changelog's latest entry is the version being packaged (cargo-deb takes the
/// version from Cargo.toml, the changelog from packaging/debian/changelog).
#[test]
fn debian_changelog_names_the_packaged_version() {
    let changelog = read("packaging/debian/changelog");
    let first = changelog.lines().next().unwrap_or_default();
    let expected = format!("licd ({}-1) ", env!("CARGO_PKG_VERSION"));
    assert!(
        first.starts_with(&expected),
        "the first line should start with {expected:?}: {first}"
    );
}
