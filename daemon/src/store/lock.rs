//! Which licd holds a data directory, so that a second one is refused with "another licd
//! (pid N) holds this database" rather than redb's "Database already open".
//!
//! redb's own lock cannot say who holds it: it takes open-file-description locks (Linux
//! `F_OFD_SETLK`), which `F_OFD_GETLK` and `/proc/locks` report with pid -1. The pid that
//! `/proc/locks` shows today comes from an extra `flock` redb takes only for compatibility
//! with redb before 4.3, and drops where `flock` and range locks share a namespace (NFS);
//! the unit's `ProcSubset=pid` hides `/proc/locks` from the service anyway. A pid file would
//! outlive a crash and name a process long gone (or, recycled, another one).
//!
//! So `licd serve` takes a classic POSIX record lock on `<dataDir>/licd.lock` before it
//! opens the database, and holds it until it exits: the kernel drops it when the process
//! ends however it ends, and `F_GETLK` reports the holder's pid (in the asker's pid
//! namespace) to anyone who can open the file, sandbox or not. The file stays, empty.
//! redb's lock remains what keeps two writers apart; this one only names the first.
//!
//! POSIX record locks belong to the process and are released when it closes *any*
//! descriptor of the file, so a process that holds this lock never opens the file again
//! ([`HELD_HERE`]).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The lock file in the data directory.
pub const LOCK_FILE: &str = "licd.lock";

/// Whether this process holds a [`DaemonLock`]; it then never opens the lock file again,
/// since closing that second descriptor would release the lock.
static HELD_HERE: AtomicBool = AtomicBool::new(false);

/// Another process holds the database.
#[derive(Debug, thiserror::Error)]
pub struct Held {
    /// The database file.
    pub path: PathBuf,
    /// The licd serving it, when its lock file names one.
    pub pid: Option<u32>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match self.pid {
            Some(pid) => write!(
                f,
                "another licd (pid {pid}) holds this database, {path}: stop it first \
                 (`systemctl stop licd` for the service, else `kill {pid}`), or give this \
                 licd its own data directory with --data-dir or server.dataDir"
            ),
            None => write!(
                f,
                "another process holds this database, {path}: a licd command working on \
                 the stopped database (compact, restore, import, check) or a licd of a \
                 version that does not say its pid; wait for it to end or stop it, or give \
                 this licd its own data directory with --data-dir or server.dataDir"
            ),
        }
    }
}

/// `licd serve`'s hold on its data directory, released when dropped or when the process
/// ends.
#[derive(Debug)]
pub struct DaemonLock {
    /// The locked file; `None` when this process held the lock already or the file could
    /// not be opened (redb's lock still decides, and its error names the path).
    file: Option<File>,
}

impl DaemonLock {
    /// Takes the lock of `data_dir`, or says which licd holds it.
    pub fn acquire(data_dir: &Path, database: &Path) -> Result<DaemonLock, Held> {
        if HELD_HERE.swap(true, Ordering::SeqCst) {
            return Ok(DaemonLock { file: None });
        }
        let path = data_dir.join(LOCK_FILE);
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                HELD_HERE.store(false, Ordering::SeqCst);
                tracing::debug!(path = %path.display(), error = %e, "cannot open the lock file");
                return Ok(DaemonLock { file: None });
            }
        };
        let mut lock = whole_file(libc::F_WRLCK);
        // SAFETY: F_SETLK reads the `flock` passed by pointer; the descriptor is open.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut lock) } == 0 {
            return Ok(DaemonLock { file: Some(file) });
        }
        let error = std::io::Error::last_os_error();
        let pid = holder_of(&file);
        // Closing this descriptor releases nothing: this process held no lock on the file.
        drop(file);
        HELD_HERE.store(false, Ordering::SeqCst);
        if matches!(error.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) {
            return Err(Held {
                path: database.to_path_buf(),
                pid,
            });
        }
        tracing::debug!(path = %path.display(), %error, "cannot lock the lock file");
        Ok(DaemonLock { file: None })
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            HELD_HERE.store(false, Ordering::SeqCst);
        }
    }
}

