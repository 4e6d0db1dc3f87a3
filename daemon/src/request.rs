//! One request on its way through the guard and a method: the shared state, the
//! configuration snapshot, the client, the clock and the request as received.
//!
//! Its own module, below both `auth/` and `methods/`, so that the guard and the methods can
//! share it without importing each other.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::config::Config;
use crate::errors::{AUTHENTICATION_FAILED, MethodError};
use crate::http::client_addr::ClientAddr;
use crate::plugins::replay::{self, ReplaySlot};
use crate::state::AppState;
use crate::store::Remembered;

/// Everything a method needs besides its arguments.
pub struct Ctx {
    /// Shared server state.
    pub state: Arc<AppState>,
    /// The configuration snapshot for this request.
    pub config: Arc<Config>,
    /// The client address (README §2).
    pub client: ClientAddr,
    /// The request's time, UTC Unix seconds.
    pub now: i64,
    /// `server.requestTimeoutMs` after the request arrived.
    pub deadline: Instant,
    /// The request as received, for vendor plugins and strict authentication.
    pub raw: RawRequest,
    /// The vendor a plugin has allowed for this request (set once by the plugin step, read by
    /// the vendor check).
    pub plugin_passed: OnceLock<String>,
    /// The replay id a body-signing plugin named this request with (set by the plugin step,
    /// taken by [`Ctx::execute`]).
    pub replay: ReplaySlot,
}

/// What vendor plugins and strict authentication read of a request besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    /// The request target as sent (path and query), moved out of the request, not copied.
    pub uri: http::Uri,
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The raw body.
    pub body: bytes::Bytes,
    /// Whether the body held form arguments (parsed into the arguments).
    pub form_body: bool,
}

impl RawRequest {
    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        self.uri
            .path_and_query()
            .map_or_else(|| self.uri.path(), |pq| pq.as_str())
    }

    /// The raw query string.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }
}

impl Ctx {
    /// Sends a change to the store (`Store::execute`). When the vendor's plugin named this
    /// request with a replay id, the change is remembered under it in its own transaction,
    /// and a repeat is answered with the first outcome and changes nothing (docs/plugins.md
    /// §6).
    pub async fn execute<C: Remembered>(&self, command: C) -> Result<C::Done, MethodError> {
        let store = &self.state.store;
        let Some(key) = self.replay.take() else {
            return Ok(store.run(command, self.deadline).await?);
        };
        let result = store
            .run_remembered(command, self.deadline, key.clone(), self.now)
            .await?;
        replay::first_outcome(&key, result, self.client, AUTHENTICATION_FAILED)
    }
}
