//! AnalyticsUpdateLastAccessedDateHttp: records that an installation runs now.
//!
//! A plain write on both backends, not a lazy one: the reply carries the date stored, and
//! unauthenticated writes are already bounded by the installs they can name.

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

/// What AnalyticsUpdateLastAccessedDateHttp declares to the guard.
pub const DECLARATION: Declaration = Declaration::new(
    "AnalyticsUpdateLastAccessedDateHttp",
    AuthNeed::WhenCredentialsGiven,
)
.gated_by(GATE);

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
        change: InstallChange::Access,
        now: ctx.now,
    };
    let install = analytics::run(ctx, command).await?;
    let mut r = analytics::reply(
        "The installation's last access date has been updated.",
        &install,
    );
    r.push(Field::text(
        "lastAccessedDate",
        format_datetime(install.last_accessed_at),
    ));
    Ok(r)
}
