//! Step 2 of loading: secrets written as `<name>File = "/path"` are read from their files.
//!
//! Reading secrets from files lets admins use systemd credentials and Docker secrets and keep
//! them out of a configuration file that is often world-readable or checked into git. A
//! secret file anyone but its owner may write is refused: whoever can change a vendor's
//! password hash can issue licences. One everyone may read is allowed with a warning.
//!
//! No message built here contains a secret's value, only where it came from.

use std::fs;
use std::path::{Path, PathBuf};

use super::Config;

/// Larger files are refused: a secret is a line, and a path pointing at a log or a disk image
/// by mistake should fail fast rather than be read into memory.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Reads every `<name>File` secret into its field and records warnings on `config`.
///
/// Relative paths are resolved against `base_dir` (the configuration file's directory), or
/// the current directory when it is `None`. Returns the problems found, prefixed with the
/// configuration's origin; the fields of a secret that could not be read stay empty.
pub(super) fn resolve(config: &mut Config, base_dir: Option<&Path>) -> Vec<String> {
    let mut found = Found::default();

    let options = &mut config.options;
    found.secret(
        "[options]",
        "communicationEncryptionKey",
        &mut options.communication_encryption_key,
        options.communication_encryption_key_file.as_deref(),
        base_dir,
    );

    let store = &mut config.store;
    found.secret(
        "[store]",
        "postgresUrl",
        &mut store.postgres_url,
        store.postgres_url_file.as_deref(),
        base_dir,
    );

    let mail = &mut config.mail;
    found.secret(
        "[mail]",
        "smtpPassword",
        &mut mail.smtp_password,
        mail.smtp_password_file.as_deref(),
        base_dir,
    );

    let webhooks = &mut config.webhooks;
    found.secret(
        "[webhooks]",
        "webHookSecretKey",
        &mut webhooks.web_hook_secret_key,
        webhooks.web_hook_secret_key_file.as_deref(),
        base_dir,
    );

    for vendor in &mut config.vendors {
        let place = format!("[[vendor]] \"{}\"", vendor.name);
        found.secret(
            &place,
            "password",
            &mut vendor.password,
            vendor.password_file.as_deref(),
            base_dir,
        );
        found.secret(
            &place,
            "passwordHash",
            &mut vendor.password_hash,
            vendor.password_hash_file.as_deref(),
            base_dir,
        );
        found.secret(
            &place,
            "apiKey",
            &mut vendor.api_key,
            vendor.api_key_file.as_deref(),
            base_dir,
        );
        if vendor.password.is_some() || vendor.password_file.is_some() {
            found.warnings.push(format!(
                "{place}: the password is stored in plaintext; set `passwordHash` to the output \
                 of `licd hash-password` instead"
            ));
        }
    }

    for (index, user) in config.console.users.iter_mut().enumerate() {
        let place = format!("[[console.user]] #{} \"{}\"", index + 1, user.name);
        found.secret(
            &place,
            "passwordHash",
            &mut user.password_hash,
            user.password_hash_file.as_deref(),
            base_dir,
        );
    }

    let origin = config.origin.clone();
    let prefix = |m: String| {
        if origin.is_empty() {
            m
        } else {
            format!("{origin}: {m}")
        }
    };
    config
        .warnings
        .extend(found.warnings.into_iter().map(prefix));
    found.problems.into_iter().map(prefix).collect()
}

/// Problems and warnings collected while reading secrets.
#[derive(Default)]
struct Found {
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Found {
    /// Fills `value` from `file` if given; `key` is the inline key name (`password`), whose
    /// file form is `<key>File`.
    fn secret(
        &mut self,
        place: &str,
        key: &str,
        value: &mut Option<String>,
        file: Option<&Path>,
        base_dir: Option<&Path>,
    ) {
        let Some(file) = file else {
            return;
        };
        if value.is_some() {
            self.problems.push(format!(
                "{place}: both `{key}` and `{key}File` are set; keep only one"
            ));
            return;
        }
        let path = resolve_path(file, base_dir);
        match read_secret_file(&path) {
            Ok((secret, warning)) => {
                *value = Some(secret);
                if let Some(w) = warning {
                    self.warnings.push(format!("{place}: `{key}File`: {w}"));
                }
            }
            Err(e) => self.problems.push(format!("{place}: `{key}File`: {e}")),
        }
    }
}

/// `file` as given if absolute or if there is no base directory, else joined to it.
fn resolve_path(file: &Path, base_dir: Option<&Path>) -> PathBuf {
    match base_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// The secret in `path` without its one trailing newline, and a warning if the file is
/// readable by everyone.
fn read_secret_file(path: &Path) -> Result<(String, Option<String>), String> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "{shown} is {} bytes long; a secret file holds one line of at most \
             {MAX_SECRET_FILE_BYTES} bytes",
            meta.len()
        ));
    }
    let warning = permission_warning(path, &meta)?;
    let bytes = fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text = String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))?;
    // Files written by `echo` or an editor end in a newline that is not part of the secret;
    // only one is stripped so a secret that really ends in whitespace survives.
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    Ok((text, warning))
}

