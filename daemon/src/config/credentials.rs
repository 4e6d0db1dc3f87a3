//! The rules on vendor credentials: who can authenticate as a vendor, and with what.
//!
//! Kept apart from the other rules because they decide whether licd can be trusted on a
//! network at all: a vendor credential can issue licences.

use std::path::Path;

use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params};

use super::{Config, Vendor};

/// The user and password the embedded default ships with, refused off loopback.
const DEMO_USER: &str = "demo";
/// See [`DEMO_USER`].
const DEMO_PASSWORD: &str = "demo";

/// The rules on a vendor's user, password, hash and API key.
pub(super) fn vendor_problems(vendor: &Vendor, place: &str) -> Vec<String> {
    let mut p = Vec::new();
    // The `*_file` fields count too: when a file could not be read its problem is already
    // listed, and "no password" on top of it would mislead.
    let has_password = vendor.password.is_some() || vendor.password_file.is_some();
    let has_hash = vendor.password_hash.is_some() || vendor.password_hash_file.is_some();
    if !has_password && !has_hash && vendor.plugin.is_none() {
        p.push(format!(
            "{place}: has neither `passwordHash`, `password` nor `plugin`, so nobody could \
             authenticate as it; set passwordHash to the output of `licd hash-password`"
        ));
    }
    if has_password && has_hash {
        p.push(format!(
            "{place}: both `password` and `passwordHash` are set; keep only passwordHash"
        ));
    }
    if (has_password || has_hash) && vendor.user.is_none() {
        p.push(format!(
            "{place}: has a password but no `user`; set the user name callers send in is_user"
        ));
    }
    if vendor.user.as_deref().is_some_and(|u| u.trim().is_empty()) {
        p.push(format!("{place}: `user` is empty"));
    }
    for (key, value, file) in [
        ("password", &vendor.password, &vendor.password_file),
        (
            "passwordHash",
            &vendor.password_hash,
            &vendor.password_hash_file,
        ),
        ("apiKey", &vendor.api_key, &vendor.api_key_file),
    ] {
        if value.as_deref().is_some_and(str::is_empty) {
            p.push(format!(
                "{place}: `{key}` is empty{}",
                from_file(file.as_deref())
            ));
        }
    }
    if let Some(hash) = vendor.password_hash.as_deref().filter(|h| !h.is_empty())
        && let Err(why) = parse_argon2_hash(hash)
    {
        p.push(format!(
            "{place}: `passwordHash`{} is not an argon2 PHC string ({why}); generate one with \
             `licd hash-password`",
            from_file(vendor.password_hash_file.as_deref())
        ));
    }
    p
}

/// ` (read from PATH)` when a secret came from a file, so the admin knows where to look.
pub(super) fn from_file(file: Option<&Path>) -> String {
    file.map(|f| format!(" (read from {})", f.display()))
        .unwrap_or_default()
}

/// Parses an argon2 PHC string fully (algorithm, parameters, salt and hash), so that a
/// truncated or foreign hash is refused at start rather than failing every login.
///
/// The error text describes the defect, never the hash itself.
pub(super) fn parse_argon2_hash(hash: &str) -> Result<PasswordHash, String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|_| format!("algorithm `{}` is not argon2", parsed.algorithm.as_str()))?;
    Params::try_from(&parsed).map_err(|e| format!("bad parameters: {e}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("salt or hash missing".to_owned());
    }
    Ok(parsed)
}

/// Whether `hash` is a valid argon2 hash of the demo password.
fn is_demo_hash(hash: Option<&str>) -> bool {
    hash.and_then(|h| parse_argon2_hash(h).ok())
        .is_some_and(|h| {
            Argon2::default()
                .verify_password(DEMO_PASSWORD.as_bytes(), &h)
                .is_ok()
        })
}

/// The embedded default's `demo`/`demo` vendor is for trying licd on one machine; on any other
/// address it would let anyone on the network issue licences. The same holds for a staff
/// console user `demo` with password `demo` when the console listens off loopback: it could
/// revoke and release every licence.
pub(super) fn demo_password_problems(config: &Config) -> Vec<String> {
    let mut p = console_demo_problems(config);
    let listen = config.server.listen;
    if listen.ip().to_canonical().is_loopback() {
        return p;
    }
    for vendor in &config.vendors {
        if vendor.user.as_deref() != Some(DEMO_USER) {
            continue;
        }
        let plain_demo = vendor.password.as_deref() == Some(DEMO_PASSWORD);
        if plain_demo || is_demo_hash(vendor.password_hash.as_deref()) {
            p.push(format!(
                "[[vendor]] \"{}\": user \"demo\" with password \"demo\" is only allowed when \
                 [server] listen is a loopback address, and listen is {listen}; give this vendor \
                 its own user and a passwordHash from `licd hash-password`, or listen on \
                 127.0.0.1",
                vendor.name
            ));
        }
    }
    p
}

/// The demo rule for `[[console.user]]`: a user `demo` whose hash is of `demo`, on a console
/// that listens off loopback.
fn console_demo_problems(config: &Config) -> Vec<String> {
    let console = &config.console;
    let listen = console.listen;
    if listen.ip().to_canonical().is_loopback() {
        return Vec::new();
    }
    console
        .users
        .iter()
        .filter(|u| u.name == DEMO_USER && is_demo_hash(u.password_hash.as_deref()))
        .map(|u| {
            format!(
                "[[console.user]] \"{}\": user \"demo\" with password \"demo\" is only \
                 allowed when [console] listen is a loopback address, and listen is {listen}; \
                 give this member of staff their own name and a passwordHash from \
                 `licd hash-password`, or listen on 127.0.0.1",
                u.name
            )
        })
        .collect()
}

