//! Mail templates: a subject and a body with `{placeholders}` (docs/mail.md).
//!
//! A template is rendered when its mail is queued, so a mail waiting in the outbox does not
//! change when the configuration does. `{{` and `}}` write a literal brace. Each template
//! name has a fixed set of placeholders, and a configured template naming any other is
//! refused when the configuration is loaded, so a typo is found by `licd check-config`, not
//! by a customer reading `{authorisationCode}` in a mail.

use serde::Deserialize;

/// The mails licd sends, by QLM's template name where QLM has one.
pub const KNOWN: &[&str] = &[AUTHORIZATION_CODE, LICENSE_KEYS, PORTAL_LINK, TEST];

/// The mail carrying the keys a store's webhook created to their buyer. A webhook's
/// `is_emailtemplate` may name another template, configured as `[mail.template.<name>]` with
/// the same placeholders (one per product, say).
pub const LICENSE_KEYS: &str = "LicenseKeys";

/// Whether `name` is a key mail's template: [`LICENSE_KEYS`] or a vendor's own, named
/// `LicenseKeys…` (`LicenseKeysPro`), so that a typo in another template's name is still
/// found by `licd check-config`.
pub fn is_key_mail(name: &str) -> bool {
    name.starts_with(LICENSE_KEYS)
}

/// The placeholders of a key mail ([`LICENSE_KEYS`] and the vendor's own templates).
pub const KEY_MAIL_PLACEHOLDERS: &[&str] = &[
    "keys",
    "quantity",
    "productName",
    "customerName",
    "email",
    "orderId",
];

/// The mail carrying a code of activation by authorization code
/// (RequestAuthorizationCodeForActivationHttp).
pub const AUTHORIZATION_CODE: &str = "AuthorizationCode";

/// The mail carrying the portal's single-use link to a licence's page (docs/portal.md, "My
/// licence"), to the licence's customer.
pub const PORTAL_LINK: &str = "PortalLink";

/// The mail of `licd mail test`: proves the SMTP settings work.
pub const TEST: &str = "Test";

/// The placeholders of template `name`, or `None` for a name licd does not send.
pub fn placeholders_of(name: &str) -> Option<&'static [&'static str]> {
    match name {
        AUTHORIZATION_CODE => Some(&[
            "authorizationCode",
            "expiryMinutes",
            "productName",
            "customerName",
            "email",
            "computerId",
        ]),
        PORTAL_LINK => Some(&[
            "link",
            "expiryMinutes",
            "activationKey",
            "productName",
            "customerName",
            "email",
        ]),
        TEST => Some(&["email", "serverName"]),
        LICENSE_KEYS => Some(KEY_MAIL_PLACEHOLDERS),
        _ if is_key_mail(name) => Some(KEY_MAIL_PLACEHOLDERS),
        _ => None,
    }
}

/// The built-in template `name`, used when `[mail.template.<name>]` is not configured.
pub fn default_for(name: &str) -> Option<MailTemplate> {
    match name {
        AUTHORIZATION_CODE => Some(MailTemplate::new(
            "Your authorization code for {productName}",
            "Hello {customerName},\n\
             \n\
             your authorization code to activate {productName} is:\n\
             \n\
             {authorizationCode}\n\
             \n\
             Enter it in the application within {expiryMinutes} minutes. It works once.\n\
             If you did not ask for it, you can ignore this mail.\n",
        )),
        LICENSE_KEYS => Some(MailTemplate::new(
            "Your licence key for {productName}",
            "Hello {customerName},\n\
             \n\
             thank you for your order {orderId}. Your licence key for {productName}:\n\
             \n\
             {keys}\n\
             \n\
             Enter it in the application to activate it.\n",
        )),
        PORTAL_LINK => Some(MailTemplate::new(
            "Your licence for {productName}",
            "Hello {customerName},\n\
             \n\
             this link opens the page of your licence {activationKey} for {productName},\n\
             where you can see its activations and release one:\n\
             \n\
             {link}\n\
             \n\
             It works for {expiryMinutes} minutes and for one release.\n\
             If you did not ask for it, you can ignore this mail: nothing changes unless the\n\
             link is used.\n",
        )),
        TEST => Some(MailTemplate::new(
            "licd test mail from {serverName}",
            "This mail was sent by `licd mail test` to {email}: the SMTP settings of \
             {serverName} work.\n",
        )),
        _ => None,
    }
}

