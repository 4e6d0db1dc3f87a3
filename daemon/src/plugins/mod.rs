//! The vendor-plugin host (spec plugins.md): loads `[[plugin]]` libraries at start, calls them
//! off the async runtime with a timeout and a concurrency cap, and destroys them at shutdown.
//!
//! The host knows nothing of licences or vendors' rules: it hands a plugin a
//! [`PluginRequest`] and returns either the `is_*` arguments the plugin mapped or a
//! [`Refusal`] saying why the request must be denied. Every failure of a plugin (a deny, a
//! timeout, an error code, a caught panic, text that is not UTF-8, a length past the buffer)
//! is a refusal; the caller denies the request (code 8) and logs the reason. A plugin can
//! still take the process down by a segfault or `panic = "abort"`: in-process plugins cannot
//! be isolated from that (docs/plugins.md).
//!
//! Libraries are never unloaded: a library with live thread-locals cannot be unloaded soundly,
//! so a changed plugin set needs a restart.

mod call;
mod loader;
pub mod replay;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;

pub use call::{Plugin, Refusal, RefusalKind};
pub use loader::PluginLoadError;

use crate::config::PluginConfig;

/// At most this many calls of one plugin run at once. A call that times out keeps its thread
/// until the plugin returns (a thread cannot be killed), so without a cap a hung plugin would
/// take every thread of the blocking pool; with it, only that plugin's vendors are refused.
pub const MAX_CALLS_IN_FLIGHT: usize = 8;

/// The first buffer given to a plugin for a message or mapped arguments; a plugin that needs
/// more says so (`LICD_E_TOO_SMALL`) and is called once more with what it asked for.
pub const FIRST_BUFFER_BYTES: usize = 4096;

/// The largest buffer a plugin may ask for (plugins.md: at most 64 KiB).
pub const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// What a plugin is shown of one request. Owned, because a call that times out keeps running
/// on its thread after the request has been answered.
///
/// There is deliberately no field for the database, its path or the server secret: a plugin
/// decides from the request alone.
#[derive(Debug, Clone, Default)]
pub struct PluginRequest {
    /// The method name as licd spells it.
    pub method: String,
    /// The configured vendor name.
    pub vendor: String,
    /// The client address.
    pub client: String,
    /// The request target as sent (path and query).
    pub url: String,
    /// Every argument, decoded, names as sent: the query string's, then a form body's.
    pub args: Vec<(String, String)>,
    /// Header names (lower case) and values; values that are not UTF-8 are left out.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
}

/// Every plugin loaded at start, by `[[plugin]] name`.
#[derive(Default)]
pub struct PluginHost {
    plugins: Vec<Arc<Plugin>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .finish()
    }
}

impl PluginHost {
    /// Loads every configured plugin: file checks, `dlopen`, ABI checks, `create`.
    ///
    /// Blocking (it opens files and runs the plugins' constructors and `create`); called once
    /// at start, before the server accepts anything.
    ///
    /// # Errors
    /// The first plugin that cannot be loaded, with its name, its path and the reason: a
    /// server that cannot authenticate a configured vendor must not run.
    pub fn load(configs: &[PluginConfig]) -> Result<PluginHost, PluginLoadError> {
        let mut plugins = Vec::with_capacity(configs.len());
        for config in configs {
            let plugin = loader::load(config)?;
            tracing::info!(
                plugin = %config.name,
                path = %config.path.display(),
                table_name = %plugin.table_name(),
                serialize = plugin.serialized(),
                signs_body_only = plugin.signs_body_only(),
                "vendor plugin loaded"
            );
            plugins.push(Arc::new(plugin));
        }
        Ok(PluginHost { plugins })
    }

    /// A host holding already loaded plugins (tests build plugins from in-process tables).
    #[cfg(test)]
    pub(crate) fn from_plugins(plugins: Vec<Plugin>) -> PluginHost {
        PluginHost {
            plugins: plugins.into_iter().map(Arc::new).collect(),
        }
    }

    /// The plugin configured as `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.iter().find(|p| p.name() == name)
    }

    /// Calls every plugin's `destroy` once its calls have returned; a plugin with a call still
    /// running after its own `timeoutMs` is left alone (destroying an instance in use would be
    /// a use-after-free in the plugin), with a warning. Later calls are refused.
    pub async fn shutdown(&self) {
        for plugin in &self.plugins {
            plugin.destroy().await;
        }
    }
}