/// A warning for each vendor whose `passwordHash` costs less than the costliest one
/// configured: a refusal of an unknown vendor pays a dummy run at the costliest parameters
/// (spec methods.md, Auth), so a cheaper real hash answers a wrong password sooner, and timing
/// tells that vendor exists.
pub(super) fn weaker_hash_warnings(config: &Config) -> Vec<String> {
    let costs: Vec<(&str, Params)> = config
        .vendors
        .iter()
        .filter_map(|v| {
            let parsed = parse_argon2_hash(v.password_hash.as_deref()?).ok()?;
            Some((v.name.as_str(), Params::try_from(&parsed).ok()?))
        })
        .collect();
    let cost = |p: &Params| u64::from(p.m_cost()) * u64::from(p.t_cost());
    let Some((strongest, top)) = costs.iter().max_by_key(|(_, p)| cost(p)) else {
        return Vec::new();
    };
    costs
        .iter()
        .filter(|(_, p)| cost(p) < cost(top))
        .map(|(name, p)| {
            format!(
                "vendor `{name}`: its passwordHash uses weaker argon2 parameters (m={} KiB, t={}) \
                 than vendor `{strongest}`'s (m={} KiB, t={}); refusals of its password answer \
                 sooner than an unknown vendor's, which tells a prober it exists. Hash every \
                 vendor's password with the same parameters (`licd hash-password`)",
                p.m_cost(),
                p.t_cost(),
                top.m_cost(),
                top.t_cost()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{GOOD_VENDOR, assert_problem, hash_of, parse, problems, write_file};

    #[test]
    fn argon2_phc_string_must_be_complete() {
        assert!(parse_argon2_hash("$argon2id$v=19$m=19456,t=2,p=1").is_err());
        assert!(parse_argon2_hash("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g").is_err());
        assert!(parse_argon2_hash("not a hash").is_err());
    }

    #[test]
    fn vendor_without_password_or_plugin_is_refused() {
        let p = problems("[[vendor]]\nname = \"Open\"\nuser = \"u\"\n");
        assert_problem(&p, &["\"Open\"", "neither"]);
    }

    #[test]
    fn vendor_with_both_password_and_hash_is_refused() {
        let p = problems(&format!("{GOOD_VENDOR}password = \"pw\"\n"));
        assert_problem(&p, &["\"Shop\"", "both `password` and `passwordHash`"]);
    }

    #[test]
    fn vendor_with_password_but_no_user_is_refused() {
        let p = problems("[[vendor]]\nname = \"V\"\npassword = \"pw\"\n");
        assert_problem(&p, &["\"V\"", "`user`"]);
    }

    #[test]
    fn password_hash_that_is_not_argon2_phc_is_refused() {
        let p = problems(&GOOD_VENDOR.replace("$argon2id$v=19", "$argon9$v=19"));
        assert_problem(&p, &["\"Shop\"", "argon2 PHC"]);
        let p = problems("[[vendor]]\nname = \"V\"\nuser = \"u\"\npasswordHash = \"hunter2\"\n");
        assert_problem(&p, &["argon2 PHC"]);
        assert!(p.iter().all(|m| !m.contains("hunter2")), "{p:#?}");
    }

    #[test]
    fn demo_password_refused_on_non_loopback_listen() {
        let text = Config::EMBEDDED_DEFAULT.replace("127.0.0.1:8080", "0.0.0.0:8080");
        let p = problems(&text);
        assert_problem(
            &p,
            &[
                "\"QlmAuthenticationProvider\"",
                "loopback",
                "0.0.0.0:8080",
                "licd hash-password",
                "127.0.0.1",
            ],
        );
    }

    #[test]
    fn demo_password_hash_refused_on_non_loopback_listen() {
        let text = format!(
            "[server]\nlisten = \"192.0.2.1:80\"\n[[vendor]]\nname = \"V\"\nuser = \"demo\"\n\
             passwordHash = \"{}\"\n",
            hash_of("demo")
        );
        assert_problem(&problems(&text), &["\"V\"", "loopback"]);
        let other = text.replace(&text[text.find("$argon2").unwrap()..], &hash_of("other"));
        assert!(parse(&format!("{other}\"\n")).is_ok());
    }

    #[test]
    fn demo_password_allowed_on_loopback_listen() {
        for listen in ["127.0.0.1:0", "[::1]:8080", "127.1.2.3:80"] {
            let text = Config::EMBEDDED_DEFAULT.replace("127.0.0.1:8080", listen);
            assert!(parse(&text).is_ok(), "{listen}");
        }
    }

    #[test]
    fn demo_password_refused_after_listen_override() {
        // `serve --listen` changes the address after parsing, then validates again.
        let mut config = Config::embedded().unwrap();
        config.server.listen = "[::]:8080".parse().unwrap();
        let err = config.validate().unwrap_err();
        assert_problem(&err.problems, &["loopback", "[::]:8080"]);
    }

    #[test]
    fn bad_hash_read_from_file_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "hash", "supersecretvalue\n", 0o600);
        let text = "[[vendor]]\nname = \"V\"\nuser = \"u\"\npasswordHashFile = \"hash\"\n";
        let err = Config::parse(text, "t.toml", Some(dir.path())).unwrap_err();
        assert_problem(&err.problems, &["argon2 PHC", "read from"]);
        assert!(!err.to_string().contains("supersecretvalue"));
    }
}
