//! "Permission denied" at start-up, said so that the admin can act on it: which path, which
//! user licd runs as (the unit's `licd`, or whoever started it by hand), who owns the path,
//! and the command that lets licd in, to run as root.
//!
//! The modes licd wants are those [`super::permissions`] enforces (0700 directory, 0600
//! database), so a `chmod` suggested here never loosens them; a path owned by another user
//! gets a `chown -R` of the data directory, as systemd itself does for `StateDirectory=`
//! when the owner is wrong.

use std::ffi::CStr;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::permissions::shell_quote;

/// A user of this system, by uid, with its name when the user database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    /// The numeric id.
    pub uid: u32,
    /// The login name, if `getpwuid` finds one.
    pub name: Option<String>,
}

impl OsUser {
    /// The user this process runs as (its effective uid).
    pub fn effective() -> OsUser {
        // SAFETY: geteuid has no preconditions and cannot fail.
        OsUser::of(unsafe { libc::geteuid() })
    }

    /// The user with this uid.
    pub fn of(uid: u32) -> OsUser {
        OsUser {
            uid,
            name: user_name(uid),
        }
    }

    /// How a command line names the user: its name, else the number (`chown` takes both).
    fn argument(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

impl fmt::Display for OsUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "user {name} (uid {})", self.uid),
            None => write!(f, "uid {}", self.uid),
        }
    }
}

/// The login name of `uid`, through the system's user database (`/etc/passwd`, NSS).
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: zeroed is a valid `passwd` (null pointers, zero ids); getpwuid_r writes it
        // and the strings it points to into `buf`, whose length is passed with it, and sets
        // `found` to `&mut entry` or to null.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// The operating system refused licd a path it needs at start-up.
#[derive(Debug, thiserror::Error)]
#[error(
    "{action} {path}: permission denied to licd, which runs as {user}{owner}{fix}",
    path = path.display(),
    owner = owner.as_ref().map(|(p, o)| format!("; {} belongs to {o}", p.display())).unwrap_or_default(),
    fix = fix.as_ref().map(|f| format!(". As root, run: {f}")).unwrap_or_default()
)]
pub struct AccessDenied {
    /// What licd was doing (`cannot create the data directory`).
    pub action: &'static str,
    /// The path it was refused.
    pub path: PathBuf,
    /// Who licd runs as.
    pub user: OsUser,
    /// The path whose owner stands in the way, and that owner, when licd could see it.
    pub owner: Option<(PathBuf, OsUser)>,
    /// The command that lets licd in, when there is one to suggest (none for root, which a
    /// mode does not stop: a root-squashing network file system, say).
    pub fix: Option<String>,
}

impl AccessDenied {
    /// licd may not create the data directory `dir` (its nearest existing ancestor is not
    /// writable to it): root makes it for licd's user.
    pub fn create_data_dir(dir: &Path) -> AccessDenied {
        let user = OsUser::effective();
        let owner = dir
            .ancestors()
            .skip(1)
            .find_map(|a| std::fs::metadata(a).ok().map(|m| (a.to_path_buf(), m)))
            .map(|(a, m)| (a, OsUser::of(m.uid())));
        let fix = (user.uid != 0).then(|| {
            format!(
                "install -d -m 700 -o {} {}",
                shell_quote(Path::new(&user.argument())),
                shell_quote(dir)
            )
        });
        AccessDenied {
            action: "cannot create the data directory",
            path: dir.to_path_buf(),
            user,
            owner,
            fix,
        }
    }

    /// licd may not create, read or write the database `db`: the data directory or the file
    /// belongs to another user (then a `chown -R` of the data directory), or its own mode
    /// shuts out its owner (then the modes licd keeps anyway).
    pub fn database(db: &Path) -> AccessDenied {
        let user = OsUser::effective();
        let dir = match db.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The directory first: when licd may not search it, the file cannot be seen at all.
        let seen: Vec<(PathBuf, std::fs::Metadata)> = [dir, db]
            .into_iter()
            .filter_map(|p| std::fs::metadata(p).ok().map(|m| (p.to_path_buf(), m)))
            .collect();
        let foreign = seen.iter().find(|(_, m)| m.uid() != user.uid);
        let owner = foreign.map(|(p, m)| (p.clone(), OsUser::of(m.uid())));
        let fix = if user.uid == 0 {
            None
        } else if foreign.is_some() {
            Some(format!(
                "chown -R {} {}",
                shell_quote(Path::new(&user.argument())),
                shell_quote(dir)
            ))
        } else {
            let chmods: Vec<String> = seen
                .iter()
                .map(|(p, m)| {
                    let wanted = if m.is_dir() { 0o700 } else { 0o600 };
                    (p, m.mode() & 0o700, wanted)
                })
                .filter(|(_, owner_bits, wanted)| owner_bits & wanted != *wanted)
                .map(|(p, _, wanted)| format!("chmod {wanted:o} {}", shell_quote(p)))
                .collect();
            (!chmods.is_empty()).then(|| chmods.join(" && "))
        };
        AccessDenied {
            action: "cannot open the database",
            path: db.to_path_buf(),
            user,
            owner,
            fix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_user_is_named_with_its_uid() {
        assert_eq!(OsUser::of(0).to_string(), "user root (uid 0)");
        assert_eq!(
            OsUser {
                uid: 4242,
                name: None
            }
            .to_string(),
            "uid 4242"
        );
    }

    #[test]
    fn a_database_its_owner_may_not_write_is_given_back_the_modes_licd_keeps() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("licd.redb");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, Permissions::from_mode(0o400)).expect("chmod");
        let denied = AccessDenied::database(&db);
        if denied.user.uid == 0 {
            assert_eq!(denied.fix, None, "root is not stopped by a mode");
        } else {
            assert_eq!(
                denied.fix.as_deref(),
                Some(format!("chmod 600 {}", db.display()).as_str())
            );
        }
        assert!(denied.to_string().starts_with(&format!(
            "cannot open the database {}: permission denied to licd, which runs as ",
            db.display()
        )));
    }
}
