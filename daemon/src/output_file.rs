//! Files licd writes for the admin: backups, exports, restored databases, licence files,
//! public keys (spec operations.md, Limits of load).
//!
//! Each is written under a fresh random name in the destination's directory, opened
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, then made durable and renamed over the destination, and
//! removed if anything fails first. Opening a fixed name with `create + truncate` instead
//! (the old `FILE.partial`) kept the mode of a file already there, so a world-readable one
//! stayed world-readable with the server secret inside, and followed a symbolic link planted
//! under that name onto any file the admin (often root) may write. A fresh exclusive name can
//! be neither; the rename replaces the destination itself, never what a link there points
//! to.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Names tried before giving up: a clash of 64 random bits is a planted file, not chance.
const NAME_ATTEMPTS: usize = 4;

/// Who may read a finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// Mode 0600 exactly, whatever the umask: the file holds a secret (the server secret,
    /// signing keys, activation keys).
    Owner,
    /// Mode 0644 less the umask: a public key, an export without secrets.
    Anyone,
}

impl Readers {
    fn mode(self) -> u32 {
        match self {
            Readers::Owner => 0o600,
            Readers::Anyone => 0o644,
        }
    }
}

/// Why an output file could not be written. The `Display` text names the file.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct OutputFileError {
    /// What failed (`cannot create a file next to`).
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The OS reason.
    pub source: io::Error,
}

/// A file being written under a fresh name, renamed to its destination by
/// [`OutputFile::persist`]; dropped unpersisted, it is removed.
#[derive(Debug)]
pub struct OutputFile {
    /// Where the finished file goes.
    path: PathBuf,
    /// The fresh name it is written under.
    temp: PathBuf,
    /// `None` once persisted.
    file: Option<File>,
}

impl OutputFile {
    /// Creates a fresh file in `path`'s directory that will become `path`. Fails before
    /// anything is written if that directory is not writable.
    pub fn create(path: &Path, readers: Readers) -> Result<OutputFile, OutputFileError> {
        let fail = |source| OutputFileError {
            action: "cannot create a file next to",
            path: path.to_path_buf(),
            source,
        };
        let name = path
            .file_name()
            .ok_or_else(|| fail(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..NAME_ATTEMPTS {
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".{}.tmp", random_hex().map_err(fail)?));
            let temp = path.with_file_name(temp_name);
            match create_new(&temp, readers) {
                Ok(file) => {
                    return Ok(OutputFile {
                        path: path.to_path_buf(),
                        temp,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(fail(e)),
            }
        }
        Err(fail(last))
    }

    /// The fresh name the file is written under (to check it before it replaces anything).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the contents durable, renames the file to its destination (replacing a file
    /// or link there, never following it) and makes the rename durable.
    pub fn persist(mut self) -> Result<(), OutputFileError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let fail = |action, source| OutputFileError {
            action,
            path: self.path.clone(),
            source,
        };
        let synced = file.sync_all();
        drop(file);
        if let Err(e) = synced.and_then(|()| std::fs::rename(&self.temp, &self.path)) {
            let _ = std::fs::remove_file(&self.temp);
            return Err(fail("cannot write", e));
        }
        sync_dir(&self.path).map_err(|e| fail("cannot make the rename durable for", e))
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the output file is already persisted"))
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Best effort: a half-written file must not be mistaken for a whole one.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Creates `path`, which must not exist yet and must not be a symbolic link, for reading
/// and writing with the mode of `readers`. For files that are used where they are made
/// (a backup's staging copy); [`OutputFile`] for files that replace another.
pub fn create_new(path: &Path, readers: Readers) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(readers.mode())
        .open(path)?;
    if readers == Readers::Owner {
        // A umask can only take bits away; this makes "0600" exact (a 0277 umask would
        // leave the owner unable to write a database).
        file.set_permissions(Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// 16 random hex digits for a file name nobody can guess in advance.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes a rename in `file`'s directory durable.
pub fn sync_dir(file: &Path) -> io::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).expect("metadata").mode() & 0o777
    }

    #[test]
    fn a_persisted_file_replaces_a_world_readable_one_and_a_link_with_a_private_file() {
        let dir = tempfile::tempdir().expect("dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").expect("victim");
        let out = dir.path().join("export.jsonl");
        std::os::unix::fs::symlink(&victim, &out).expect("link");
        let mut file = OutputFile::create(&out, Readers::Owner).expect("create");
        file.write_all(b"secret").expect("write");
        file.persist().expect("persist");
        assert_eq!(std::fs::read(&out).expect("read"), b"secret");
        assert_eq!(mode(&out), 0o600);
        assert!(std::fs::symlink_metadata(&out).expect("meta").is_file());
        assert_eq!(std::fs::read(&victim).expect("victim"), b"keep me");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(left.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn an_unpersisted_file_is_removed_and_leaves_the_destination_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("backup.redb");
        std::fs::write(&out, "old").expect("old");
        let mut file = OutputFile::create(&out, Readers::Owner).expect("create");
        file.write_all(b"half").expect("write");
        let temp = file.temp_path().to_path_buf();
        assert!(temp.exists());
        drop(file);
        assert!(!temp.exists());
        assert_eq!(std::fs::read(&out).expect("read"), b"old");
        assert!(OutputFile::create(&dir.path().join("no/such/dir/f"), Readers::Anyone).is_err());
    }

    #[test]
    fn create_new_refuses_an_existing_name_and_a_link() {
        let dir = tempfile::tempdir().expect("dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").expect("victim");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).expect("link");
        assert!(create_new(&victim, Readers::Owner).is_err());
        assert!(create_new(&link, Readers::Owner).is_err());
        assert_eq!(std::fs::read(&victim).expect("victim"), b"keep me");
        let fresh = dir.path().join("fresh");
        create_new(&fresh, Readers::Owner).expect("fresh");
        assert_eq!(mode(&fresh), 0o600);
    }
}
