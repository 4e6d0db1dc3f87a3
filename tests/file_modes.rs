//! Files that hold secrets (spec operations.md, Limits of load; config.md, `dataDir`).
//!
//! The attacks, as a security review found them: `licd export`/`backup` opened
//! `FILE.partial` with create + truncate, so a world-readable file planted under that name
//! kept its mode with the server secret inside, and a symbolic link planted there made the
//! command (often run as root) write through it onto another file. And an existing data
//! directory was never checked, while `licd.redb` was created 0644 less the umask. Now every
//! output is written under a fresh random name and renamed into place, and the data
//! directory and database are made 0700/0600 (or licd refuses, naming the `chmod`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{
    LICD, TestConfig, TestDaemon, cli_ok as ok, file_mode as mode, licd_cmd, path_str,
};

/// What an attacker planted before a command wrote `out`.
enum Plant {
    /// `out.partial`: a world-readable file.
    ReadablePartial,
    /// `out.partial`: a link to the victim.
    LinkedPartial,
    /// `out` itself: a link to the victim.
    LinkedOut,
}

const VICTIM_TEXT: &str = "the victim's own content\n";

/// Plants `plant` next to `out` in a fresh directory; returns the directory's victim file.
fn plant(out: &Path, plant: &Plant) -> PathBuf {
    let dir = out.parent().expect("dir");
    std::fs::create_dir_all(dir).expect("mkdir");
    let victim = dir.join("victim");
    std::fs::write(&victim, VICTIM_TEXT).expect("victim");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let partial = partial(out);
    match plant {
        Plant::ReadablePartial => {
            std::fs::write(&partial, "planted\n").expect("partial");
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
            // The final name too: a world-readable file the command replaces.
            std::fs::write(out, "old output\n").expect("out");
            std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        Plant::LinkedPartial => std::os::unix::fs::symlink(&victim, &partial).expect("link"),
        Plant::LinkedOut => std::os::unix::fs::symlink(&victim, out).expect("link"),
    }
    victim
}

fn partial(out: &Path) -> PathBuf {
    let mut name = out.file_name().expect("name").to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// The output is a private regular file, nothing planted was written through or changed,
/// and no temporary file is left behind.
fn assert_untouched_and_private(out: &Path, victim: &Path, plant: &Plant) {
    let meta = std::fs::symlink_metadata(out).expect("out");
    assert!(
        meta.is_file(),
        "{} is a regular file, not a link",
        out.display()
    );
    assert_eq!(
        meta.mode() & 0o777,
        0o600,
        "{} holds secrets",
        out.display()
    );
    assert_eq!(
        std::fs::read_to_string(victim).expect("victim"),
        VICTIM_TEXT,
        "the victim was written through a link"
    );
    assert_eq!(mode(victim), 0o644, "the victim's mode changed");
    let partial = partial(out);
    match plant {
        Plant::ReadablePartial => assert_eq!(
            std::fs::read_to_string(&partial).expect("partial"),
            "planted\n",
            "the planted file was used"
        ),
        Plant::LinkedPartial => assert_eq!(
            std::fs::read_link(&partial).expect("link"),
            victim,
            "the planted link was replaced or followed"
        ),
        Plant::LinkedOut => {}
    }
    let mut names: Vec<String> = std::fs::read_dir(out.parent().expect("dir"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        out.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned(),
        "victim".to_string(),
    ];
    if !matches!(plant, Plant::LinkedOut) {
        expected.push(
            partial
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
        );
    }
    expected.sort();
    assert_eq!(names, expected, "no temporary file is left behind");
}

/// Runs `licd export` and `licd backup` against each plant, checks each output, and
/// restores each backup into a new data directory to check its content. `through` is how
/// the commands must report reaching the database.
fn export_and_backup_against_every_plant(d: &TestDaemon, key: &str, through: &str) {
    let plants = [
        Plant::ReadablePartial,
        Plant::LinkedPartial,
        Plant::LinkedOut,
    ];
    // What an export to a clean path holds: each export below must hold the same.
    let clean = d.dir().join("clean.jsonl");
    ok(d.cli(&["export", "--out", path_str(&clean)]));
    let expected = std::fs::read_to_string(&clean).expect("clean export");
    for (i, p) in plants.iter().enumerate() {
        let export = d.dir().join(format!("export-{i}")).join("all.jsonl");
        let victim = plant(&export, p);
        ok(d.cli(&["export", "--out", path_str(&export)]));
        assert_untouched_and_private(&export, &victim, p);
        let text = std::fs::read_to_string(&export).expect("export");
        assert_eq!(text, expected, "the export is whole");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("\"format\":\"licd-export\"")
                && lines[0].contains("\"secrets\":true"),
            "{}",
            lines[0]
        );
        assert!(
            lines.last().expect("end").starts_with("{\"end\":"),
            "{text}"
        );
        assert!(
            text.contains(&key.replace('-', "")),
            "the licence is exported"
        );

        let backup = d.dir().join(format!("backup-{i}")).join("snapshot.redb");
        let victim = plant(&backup, p);
        let out = ok(d.cli(&["backup", "--out", path_str(&backup)]));
        assert!(out.contains(through), "{out}");
        assert_untouched_and_private(&backup, &victim, p);
        assert_restores_privately(d, &backup, key);
    }
}

/// `backup`, copied around with a loose mode, restores into a private database that
/// serves `key`.
fn assert_restores_privately(d: &TestDaemon, backup: &Path, key: &str) {
    std::fs::set_permissions(backup, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let target = tempfile::tempdir().expect("dir");
    let data = target.path().join("data");
    let config = d.config_path().expect("config");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", path_str(&config), "--data-dir", path_str(&data)]);
        licd_cmd(&all, None, target.path())
    };
    ok(run(&["restore", "--from", path_str(backup)]));
    let db = data.join("licd.redb");
    assert_eq!(
        (mode(&data), mode(&db)),
        (0o700, 0o600),
        "a restored database is private"
    );
    assert!(
        ok(run(&["keys", "list"])).contains(key),
        "the backup restores"
    );
}

#[test]
fn export_and_backup_through_the_running_daemon_never_write_through_planted_files_or_links() {
    if crate::util::redb_only_test() {
        return;
    }
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    export_and_backup_against_every_plant(&d, &key, "from the running daemon");
    d.activate(&key, "pc-1").expect_ok();
}

#[test]
fn export_and_backup_of_the_stopped_database_never_write_through_planted_files_or_links() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    export_and_backup_against_every_plant(&d, &key, "from the stopped database");
}

#[test]
fn a_license_file_is_private_and_a_public_key_is_not() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let license = d.dir().join("licence").join("pc-7.xml");
    let victim = plant(&license, &Plant::LinkedPartial);
    ok(d.cli(&[
        "license-file",
        "--key",
        &key,
        "--computer-id",
        "pc-7",
        "--out",
        path_str(&license),
    ]));
    assert_untouched_and_private(&license, &victim, &Plant::LinkedPartial);
    assert!(
        std::fs::read_to_string(&license)
            .expect("licence")
            .contains("<Signature")
    );
    let pem = d.dir().join("pub.pem");
    ok(d.cli(&["signing-key", "export", "--out", path_str(&pem)]));
    assert_eq!(mode(&pem), 0o644 & !current_umask());
}

