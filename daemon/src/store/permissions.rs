//! Who may read the database (spec config.md, `dataDir`): the data directory is 0700 and
//! `licd.redb` 0600, because the file holds the server secret that computer keys derive
//! from and the licence-signing keys.
//!
//! A new database file is created 0600 whatever the umask ([`create_database_file`]). A data
//! directory or database that its group or others can reach (made by hand, by an old licd
//! that created it 0644 less the umask, or copied with loose modes) is tightened to
//! 0700/0600 with a warning naming it; licd refuses to use it only when it cannot change the
//! mode (it is neither the owner nor root), and says which `chmod` fixes it. Every open of
//! the live database goes through [`secure`]: `super::open_database` calls it, and so does
//! `licd restore`, which may install a database where none was opened yet.

use std::fs::{Metadata, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode the data directory gets.
const DIR_MODE: u32 = 0o700;
/// The mode the database file gets.
const FILE_MODE: u32 = 0o600;
/// Permission bits of the group and of others.
const GROUP_OTHER: u32 = 0o077;

/// What a loose mode was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The data directory.
    Directory,
    /// The database file.
    Database,
}

impl Kind {
    fn mode(self) -> u32 {
        match self {
            Kind::Directory => DIR_MODE,
            Kind::Database => FILE_MODE,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Directory => "the data directory",
            Kind::Database => "the database",
        }
    }
}

/// The data directory or the database can be reached by others and licd cannot change that.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} {path} can be read by its group or others (mode {mode:04o}) and licd (uid {euid}) cannot make it private ({reason}); it holds the server secret and signing keys. As its owner (uid {owner}) or root, run: chmod {:o} {}",
    kind.noun(),
    kind.mode(),
    shell_quote(path)
)]
pub struct PermissionError {
    /// Directory or database.
    pub kind: Kind,
    /// The path.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub owner: u32,
    /// licd's effective uid.
    pub euid: u32,
    /// Why the mode could not be changed. Part of the message, not an error source, so
    /// that the one-line report ends with the `chmod` to run.
    pub reason: io::Error,
}

/// Makes the directory of `db` 0700 and `db`, when it exists, 0600 if its group or others
/// can reach them, logging a warning for each path changed; fails, naming the `chmod` to
/// run, when a mode cannot be changed.
pub fn secure(db: &Path) -> Result<(), PermissionError> {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    secure_path(dir, Kind::Directory)?;
    if db.exists() {
        secure_path(db, Kind::Database)?;
    }
    Ok(())
}

/// Creates `db` empty with mode 0600 exactly if it does not exist yet, so that redb then
/// initialises a file nobody else can read instead of creating one 0644 less the umask.
pub fn create_database_file(db: &Path) -> io::Result<()> {
    match crate::output_file::create_new(db, crate::output_file::Readers::Owner) {
        Ok(_) => Ok(()),
        // Made meanwhile by someone else, or a link: the open that follows decides.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn secure_path(path: &Path, kind: Kind) -> Result<(), PermissionError> {
    // A path that cannot be read is left to the open that follows, which says why.
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    tighten(path, kind, &meta, euid(), |p, mode| {
        std::fs::set_permissions(p, Permissions::from_mode(mode))
    })
}

/// The decision, with the `chmod` injected so that the refusal can be tested where the
/// process (root, in the tests) could change any mode.
fn tighten(
    path: &Path,
    kind: Kind,
    meta: &Metadata,
    euid: u32,
    chmod: impl FnOnce(&Path, u32) -> io::Result<()>,
) -> Result<(), PermissionError> {
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHER == 0 {
        return Ok(());
    }
    chmod(path, kind.mode()).map_err(|reason| PermissionError {
        kind,
        path: path.to_path_buf(),
        mode,
        owner: meta.uid(),
        euid,
        reason,
    })?;
    tracing::warn!(
        "{} {} could be read by its group or others (mode {mode:04o}); licd set it to {:04o}",
        kind.noun(),
        path.display(),
        kind.mode()
    );
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `path` as one shell word, so the printed `chmod` can be pasted as it is.
pub(crate) fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").mode() & 0o777
    }

    #[test]
    fn a_loose_directory_and_database_are_made_private() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        std::fs::set_permissions(&data, Permissions::from_mode(0o755)).expect("chmod");
        let db = data.join("licd.redb");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).expect("chmod");
        secure(&db).expect("secure");
        assert_eq!((mode(&data), mode(&db)), (0o700, 0o600));
    }

    #[test]
    fn private_modes_are_left_as_they_are() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("licd.redb");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, Permissions::from_mode(0o400)).expect("chmod");
        secure(&db).expect("secure");
        assert_eq!(mode(&db), 0o400);
    }

    #[test]
    fn a_mode_licd_cannot_change_is_refused_with_the_chmod_that_fixes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("my data");
        std::fs::create_dir(&data).expect("mkdir");
        std::fs::set_permissions(&data, Permissions::from_mode(0o750)).expect("chmod");
        let meta = std::fs::metadata(&data).expect("metadata");
        let refused = tighten(&data, Kind::Directory, &meta, 65534, |_, _| {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        })
        .expect_err("refused");
        let text = refused.to_string();
        let quoted = format!("chmod 700 '{}'", data.display());
        assert!(text.contains(&quoted), "{text}");
        assert!(text.contains("mode 0750"), "{text}");
        assert!(text.contains("uid 65534"), "{text}");
        assert!(text.contains("not permitted"), "{text}");
        assert_eq!(mode(&data), 0o750, "nothing changed");

        let db = data.join("licd.redb");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).expect("chmod");
        let meta = std::fs::metadata(&db).expect("metadata");
        let refused = tighten(&db, Kind::Database, &meta, 65534, |_, _| {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        })
        .expect_err("refused");
        assert!(
            refused.to_string().starts_with("the database "),
            "{refused}"
        );
        assert!(refused.to_string().contains("chmod 600 '"), "{refused}");
    }

    #[test]
    fn a_new_database_file_is_0600_and_an_existing_one_is_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("licd.redb");
        create_database_file(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
        std::fs::write(&db, b"kept").expect("write");
        create_database_file(&db).expect("again");
        assert_eq!(std::fs::read(&db).expect("read"), b"kept");
    }

    #[test]
    fn paths_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote(Path::new("/var/lib/licd")), "/var/lib/licd");
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
