//! Who is logged in: the session cookie, checked against the sessions in the store
//! (`crate::store::console_sessions`) on every request.
//!
//! The cookie holds a random 256-bit id (`web::random::token`); the store holds only its
//! SHA-256 digest. The cookie is `HttpOnly` and `SameSite=Strict`, `Secure` when the console
//! serves HTTPS, and lives no longer than the session's absolute lifetime. The user's role
//! is read from the configuration in force on each request, so a user removed from it is
//! logged out at once and a changed role applies at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::config::{Config, Role};
use crate::http::client_addr::ClientAddr;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::console_sessions::{
    ConsoleSession, EndConsoleSession, StartConsoleSession, TouchConsoleSession,
};
use crate::web::cookie::{self, CookieOptions};
use crate::web::random;

/// The session cookie's name.
pub const COOKIE: &str = "licd_console";

/// How long a session change may wait for the store.
const STORE_DEADLINE: Duration = Duration::from_secs(10);

/// A logged-in member of staff, for one request.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The `[[console.user]]` name.
    pub name: String,
    /// Their role in the configuration in force.
    pub role: Role,
    /// The session id from the cookie (CSRF tokens are bound to it).
    pub session_id: String,
    /// Where the request came from.
    pub client: ClientAddr,
}

/// What the request's cookie says.
pub enum Found {
    /// A live session of a configured user.
    Staff(Staff),
    /// A cookie whose session has ended (expired, logged out, or its user removed).
    Ended,
    /// No session cookie.
    Nobody,
}

/// The session the request carries, touched when it is due (`SessionLifetime`).
pub async fn current(
    state: &Arc<AppState>,
    config: &Config,
    headers: &HeaderMap,
    client: ClientAddr,
    now: i64,
) -> Result<Found, StoreError> {
    let Some(id) = cookie::get(headers, COOKIE).filter(|v| !v.is_empty()) else {
        return Ok(Found::Nobody);
    };
    let digest = random::digest(&id);
    let lifetime = config.console.lifetime();
    let stored = {
        // The snapshot is let go before any write: on PostgreSQL it holds a connection.
        let read = state.store.read().await?;
        read.console_session(&digest).await?
    };
    let session = match stored {
        None => return Ok(Found::Ended),
        Some(s) if !s.is_live(now, lifetime) => {
            end(state, &digest).await?;
            return Ok(Found::Ended);
        }
        Some(s) if s.needs_touch(now, lifetime) => {
            let touch = TouchConsoleSession {
                digest: digest.clone(),
                now,
                lifetime,
            };
            match run(state, touch).await? {
                Some(s) => s,
                None => return Ok(Found::Ended),
            }
        }
        Some(s) => s,
    };
    let Some(user) = config.console.user(&session.user) else {
        end(state, &digest).await?;
        return Ok(Found::Ended);
    };
    Ok(Found::Staff(Staff {
        name: user.name.clone(),
        role: user.role,
        session_id: id,
        client,
    }))
}

/// Starts a session for `user` logged in from `client` at `now`; the cookie to set.
pub async fn start(
    state: &Arc<AppState>,
    config: &Config,
    user: &str,
    client: ClientAddr,
    now: i64,
) -> Result<String, StartError> {
    let id = random::token().map_err(|e| StartError::Random(e.to_string()))?;
    let lifetime = config.console.lifetime();
    let start = StartConsoleSession {
        digest: random::digest(&id),
        session: ConsoleSession {
            user: user.to_string(),
            created_at: now,
            last_seen: now,
            address: client.to_string(),
        },
        lifetime,
        now,
    };
    run(state, start).await?;
    Ok(cookie::set(
        COOKIE,
        &id,
        CookieOptions {
            path: "/",
            max_age_secs: Some(lifetime.max_secs),
            secure: config.console.tls.is_some(),
        },
    ))
}

/// Ends the session with id `session_id` (logout).
pub async fn logout(state: &Arc<AppState>, session_id: &str) -> Result<(), StoreError> {
    end(state, &random::digest(session_id)).await
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(config: &Config) -> String {
    cookie::clear(COOKIE, "/", config.console.tls.is_some())
}

/// Why a session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The operating system's random number generator failed.
    #[error("no random session id could be made: {0}")]
    Random(String),
    /// The store did not take the session.
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn end(state: &Arc<AppState>, digest: &str) -> Result<(), StoreError> {
    let end = EndConsoleSession {
        digest: digest.to_string(),
    };
    run(state, end).await.map(|_| ())
}

/// Runs a session command; a session command is never refused by a rule.
async fn run<C: crate::store::Command>(
    state: &Arc<AppState>,
    command: C,
) -> Result<C::Done, StoreError> {
    match state
        .store
        .run(command, Instant::now() + STORE_DEADLINE)
        .await
    {
        Ok(done) => Ok(done),
        Err(crate::store::CommandError::Store(e)) => Err(e),
        Err(crate::store::CommandError::Refused(r)) => Err(StoreError::Corrupt(format!(
            "a session command was refused: {r:?}"
        ))),
    }
}