/// The test process's umask, as Linux reports it (setting it to read it back would race
/// with the other tests creating files).
fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("a Umask line");
    u32::from_str_radix(line.trim(), 8).expect("octal umask")
}

#[test]
fn serve_makes_a_loose_data_directory_and_database_private_and_warns_naming_them() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    let data = d.data_dir();
    let db = data.join("licd.redb");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let d = d.restart_stopped();
    assert_eq!((mode(&data), mode(&db)), (0o700, 0o600));
    let logs = d.logs();
    for path in [&data, &db] {
        let line = logs
            .lines()
            .find(|l| {
                l.contains("WARN") && l.contains(&format!("{} could be read", path.display()))
            })
            .unwrap_or_else(|| panic!("no warning names {}:\n{logs}", path.display()));
        assert!(line.contains("licd set it to 0"), "{line}");
    }
    d.activate(&key, "pc-1").expect_ok();
}

#[test]
fn a_command_on_a_stopped_database_makes_it_private_too_and_says_so() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    let data = d.data_dir();
    let db = data.join("licd.redb");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let (code, out, err) = d.cli(&["keys", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&key), "{out}");
    assert_eq!((mode(&data), mode(&db)), (0o700, 0o600));
    assert!(
        err.contains(&format!(
            "licd: warning: the data directory {} could be read",
            data.display()
        )) && err.contains(&format!(
            "licd: warning: the database {} could be read",
            db.display()
        )),
        "{err}"
    );
}

