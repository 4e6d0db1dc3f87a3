//! The sender task: claims, for each endpoint, the oldest event waiting in the webhook
//! outbox (`crate::store::webhook_outbox`), POSTs it, and reports the outcome to the store.
//!
//! Each claimed event is delivered on a task of its own, so an endpoint that does not answer
//! (up to [`post::TIMEOUT`] an attempt) holds up only its own later events, never another
//! endpoint's, and no request ever waits on a receiver. An endpoint has at most one event in
//! flight (the claim takes only its oldest), so it receives its events in the order they were
//! written. No transaction stays open while a receiver answers.
//!
//! Every node of a PostgreSQL cluster runs one; the claim (`SKIP LOCKED`) gives each event to
//! one of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::WebhookCounters;
use super::body;
use super::post::{self, Signed};
use super::signature::{licd_signature, qlm_signature};
use crate::config::{Backend, Config};
use crate::license::dates;
use crate::state::AppState;
use crate::store::commands::{ClaimWebhooks, RetryPendingWebhooks};
use crate::store::outbox::retry_at;
use crate::store::webhook_outbox::{QueuedWebhook, WebhookChange};

/// How long a claimed event belongs to this sender: longer than one delivery may take.
pub const LEASE_SECONDS: i64 = 60;
/// Endpoints claimed at once.
const BATCH: usize = 16;
/// The longest wait between two looks at the outbox while nothing is due: picks up what
/// another node queued, or an event whose sender died, without a wake-up.
const IDLE_LOOK: Duration = Duration::from_secs(30);
/// The wait after the store refused a claim.
const STORE_PAUSE: Duration = Duration::from_secs(1);
/// The deadline of one store command.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// Runs until `stop` turns true. Deliveries in flight then finish (the caller bounds the
/// wait by the shutdown grace): an event delivered but not yet reported would be sent again.
pub async fn run(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    make_pending_due(&state).await;
    let mut in_flight = JoinSet::new();
    let mut said_off = false;
    while !*stop.borrow() && stop.has_changed().is_ok() {
        while in_flight.try_join_next().is_some() {}
        let config = state.config();
        if !config.webhooks.web_hooks_enabled || config.webhooks.web_hook_secret_key.is_none() {
            if !said_off {
                tracing::debug!("webhooks are off: queued events wait");
                said_off = true;
            }
            pause(&state, &mut stop, IDLE_LOOK).await;
            continue;
        }
        said_off = false;
        let now = dates::now();
        let claim = ClaimWebhooks {
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
                tracing::warn!(error = %e, "cannot take events from the webhook outbox; trying again");
                pause(&state, &mut stop, STORE_PAUSE).await;
                continue;
            }
        };
        for queued in claimed.events {
            in_flight.spawn(deliver(state.clone(), config.clone(), queued));
        }
        let wait = claimed.next_due.map_or(IDLE_LOOK, |due| {
            Duration::from_secs(u64::try_from(due - dates::now()).unwrap_or(0)).min(IDLE_LOOK)
        });
        pause(&state, &mut stop, wait.max(Duration::from_millis(100))).await;
    }
    while in_flight.join_next().await.is_some() {}
}

/// POSTs one claimed event, records the outcome, and wakes the loop for the endpoint's next
/// event.
async fn deliver(state: Arc<AppState>, config: Arc<Config>, queued: QueuedWebhook) {
    let counters: &WebhookCounters = &state.metrics.webhooks;
    if queued.attempts > 0 {
        WebhookCounters::count(&counters.retried);
    }
    let key = config
        .webhooks
        .web_hook_secret_key
        .as_deref()
        .unwrap_or_default();
    let body = body::render(&queued.event, &config);
    let signed = Signed {
        qlm: qlm_signature(&body, key),
        licd: licd_signature(&body, key, dates::now()),
        event_id: queued.event.event_id.clone(),
    };
    let endpoint = endpoint_name(&queued.event.url);
    let change = match post::post(&queued.event.url, body, &signed).await {
        Ok(()) => {
            WebhookCounters::count(&counters.delivered);
            tracing::info!(
                webhook = queued.id,
                event = %queued.event.event,
                endpoint = %endpoint,
                "event delivered"
            );
            WebhookChange::Delivered(queued.id)
        }
        Err(error) => {
            let failures = queued.attempts.saturating_add(1);
            let dead = config.webhooks.is_dead_after(failures);
            let wait = config.webhooks.delay_after(failures);
            if dead {
                WebhookCounters::count(&counters.dead);
                tracing::error!(
                    webhook = queued.id,
                    event = %queued.event.event,
                    endpoint = %endpoint,
                    attempts = failures,
                    error = %error,
                    "event given up; `licd webhooks retry` sends it again"
                );
            } else {
                tracing::warn!(
                    webhook = queued.id,
                    event = %queued.event.event,
                    endpoint = %endpoint,
                    attempts = failures,
                    retry_in_seconds = wait,
                    error = %error,
                    "event not delivered; it stays in the outbox"
                );
            }
            WebhookChange::Failed {
                id: queued.id,
                next_try_at: retry_at(dates::now(), wait),
                dead,
                error: error.to_string(),
            }
        }
    };
    state
        .store
        .record_outcome(change, "an event delivery")
        .await;
    state.store.events().wake.notify_one();
}

/// The endpoint as logs name it: scheme, host and port, without a path or query that may
/// carry a token.
fn endpoint_name(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("?"),
            uri.authority().map_or("?", |a| a.as_str())
        ),
        Err(_) => "?".to_string(),
    }
}

/// Makes the waiting events due now (at start), as the mail sender does.
async fn make_pending_due(state: &AppState) {
    let at = dates::now();
    let shared = state.config().store.backend == Backend::Postgres;
    let command = RetryPendingWebhooks {
        at,
        later_than: if shared { at + LEASE_SECONDS } else { at },
    };
    match state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, "pending webhook events made due at start"),
        Err(e) => tracing::warn!(error = %e, "cannot read the webhook outbox at start"),
    }
}

/// Waits `wait`, or less when a change queued an event, a delivery ended, or the daemon
/// stops.
async fn pause(state: &AppState, stop: &mut watch::Receiver<bool>, wait: Duration) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = state.store.events().wake.notified() => {}
        _ = stop.changed() => {}
    }
}
