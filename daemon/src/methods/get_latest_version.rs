//! GetLatestVersionHttp: the latest version of a product, from its `[[product]]` table.

use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::{Ctx, product_not_found};
use crate::response::Reply;

/// What GetLatestVersionHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("GetLatestVersionHttp", AuthNeed::WhenCredentialsGiven)
        .gated_by(Gate::new("security.enableGetLatestVersionHttp", |s| {
            s.enable_get_latest_version_http
        }));

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = GetLatestVersion::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx)
}

/// The product asked about.
pub struct GetLatestVersion {
    product_id: u32,
    major: u32,
    minor: u32,
}

impl GetLatestVersion {
    /// `is_productid`, `is_majorversion`, `is_minorversion` are required (208).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let get = |name| {
            args.unsigned(name)?
                .ok_or_else(|| MethodError::missing(name))
        };
        Ok(GetLatestVersion {
            product_id: get("is_productid")?,
            major: get("is_majorversion")?,
            minor: get("is_minorversion")?,
        })
    }

    /// Reports the product's `latestVersion`, `latestVersionUrl` and `latestVersionNotes`.
    pub fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let product = ctx
            .config
            .product(self.product_id, self.major, self.minor)
            .ok_or_else(|| product_not_found(self.product_id, self.major, self.minor))?;
        let mut r = match &product.latest_version {
            Some(v) => Reply::new(format!("The latest version is {v}")),
            None => Reply::new(format!(
                "No latest version is published for {} {}.{}.",
                product.name, self.major, self.minor
            )),
        };
        r.push_opt("latestVersion", product.latest_version.clone());
        r.push_opt("latestVersionUrl", product.latest_version_url.clone());
        r.push_opt("latestVersionNotes", product.latest_version_notes.clone());
        Ok(r)
    }
}
