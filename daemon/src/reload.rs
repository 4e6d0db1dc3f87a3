//! SIGHUP: re-read the configuration file and put it in force without a restart
//! (spec/config.md, Reload).
//!
//! The whole file is validated first; a file with any problem is refused, every reason is
//! logged, and the running configuration stays. Settings that only a restart can change
//! (`listen`, `dataDir`, `cacheSizeMiB`, the plugin set) keep their running values and a
//! warning names them; everything else (products, vendors, server properties, limits, log
//! level and format) applies to every request that starts after the swap.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::logging::LogControl;
use crate::state::AppState;

/// Where the configuration comes from: the file (or the embedded default) and the command
/// line's overrides, applied again at every reload so that `--listen` and `--data-dir`
/// keep winning over the file.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// `--config`; `None`: the embedded default.
    pub path: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

impl ConfigSource {
    /// Reads, overrides and validates the whole configuration.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.path.as_deref())?;
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        if let Some(dir) = &self.data_dir {
            config.server.data_dir = dir.clone();
        }
        // Overrides can change what is valid (the demo password on a public address).
        config.validate()?;
        Ok(config)
    }
}

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new configuration is in force.
    Applied {
        /// Settings that changed in the file but keep their running values until a
        /// restart, by their TOML names.
        kept: Vec<&'static str>,
    },
    /// The file was refused; the running configuration stays.
    Refused(ConfigError),
}

/// Re-reads `source` and, if it is valid, swaps it into `state` (and applies its log
/// settings to `logs`). Logs the outcome; never fails the server.
pub fn reload(state: &AppState, source: &ConfigSource, logs: Option<&LogControl>) -> ReloadOutcome {
    let started = Instant::now();
    let outcome = prepare(&state.config(), source);
    match &outcome {
        Ok((newer, kept)) => {
            if !kept.is_empty() {
                tracing::warn!(
                    settings = %kept.join(", "),
                    "configuration reload: these settings need a restart and keep their running values"
                );
            }
            for warning in newer.warnings() {
                tracing::warn!("{warning}");
            }
            if let Some(logs) = logs
                && let Err(e) = logs.apply(newer.server.log_level, newer.server.log_format)
            {
                tracing::warn!(error = %e, "configuration reload: the log settings stay");
            }
        }
        Err(e) => {
            for problem in &e.problems {
                tracing::error!("configuration reload refused: {problem}");
            }
            tracing::error!(
                problems = e.problems.len(),
                "configuration reload refused; the running configuration stays"
            );
        }
    }
    match outcome {
        Ok((newer, kept)) => {
            let (products, vendors) = (newer.products.len(), newer.vendors.len());
            if let Some(tls) = &newer.server.tls {
                let before = state
                    .config()
                    .server
                    .tls
                    .as_ref()
                    .map(|t| t.fingerprint.clone());
                let changed = before.as_deref() != Some(tls.fingerprint.as_str());
                tracing::info!(
                    certificate = %tls.cert_path.display(),
                    sha256 = %tls.fingerprint,
                    changed,
                    "TLS certificate for new connections"
                );
            }
            state.replace_config(newer);
            tracing::info!(
                products,
                vendors,
                elapsed_us = started.elapsed().as_micros() as u64,
                "configuration reloaded"
            );
            ReloadOutcome::Applied { kept }
        }
        Err(e) => ReloadOutcome::Refused(e),
    }
}

