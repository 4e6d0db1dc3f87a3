//! The staff console's sessions (docs/console.md), the same for every backend.
//!
//! A session lives in the store, not in a node's memory, so that several licd nodes behind
//! a load balancer share it: a staff user logged in through one node is logged in on all.
//! The store keeps only the SHA-256 digest of a session id (`web::random::digest`), never
//! the id itself: a copy of the database (a backup, an export, a look at the table) logs
//! nobody in. Sessions are short-lived and belong to the nodes: export and migrate leave
//! them out, as they leave out authorization codes.
//!
//! A session ends when it was not used for its idle time, when it is older than its
//! absolute lifetime, or at logout. An expired session is removed by the first request that
//! finds it, and every login sweeps the expired ones away, so the table holds little more
//! than the sessions in use.

use serde::{Deserialize, Serialize};

use super::commands::Command;
use super::tx::{Tx, TxResult};

/// One staff user's login, as stored under the digest of its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// The `[[console.user]]` name. The role is read from the configuration on each
    /// request, so that a user removed or demoted there loses the rights at once.
    pub user: String,
    /// When the user logged in (UTC Unix seconds): the absolute lifetime counts from here.
    pub created_at: i64,
    /// When the session was last used (UTC Unix seconds): the idle time counts from here.
    pub last_seen: i64,
    /// The client address the login came from, for the operator.
    pub address: String,
}

/// How long sessions live: `[console] sessionIdleMinutes` and `sessionMaxHours`, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// A session unused this long has ended.
    pub idle_secs: i64,
    /// A session this old has ended, however busy.
    pub max_secs: i64,
}

impl SessionLifetime {
    /// How stale `last_seen` may grow before a request writes it again: a tenth of the idle
    /// time, at most a minute. Page views within that of the last write are reads only, so a
    /// busy staff member does not cost a durable commit per click; the session then ends
    /// between 90 % and 100 % of the idle time after the last click.
    pub fn touch_after_secs(&self) -> i64 {
        (self.idle_secs / 10).min(60)
    }
}

impl ConsoleSession {
    /// Whether the session is still valid at `now`.
    pub fn is_live(&self, now: i64, lifetime: SessionLifetime) -> bool {
        now - self.last_seen < lifetime.idle_secs && now - self.created_at < lifetime.max_secs
    }

    /// Whether a request at `now` should write `last_seen` again.
    pub fn needs_touch(&self, now: i64, lifetime: SessionLifetime) -> bool {
        now - self.last_seen >= lifetime.touch_after_secs().max(1)
    }
}

/// Stores a new session under `digest` and removes every session expired at `now`.
pub struct StartConsoleSession {
    /// The digest of the new session id.
    pub digest: String,
    /// The session.
    pub session: ConsoleSession,
    /// The lifetimes the sweep applies.
    pub lifetime: SessionLifetime,
    /// Now (UTC Unix seconds).
    pub now: i64,
}

impl Command for StartConsoleSession {
    /// How many expired sessions the sweep removed.
    type Done = u64;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<u64> {
        let swept = tx
            .remove_expired_console_sessions(
                self.now - self.lifetime.idle_secs,
                self.now - self.lifetime.max_secs,
            )
            .await?;
        tx.put_console_session(&self.digest, &self.session).await?;
        Ok(swept)
    }
}

/// Uses the session stored under `digest` at `now`: a live session gets `last_seen = now`
/// and is returned; an expired one is removed; an unknown one is `None`.
pub struct TouchConsoleSession {
    /// The digest of the session id the request carried.
    pub digest: String,
    /// Now (UTC Unix seconds).
    pub now: i64,
    /// The lifetimes in force.
    pub lifetime: SessionLifetime,
}

impl Command for TouchConsoleSession {
    /// The session after the touch, when it is live.
    type Done = Option<ConsoleSession>;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Option<ConsoleSession>> {
        let Some(mut session) = tx.console_session(&self.digest).await? else {
            return Ok(None);
        };
        if !session.is_live(self.now, self.lifetime) {
            tx.remove_console_session(&self.digest).await?;
            return Ok(None);
        }
        session.last_seen = self.now;
        tx.put_console_session(&self.digest, &session).await?;
        Ok(Some(session))
    }
}

/// Removes the session stored under `digest` (logout, or an expired session found by a
/// read); false when there was none.
pub struct EndConsoleSession {
    /// The digest of the session id.
    pub digest: String,
}

impl Command for EndConsoleSession {
    /// Whether a session was removed.
    type Done = bool;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<bool> {
        Ok(tx.remove_console_session(&self.digest).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: SessionLifetime = SessionLifetime {
        idle_secs: 1800,
        max_secs: 12 * 3600,
    };

    fn session(created_at: i64, last_seen: i64) -> ConsoleSession {
        ConsoleSession {
            user: "ann".into(),
            created_at,
            last_seen,
            address: "127.0.0.1".into(),
        }
    }

    #[test]
    fn a_session_ends_at_its_idle_time_and_at_its_absolute_lifetime() {
        let s = session(0, 1000);
        assert!(s.is_live(1000 + 1799, LIFE));
        assert!(!s.is_live(1000 + 1800, LIFE));
        let busy = session(0, 12 * 3600 - 1);
        assert!(busy.is_live(12 * 3600 - 1, LIFE));
        assert!(!busy.is_live(12 * 3600, LIFE));
    }

    #[test]
    fn last_seen_is_written_again_only_after_a_tenth_of_the_idle_time_at_most_a_minute() {
        assert_eq!(LIFE.touch_after_secs(), 60);
        let short = SessionLifetime {
            idle_secs: 3,
            max_secs: 10,
        };
        let s = session(0, 100);
        // Under ten seconds of idle time every second counts.
        assert!(!s.needs_touch(100, short));
        assert!(s.needs_touch(101, short));
        assert!(!s.needs_touch(159, LIFE));
        assert!(s.needs_touch(160, LIFE));
    }
}
