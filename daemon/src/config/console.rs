//! `[console]` and `[[console.user]]`: the staff console's own listener, its TLS pair, how
//! long sessions live, and who may log in with which role (docs/console.md).
//!
//! The console listens only when at least one user is configured. Off loopback it must
//! serve HTTPS itself: staff passwords and session cookies never cross a network in clear
//! text, and a reverse proxy in front does not lift the rule (it would reach the console
//! over loopback anyway).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::credentials::{from_file, parse_argon2_hash};
use super::{TlsIdentity, document, redacted};
use crate::store::console_sessions::SessionLifetime;

/// Longest `sessionIdleMinutes`: a day.
const MAX_IDLE_MINUTES: f64 = 24.0 * 60.0;
/// Longest `sessionMaxHours`: a week.
const MAX_SESSION_HOURS: f64 = 7.0 * 24.0;

/// `[console]`.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsoleConfig {
    /// Address and port of the console's own listener; port 0 picks a free port (tests).
    #[serde(deserialize_with = "document::socket_addr")]
    pub listen: SocketAddr,
    /// PEM certificate chain to serve the console over HTTPS with; needed off loopback.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tlsCertFile`.
    pub tls_key_file: Option<PathBuf>,
    /// A session unused this many minutes has ended (fractions allowed).
    pub session_idle_minutes: f64,
    /// A session this many hours old has ended, however busy (fractions allowed).
    pub session_max_hours: f64,
    /// `[[console.user]]`: who may log in.
    #[serde(rename = "user")]
    pub users: Vec<ConsoleUser>,
    /// The certificate and key read from the files when the configuration was loaded;
    /// `None`: plain HTTP (loopback only).
    #[serde(skip)]
    pub tls: Option<TlsIdentity>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            tls_cert_file: None,
            tls_key_file: None,
            session_idle_minutes: 30.0,
            session_max_hours: 12.0,
            users: Vec::new(),
            tls: None,
        }
    }
}

impl fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("listen", &self.listen)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_max_hours", &self.session_max_hours)
            .field("users", &self.users)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `[[console.user]]`: one member of staff.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsoleUser {
    /// The name typed at login; compared exactly.
    pub name: String,
    /// argon2 PHC string from `licd hash-password`.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// File `passwordHash` was read from.
    #[serde(default)]
    pub password_hash_file: Option<PathBuf>,
    /// What the user may do.
    pub role: Role,
}

impl fmt::Debug for ConsoleUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleUser")
            .field("name", &self.name)
            .field("password_hash", &redacted(&self.password_hash))
            .field("password_hash_file", &self.password_hash_file)
            .field("role", &self.role)
            .finish()
    }
}

/// What a staff user may do; each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Search, view licences, export CSV.
    Viewer,
    /// A viewer who may also release a seat.
    Support,
    /// A support user who may also create, update, renew, revoke and delete licences.
    Admin,
}

impl Role {
    /// The word the configuration and the pages use.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }
}

impl ConsoleConfig {
    /// Whether the console listens: only when someone could log in.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// The user called `name` (exactly).
    pub fn user(&self, name: &str) -> Option<&ConsoleUser> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The session lifetimes in seconds (at least one second each).
    pub fn lifetime(&self) -> SessionLifetime {
        let seconds = |s: f64| (s.round() as i64).max(1);
        SessionLifetime {
            idle_secs: seconds(self.session_idle_minutes * 60.0),
            max_secs: seconds(self.session_max_hours * 3600.0),
        }
    }

    /// The scheme the console is served with.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The settings of `[console]` a reload cannot change, by their TOML names; `newer`
    /// keeps the running values of them.
    pub fn keep_restart_only(&self, newer: &mut ConsoleConfig) -> Vec<&'static str> {
        let mut kept = Vec::new();
        if self.listen != newer.listen {
            kept.push("console.listen");
            newer.listen = self.listen;
        }
        if self.tls.is_some() != newer.tls.is_some() {
            kept.push("console.tlsCertFile and console.tlsKeyFile (TLS on or off)");
            newer.tls_cert_file = self.tls_cert_file.clone();
            newer.tls_key_file = self.tls_key_file.clone();
            newer.tls = self.tls.clone();
        }
        if self.enabled() != newer.enabled() {
            // The listener is bound (or not) at start; the users themselves apply at once.
            kept.push("[[console.user]] (whether the console listens at all)");
        }
        kept
    }
}

