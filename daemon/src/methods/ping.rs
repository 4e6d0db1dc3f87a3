//! PingHttp: health and version, no arguments, no gate.

use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_iso;
use crate::methods::Ctx;
use crate::response::{Field, Reply, Value};

/// The licd version reported by PingHttp and the start-up line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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