/// `cmd` with umask 0 in the child.
fn with_umask_0(cmd: &mut Command) -> &mut Command {
    // SAFETY: umask is async-signal-safe and touches only the child's own mask.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        })
    }
}

/// Starts `licd serve` on `data` with umask 0; returns the child once it listens.
fn serve_with_umask_0(dir: &Path, data: &Path) -> Child {
    let mut cmd = Command::new(LICD);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        path_str(data),
    ])
    .current_dir(dir)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    with_umask_0(&mut cmd);
    let mut child = cmd.spawn().expect("spawn licd");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("listening on http://") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("licd did not start");
    }
    child
}

#[test]
fn a_new_data_directory_and_database_are_private_even_with_umask_0() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("new").join("data");
    let mut child = serve_with_umask_0(dir.path(), &data);
    let modes = (mode(&data), mode(&data.join("licd.redb")));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(modes, (0o700, 0o600));

    // The commands that create a database or a secret file do the same.
    let other = dir.path().join("imported");
    let export = dir.path().join("all.jsonl");
    let umask_0 = |args: &[&str]| {
        let mut cmd = Command::new(LICD);
        cmd.args(args).current_dir(dir.path());
        let out = with_umask_0(&mut cmd).output().expect("licd");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    umask_0(&[
        "export",
        "--data-dir",
        path_str(&data),
        "--out",
        path_str(&export),
    ]);
    assert_eq!(mode(&export), 0o600);
    umask_0(&[
        "import",
        "--data-dir",
        path_str(&other),
        "--from",
        path_str(&export),
    ]);
    assert_eq!(
        (mode(&other), mode(&other.join("licd.redb"))),
        (0o700, 0o600)
    );
}

#[test]
fn serve_refuses_a_loose_data_directory_it_cannot_make_private_and_names_the_chmod() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "not root: cannot run licd as another user here; the refusal's message is checked by store::permissions::tests"
        );
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().expect("dir");
    // The other user must reach the data directory's parent.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new(LICD);
        cmd.args(args)
            .args(["--data-dir", path_str(&data)])
            .current_dir(dir.path())
            .uid(NOBODY)
            .gid(NOBODY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    // Owned by root, licd running as nobody: it cannot chmod, so it refuses.
    // So is a restore into it, before anything is written.
    let backup = dir.path().join("backup.redb");
    std::fs::write(&backup, "never read").expect("backup");
    for args in [&serve[..], &["restore", "--from", path_str(&backup)]] {
        let out = as_nobody(args).output().expect("licd");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let refusal = err.lines().last().unwrap_or_default();
        assert!(
            refusal.contains(&format!(
                "the data directory {} can be read",
                data.display()
            )) && refusal.contains("mode 0755")
                && refusal.ends_with(&format!("run: chmod 700 {}", data.display())),
            "{args:?}: {err}"
        );
        assert_eq!(mode(&data), 0o755, "nothing changed");
        assert_eq!(
            std::fs::read_dir(&data).expect("ls").count(),
            0,
            "nothing was written"
        );
    }

    // Given to nobody, the same directory is tightened by licd itself, which then serves.
    std::os::unix::fs::chown(&data, Some(NOBODY), Some(NOBODY)).expect("chown");
    let mut child = as_nobody(&serve).spawn().expect("licd");
    let stderr = child.stderr.take().expect("stderr");
    let started = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on http://"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "licd did not start as the owner");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("licd.redb")), 0o600);
}
