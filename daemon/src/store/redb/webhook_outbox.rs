//! The webhook outbox in `webhook_outbox_v1` (`crate::store::webhook_outbox`).
//!
//! One writer holds every table for its batch, so a claim needs no lock of its own. The
//! outbox holds undelivered events only, normally a handful: a claim scans it, as the mail
//! outbox's does.

use redb::{ReadTransaction, ReadableTable, Table};

use super::tables::{COUNTERS, WEBHOOK_OUTBOX, WEBHOOK_SEQ, decode, encode};
use crate::store::StoreError;
use crate::store::webhook_outbox::{QueuedWebhook, WebhookEvent, WebhookState, heads_due};

type Outbox<'t> = Table<'t, i64, &'static [u8]>;

/// Writes event `id`, due at once.
pub(super) fn enqueue(
    table: &mut Outbox<'_>,
    id: i64,
    event: &WebhookEvent,
) -> Result<(), StoreError> {
    let state = WebhookState {
        event: event.clone(),
        attempts: 0,
        next_try_at: event.at,
        dead: false,
        last_error: None,
    };
    table.insert(id, encode(&state)?.as_slice())?;
    Ok(())
}

/// Every event, by id.
pub(super) fn all(
    table: &impl ReadableTable<i64, &'static [u8]>,
) -> Result<Vec<QueuedWebhook>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (id, value) = row?;
        let state: WebhookState = decode(value.value())?;
        out.push(state.with_id(id.value()));
    }
    Ok(out)
}

/// The earliest next try of an event that is not dead.
pub(super) fn next_due(
    table: &impl ReadableTable<i64, &'static [u8]>,
) -> Result<Option<i64>, StoreError> {
    Ok(all(table)?
        .iter()
        .filter(|q| !q.dead)
        .map(|q| q.next_try_at)
        .min())
}

/// The heads due at `now` ([`heads_due`]), each leased until `lease_until`.
pub(super) fn claim_due(
    table: &mut Outbox<'_>,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueuedWebhook>, StoreError> {
    let queued = all(table)?;
    let ids = heads_due(&queued, now, limit);
    let mut claimed = Vec::with_capacity(ids.len());
    for mut q in queued.into_iter().filter(|q| ids.contains(&q.id)) {
        update(table, q.id, |state| state.next_try_at = lease_until)?;
        q.next_try_at = lease_until;
        claimed.push(q);
    }
    Ok(claimed)
}

/// Changes event `id` with `change`; false when it is not queued.
pub(super) fn update(
    table: &mut Outbox<'_>,
    id: i64,
    change: impl FnOnce(&mut WebhookState),
) -> Result<bool, StoreError> {
    let Some(mut state) = table
        .get(id)?
        .map(|v| decode::<WebhookState>(v.value()))
        .transpose()?
    else {
        return Ok(false);
    };
    change(&mut state);
    table.insert(id, encode(&state)?.as_slice())?;
    Ok(true)
}

/// `licd check`: every queued event decodes, and no id is past the id sequence (a new event
/// would overwrite it).
pub(super) fn problems(txn: &ReadTransaction) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let table = match txn.open_table(WEBHOOK_OUTBOX) {
        Ok(t) => t,
        // A file made before the outbox existed; it is created on the next start.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    let next = txn
        .open_table(COUNTERS)?
        .get(WEBHOOK_SEQ)?
        .map_or(0, |v| v.value());
    for row in table.iter()? {
        let (id, value) = row?;
        let id = id.value();
        if let Err(e) = decode::<WebhookState>(value.value()) {
            out.push(format!("queued webhook event {id} does not decode: {e}"));
        }
        if id > next {
            out.push(format!(
                "queued webhook event {id} is past the outbox sequence ({WEBHOOK_SEQ} = {next})"
            ));
        }
    }
    Ok(out)
}