/// Refuses a file others may write; warns about one everyone may read.
#[cfg(unix)]
pub(super) fn permission_warning(
    path: &Path,
    meta: &fs::Metadata,
) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "{shown} is writable by its group or by others (mode {mode:04o}), so someone \
             other than its owner could change this secret; run `chmod go-w {shown}`"
        ));
    }
    if mode & 0o004 != 0 {
        return Ok(Some(format!(
            "{shown} is readable by everyone (mode {mode:04o}); run `chmod o-r {shown}`"
        )));
    }
    Ok(None)
}

/// Other platforms have no Unix mode bits to check.
#[cfg(not(unix))]
pub(super) fn permission_warning(
    _path: &Path,
    _meta: &fs::Metadata,
) -> Result<Option<String>, String> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::tests::{GOOD_VENDOR, assert_problem, hash_of, parse, write_file};
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn secret_file(contents: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        fs::set_permissions(f.path(), fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn secret_file_loses_exactly_one_trailing_newline() {
        let f = secret_file("s3cret\n\n", 0o600);
        assert_eq!(read_secret_file(f.path()).unwrap().0, "s3cret\n");
        let f = secret_file("s3cret\r\n", 0o600);
        assert_eq!(read_secret_file(f.path()).unwrap().0, "s3cret");
        let f = secret_file("s3cret", 0o600);
        assert_eq!(read_secret_file(f.path()).unwrap().0, "s3cret");
    }

    #[test]
    fn secret_file_writable_by_others_is_refused() {
        let f = secret_file("s3cret\n", 0o602);
        assert!(read_secret_file(f.path()).is_err());
    }

    #[test]
    fn relative_secret_path_resolves_against_config_directory() {
        let base = Path::new("/etc/licd");
        assert_eq!(
            resolve_path(Path::new("pw"), Some(base)),
            Path::new("/etc/licd/pw")
        );
        assert_eq!(
            resolve_path(Path::new("/run/pw"), Some(base)),
            Path::new("/run/pw")
        );
        assert_eq!(resolve_path(Path::new("pw"), None), Path::new("pw"));
    }

    #[test]
    fn plaintext_password_is_a_warning() {
        let config = Config::embedded().unwrap();
        assert!(
            config
                .warnings()
                .iter()
                .any(|w| w.contains("QlmAuthenticationProvider") && w.contains("passwordHash")),
            "{:?}",
            config.warnings()
        );
        assert!(parse(GOOD_VENDOR).unwrap().warnings().is_empty());
    }

    #[test]
    fn secret_file_is_read_relative_to_config_file() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "hash", &format!("{}\n", hash_of("pw")), 0o600);
        write_file(dir.path(), "key", "communication-key\r\n", 0o400);
        let conf = "[options]\ncommunicationEncryptionKeyFile = \"key\"\n\
            [[vendor]]\nname = \"V\"\nuser = \"u\"\npasswordHashFile = \"hash\"\napiKeyFile = \"key\"\n";
        write_file(dir.path(), "licd.toml", conf, 0o600);
        let c = Config::load(Some(&dir.path().join("licd.toml"))).unwrap();
        assert!(
            c.vendors[0]
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$argon2id$")
        );
        assert_eq!(c.vendors[0].api_key.as_deref(), Some("communication-key"));
        assert_eq!(
            c.options.communication_encryption_key.as_deref(),
            Some("communication-key")
        );
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn secret_file_writable_by_group_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "pw", "s3cret\n", 0o660);
        let text = "[[vendor]]\nname = \"V\"\nuser = \"u\"\npasswordFile = \"pw\"\n";
        let err = Config::parse(text, "t.toml", Some(dir.path())).unwrap_err();
        assert_problem(
            &err.problems,
            &["\"V\"", "`passwordFile`", "writable", "pw"],
        );
        assert!(err.problems.iter().all(|p| !p.contains("s3cret")));
        // The unreadable secret does not also make the vendor look password-less.
        assert_eq!(err.problems.len(), 1, "{:#?}", err.problems);
    }

    #[test]
    fn secret_file_readable_by_everyone_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "key", "k\n", 0o644);
        let text = "[options]\ncommunicationEncryptionKeyFile = \"key\"\n";
        let c = Config::parse(text, "t.toml", Some(dir.path())).unwrap();
        assert!(
            c.warnings()
                .iter()
                .any(|w| w.contains("communicationEncryptionKeyFile") && w.contains("readable")),
            "{:?}",
            c.warnings()
        );
    }

    #[test]
    fn missing_secret_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[vendor]]\nname = \"V\"\nuser = \"u\"\npasswordHashFile = \"nope.hash\"\n";
        let err = Config::parse(text, "t.toml", Some(dir.path())).unwrap_err();
        let path = dir.path().join("nope.hash");
        assert_problem(
            &err.problems,
            &["`passwordHashFile`", &path.display().to_string()],
        );
    }

    #[test]
    fn secret_given_inline_and_as_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "k", "from-file\n", 0o600);
        let text = "[options]\ncommunicationEncryptionKey = \"inline\"\n\
            communicationEncryptionKeyFile = \"k\"\n";
        let err = Config::parse(text, "t.toml", Some(dir.path())).unwrap_err();
        assert_problem(&err.problems, &["both", "`communicationEncryptionKeyFile`"]);
    }
}
