//! The layout every page shares: a document with a skip link, a header naming the site and
//! its navigation, and the page's main content. Accessible by construction: one `<h1>` per
//! page (the caller's), `lang`, a viewport for phones, and the stylesheet from this server.

use maud::{DOCTYPE, Markup, html};

/// One page's frame.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// The `<title>`: what the page is, then the site.
    pub title: &'a str,
    /// The site's name in the header ("licd customer portal", "licd console").
    pub site: &'a str,
    /// Where the stylesheet is served (e.g. `/portal/licd.css`).
    pub stylesheet_href: &'a str,
    /// The header's navigation links (may be empty).
    pub nav: Markup,
}

impl Page<'_> {
    /// The whole document with `main` as its content.
    pub fn render(self, main: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (self.title) " · " (self.site) }
                    link rel="stylesheet" href=(self.stylesheet_href);
                }
                body {
                    a class="skip" href="#main" { "Skip to content" }
                    header class="site" {
                        span class="site-name" { (self.site) }
                        nav aria-label="Main" { (self.nav) }
                    }
                    main id="main" { (main) }
                }
            }
        }
    }
}

/// A notice box: `kind` is `ok`, `warn` or `error` (the colour; the words say it too).
pub fn notice(kind: &str, heading: &str, text: Markup) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! {
        section class={ "notice " (kind) } role=(role) {
            h2 { (heading) }
            (text)
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(crate::web::csrf::FIELD) value=(token); }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_what_it_is_given_and_links_the_local_stylesheet() {
        let doc = Page {
            title: "<script>",
            site: "licd",
            stylesheet_href: "/portal/licd.css",
            nav: html! {},
        }
        .render(html! { h1 { "Hi" } });
        let s = doc.into_string();
        assert!(s.starts_with("<!DOCTYPE html>"));
        assert!(s.contains("&lt;script&gt;"));
        assert!(!s.contains("<script>"));
        assert!(s.contains(r#"href="/portal/licd.css""#));
        assert!(s.contains(r#"<main id="main"><h1>Hi</h1></main>"#));
    }
}
