//! systemd notifications (sd_notify): readiness, reloads, stop, status and the watchdog.
//!
//! Uses the `sd-notify` crate (a few hundred lines over libc) rather than a hand-written
//! datagram send: it already handles abstract-namespace sockets (`@name`) and the
//! `WATCHDOG_PID` rule, which a hand-written copy would have to repeat. Every function is a
//! no-op without `NOTIFY_SOCKET`, so the daemon behaves the same outside systemd.
//!
//! The unit is `Type=notify` with `ExecReload=kill -HUP` (Debian 12's systemd 252 has no
//! `Type=notify-reload`), but licd still sends `RELOADING=1` with `MONOTONIC_USEC` and then
//! `READY=1` around a reload, so `systemctl reload` waits for the reload to finish on newer
//! systemd and does no harm on older ones.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::state::AppState;

/// Sends `states`; a failure is logged, never fatal (the service manager may be gone).
fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// The database is open and the port bound: start-up is over.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A configuration reload begins; `READY=1` ([`ready`]) ends it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading the configuration"),
        ]),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the monotonic clock");
            send(&[NotifyState::Reloading]);
        }
    }
}

/// Shutdown begins: the service manager now expects the process to exit.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing in-flight requests"),
    ]);
}

/// A status line for `systemctl status`, for long work such as a database repair.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3)
/// advises; `None` when the service manager runs no watchdog for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .map(|d| d / 2)
        .filter(|d| !d.is_zero())
}

/// Pings the watchdog every `interval` while the write path answers: a writer thread stuck
/// in a commit stops the pings, and the service manager restarts licd. Runs until aborted.
pub async fn watchdog(state: Arc<AppState>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_alive = true;
    loop {
        ticks.tick().await;
        // The answer must come within the interval, or the ping would be late anyway.
        let alive = state.store.writer_alive(interval).await;
        if alive {
            send(&[NotifyState::Watchdog]);
        } else if was_alive {
            tracing::error!(
                "the database writer does not answer; withholding watchdog pings so that the service manager restarts licd"
            );
        }
        was_alive = alive;
    }
}

/// Reports database repair progress (redb walks the whole file after a crash, which can take
/// minutes): on the status line, so that an admin does not kill a repair that looks hung,
/// and in the log every tenth.
pub fn repair_progress(fraction: f64) {
    let percent = (fraction * 100.0).clamp(0.0, 100.0) as u32;
    status(&format!(
        "repairing the database after an unclean stop: {percent}%"
    ));
    static LAST_LOGGED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let tenth = percent / 10;
    if LAST_LOGGED.fetch_max(tenth + 1, std::sync::atomic::Ordering::Relaxed) <= tenth {
        tracing::warn!(
            percent,
            "repairing the database after an unclean stop; do not interrupt"
        );
    }
}
