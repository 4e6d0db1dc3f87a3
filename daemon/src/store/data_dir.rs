//! The data directory (spec config.md, `dataDir`): created with mode 0700 when missing; a
//! path that cannot be one is refused saying why and what to change.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::access::AccessDenied;

/// Why the data directory could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The path, or a directory on the way to it, is a file.
    #[error(
        "{}{} is a file, not a directory: point server.dataDir (or --data-dir) at a directory, which licd creates when missing, or move {} away",
        if blocker == path { String::from("the data directory ") } else { format!("the data directory {} cannot be made: ", path.display()) },
        blocker.display(),
        blocker.display()
    )]
    NotADirectory {
        /// The data directory.
        path: PathBuf,
        /// The file in the way: the path itself or one of its parents.
        blocker: PathBuf,
    },
    /// licd's user may not create it (boxed: the message's parts are large, and this error
    /// travels in every `Result` of the store).
    #[error(transparent)]
    Denied(Box<AccessDenied>),
    /// Any other refusal of the operating system.
    #[error("cannot create the data directory {}: {reason}", path.display())]
    Other {
        /// The data directory.
        path: PathBuf,
        /// The OS reason (part of the message, not a source, so that it is said once).
        reason: io::Error,
    },
}

/// Creates `dir` (and its missing parents) with mode 0700 when it is not a directory yet.
pub fn create(dir: &Path) -> Result<(), DataDirError> {
    if dir.is_dir() {
        return Ok(());
    }
    let Err(reason) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    else {
        return Ok(());
    };
    if let Some(blocker) = file_in_the_way(dir) {
        return Err(DataDirError::NotADirectory {
            path: dir.to_path_buf(),
            blocker,
        });
    }
    if reason.kind() == io::ErrorKind::PermissionDenied {
        return Err(DataDirError::Denied(Box::new(
            AccessDenied::create_data_dir(dir),
        )));
    }
    Err(DataDirError::Other {
        path: dir.to_path_buf(),
        reason,
    })
}

/// The nearest existing path of `dir` and its parents, when that is not a directory.
fn file_in_the_way(dir: &Path) -> Option<PathBuf> {
    let existing = dir.ancestors().find(|a| std::fs::metadata(a).is_ok())?;
    (!existing.is_dir()).then(|| existing.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_directory_is_made_0700_with_its_parents() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("a/b");
        create(&data).expect("create");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        create(&data).expect("an existing directory is fine");
    }

    #[test]
    fn a_file_in_the_way_is_named_whether_it_is_the_path_or_a_parent() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"").expect("file");
        for (path, start) in [
            (
                file.clone(),
                format!("the data directory {} is a file", file.display()),
            ),
            (
                file.join("sub"),
                format!(
                    "the data directory {} cannot be made: {} is a file",
                    file.join("sub").display(),
                    file.display()
                ),
            ),
        ] {
            let text = create(&path).expect_err("a file").to_string();
            assert!(text.starts_with(&start), "{text}");
            assert!(text.contains("--data-dir"), "{text}");
        }
    }
}
