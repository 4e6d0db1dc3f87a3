//! GetLatestVersionHttp: the latest version of a product, from its `[[product]]` table.

use crate::errors::MethodError;
use crate::http::args::Args;
use crate::methods::{Ctx, product_not_found, u32_arg};
use crate::response::Reply;

/// The product asked about.
pub struct GetLatestVersion {
    product_id: u32,
    major: u32,
    minor: u32,
}

impl GetLatestVersion {
    /// `is_productid`, `is_majorversion`, `is_minorversion` are required (208).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let get = |name| u32_arg(args, name)?.ok_or_else(|| MethodError::missing(name));
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
