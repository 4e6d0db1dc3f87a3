//! Start-up failures (issue 20, point 9): each says its cause once, names what is in the way
//! and what to do next. Before, every one printed its cause twice (`…: Address already in
//! use (os error 98): Address already in use (os error 98)`) and none said what to change; a
//! second licd on a data directory got redb's "Database already open. Cannot acquire lock."
//!
//! Each test provokes the failure against the real binary, checks the one `licd:` line, then
//! removes the cause (or runs the command the message suggests) and sees licd serve.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{LICD, TestConfig, TestDaemon, path_str};

/// The uid and gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

/// `licd serve --listen <listen> --data-dir <data>` on the embedded configuration, as
/// `as_user` when given.
fn serve(listen: &str, data: &Path, as_user: Option<u32>) -> Command {
    let mut cmd = Command::new(LICD);
    cmd.args(["serve", "--listen", listen, "--data-dir", path_str(data)])
        .current_dir(
            data.ancestors()
                .skip(1)
                .find(|a| a.is_dir())
                .expect("a directory"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(id) = as_user {
        cmd.uid(id).gid(id);
    }
    cmd
}

/// Runs a serve that must refuse to start: exit 1 within 20 s. Returns its `licd:` line,
/// checked to say nothing twice.
#[track_caller]
fn refusal(mut cmd: Command) -> String {
    let mut child = cmd.spawn().expect("spawn licd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("licd started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("licd: ")).collect();
    assert_eq!(lines.len(), 1, "one refusal line: {err}");
    let line = lines[0].to_string();
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{part:?} said twice: {line}"
        );
    }
    assert!(line.matches("os error").count() <= 1, "{line}");
    line
}

/// Starts a serve that must work and waits for its "listening on" line; the caller kills it.
#[track_caller]
fn serves(mut cmd: Command) -> Child {
    let mut child = cmd.spawn().expect("spawn licd");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("listening on http://") {
                let _ = tx.send(Ok(()));
            }
        }
        let _ = tx.send(Err(log));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(())) => child,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("licd did not start: {other:?}");
        }
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether this test process is root, which the tests that run licd as another user need.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_port_in_use_is_named_once_with_the_listen_option_that_avoids_it() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let line = refusal(serve(&addr.to_string(), &data, None));
    assert!(
        line.starts_with(&format!(
            "licd: cannot listen on {addr}: port {} is already in use on 127.0.0.1",
            addr.port()
        )),
        "{line}"
    );
    assert!(line.contains("--listen 127.0.0.1:PORT"), "{line}");
    assert!(line.contains("server.listen"), "{line}");
    // The port freed, the same command serves.
    drop(taken);
    stop(serves(serve(&addr.to_string(), &data, None)));
}

#[test]
fn a_second_licd_on_the_same_data_dir_is_told_the_pid_of_the_first() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut first = TestDaemon::start(&TestConfig::demo());
    let config = first.config_path().expect("config");
    let data = first.data_dir();
    let second = || {
        let mut cmd = serve("127.0.0.1:0", &data, None);
        cmd.arg("--config").arg(&config);
        cmd
    };
    let line = refusal(second());
    let database = data.join("licd.redb");
    assert!(
        line.starts_with(&format!(
            "licd: another licd (pid {}) holds this database, {}: stop it first",
            first.pid(),
            database.display()
        )),
        "{line}"
    );
    assert!(line.contains("--data-dir"), "{line}");
    first.call("PingHttp", "").expect_ok();
    // Killed without a chance to clean up, the first leaves no stale holder behind.
    first.kill_hard();
    stop(serves(second()));
}

#[test]
fn a_data_dir_that_is_a_file_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("licd-data");
    std::fs::write(&file, "not a directory\n").expect("file");
    let line = refusal(serve("127.0.0.1:0", &file, None));
    assert!(
        line.starts_with(&format!(
            "licd: the data directory {} is a file, not a directory: point server.dataDir (or --data-dir) at a directory",
            file.display()
        )),
        "{line}"
    );
    let below = file.join("sub");
    let line = refusal(serve("127.0.0.1:0", &below, None));
    assert!(
        line.starts_with(&format!(
            "licd: the data directory {} cannot be made: {} is a file, not a directory",
            below.display(),
            file.display()
        )),
        "{line}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), b"not a directory\n");
    // The file moved away, licd makes the directory and serves.
    std::fs::remove_file(&file).expect("rm");
    stop(serves(serve("127.0.0.1:0", &below, None)));
    assert!(below.is_dir());
}

/// Runs the command a refusal suggests after "As root, run: ".
fn run_suggestion(line: &str) {
    let (_, command) = line
        .split_once("As root, run: ")
        .expect("a suggested command");
    let status = Command::new("sh")
        .args(["-c", command])
        .status()
        .expect("sh");
    assert!(status.success(), "{command}");
}

#[test]
fn permission_denied_names_the_path_and_the_user_licd_runs_as() {
    if !is_root() {
        eprintln!(
            "not root: cannot run licd as another user here (run the tests as root, as CI does)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let user = format!("uid {NOBODY}");

    // A data directory nobody may create (its parent is root's, 0755).
    let data = dir.path().join("data");
    let line = refusal(serve("127.0.0.1:0", &data, Some(NOBODY)));
    assert!(
        line.starts_with(&format!(
            "licd: cannot create the data directory {}: permission denied to licd, which runs as ",
            data.display()
        )),
        "{line}"
    );
    assert!(line.contains(&user), "{line}");
    assert!(
        line.contains(&format!(
            "{} belongs to user root (uid 0)",
            dir.path().display()
        )),
        "{line}"
    );
    assert!(line.contains("install -d -m 700 -o "), "{line}");
    run_suggestion(&line);
    stop(serves(serve("127.0.0.1:0", &data, Some(NOBODY))));

    // A data directory and database root made (a first start as root, say).
    let root_data = dir.path().join("root-data");
    stop(serves(serve("127.0.0.1:0", &root_data, None)));
    let line = refusal(serve("127.0.0.1:0", &root_data, Some(NOBODY)));
    assert!(
        line.starts_with(&format!(
            "licd: cannot open the database {}: permission denied to licd, which runs as ",
            root_data.join("licd.redb").display()
        )),
        "{line}"
    );
    assert!(line.contains(&user), "{line}");
    assert!(line.contains(" chown -R "), "{line}");
    run_suggestion(&line);
    stop(serves(serve("127.0.0.1:0", &root_data, Some(NOBODY))));
}