/// `[mail.template.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailTemplate {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl MailTemplate {
    /// A template of `subject` and `body`.
    pub fn new(subject: &str, body: &str) -> MailTemplate {
        MailTemplate {
            subject: subject.to_owned(),
            body: body.to_owned(),
        }
    }

    /// What is wrong with this template when its placeholders must be among `known`.
    pub fn problems(&self, known: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for (part, text) in [("subject", &self.subject), ("body", &self.body)] {
            if let Err(problem) = parse(text, |name| {
                if known.contains(&name) {
                    Ok(())
                } else {
                    Err(format!(
                        "`{part}` names the placeholder {{{name}}}, which this template does not \
                         have; it has {}",
                        known
                            .iter()
                            .map(|k| format!("{{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }) {
                out.push(problem.replace("{part}", part));
            }
        }
        if self.subject.contains(['\r', '\n']) {
            out.push("`subject` must be one line".to_owned());
        }
        out
    }

    /// The subject and body with each placeholder replaced by its value in `values`; a
    /// placeholder without a value is left empty. Line breaks in values are removed from the
    /// subject, so that no value can add a header.
    pub fn render(&self, values: &[(&str, &str)]) -> (String, String) {
        let subject = render(&self.subject, values).replace(['\r', '\n'], " ");
        (subject, render(&self.body, values))
    }
}

/// `text` with its placeholders replaced; a malformed placeholder is written as it stands
/// (validation refuses one in a configured template, and the defaults have none).
fn render(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let result = parse_into(text, &mut out, |name, out| {
        if let Some((_, value)) = values.iter().find(|(k, _)| *k == name) {
            out.push_str(value);
        }
        Ok(())
    });
    match result {
        Ok(()) => out,
        Err(_) => text.to_owned(),
    }
}

/// Walks `text`, calling `placeholder` for each `{name}`.
fn parse(
    text: &str,
    mut placeholder: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let mut sink = String::new();
    parse_into(text, &mut sink, |name, _| placeholder(name))
}

/// Copies `text` into `out`, unescaping `{{`/`}}` and calling `placeholder` for each `{name}`.
fn parse_into(
    text: &str,
    out: &mut String,
    mut placeholder: impl FnMut(&str, &mut String) -> Result<(), String>,
) -> Result<(), String> {
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err("`{part}` has a `}` that closes nothing; write `}}` for a brace".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err(
                    "`{part}` has a `{` that is never closed; write `{{` for a brace".into(),
                );
            };
            let name = &tail[1..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "`{{part}}` has `{{{name}}}`, which is not a placeholder (letters and digits \
                     in braces); write `{{{{` for a brace"
                ));
            }
            placeholder(name, out)?;
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_double_braces_are_literal() {
        let t = MailTemplate::new("Code for {productName}", "{{code}} = {authorizationCode}!");
        let (subject, body) =
            t.render(&[("productName", "Editor"), ("authorizationCode", "042317")]);
        assert_eq!(subject, "Code for Editor");
        assert_eq!(body, "{code} = 042317!");
    }

    #[test]
    fn a_value_cannot_break_the_subject_into_a_second_header() {
        let t = MailTemplate::new("For {customerName}", "");
        let (subject, _) = t.render(&[("customerName", "Eve\r\nBcc: all@example.com")]);
        assert!(!subject.contains(['\r', '\n']), "{subject:?}");
    }

    #[test]
    fn every_default_template_uses_only_its_own_placeholders() {
        for name in KNOWN {
            let t = default_for(name).unwrap();
            assert_eq!(
                t.problems(placeholders_of(name).unwrap()),
                Vec::<String>::new(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_default_authorization_code_mail_shows_the_code_on_a_line_of_its_own() {
        let t = default_for(AUTHORIZATION_CODE).unwrap();
        let (_, body) = t.render(&[("authorizationCode", "123456")]);
        assert!(body.lines().any(|line| line == "123456"), "{body}");
    }

    #[test]
    fn malformed_and_unknown_placeholders_are_problems_naming_the_part() {
        let known = &["email"];
        let unknown = MailTemplate::new("{mail}", "");
        let found = unknown.problems(known);
        assert!(
            found[0].contains("`subject` names the placeholder {mail}"),
            "{found:?}"
        );
        let unclosed = MailTemplate::new("", "Hello {email");
        assert!(unclosed.problems(known)[0].contains("`body` has a `{` that is never closed"));
        let stray = MailTemplate::new("", "a } b");
        assert!(stray.problems(known)[0].contains("`body` has a `}`"));
        let spaced = MailTemplate::new("", "{ email }");
        assert!(spaced.problems(known)[0].contains("not a placeholder"));
        let two_lines = MailTemplate::new("a\nb", "");
        assert!(two_lines.problems(known)[0].contains("one line"));
    }
}
