//! AnalyticsUpdateInstallHttp: replaces what an installation reported with the fields sent.

use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::install::{InstallChange, InstallFields};
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::analytics::{self, GATE};
use crate::response::Reply;
use crate::store::commands::ChangeInstall;

/// What AnalyticsUpdateInstallHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("AnalyticsUpdateInstallHttp", AuthNeed::WhenCredentialsGiven).gated_by(GATE);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let id = analytics::parse_install_id(args)?;
    let fields = analytics::parse_fields(args)?;
    guard::authenticate(ctx, call, args).await?;
    let command = ChangeInstall {
        id: analytics::known_form(id)?,
        change: InstallChange::Update(Box::new(fields)),
        now: ctx.now,
    };
    let install = analytics::run(ctx, command).await?;
    tracing::info!(
        method = "AnalyticsUpdateInstallHttp",
        install = analytics::logged_id(&install),
        client = %ctx.client,
        "installation updated"
    );
    Ok(analytics::reply(
        "The installation has been updated.",
        &install,
    ))
}

/// `is_installid` (required) and the installation fields, as AnalyticsAddInstallHttp reads
/// them.
pub fn parse(args: &Args) -> Result<(Option<String>, InstallFields), MethodError> {
    Ok((
        analytics::parse_install_id(args)?,
        analytics::parse_fields(args)?,
    ))
}