/// The pid of the licd serving `data_dir`, if one holds its lock file and this process
/// may open it.
pub fn holder(data_dir: &Path) -> Option<u32> {
    if HELD_HERE.load(Ordering::SeqCst) {
        return None;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(data_dir.join(LOCK_FILE))
        .ok()?;
    holder_of(&file)
}

/// The pid holding a lock that conflicts with a write lock on all of `file`.
fn holder_of(file: &File) -> Option<u32> {
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: F_GETLK reads and writes the `flock` passed by pointer; the descriptor is open.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) } != 0 {
        return None;
    }
    // A holder outside this pid namespace is reported as 0.
    (i32::from(lock.l_type) != libc::F_UNLCK)
        .then(|| u32::try_from(lock.l_pid).ok().filter(|p| *p > 0))
        .flatten()
}

/// A record lock of `kind` over the whole file, however it grows.
fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: zero is a valid value for every field of `flock`.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    // The lock kinds and SEEK_SET are small constants that fit the struct's c_short fields.
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}

/// Another licd serves a data directory that holds no database file (the PostgreSQL
/// backend).
#[derive(Debug, thiserror::Error)]
#[error(
    "another licd{} serves this data directory, {}: give each node its own data directory \
     (--data-dir or server.dataDir), since its admin socket lives there, or stop the other one \
     first",
    .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
    .dir.display()
)]
pub struct DirectoryHeld {
    /// The data directory.
    pub dir: PathBuf,
    /// The licd holding it, when its admin socket answers and says.
    pub pid: Option<u32>,
}

/// `licd serve`'s hold on a data directory with no database file in it (the PostgreSQL
/// backend): an `flock` on the directory itself, released when the process ends however it
/// ends. Without it a second node started on the same directory would take over the first
/// one's `admin.sock` (and remove it when it stops); with it the directory still holds
/// nothing but the socket.
#[derive(Debug)]
pub struct DirectoryLock {
    /// The locked directory; `None` when it could not be opened.
    _dir: Option<File>,
}

impl DirectoryLock {
    /// Takes the lock of `data_dir`, or says which licd holds it.
    pub fn acquire(data_dir: &Path) -> Result<DirectoryLock, DirectoryHeld> {
        let dir = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(data_dir)
        {
            Ok(d) => d,
            Err(e) => {
                // The data directory was just made; a failure here is reported by the next
                // step (binding the admin socket) with its path.
                tracing::debug!(path = %data_dir.display(), error = %e, "cannot open the data directory");
                return Ok(DirectoryLock { _dir: None });
            }
        };
        // SAFETY: flock on an open descriptor; no pointers.
        if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(DirectoryLock { _dir: Some(dir) });
        }
        Err(DirectoryHeld {
            dir: data_dir.to_path_buf(),
            pid: admin_socket_peer(data_dir),
        })
    }
}

/// The pid of the process serving `<data_dir>/admin.sock`, from the connection's peer
/// credentials.
fn admin_socket_peer(data_dir: &Path) -> Option<u32> {
    let stream =
        std::os::unix::net::UnixStream::connect(data_dir.join(crate::admin::socket::SOCKET_FILE))
            .ok()?;
    // SAFETY: zero is a valid `ucred`.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`; the descriptor is open.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    (r == 0)
        .then(|| u32::try_from(cred.pid).ok().filter(|p| *p > 0))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_names_nobody_once_released_and_this_process_never_reopens_it() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("licd.redb");
        assert_eq!(holder(dir.path()), None, "no lock file yet");
        let lock = DaemonLock::acquire(dir.path(), &db).expect("free");
        assert!(lock.file.is_some());
        // Another process would see this one; this one must not open the file again.
        assert_eq!(holder(dir.path()), None);
        assert!(
            DaemonLock::acquire(dir.path(), &db)
                .expect("same process")
                .file
                .is_none()
        );
        drop(lock);
        assert!(!HELD_HERE.load(Ordering::SeqCst));
        assert_eq!(holder(dir.path()), None, "released");
    }

    #[test]
    fn the_refusal_names_the_pid_and_the_way_out() {
        let held = Held {
            path: PathBuf::from("/var/lib/licd/licd.redb"),
            pid: Some(4242),
        };
        let text = held.to_string();
        assert!(
            text.starts_with(
                "another licd (pid 4242) holds this database, /var/lib/licd/licd.redb: "
            ),
            "{text}"
        );
        assert!(text.contains("--data-dir"), "{text}");
        let anonymous = Held { pid: None, ..held }.to_string();
        assert!(
            anonymous.starts_with("another process holds this database"),
            "{anonymous}"
        );
    }
}
