//! Outbound events (docs/webhooks.md, "Events licd sends"): every change that matches an
//! event a configured endpoint subscribes to writes the event to the webhook outbox in the
//! change's own transaction.
//!
//! Why a wrapper around the transaction rather than a line in each command: the events are
//! facts about what was written (a licence stored that was not, an activation row added, a
//! customer removed), and every command, those written later included, writes through
//! [`Tx`]. [`Observed`] runs a command over a [`watch::Watch`] of the backend's transaction,
//! and when the command succeeded, turns what it wrote into events ([`changes::events`]) and
//! queues them in the same transaction. A refused command writes nothing and so sends
//! nothing; a command whose transaction does not commit takes its events with it. With
//! webhooks off, or no endpoint subscribed, the store runs commands unwatched.

mod changes;
mod watch;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use super::StoreError;
use super::commands::{Command, Remembered};
use super::tx::{Tx, TxResult};
use super::webhook_outbox::{EventName, Subject, WebhookEvent};
use crate::customers::new_id;
use crate::license::dates;
use changes::About;

/// One endpoint and the events it subscribes to (`[[webhooks.endpoint]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The endpoint's URL.
    pub url: String,
    /// The events it receives.
    pub events: BTreeSet<EventName>,
}

/// Which endpoints receive which events: what the store needs to know of `[webhooks]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRoutes {
    /// The endpoints, in configuration order.
    pub routes: Vec<Route>,
}

impl EventRoutes {
    /// The URLs that receive `event`.
    fn subscribers(&self, event: EventName) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .filter(move |r| r.events.contains(&event))
            .map(|r| r.url.as_str())
    }

    /// Whether any endpoint receives any event.
    fn any(&self) -> bool {
        self.routes.iter().any(|r| !r.events.is_empty())
    }
}

/// The store's side of outbound events: the routes in force, and the sender's wake-up.
#[derive(Debug, Default)]
pub struct EventHook {
    routes: RwLock<Option<Arc<EventRoutes>>>,
    /// Notified after a change queued an event, so the sender posts it at once.
    pub wake: Notify,
}

impl EventHook {
    /// Puts `routes` in force for the commands that start from now on; `None` (webhooks
    /// off) or routes without any subscription stop the watching.
    pub fn set_routes(&self, routes: Option<EventRoutes>) {
        let routes = routes.filter(EventRoutes::any).map(Arc::new);
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = routes;
    }

    /// The routes in force, if any endpoint subscribes to anything.
    pub(super) fn routes(&self) -> Option<Arc<EventRoutes>> {
        self.routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A command run with its writes watched for events.
pub(super) struct Observed<C> {
    /// The command.
    pub(super) command: C,
    /// The routes in force when it was sent.
    pub(super) routes: Arc<EventRoutes>,
    /// Set when the command queued an event (the caller then wakes the sender).
    pub(super) queued: Arc<AtomicBool>,
}

impl<C: Command> Command for Observed<C> {
    type Done = C::Done;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<C::Done> {
        let mut watched = watch::Watch::new(tx);
        let done = self.command.apply(&mut watched).await?;
        let seen = watched.seen;
        if queue_events(tx, &self.routes, &seen, dates::now()).await? > 0 {
            self.queued.store(true, Ordering::Relaxed);
        }
        Ok(done)
    }
}

impl<C: Remembered> Remembered for Observed<C> {
    const KIND: &'static str = C::KIND;

    fn as_repeat(first: Self::Done) -> Self::Done {
        C::as_repeat(first)
    }
}

/// Queues the events of `seen` for every endpoint subscribed to them; returns how many rows
/// it wrote.
async fn queue_events<T: Tx>(
    tx: &mut T,
    routes: &EventRoutes,
    seen: &changes::Seen,
    at: i64,
) -> Result<usize, StoreError> {
    let mut written = 0;
    for (event, about) in changes::events(seen) {
        let urls: Vec<String> = routes.subscribers(event).map(str::to_string).collect();
        if urls.is_empty() {
            continue;
        }
        let Some(subject) = subject(tx, seen, event, &about).await? else {
            continue;
        };
        let event_id = new_id().map_err(|e| StoreError::Random(e.to_string()))?;
        for url in urls {
            let row = WebhookEvent {
                event_id: event_id.clone(),
                event,
                url,
                at,
                subject: subject.clone(),
            };
            tx.enqueue_webhook(&row).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// The licence or customer an event is about, as the command left it (as it was, for a
/// deletion).
async fn subject<T: Tx>(
    tx: &mut T,
    seen: &changes::Seen,
    event: EventName,
    about: &About,
) -> Result<Option<Subject>, StoreError> {
    match about {
        About::License(key) => {
            let license = if event == EventName::LicenseDeleted {
                seen.licenses_before.get(key).cloned().flatten()
            } else {
                match seen.licenses_after.get(key) {
                    Some(l) => Some(l.clone()),
                    None => tx.license_for_update(key).await?,
                }
            };
            let Some(license) = license else {
                return Ok(None);
            };
            let customer = match &license.customer {
                Some(id) => match seen.customers_after.get(id) {
                    Some(c) => Some(c.clone()),
                    None => tx.customer(id).await?,
                },
                None => None,
            };
            Ok(Some(Subject::License {
                license: Box::new(license),
                customer,
            }))
        }
        About::Customer(id) => {
            let customer = if event == EventName::CustomerDeleted {
                seen.customers_before.get(id).cloned().flatten()
            } else {
                seen.customers_after.get(id).cloned()
            };
            Ok(customer.map(Subject::Customer))
        }
    }
}
