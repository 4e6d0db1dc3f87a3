//! The forms of the portal's pages: fields with their labels and hints, the form with its
//! CSRF token, and reading what was posted under the HTTP methods' argument rules.

use maud::{Markup, html};

use crate::config::Config;
use crate::errors::MethodError;
use crate::http::args::{ArgLimits, Args};
use crate::web::form::Form;
use crate::web::page::csrf_field;

/// The `is_*` fields of `form` named in `names`, trimmed, as the HTTP methods' arguments:
/// so that each is read under the same syntax rules (a computer ID's, a text's length) as
/// the method the page stands for.
pub fn arguments(form: &Form, names: &[&str], config: &Config) -> Result<Args, MethodError> {
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|n| form.get(n).map(|v| (*n, v)))
        .collect();
    let body = licd_plugin_api::form::encode(&pairs);
    let limits = ArgLimits {
        max_args: config.server.max_args,
        max_value_bytes: config.server.max_value_bytes,
    };
    Args::parse(None, Some(body.as_bytes()), limits)
}

/// A labelled text field (`kind`: `text` or `email`) with a hint read by screen readers.
pub fn field(
    name: &str,
    label: &str,
    hint: &str,
    value: &str,
    kind: &str,
    required: bool,
) -> Markup {
    let hint_id = format!("{name}-hint");
    html! {
        div {
            label for=(name) { (label) @if !required { " (optional)" } }
            span class="hint" id=(hint_id) { (hint) }
            input type=(kind) id=(name) name=(name) value=(value) required[required]
                autocomplete="off" autocapitalize="off" spellcheck="false"
                aria-describedby=(hint_id);
        }
    }
}

/// A form posting to `action` with its CSRF token and a submit button labelled `button`.
pub fn form(action: &str, token: &str, fields: Markup, button: &str) -> Markup {
    html! {
        form class="stack" method="post" action=(action) {
            (csrf_field(token))
            (fields)
            div { button type="submit" { (button) } }
        }
    }
}
