//! What a plugin's `webhook` function answers: the event a store pushed and the licd method
//! calls it asks for, and the line format they cross the ABI in (`licd_plugin.h`).
//!
//! The format is text a C plugin can write with `snprintf` and a URL encoder: lines separated
//! by `\n`, each `application/x-www-form-urlencoded` (so a value holding a line break is
//! `%0A` and never splits a line). The first line is `event_id=…&event_type=…`; each further
//! line is one action, `method=<Method>&is_…=…`.

use crate::form;

/// The methods an action may call.
pub const ACTION_METHODS: [&str; 4] = [
    "GetActivationKey",
    "RenewSubscriptionHttp",
    "RevokeLicenseHttp",
    "UpdateUserInformation",
];

/// The longest event id, in bytes (the host remembers it for 30 days).
pub const MAX_EVENT_ID_BYTES: usize = 255;

/// The most actions one event may ask for.
pub const MAX_ACTIONS: usize = 100;

/// One store event, read from a genuine (signature-checked) body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookEvent {
    /// The store's id of the event (Stripe `id`, Paddle `event_id`, …): a repeat of the id is
    /// answered with the first outcome and changes nothing.
    pub id: String,
    /// The store's event type (`checkout.session.completed`, `orders/paid`, …), for the log.
    pub kind: String,
    /// What to do, in order; empty when the plugin ignores this type of event.
    pub actions: Vec<WebhookAction>,
}

/// One licd method call an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAction {
    /// One of [`ACTION_METHODS`].
    pub method: String,
    /// Its `is_*` arguments.
    pub args: Vec<(String, String)>,
}

impl WebhookAction {
    /// A call of `method` with `args`.
    pub fn new<N: Into<String>, V: Into<String>>(
        method: &str,
        args: impl IntoIterator<Item = (N, V)>,
    ) -> WebhookAction {
        WebhookAction {
            method: method.to_string(),
            args: args
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }

    /// The value of argument `name` (any case).
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a plugin's `webhook` refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRefusal {
    /// The signature is missing, wrong or outside the tolerance (`LICD_DENY`; the host
    /// answers 401 and records nothing).
    BadSignature(String),
    /// The signature holds but the body is no event the plugin can read
    /// (`LICD_E_BAD_EVENT`; the host answers 400).
    BadEvent(String),
}

/// The event as the lines of the ABI.
pub fn encode(event: &WebhookEvent) -> String {
    let mut out = form::encode(&[
        ("event_id", event.id.as_str()),
        ("event_type", event.kind.as_str()),
    ]);
    for action in &event.actions {
        out.push('\n');
        let mut pairs: Vec<(&str, &str)> = vec![("method", action.method.as_str())];
        pairs.extend(action.args.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        out.push_str(&form::encode(&pairs));
    }
    out
}

/// Reads the lines a plugin wrote.
///
/// # Errors
/// A sentence for the log: a line that is not a form, a missing or over-long event id, an
/// action without a method or naming one outside [`ACTION_METHODS`], an argument that is not
/// `is_*`, or more than [`MAX_ACTIONS`] actions.
pub fn parse(text: &str) -> Result<WebhookEvent, String> {
    let mut lines = text.split('\n');
    let head = form::parse(lines.next().unwrap_or("").as_bytes())
        .map_err(|e| format!("the event line is not a form ({e})"))?;
    let field = |name: &str| {
        head.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = field("event_id");
    if id.is_empty() || id.len() > MAX_EVENT_ID_BYTES || id.chars().any(char::is_control) {
        return Err(format!(
            "the event id is empty, longer than {MAX_EVENT_ID_BYTES} bytes or holds a control character"
        ));
    }
    let mut event = WebhookEvent {
        id,
        kind: field("event_type"),
        actions: Vec::new(),
    };
    for (n, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let pairs = form::parse(line.as_bytes())
            .map_err(|e| format!("action {} is not a form ({e})", n + 1))?;
        let mut method = None;
        let mut args = Vec::new();
        for (name, value) in pairs {
            if name == "method" && method.is_none() {
                method = Some(value);
            } else if name.len() > 3 && name[..3].eq_ignore_ascii_case("is_") {
                args.push((name, value));
            } else {
                return Err(format!(
                    "action {} has the argument {name:?}; actions take is_* arguments only",
                    n + 1
                ));
            }
        }
        let method = method.ok_or_else(|| format!("action {} names no method", n + 1))?;
        if !ACTION_METHODS.contains(&method.as_str()) {
            return Err(format!(
                "action {} calls {method:?}; a webhook action calls one of {}",
                n + 1,
                ACTION_METHODS.join(", ")
            ));
        }
        event.actions.push(WebhookAction { method, args });
        if event.actions.len() > MAX_ACTIONS {
            return Err(format!(
                "the event asks for more than {MAX_ACTIONS} actions"
            ));
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_survives_the_line_format_even_with_line_breaks_in_values() {
        let event = WebhookEvent {
            id: "evt_1".into(),
            kind: "checkout.session.completed".into(),
            actions: vec![
                WebhookAction::new(
                    "GetActivationKey",
                    [("is_productid", "1"), ("is_email", "a+b@example.com")],
                ),
                WebhookAction::new("UpdateUserInformation", [("is_notes", "two\nlines&=")]),
            ],
        };
        let text = encode(&event);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(parse(&text), Ok(event));
    }

    #[test]
    fn an_ignored_event_has_no_actions() {
        let text = encode(&WebhookEvent {
            id: "evt_2".into(),
            kind: "customer.created".into(),
            actions: vec![],
        });
        let event = parse(&text).unwrap();
        assert!(event.actions.is_empty());
    }

    #[test]
    fn malformed_lines_unknown_methods_and_foreign_arguments_are_refused() {
        for bad in [
            "",
            "event_type=x",
            "event_id=%0A",
            "event_id=e\nis_productid=1",
            "event_id=e\nmethod=DeleteEverything",
            "event_id=e\nmethod=GetActivationKey&vendor=other",
            "event_id=e\nmethod=GetActivationKey&is_x=%zz",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let many = format!(
            "event_id=e{}",
            "\nmethod=RevokeLicenseHttp&is_orderid=1".repeat(MAX_ACTIONS + 1)
        );
        assert!(parse(&many).is_err());
    }
}
