//! What every request handler shares: the configuration in force, the store and the
//! authentication state.

use std::sync::{Arc, RwLock};

use crate::auth::password::PasswordChecker;
use crate::auth::throttle::FailureThrottle;
use crate::config::Config;
use crate::store::Store;

/// Shared state of a running server.
pub struct AppState {
    config: RwLock<Arc<Config>>,
    /// The licence store.
    pub store: Store,
    /// Vendor password verification (argon2 cost, remembered verifications).
    pub passwords: PasswordChecker,
    /// Failed-authentication throttle per client address.
    pub throttle: FailureThrottle,
}

impl AppState {
    /// State for a server running `config` on `store`.
    pub fn new(config: Config, store: Store, passwords: PasswordChecker) -> Self {
        AppState {
            config: RwLock::new(Arc::new(config)),
            store,
            passwords,
            throttle: FailureThrottle::new(),
        }
    }

    /// The configuration in force. A request takes it once and keeps that snapshot, so a
    /// reload never changes the rules half-way through a request.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Gives the store back for a clean close once no request can use it any more.
    pub fn into_store(self) -> Store {
        self.store
    }
}
