//! What every console action shares: it acts for a configured vendor through the HTTP
//! methods' own code (as the admin socket does, `admin/keys.rs`), with a method context
//! carrying the staff user's address, and it names the staff user in the history.
//!
//! Like the admin socket, the console is not held to the vendor's `methods` and `scope`
//! nor to the `security.enable…` gates of the public methods: those guard the HTTP methods
//! from the network, and the console has its own users and roles. Every licence rule
//! (seats, release limits, the prevent-deactivation period, verification codes) applies.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::html;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::Visit;
use crate::config::{Config, Vendor};
use crate::errors::MethodError;
use crate::http::args::{ArgLimits, Args};
use crate::license::keys::ActivationKey;
use crate::methods::update_license::run_edit;
use crate::methods::{Ctx, RawRequest};
use crate::store::Command;
use crate::store::commands::Edit;
use crate::web::form::Form;
use crate::web::page::notice;

/// How long a console change may wait for the store.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// The history's "who asked" for a staff user (`HistoryEntry::vendor`).
pub fn history_name(user: &str) -> String {
    format!("console user {user}")
}

/// A method context for a console action: the staff user's address, now, and the
/// command deadline.
pub fn method_ctx(visit: &Visit) -> Ctx {
    Ctx {
        state: visit.state.clone(),
        config: visit.config.clone(),
        client: visit.staff.client,
        now: visit.now,
        deadline: Instant::now() + COMMAND_DEADLINE,
        raw: RawRequest::default(),
        plugin_passed: OnceLock::new(),
        replay: Default::default(),
    }
}

/// The vendor a console action acts for: `name` when configured (a licence's own vendor),
/// else the one the admin socket would use (`defaultCommerceProvider`, or the only vendor).
pub fn vendor_for(config: &Config, name: Option<&str>) -> Result<Vendor, String> {
    if let Some(n) = name
        && config.vendor(n).is_some()
    {
        return crate::admin::keys::acting_vendor(config, Some(n)).map_err(|r| r.message);
    }
    crate::admin::keys::acting_vendor(config, None).map_err(|r| {
        format!(
            "{}; the console acts for a configured vendor (set [options] defaultCommerceProvider)",
            r.message
        )
    })
}

/// The method arguments of a form: its `is_*` fields that are not empty (an empty field
/// means "not given", never "clear"), plus `extra`.
pub fn method_args(
    form: &Form,
    names: &[&str],
    extra: &[(&str, &str)],
    config: &Config,
) -> Result<Args, MethodError> {
    let mut pairs: Vec<String> = Vec::new();
    let mut push = |k: &str, v: &str| {
        pairs.push(format!(
            "{}={}",
            utf8_percent_encode(k, NON_ALPHANUMERIC),
            utf8_percent_encode(v, NON_ALPHANUMERIC)
        ));
    };
    for name in names {
        if let Some(v) = form.get(name).filter(|v| !v.is_empty()) {
            push(name, v);
        }
    }
    for (k, v) in extra {
        push(k, v);
    }
    let limits = ArgLimits {
        max_args: config.server.max_args,
        max_value_bytes: config.server.max_value_bytes,
    };
    Args::parse(None, Some(pairs.join("&").as_bytes()), limits)
}

/// The page of a refused action: the rule's sentence and code, 422, nothing changed.
pub fn refused(
    visit: &Visit,
    key: Option<&ActivationKey>,
    what: &str,
    e: &MethodError,
) -> Response<Full<Bytes>> {
    tracing::info!(
        console_user = %visit.staff.name,
        client = %visit.staff.client,
        code = e.code.number(),
        "console: {what} refused"
    );
    let back = key
        .map(super::licence_href)
        .unwrap_or_else(|| "/".to_string());
    let status = if e.status.is_server_error() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let heading = format!("{what}: refused");
    visit.page(
        status,
        &heading,
        html! {
            h1 { (heading) }
            (notice("error", "Nothing was changed", html! {
                p { (e.message) " (code " (e.code.number()) ")" }
            }))
            p { a href=(back) { "Back" } }
        },
    )
}

/// After a change: back to the licence's page, which shows what was done.
pub fn done(key: &ActivationKey, what: &str) -> Response<Full<Bytes>> {
    crate::web::reply::redirect(&format!("{}?done={what}", super::licence_href(key)))
}

/// The log line of a console change; the key is masked.
pub fn log_change(visit: &Visit, key: &ActivationKey, what: &str) {
    tracing::info!(
        console_user = %visit.staff.name,
        client = %visit.staff.client,
        key = %crate::methods::masked(key),
        "console: {what}"
    );
}

/// Runs a store command for a console action, waiting at most the command deadline.
pub async fn run<C: Command>(visit: &Visit, command: C) -> Result<C::Done, MethodError> {
    Ok(visit
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await?)
}

/// What an edit of a licence is called in its refusal, its log line and its notice.
pub struct EditWords {
    /// "Renewing the licence", for a refusal's heading.
    pub doing: &'static str,
    /// "licence renewed", for the log.
    pub logged: &'static str,
    /// "renewed": the licence page's notice (`?done=`).
    pub done: &'static str,
}

/// An edit of the licence `key` by a console user: `build` makes the method's command
/// (UpdateLicenseHttp's, RevokeLicenseHttp's, …) for the acting vendor; its history line
/// names the staff user (always written), then the licence page shows what was done.
pub async fn edit_licence(
    visit: &Visit,
    key: &ActivationKey,
    words: EditWords,
    build: impl FnOnce(&Ctx, &Vendor) -> Result<Edit, MethodError>,
) -> Response<Full<Bytes>> {
    let result = async {
        let vendor = vendor_for(&visit.config, None).map_err(MethodError::internal)?;
        let ctx = method_ctx(visit);
        let mut edit = build(&ctx, &vendor)?;
        edit.vendor = Some(visit.history_name());
        edit.log_history = true;
        run_edit(&ctx, edit).await
    }
    .await;
    match result {
        Ok(_) => {
            log_change(visit, key, words.logged);
            done(key, words.done)
        }
        Err(e) => refused(visit, Some(key), words.doing, &e),
    }
}
