//! The whole black-box suite on the PostgreSQL backend: this test binary run again with
//! `LICD_TEST_BACKEND=postgres` (tests/util/backend.rs), so that `cargo test --workspace`
//! proves every method, admin command and rule on both backends with one test binary.

use std::process::Command;

use crate::util::{BACKEND_VAR, on_postgres};

/// Tests left out of the run on PostgreSQL: those that name their own `[store]` (this file's
/// siblings, `postgres_migrate`, which already run on PostgreSQL) and the package build,
/// which starts no daemon.
const LEFT_OUT: &[&str] = &["postgres", "packaging::"];

#[test]
fn every_black_box_test_passes_on_the_postgresql_backend_too() {
    if on_postgres() {
        return; // The run on PostgreSQL itself.
    }
    if licd_pg_cluster::cluster().is_none() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.env(BACKEND_VAR, "postgres");
    for name in LEFT_OUT {
        cmd.args(["--skip", name]);
    }
    // Two at a time, as the outer run: more daemons at once only make each test slower.
    cmd.arg("--test-threads=2");
    let out = cmd.output().expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or("no summary line")
        .to_string();
    if !out.status.success() {
        let failures = stdout
            .find("\nfailures:\n")
            .map_or(&stdout[..], |at| &stdout[at..]);
        panic!(
            "the black-box suite fails on PostgreSQL ({summary}); rerun with \
             `{BACKEND_VAR}=postgres cargo test -p licd --test tests`:\n{failures}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let passed: usize = summary
        .split_whitespace()
        .skip_while(|w| *w != "ok.")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 300, "too few tests ran on PostgreSQL: {summary}");
    eprintln!("on PostgreSQL: {summary}");
}
