//! What the four analytics methods share (QLM's "Publishing Analytics"): the gate, the
//! installation fields they read, the install id they name, and the store call.
//!
//! Installs need no credentials (`security.enablePublishAnalyticsApi` turns them on); what
//! they may store is bounded by `[analytics]` (docs/analytics.md).

use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::install::{Install, InstallFields, install_not_found, normalize_install_id};
use crate::method_decl::Gate;
use crate::methods::Ctx;
use crate::response::{Field, Reply};
use crate::store::commands::Command;

/// The gate of every analytics method.
pub const GATE: Gate = Gate::new("security.enablePublishAnalyticsApi", |s| {
    s.enable_publish_analytics_api
});

/// Characters of a text field (versions, names, keys).
pub const MAX_TEXT_CHARS: usize = 255;

/// Characters of a custom data field.
pub const MAX_CUSTOM_DATA_CHARS: usize = 1024;

/// The installation fields of AnalyticsAddInstallHttp and AnalyticsUpdateInstallHttp; none is
/// required, each is checked for its form and length (code 5).
pub fn parse_fields(args: &Args) -> Result<InstallFields, MethodError> {
    let text = |name| -> Result<Option<String>, MethodError> {
        Ok(args.text_max(name, MAX_TEXT_CHARS)?.map(str::to_string))
    };
    let custom = |name| -> Result<Option<String>, MethodError> {
        Ok(args
            .text_max(name, MAX_CUSTOM_DATA_CHARS)?
            .map(str::to_string))
    };
    Ok(InstallFields {
        software_version: text("is_swversion")?,
        os_version: text("is_osversion")?,
        computer_name: text("is_computer_name")?,
        computer_id: args.computer_id("is_computerid")?,
        activation_key: text("is_avkey")?,
        computer_key: text("is_pckey")?,
        trial: args.boolean("is_trial")?,
        product_name: text("is_productname")?,
        major_version: args.unsigned("is_majorversion")?,
        minor_version: args.unsigned("is_minorversion")?,
        custom_data1: custom("is_customdata1")?,
        custom_data2: custom("is_customdata2")?,
        custom_data3: custom("is_customdata3")?,
    })
}

/// The install id a call names (`is_installid`, required: 208), normalized; `None` for one of
/// another form, which names no install and is not looked up (203 after authentication, as a
/// malformed activation key).
pub fn parse_install_id(args: &Args) -> Result<Option<String>, MethodError> {
    Ok(normalize_install_id(args.required("is_installid")?))
}

/// The install id parsed by [`parse_install_id`], or code 203.
pub fn known_form(id: Option<String>) -> Result<String, MethodError> {
    id.ok_or_else(|| install_not_found().into())
}

/// Runs an analytics command in the store.
pub async fn run<C: Command<Done = Install>>(
    ctx: &Ctx,
    command: C,
) -> Result<Install, MethodError> {
    Ok(ctx.state.store.run(command, ctx.deadline).await?)
}

/// A reply with `result` and the `<installID>` of `install`.
pub fn reply(result: &str, install: &Install) -> Reply {
    let mut r = Reply::new(result);
    r.push(Field::text("installID", install.id.clone()));
    r
}

/// The first characters of an install id, for logs: enough to tell installs apart, too few
/// to act on one (the id is all an unauthenticated caller needs).
pub fn logged_id(install: &Install) -> &str {
    install.id.get(..8).unwrap_or("")
}
