//! AnalyticsAddInstallHttp: registers an installation and hands back its install id, within
//! the `[analytics]` caps (past one: code 200 naming it, nothing stored).

use crate::auth::guard;
use crate::auth::throttle::Bucket;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::install::InstallFields;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::analytics::{self, GATE};
use crate::response::Reply;
use crate::store::commands::AddInstall;

/// What AnalyticsAddInstallHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("AnalyticsAddInstallHttp", AuthNeed::WhenCredentialsGiven).gated_by(GATE);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let fields = parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    apply(ctx, fields).await
}

/// The installation fields (`methods::analytics::parse_fields`); none is required.
pub fn parse(args: &Args) -> Result<InstallFields, MethodError> {
    analytics::parse_fields(args)
}

/// Stores the installation; the per-address cap counts the client's address (IPv6: its /64,
/// as the authentication throttle does).
async fn apply(ctx: &Ctx, fields: InstallFields) -> Result<Reply, MethodError> {
    let command = AddInstall {
        fields,
        address: Bucket::from(ctx.client).to_string(),
        now: ctx.now,
        caps: ctx.config.analytics.caps(),
    };
    let install = analytics::run(ctx, command).await?;
    tracing::info!(
        method = "AnalyticsAddInstallHttp",
        install = analytics::logged_id(&install),
        client = %ctx.client,
        "installation registered"
    );
    Ok(analytics::reply(
        "The installation has been registered.",
        &install,
    ))
}
