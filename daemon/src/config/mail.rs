//! `[mail]`: how licd reaches its SMTP server, and the templates of the mails it sends
//! (docs/mail.md).
//!
//! Mail is written to the store's outbox in the transaction of the change that causes it and
//! delivered by a sender task; these settings are read by that task when it sends, and by
//! the methods that render a template. The SMTP password is a secret: never logged, never
//! quoted in a problem, and may be read from `smtpPasswordFile`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::redacted;
use crate::mail::template::{self, MailTemplate};

/// `[mail]`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MailConfig {
    /// The SMTP server's host name or address; empty: mail is queued and kept, not sent.
    pub smtp_server: String,
    /// The SMTP server's port; 0: the usual port of `smtpSecurity` (587, 465, 25).
    pub smtp_port: u16,
    /// How the connection to the SMTP server is protected.
    pub smtp_security: SmtpSecurity,
    /// The user name licd logs in with; empty: no login.
    pub smtp_user: String,
    /// The password of `smtpUser`.
    pub smtp_password: Option<String>,
    /// A file holding `smtpPassword`.
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of every mail (`From:`), `Name <address>` or a bare address.
    pub from: String,
    /// The longest wait between two tries of one mail, in seconds.
    pub max_retry_interval_seconds: u64,
    /// `[mail.template.<name>]`: subject and body of each mail licd sends, replacing the
    /// built-in default of that name.
    pub template: BTreeMap<String, MailTemplate>,
}

/// `smtpSecurity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption; allowed only to a server on the loopback interface.
    None,
}