/// The configuration to put in force after `running`, and the restart-only settings it
/// wanted to change; or every problem that refuses it.
fn prepare(
    running: &Config,
    source: &ConfigSource,
) -> Result<(Config, Vec<&'static str>), ConfigError> {
    let mut newer = source.load()?;
    let mut kept = running.settings_needing_restart(&newer);
    // Turning TLS on or off would change what clients must speak on a bound port.
    if running.server.tls.is_some() != newer.server.tls.is_some() {
        kept.push("server.tlsCertFile and server.tlsKeyFile (TLS on or off)");
        newer.server.tls_cert_file = running.server.tls_cert_file.clone();
        newer.server.tls_key_file = running.server.tls_key_file.clone();
        newer.server.tls = running.server.tls.clone();
    }
    kept.extend(running.console.keep_restart_only(&mut newer.console));
    newer.server.listen = running.server.listen;
    newer.server.data_dir = running.server.data_dir.clone();
    newer.server.cache_size_mib = running.server.cache_size_mib;
    newer.plugins = running.plugins.clone();
    // Keeping the running plugins can break the new file's vendors (one naming a plugin
    // that only the new file defines): check the result as a whole again.
    newer.validate()?;
    Ok((newer, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &tempfile::TempDir, toml: &str) -> ConfigSource {
        let path = dir.path().join("licd.toml");
        std::fs::write(&path, toml).expect("write");
        ConfigSource {
            path: Some(path),
            ..ConfigSource::default()
        }
    }

    #[test]
    fn restart_only_settings_keep_their_running_values() {
        let dir = tempfile::tempdir().expect("dir");
        let running = Config::parse("[server]\ncacheSizeMiB = 64\n", "a", None).expect("valid");
        let src = source(
            &dir,
            "[server]\ncacheSizeMiB = 8\nlisten = \"127.0.0.1:9999\"\nmaxArgs = 10\n",
        );
        let (newer, kept) = prepare(&running, &src).expect("valid");
        assert_eq!(kept, vec!["server.listen", "server.cacheSizeMiB"]);
        assert_eq!(newer.server.cache_size_mib, 64);
        assert_eq!(newer.server.listen, running.server.listen);
        assert_eq!(newer.server.max_args, 10, "other settings apply");
    }

    #[test]
    fn command_line_overrides_apply_to_the_reloaded_file() {
        let dir = tempfile::tempdir().expect("dir");
        let mut src = source(&dir, "[server]\nlisten = \"127.0.0.1:9999\"\n");
        src.listen = Some("127.0.0.1:0".parse().expect("addr"));
        let mut running = Config::parse("", "a", None).expect("valid");
        running.server.listen = "127.0.0.1:0".parse().expect("addr");
        let (_, kept) = prepare(&running, &src).expect("valid");
        assert!(kept.is_empty(), "{kept:?}");
    }

    #[test]
    fn turning_tls_on_or_off_waits_for_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).expect("write");
        std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem())
            .expect("write");
        let tls = "[server]\ntlsCertFile = \"cert.pem\"\ntlsKeyFile = \"key.pem\"\n";
        let plain = Config::parse("", "a", None).expect("valid");
        let (newer, kept) = prepare(&plain, &source(&dir, tls)).expect("valid");
        assert!(newer.server.tls.is_none(), "a plain server stays plain");
        assert!(kept.iter().any(|k| k.contains("tlsCertFile")), "{kept:?}");

        let running = source(&dir, tls).load().expect("valid");
        let (newer, kept) = prepare(&running, &source(&dir, "")).expect("valid");
        assert!(newer.server.tls.is_some(), "a TLS server keeps TLS");
        assert!(kept.iter().any(|k| k.contains("tlsCertFile")), "{kept:?}");

        let (newer, kept) = prepare(&running, &source(&dir, tls)).expect("valid");
        assert!(newer.server.tls.is_some() && kept.is_empty(), "{kept:?}");
    }

    #[test]
    fn the_console_keeps_its_address_and_listener_until_a_restart_but_users_apply_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let hash = crate::auth::password::hash_password("pw").expect("hash");
        let user = |name: &str, role: &str| {
            format!(
                "[[console.user]]\nname = \"{name}\"\npasswordHash = \"{hash}\"\nrole = \"{role}\"\n"
            )
        };
        let running = source(&dir, &format!("[console]\n{}", user("ann", "viewer")))
            .load()
            .expect("valid");
        let moved = format!(
            "[console]\nlisten = \"127.0.0.1:9191\"\nsessionIdleMinutes = 5\n{}",
            user("ann", "admin")
        );
        let (newer, kept) = prepare(&running, &source(&dir, &moved)).expect("valid");
        assert_eq!(kept, vec!["console.listen"]);
        assert_eq!(newer.console.listen, running.console.listen);
        assert_eq!(
            newer.console.user("ann").map(|u| u.role),
            Some(crate::config::Role::Admin)
        );
        assert_eq!(newer.console.lifetime().idle_secs, 300);
        let (newer, kept) = prepare(&running, &source(&dir, "")).expect("valid");
        assert!(kept.iter().any(|k| k.contains("console.user")), "{kept:?}");
        assert!(
            newer.console.user("ann").is_none(),
            "a removed user is gone at once"
        );
    }

    #[test]
    fn a_file_with_a_problem_is_refused_with_every_reason() {
        let dir = tempfile::tempdir().expect("dir");
        let running = Config::parse("", "a", None).expect("valid");
        let src = source(&dir, "[server]\nmaxArgs = 0\nbogus = 1\n");
        let e = prepare(&running, &src).expect_err("invalid");
        assert!(e.problems.len() >= 2, "{:?}", e.problems);
    }
}
