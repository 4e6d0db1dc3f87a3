//! PingHttp: health and version, no arguments, no gate.

use crate::VERSION;
use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_iso;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::response::{Field, Reply, Value};

/// What PingHttp declares to the guard.
pub const DECLARATION: Declaration = Declaration::new("PingHttp", AuthNeed::WhenCredentialsGiven);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = PingHttp::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    Ok(m.apply(ctx))
}

/// PingHttp takes no arguments.
pub struct PingHttp;

impl PingHttp {
    /// Nothing to parse: extra arguments are ignored like any unknown `is_*` argument.
    pub fn parse(_args: &Args) -> Result<Self, MethodError> {
        Ok(PingHttp)
    }

    /// The reply, with the legacy `<serverDate date="…">` element QLM clients also read.
    pub fn apply(self, ctx: &Ctx) -> Reply {
        let now = format_iso(ctx.now);
        let mut r = Reply::new(format!(
            "Successfully connected to License Server at {now} UTC. licd Version: {VERSION}"
        ));
        r.push(Field::text("serverDate", now.clone()));
        r.push(Field::text("serverVersion", VERSION));
        r.push(Field {
            name: "serverDate",
            value: Value::XmlAttrsOnly(vec![("date", now)]),
        });
        r
    }
}
