//! `[portal]`: the customer portal on the main listener (docs/portal.md). licd's own
//! section: QLM's "Customer Self Help" site is a separate web application with its own
//! `web.config`.
//!
//! Off by default: the pages are public, so an admin turns them on knowingly, and gives the
//! address customers reach the server at, which the mailed links are built from.

use serde::Deserialize;

/// `[portal]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PortalConfig {
    /// Whether the portal's pages (and QLM's `QlmReleaseLicense.aspx` deep link) are served.
    pub enabled: bool,
    /// The address customers reach `{basePath}` at (`https://licences.example.com`, or with
    /// the path a proxy maps to it): mailed links are this followed by `/portal/…`. Required
    /// when the portal is on; the server cannot know it behind a proxy.
    pub public_url: String,
}

impl PortalConfig {
    /// `publicUrl` without a trailing slash, to which `/portal/…` is appended.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// Whether the portal's cookie must be `Secure`: customers reach it over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }
}

/// The problems of `[portal]`: a `publicUrl` that is not an http(s) URL with a host, and
/// none when the portal is on.
pub(super) fn problems(portal: &PortalConfig) -> Vec<String> {
    let place = "[portal]";
    let mut out = Vec::new();
    let url = portal.public_url.as_str();
    if url.is_empty() {
        if portal.enabled {
            out.push(format!(
                "{place}: `enabled = true` needs `publicUrl`, the address customers reach \
                 this server at (for example \"https://licences.example.com\"): the links the \
                 portal mails are built from it"
            ));
        }
        return out;
    }
    if let Some(problem) = super::webhooks::url_problem(url) {
        out.push(format!("{place}: `publicUrl` {problem}"));
    } else if url.contains(['?', '#']) {
        out.push(format!(
            "{place}: `publicUrl` \"{url}\" must not have a query or fragment: links append \
             /portal/… to it"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal(enabled: bool, url: &str) -> PortalConfig {
        PortalConfig {
            enabled,
            public_url: url.into(),
        }
    }

    #[test]
    fn the_default_is_off_without_a_public_url_and_has_no_problem() {
        assert_eq!(problems(&PortalConfig::default()), Vec::<String>::new());
        assert!(!PortalConfig::default().enabled);
    }

    #[test]
    fn an_enabled_portal_needs_a_public_url() {
        let found = problems(&portal(true, ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`publicUrl`"), "{found:?}");
        assert_eq!(
            problems(&portal(true, "https://licences.example.com/")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_public_url_must_be_http_or_https_with_a_host_and_no_query() {
        for bad in [
            "licences.example.com",
            "ftp://licences.example.com",
            "https://",
            "https://a b",
            "https://licences.example.com/?x=1",
            "https://licences.example.com/#top",
        ] {
            let found = problems(&portal(false, bad));
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert!(found[0].starts_with("[portal]: `publicUrl`"), "{found:?}");
        }
    }

    #[test]
    fn links_append_to_the_public_url_without_its_trailing_slash() {
        let p = portal(true, "https://Example.com/licd/");
        assert_eq!(p.public_base(), "https://Example.com/licd");
        assert!(p.secure_cookies());
        assert!(!portal(true, "http://127.0.0.1:8080").secure_cookies());
    }
}
