//! `[[product]]`: the product versions licences may name.

use serde::Deserialize;

use super::document;
use crate::license::properties::PropertyDef;

/// `[[product]]`: one product version that licences may name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Product {
    /// QLM product id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Major version; with `id` and `minorVersion` it identifies the product.
    pub major_version: u32,
    /// Minor version.
    pub minor_version: u32,
    /// Release date, `yyyy-MM-dd`, used by maintenance-plan checks. A TOML date
    /// (`releaseDate = 2026-01-15`) is accepted too and stored in the same form.
    #[serde(default, deserialize_with = "document::optional_date")]
    pub release_date: Option<String>,
    /// Latest version, answered by GetLatestVersionHttp.
    #[serde(default)]
    pub latest_version: Option<String>,
    /// Download address of the latest version.
    #[serde(default)]
    pub latest_version_url: Option<String>,
    /// Release notes of the latest version.
    #[serde(default)]
    pub latest_version_notes: Option<String>,
    /// `[[product.property]]`: the product properties this product accepts.
    #[serde(default, rename = "property")]
    pub properties: Vec<PropertyDef>,
}
