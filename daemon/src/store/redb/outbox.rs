//! The mail outbox in `mail_outbox_v1` (`crate::store::outbox`).
//!
//! One writer holds every table for its batch, so a claim needs no lock of its own. The
//! outbox holds only undelivered mail, normally a handful of rows: a claim scans it rather
//! than keeping a second, due-time index that every change would have to maintain.

use redb::{ReadTransaction, ReadableTable, Table};

use super::tables::{COUNTERS, MAIL_OUTBOX, MAIL_SEQ, decode, encode};
use crate::store::StoreError;
use crate::store::outbox::{MailState, OutgoingMail, QueuedMail};

type Outbox<'t> = Table<'t, i64, &'static [u8]>;

/// Writes message `id`, due at once.
pub(super) fn enqueue(
    table: &mut Outbox<'_>,
    id: i64,
    mail: &OutgoingMail,
    at: i64,
) -> Result<(), StoreError> {
    let state = MailState {
        mail: mail.clone(),
        queued_at: at,
        attempts: 0,
        next_try_at: at,
        last_error: None,
    };
    table.insert(id, encode(&state)?.as_slice())?;
    Ok(())
}

/// Every message, by id.
pub(super) fn all(
    table: &impl ReadableTable<i64, &'static [u8]>,
) -> Result<Vec<QueuedMail>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (id, value) = row?;
        let state: MailState = decode(value.value())?;
        out.push(state.with_id(id.value()));
    }
    Ok(out)
}

/// The earliest next try.
pub(super) fn next_due(
    table: &impl ReadableTable<i64, &'static [u8]>,
) -> Result<Option<i64>, StoreError> {
    Ok(all(table)?.iter().map(|m| m.next_try_at).min())
}

/// Up to `limit` messages due at `now`, earliest first, each leased until `lease_until`.
pub(super) fn claim_due(
    table: &mut Outbox<'_>,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueuedMail>, StoreError> {
    let mut due: Vec<QueuedMail> = all(table)?
        .into_iter()
        .filter(|m| m.next_try_at <= now)
        .collect();
    due.sort_by_key(|m| (m.next_try_at, m.id));
    due.truncate(limit);
    for mail in &mut due {
        update(table, mail.id, |state| state.next_try_at = lease_until)?;
        mail.next_try_at = lease_until;
    }
    Ok(due)
}

/// Changes message `id` with `change`; false when it is not queued.
pub(super) fn update(
    table: &mut Outbox<'_>,
    id: i64,
    change: impl FnOnce(&mut MailState),
) -> Result<bool, StoreError> {
    let Some(mut state) = table
        .get(id)?
        .map(|v| decode::<MailState>(v.value()))
        .transpose()?
    else {
        return Ok(false);
    };
    change(&mut state);
    table.insert(id, encode(&state)?.as_slice())?;
    Ok(true)
}

/// `licd check`: every queued message decodes, and no id is past the id sequence (a new
/// message would overwrite it).
pub(super) fn problems(txn: &ReadTransaction) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let table = match txn.open_table(MAIL_OUTBOX) {
        Ok(t) => t,
        // A file made before the outbox existed; it is created on the next start.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    let next = txn
        .open_table(COUNTERS)?
        .get(MAIL_SEQ)?
        .map_or(0, |v| v.value());
    for row in table.iter()? {
        let (id, value) = row?;
        let id = id.value();
        if let Err(e) = decode::<MailState>(value.value()) {
            out.push(format!("queued mail {id} does not decode: {e}"));
        }
        if id > next {
            out.push(format!(
                "queued mail {id} is past the outbox sequence ({MAIL_SEQ} = {next})"
            ));
        }
    }
    Ok(out)
}
