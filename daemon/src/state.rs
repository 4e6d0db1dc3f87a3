//! What every request handler shares: the configuration in force, the store and the
//! authentication state.

use std::sync::{Arc, RwLock};

use crate::auth::attempts::AuthAttempts;
use crate::auth::password::{PasswordChecker, strongest_params};
use crate::auth::strict::ReplayMemory;
use crate::auth::throttle::FailureThrottle;
use crate::config::Config;
use crate::method_decl::MethodTable;
use crate::metrics::Metrics;
use crate::plugins::PluginHost;
use crate::signing::Signer;
use crate::store::Store;

/// Shared state of a running server.
pub struct AppState {
    config: RwLock<Arc<Config>>,
    /// The licence store.
    pub store: Store,
    /// Vendor password verification (argon2 cost, remembered verifications).
    pub passwords: PasswordChecker,
    /// Authentication slots and failure counts per client address.
    pub attempts: AuthAttempts,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Signs licence replies (spec offline.md): the current key and the per-core bound.
    pub signer: Signer,
    /// Vendor plugins loaded at start (none until [`AppState::with_plugins`]).
    pub plugins: PluginHost,
    /// Strict-authentication signatures seen within their window (replay refusal).
    pub strict_replay: ReplayMemory,
    /// The declarations of the methods served (`methods::DECLARATIONS`), handed in by the
    /// caller so that the state, and the guard reading it, need not import `methods/`.
    pub methods: MethodTable,
    /// Wakes the mail sender (`crate::mail::sender`) after a change queued a mail, so that
    /// it is sent at once rather than at the sender's next look.
    pub mail_wake: tokio::sync::Notify,
    /// Authorization-code mails sent on behalf of each client address this hour
    /// (`license::authorization_code::MAX_CODES_PER_ADDRESS_PER_HOUR`); per node.
    pub code_mails: FailureThrottle,
    /// Customer-portal links mailed on behalf of each client address this hour
    /// (`portal::my_licence::MAX_LINKS_PER_ADDRESS_PER_HOUR`); per node.
    pub link_mails: FailureThrottle,
}

impl AppState {
    /// State for a server running `config` on `store`, serving `methods`.
    pub fn new(
        config: Config,
        store: Store,
        passwords: PasswordChecker,
        methods: MethodTable,
    ) -> Self {
        let plugins = config.plugins.iter().map(|p| p.name.clone()).collect();
        use_strongest_dummy(&passwords, &config);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        store.events().set_routes(config.webhooks.routes());
        AppState {
            metrics: Metrics::new(plugins, methods.names().collect()),
            config: RwLock::new(Arc::new(config)),
            store,
            passwords,
            attempts: AuthAttempts::new(cores),
            signer: Signer::new(cores),
            plugins: PluginHost::default(),
            strict_replay: ReplayMemory::new(),
            methods,
            mail_wake: tokio::sync::Notify::new(),
            code_mails: FailureThrottle::with_window(std::time::Duration::from_secs(3600)),
            link_mails: FailureThrottle::with_window(std::time::Duration::from_secs(3600)),
        }
    }

    /// The same state with the plugins loaded at start.
    pub fn with_plugins(mut self, plugins: PluginHost) -> Self {
        self.plugins = plugins;
        self
    }

    /// The configuration in force. A request takes it once and keeps that snapshot, so a
    /// reload never changes the rules half-way through a request.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts a reloaded configuration in force for every request that starts from now on;
    /// requests already running keep the snapshot they took.
    ///
    /// The dummy argon2 hash follows the strongest vendor hash of the new configuration first,
    /// so that no refusal under it is cheaper than a wrong password.
    pub fn replace_config(&self, config: Config) {
        use_strongest_dummy(&self.passwords, &config);
        // Commands that start from now on queue events for the new endpoints.
        self.store.events().set_routes(config.webhooks.routes());
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    /// Gives the store back for a clean close once no request can use it any more.
    pub fn into_store(self) -> Store {
        self.store
    }
}

/// Makes refusals without a real hash cost what the costliest configured vendor hash costs
/// (spec methods.md, Auth). If the new dummy cannot be made (the OS random number generator
/// failed) the old one stays and the log says so: refusals keep working, at the old cost.
fn use_strongest_dummy(passwords: &PasswordChecker, config: &Config) {
    let params = strongest_params(
        config
            .vendors
            .iter()
            .filter_map(|v| v.password_hash.as_deref()),
    );
    if let Err(error) = passwords.use_dummy_params(params) {
        tracing::error!(%error, "cannot make the dummy password hash for the new argon2 parameters; refusals keep the old cost");
    }
}
