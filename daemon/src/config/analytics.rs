//! `[analytics]`: the caps on what the public, unauthenticated analytics methods
//! (AnalyticsAddInstallHttp …) may store. licd's own section: QLM has no such bound.

use serde::Deserialize;

use crate::license::install::InstallCaps;

/// `[analytics]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalyticsConfig {
    /// Installs added per UTC day with one activation key; -1 unlimited.
    pub max_installs_per_key_per_day: i64,
    /// Installs added per UTC day from one client address (IPv6: one /64); -1 unlimited.
    pub max_installs_per_address_per_day: i64,
    /// Installs stored; -1 unlimited.
    pub max_installs: i64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            max_installs_per_key_per_day: 100,
            max_installs_per_address_per_day: 100,
            max_installs: 1_000_000,
        }
    }
}

impl AnalyticsConfig {
    /// The caps as the store's rule reads them.
    pub fn caps(&self) -> InstallCaps {
        InstallCaps {
            per_key_per_day: self.max_installs_per_key_per_day,
            per_address_per_day: self.max_installs_per_address_per_day,
            stored: self.max_installs,
        }
    }
}