impl SmtpSecurity {
    /// The port this security is usually served on.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_server: String::new(),
            smtp_port: 0,
            smtp_security: SmtpSecurity::Starttls,
            smtp_user: String::new(),
            smtp_password: None,
            smtp_password_file: None,
            from: String::new(),
            max_retry_interval_seconds: 600,
            template: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_server", &self.smtp_server)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_password", &redacted(&self.smtp_password))
            .field("smtp_password_file", &self.smtp_password_file)
            .field("from", &self.from)
            .field(
                "max_retry_interval_seconds",
                &self.max_retry_interval_seconds,
            )
            .field("template", &self.template.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MailConfig {
    /// Whether an SMTP server is configured: without one, mail waits in the outbox.
    pub fn sends(&self) -> bool {
        !self.smtp_server.is_empty()
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        match self.smtp_port {
            0 => self.smtp_security.default_port(),
            port => port,
        }
    }

    /// The template `name`: the configured one, else the built-in default.
    ///
    /// `name` must be one of [`template::KNOWN`]; validation refuses a configuration naming
    /// any other, so the fallback to an empty template is never reached by a known name.
    pub fn template(&self, name: &str) -> MailTemplate {
        self.template
            .get(name)
            .cloned()
            .or_else(|| template::default_for(name))
            .unwrap_or_default()
    }
}

/// The problems of `[mail]` (after its secret was read), never quoting the password.
pub(super) fn problems(mail: &MailConfig) -> Vec<String> {
    let place = "[mail]";
    let mut out = Vec::new();
    for (name, t) in &mail.template {
        let Some(known) = template::placeholders_of(name) else {
            out.push(format!(
                "{place}: there is no mail template named `{name}`; licd sends {} (and key mails named `LicenseKeys…`)",
                template::KNOWN
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        for problem in t.problems(known) {
            out.push(format!("[mail.template.{name}]: {problem}"));
        }
    }
    if mail.max_retry_interval_seconds < 5 || mail.max_retry_interval_seconds > 86_400 {
        out.push(format!(
            "{place}: `maxRetryIntervalSeconds` is {}; it must be between 5 and 86400",
            mail.max_retry_interval_seconds
        ));
    }
    if !mail.sends() {
        return out;
    }
    if mail.smtp_server.trim() != mail.smtp_server || mail.smtp_server.contains('/') {
        out.push(format!(
            "{place}: `smtpServer` must be a host name or an address, without spaces, scheme \
             or path (for example \"smtp.example.com\")"
        ));
    }
    if mail.smtp_security == SmtpSecurity::None && !is_loopback(&mail.smtp_server) {
        out.push(format!(
            "{place}: `smtpSecurity = \"none\"` sends passwords and codes in clear text and is \
             allowed only to a server on this machine (localhost, 127.0.0.1, ::1); use \
             \"starttls\" or \"tls\" for `{}`",
            mail.smtp_server
        ));
    }
    if mail.from.is_empty() {
        out.push(format!(
            "{place}: `from` is empty; with `smtpServer` set, write the sender of licd's \
             mails, for example \"Licences <licences@example.com>\""
        ));
    } else if mail.from.parse::<lettre::message::Mailbox>().is_err() {
        out.push(format!(
            "{place}: `from` is not a mail address (\"{}\"); write \"Name <address>\" or a \
             bare address",
            mail.from
        ));
    }
    if mail.smtp_user.is_empty() && mail.smtp_password.is_some() {
        out.push(format!(
            "{place}: `smtpPassword` is set but `smtpUser` is empty; write the user it \
             belongs to"
        ));
    }
    if !mail.smtp_user.is_empty() && mail.smtp_password.is_none() {
        out.push(format!(
            "{place}: `smtpUser` is set but neither `smtpPassword` nor `smtpPasswordFile` is"
        ));
    }
    out
}

/// Whether `host` names this machine: only then may mail travel without TLS.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sending() -> MailConfig {
        MailConfig {
            smtp_server: "127.0.0.1".into(),
            smtp_security: SmtpSecurity::None,
            from: "Licences <licences@example.com>".into(),
            ..MailConfig::default()
        }
    }

    #[test]
    fn the_default_sends_nothing_and_has_no_problem() {
        let mail = MailConfig::default();
        assert!(!mail.sends());
        assert_eq!(problems(&mail), Vec::<String>::new());
    }

    #[test]
    fn clear_text_smtp_is_refused_unless_the_server_is_on_loopback() {
        assert_eq!(problems(&sending()), Vec::<String>::new());
        for host in ["localhost", "::1", "[::1]", "127.0.0.2"] {
            let mail = MailConfig {
                smtp_server: host.into(),
                ..sending()
            };
            assert_eq!(problems(&mail), Vec::<String>::new(), "{host}");
        }
        let remote = MailConfig {
            smtp_server: "smtp.example.com".into(),
            ..sending()
        };
        let found = problems(&remote);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("smtpSecurity = \"none\""), "{found:?}");
    }

    #[test]
    fn a_sender_needs_a_valid_from_address() {
        let empty = MailConfig {
            from: String::new(),
            ..sending()
        };
        assert!(problems(&empty)[0].contains("`from` is empty"));
        let bad = MailConfig {
            from: "not an address".into(),
            ..sending()
        };
        assert!(problems(&bad)[0].contains("not a mail address"));
    }

    #[test]
    fn a_user_needs_a_password_and_a_password_a_user() {
        let user = MailConfig {
            smtp_user: "licd".into(),
            ..sending()
        };
        assert!(problems(&user)[0].contains("neither `smtpPassword`"));
        let password = MailConfig {
            smtp_password: Some("secret-pw".into()),
            ..sending()
        };
        let found = problems(&password);
        assert!(found[0].contains("`smtpUser` is empty"));
        assert!(!found[0].contains("secret-pw"));
    }

    #[test]
    fn an_unknown_template_name_or_placeholder_is_a_problem() {
        let mut mail = MailConfig::default();
        mail.template
            .insert("Welcome".into(), MailTemplate::new("s", "b"));
        assert!(problems(&mail)[0].contains("no mail template named `Welcome`"));
        let mut mail = MailConfig::default();
        mail.template.insert(
            "AuthorizationCode".into(),
            MailTemplate::new("Code", "{authorisationCode}"),
        );
        let found = problems(&mail);
        assert!(
            found[0].starts_with("[mail.template.AuthorizationCode]"),
            "{found:?}"
        );
        assert!(found[0].contains("authorizationCode"), "{found:?}");
    }

    #[test]
    fn the_retry_interval_cap_is_bounded() {
        let mail = MailConfig {
            max_retry_interval_seconds: 1,
            ..MailConfig::default()
        };
        assert!(problems(&mail)[0].contains("maxRetryIntervalSeconds"));
    }

    #[test]
    fn the_port_defaults_to_the_security_s_usual_port() {
        let mut mail = sending();
        assert_eq!(mail.port(), 25);
        mail.smtp_security = SmtpSecurity::Tls;
        assert_eq!(mail.port(), 465);
        mail.smtp_port = 2525;
        assert_eq!(mail.port(), 2525);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mail = MailConfig {
            smtp_password: Some("hunter2-pw".into()),
            ..sending()
        };
        assert!(!format!("{mail:?}").contains("hunter2-pw"));
    }
}
