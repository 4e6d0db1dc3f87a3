//! The sender task: takes due messages from the outbox (`crate::store::outbox`), hands each
//! to SMTP, and reports the outcome to the store. No transaction stays open while SMTP
//! talks, and no reply waits on it: a change that causes a mail only queues it and wakes
//! this task.
//!
//! Every node of a PostgreSQL cluster runs one; the claim (`SKIP LOCKED`) gives each message
//! to one of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::MailCounters;
use super::retry::{self, PARKED_AT};
use super::smtp::{Delivery, Smtp};
use crate::config::{Backend, Config};
use crate::license::dates;
use crate::state::AppState;
use crate::store::commands::{ClaimMail, RetryPendingMail};
use crate::store::outbox::{MailChange, QueuedMail, retry_at};

/// How long a claimed message belongs to this sender: longer than one SMTP conversation may
/// take (30 s) for every message of a batch.
pub const LEASE_SECONDS: i64 = 120;
/// Messages claimed at once.
const BATCH: usize = 4;
/// The longest wait between two looks at the outbox while nothing is due: picks up what
/// another node queued, or a message whose sender died, without a wake-up.
const IDLE_LOOK: Duration = Duration::from_secs(30);
/// The wait after the store refused a claim or a report.
const STORE_PAUSE: Duration = Duration::from_secs(1);
/// The deadline of one store command.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// Runs until `stop` turns true; between two messages, never in the middle of one, so that
/// a stopping daemon does not leave a mail delivered but still queued.
pub async fn run(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    // Pending mail is tried at start: a message that waited out an outage while licd was
    // down need not wait for the rest of its backoff.
    make_pending_due(&state).await;
    let mut client: Option<(Arc<Config>, Smtp)> = None;
    let mut said_no_server = false;
    // A stop sender gone (the daemon ending) stops the task too.
    while !*stop.borrow() && stop.has_changed().is_ok() {
        let config = state.config();
        if !config.mail.sends() {
            if !said_no_server {
                tracing::info!(
                    "no [mail] smtpServer configured: mail waits in the outbox until one is"
                );
                said_no_server = true;
            }
            pause(&state, &mut stop, IDLE_LOOK).await;
            continue;
        }
        said_no_server = false;
        if !client
            .as_ref()
            .is_some_and(|(c, _)| Arc::ptr_eq(c, &config))
        {
            match Smtp::new(&config.mail) {
                Ok(smtp) => client = Some((config.clone(), smtp)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot set up the SMTP client; mail waits");
                    pause(&state, &mut stop, IDLE_LOOK).await;
                    continue;
                }
            }
        }
        let Some((_, smtp)) = client.as_ref() else {
            continue;
        };
        let now = dates::now();
        let claim = ClaimMail {
            now,
            lease_until: now + LEASE_SECONDS,
            limit: BATCH,
        };
        let claimed = match state
            .store
            .run(claim, Instant::now() + COMMAND_DEADLINE)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take mail from the outbox; trying again");
                pause(&state, &mut stop, STORE_PAUSE).await;
                continue;
            }
        };
        if claimed.mail.is_empty() {
            let wait = claimed.next_due.map_or(IDLE_LOOK, |due| {
                Duration::from_secs(u64::try_from(due - dates::now()).unwrap_or(0)).min(IDLE_LOOK)
            });
            pause(&state, &mut stop, wait.max(Duration::from_millis(200))).await;
            continue;
        }
        for queued in &claimed.mail {
            if *stop.borrow() {
                // The rest of the batch is due again when its claim ends.
                break;
            }
            deliver(&state, smtp, queued, config.mail.max_retry_interval_seconds).await;
        }
    }
}

/// Sends one claimed message and records the outcome.
async fn deliver(state: &AppState, smtp: &Smtp, queued: &QueuedMail, cap: u64) {
    let counters: &MailCounters = &state.metrics.mail;
    if queued.attempts > 0 {
        MailCounters::count(&counters.retried);
    }
    let change = match smtp.deliver(queued).await {
        Delivery::Sent => {
            MailCounters::count(&counters.sent);
            // The recipient is personal data and the body may hold a code: neither is
            // logged.
            tracing::info!(mail = queued.id, template = %queued.mail.template, "mail sent");
            MailChange::Sent(queued.id)
        }
        Delivery::Transient(error) => {
            MailCounters::count(&counters.failed);
            let wait = retry::delay_after(queued.attempts.saturating_add(1), cap);
            tracing::warn!(
                mail = queued.id,
                template = %queued.mail.template,
                retry_in_seconds = wait,
                error = %error,
                "mail not sent; it stays in the outbox"
            );
            MailChange::Failed {
                id: queued.id,
                next_try_at: retry_at(dates::now(), wait),
                error,
            }
        }
        Delivery::Permanent(error) => {
            MailCounters::count(&counters.failed);
            tracing::error!(
                mail = queued.id,
                template = %queued.mail.template,
                error = %error,
                "mail refused for good; it waits in the outbox for `licd mail retry` or \
                 `licd mail drop`"
            );
            MailChange::Failed {
                id: queued.id,
                next_try_at: PARKED_AT,
                error,
            }
        }
    };
    state.store.record_outcome(change, "a mail delivery").await;
}

/// Makes the waiting, unparked messages due now (at start).
async fn make_pending_due(state: &AppState) {
    let at = dates::now();
    // On a shared database another node may be sending a message right now: its claim is
    // left alone.
    let shared = state.config().store.backend == Backend::Postgres;
    let command = RetryPendingMail {
        at,
        later_than: if shared { at + LEASE_SECONDS } else { at },
    };
    match state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(mails = n, "pending mail made due at start"),
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox at start"),
    }
}

/// Waits `wait`, or less when a change queued a mail or the daemon stops.
async fn pause(state: &AppState, stop: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = state.mail_wake.notified() => {}
        _ = stop.changed() => {}
    }
}