/// The problems of `[console]` (after its secrets and TLS pair were read). The demo-password
/// rule is with the other credential rules (`credentials::demo_password_problems`).
pub(super) fn problems(console: &ConsoleConfig) -> Vec<String> {
    let place = "[console]";
    let mut out = Vec::new();
    let idle = console.session_idle_minutes;
    if !(idle > 0.0 && idle <= MAX_IDLE_MINUTES) {
        out.push(format!(
            "{place}: `sessionIdleMinutes` is {idle}; it must be more than 0 and at most \
             {MAX_IDLE_MINUTES} (a day)"
        ));
    }
    let max = console.session_max_hours;
    if !(max > 0.0 && max <= MAX_SESSION_HOURS) {
        out.push(format!(
            "{place}: `sessionMaxHours` is {max}; it must be more than 0 and at most \
             {MAX_SESSION_HOURS} (a week)"
        ));
    }
    match (&console.tls_cert_file, &console.tls_key_file) {
        (Some(_), None) => out.push(format!(
            "{place}: `tlsCertFile` is set but `tlsKeyFile` is not; set both to serve the \
             console over HTTPS, or neither for plain HTTP on loopback"
        )),
        (None, Some(_)) => out.push(format!(
            "{place}: `tlsKeyFile` is set but `tlsCertFile` is not; set both to serve the \
             console over HTTPS, or neither for plain HTTP on loopback"
        )),
        _ => {}
    }
    let listen = console.listen;
    let has_tls_files = console.tls_cert_file.is_some() && console.tls_key_file.is_some();
    if console.enabled() && !listen.ip().to_canonical().is_loopback() && !has_tls_files {
        out.push(format!(
            "{place}: `listen` is {listen}, which is not a loopback address, and the console \
             has no `tlsCertFile` and `tlsKeyFile`: staff passwords and session cookies would \
             cross the network in clear text. Set both to serve the console over HTTPS, or \
             listen on 127.0.0.1"
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (index, user) in console.users.iter().enumerate() {
        let place = format!("[[console.user]] #{} \"{}\"", index + 1, user.name);
        if user.name.trim().is_empty() {
            out.push(format!("{place}: `name` is empty"));
        } else if user.name != user.name.trim() || user.name.chars().any(char::is_control) {
            out.push(format!(
                "{place}: `name` has spaces around it or control characters; write the name \
                 as it is typed at login"
            ));
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&user.name)) {
            out.push(format!(
                "{place}: another user has this name (names are told apart ignoring case \
                 here, so that two users never look alike in the history)"
            ));
        }
        seen.push(&user.name);
        match user.password_hash.as_deref() {
            None if user.password_hash_file.is_none() => out.push(format!(
                "{place}: has no `passwordHash`, so it could never log in; set it to the \
                 output of `licd hash-password`"
            )),
            None => {}
            Some("") => out.push(format!(
                "{place}: `passwordHash` is empty{}",
                from_file(user.password_hash_file.as_deref())
            )),
            Some(hash) => {
                if let Err(why) = parse_argon2_hash(hash) {
                    out.push(format!(
                        "{place}: `passwordHash`{} is not an argon2 PHC string ({why}); \
                         generate one with `licd hash-password`",
                        from_file(user.password_hash_file.as_deref())
                    ));
                }
            }
        }
    }
    out
}

/// Reads the console's TLS pair into `config.console.tls` with the main listener's code
/// (`super::tls`); returns the problems, prefixed with the configuration's origin. (The
/// users' `passwordHashFile`s are read with the other secret files, `super::secrets`.)
pub(super) fn resolve(config: &mut super::Config, base_dir: Option<&Path>) -> Vec<String> {
    let origin = config.origin.clone();
    let prefix = |m: String| {
        if origin.is_empty() {
            m
        } else {
            format!("{origin}: {m}")
        }
    };
    let mut problems = Vec::new();
    let console = &mut config.console;
    if let (Some(cert), Some(key)) = (&console.tls_cert_file, &console.tls_key_file) {
        let cert = super::tls::resolve_path(cert, base_dir);
        let key = super::tls::resolve_path(key, base_dir);
        match super::tls::load(&cert, &key) {
            Ok((identity, warning)) => {
                if let Some(w) = warning {
                    config
                        .warnings
                        .push(prefix(format!("[console]: `tlsKeyFile`: {w}")));
                }
                config.console.tls = Some(identity);
            }
            Err((key_name, e)) => problems.push(prefix(format!("[console]: `{key_name}`: {e}"))),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{assert_problem, hash_of, parse, problems};

    fn with_user(console: &str, name: &str, password: &str) -> String {
        format!(
            "[console]\n{console}\n[[console.user]]\nname = \"{name}\"\npasswordHash = \"{}\"\nrole = \"support\"\n",
            hash_of(password)
        )
    }

    #[test]
    fn the_console_is_off_without_users_and_on_loopback_by_default() {
        let config = parse("").unwrap();
        assert!(!config.console.enabled());
        assert_eq!(config.console.listen.to_string(), "127.0.0.1:8081");
        let life = config.console.lifetime();
        assert_eq!((life.idle_secs, life.max_secs), (1800, 12 * 3600));
        let config = parse(&with_user("", "ann", "pw")).unwrap();
        assert!(config.console.enabled());
        assert_eq!(
            config.console.user("ann").map(|u| u.role),
            Some(super::Role::Support)
        );
    }

    #[test]
    fn off_loopback_the_console_needs_its_tls_files() {
        let p = problems(&with_user("listen = \"0.0.0.0:8081\"", "ann", "pw"));
        assert_problem(
            &p,
            &["[console]", "0.0.0.0:8081", "tlsCertFile", "127.0.0.1"],
        );
        // Without users nothing listens, so nothing is refused.
        assert!(parse("[console]\nlisten = \"0.0.0.0:8081\"\n").is_ok());
    }

    #[test]
    fn the_demo_password_is_refused_off_loopback_naming_the_user() {
        let text = with_user(
            "listen = \"192.0.2.1:8081\"\ntlsCertFile = \"c\"\ntlsKeyFile = \"k\"",
            "demo",
            "demo",
        );
        assert_problem(&problems(&text), &["[[console.user]] \"demo\"", "loopback"]);
        assert!(
            parse(&with_user("", "demo", "demo")).is_ok(),
            "fine on loopback"
        );
    }

    #[test]
    fn session_lifetimes_bad_hashes_duplicate_names_and_unknown_keys_are_refused() {
        let p = problems(&with_user(
            "sessionIdleMinutes = 0\nsessionMaxHours = 200",
            "ann",
            "pw",
        ));
        assert_problem(&p, &["sessionIdleMinutes", "more than 0"]);
        assert_problem(&p, &["sessionMaxHours", "a week"]);
        let p = problems(
            "[[console.user]]\nname = \"ann\"\npasswordHash = \"hunter2\"\nrole = \"admin\"\n\
             [[console.user]]\nname = \"Ann\"\nrole = \"viewer\"\nbogus = 1\n",
        );
        assert_problem(&p, &["#1 \"ann\"", "argon2 PHC"]);
        assert!(p.iter().all(|m| !m.contains("hunter2")), "{p:#?}");
        assert_problem(&p, &["#2 \"Ann\"", "another user"]);
        assert_problem(&p, &["#2 \"Ann\"", "no `passwordHash`"]);
        assert_problem(&p, &["unknown key `bogus`", "[[console.user]] #2"]);
        let p = problems("[[console.user]]\nname = \"x\"\npasswordHash = \"h\"\nrole = \"root\"\n");
        assert_problem(&p, &["role"]);
    }

    #[test]
    fn fractions_of_a_minute_make_short_sessions() {
        let config = parse(&with_user(
            "sessionIdleMinutes = 0.05\nsessionMaxHours = 0.002",
            "a",
            "pw",
        ))
        .unwrap();
        let life = config.console.lifetime();
        assert_eq!((life.idle_secs, life.max_secs), (3, 7));
    }
}
