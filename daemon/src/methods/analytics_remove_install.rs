//! AnalyticsRemoveInstallHttp: records that an installation was uninstalled, and when. The
//! record stays (it is what the analytics count); a second removal keeps the first date.

use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_datetime;
use crate::license::install::InstallChange;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::analytics::{self, GATE};
use crate::response::{Field, Reply};
use crate::store::commands::ChangeInstall;

/// What AnalyticsRemoveInstallHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("AnalyticsRemoveInstallHttp", AuthNeed::WhenCredentialsGiven).gated_by(GATE);

/// `is_installid` (required).
pub fn parse(args: &Args) -> Result<Option<String>, MethodError> {
    analytics::parse_install_id(args)
}

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let id = parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    let command = ChangeInstall {
        id: analytics::known_form(id)?,
        change: InstallChange::Remove,
        now: ctx.now,
    };
    let install = analytics::run(ctx, command).await?;
    tracing::info!(
        method = "AnalyticsRemoveInstallHttp",
        install = analytics::logged_id(&install),
        client = %ctx.client,
        "installation removed"
    );
    let mut r = analytics::reply(
        "The installation has been recorded as uninstalled.",
        &install,
    );
    if let Some(at) = install.uninstalled_at {
        r.push(Field::text("uninstallDate", format_datetime(at)));
    }
    Ok(r)
}
