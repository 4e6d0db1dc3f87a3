//! The host's side of replay ids (docs/plugins.md §6).
//!
//! A plugin that signs the body only (`LICD_FLAG_SIGNS_BODY_ONLY`) cannot tell a store's
//! genuine callback from the same bytes sent again by whoever captured them. So its
//! `map_args` may name the signed request with `is_replayid` (FastSpring's plugin writes its
//! `security_request_hash`). The host takes the id out of the mapped arguments, so no method
//! ever sees it ([`split_replay_id`]); the request's first change is then made through the
//! store's replay memory (`crate::store::replays`), and a repeat of (vendor, id) within 30
//! days is answered with the first outcome and changes nothing ([`first_outcome`]).
//!
//! Only a flagged plugin's `map_args` can name a replay. A client's own `is_replayid` is
//! never honoured: for a body-only vendor it is an unsigned argument (code 8,
//! `crate::auth::unsigned_args`), `unsignedArgs` may not list it, and for every other vendor
//! it is an argument no method reads.

use std::sync::Mutex;

use crate::errors::{ErrorCode, MethodError};
use crate::store::Replayable;
use crate::store::replays::ReplayKey;

/// The argument a plugin names a signed request with.
pub const REPLAY_ID_ARG: &str = "is_replayid";

/// The longest replay id accepted, in bytes.
pub const MAX_REPLAY_ID_BYTES: usize = 255;

/// Takes `is_replayid` out of a plugin's `map_args` output (form-encoded). Returns the other
/// mapped arguments, form-encoded, and the id.
///
/// # Errors
/// A sentence for the log, and the request is denied: the output is not a form, names the
/// id twice, the id is empty, longer than [`MAX_REPLAY_ID_BYTES`] or holds a control
/// character, or the plugin writes an id without declaring that it signs the body only.
pub fn split_replay_id(
    mapped: &str,
    signs_body_only: bool,
) -> Result<(String, Option<String>), String> {
    let pairs = licd_plugin_api::form::parse(mapped.as_bytes())
        .map_err(|e| format!("map_args wrote a malformed form ({e})"))?;
    let (ids, others): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(n, _)| n.eq_ignore_ascii_case(REPLAY_ID_ARG));
    let id = match ids.as_slice() {
        [] => return Ok((mapped.to_string(), None)),
        [(_, id)] => id.clone(),
        _ => return Err(format!("map_args wrote {REPLAY_ID_ARG} more than once")),
    };
    if !signs_body_only {
        return Err(format!(
            "map_args wrote {REPLAY_ID_ARG}, but the plugin does not declare \
             LICD_FLAG_SIGNS_BODY_ONLY, the only plugins whose replay ids count"
        ));
    }
    if id.is_empty() || id.len() > MAX_REPLAY_ID_BYTES || id.chars().any(char::is_control) {
        return Err(format!(
            "map_args wrote an {REPLAY_ID_ARG} that is empty, longer than \
             {MAX_REPLAY_ID_BYTES} bytes or holds a control character"
        ));
    }
    Ok((licd_plugin_api::form::encode(&others), Some(id)))
}

/// The replay key of one request: set by the plugin step, taken by the request's first
/// change, so a request that makes two changes (none does today) never answers the second
/// from the first's memory.
#[derive(Debug, Default)]
pub struct ReplaySlot(Mutex<Option<ReplayKey>>);

impl ReplaySlot {
    /// Records the key of this request.
    pub fn set(&self, key: ReplayKey) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }

    /// The key, once.
    pub fn take(&self) -> Option<ReplayKey> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What a change made for `key` answers: its own outcome, or, for a repeat, the first
/// outcome. A repeat through another method than the first is code 8 (a captured callback
/// sent to another method is not the store's retry) with the standard message; the log says
/// why. Key creation answered from the memory reports itself as `reused`, as a retried order
/// does.
pub fn first_outcome<D>(
    key: &ReplayKey,
    result: Replayable<D>,
    client: crate::http::client_addr::ClientAddr,
    failed_message: &str,
) -> Result<D, MethodError> {
    let (method, first) = match result {
        Replayable::Fresh(done) => return Ok(done),
        Replayable::Repeat { method, first } => (method, first),
    };
    // A prefix is enough to find the request in the store's own records.
    let id: String = key.id.chars().take(12).collect();
    let Some(first) = first.filter(|_| method == key.method) else {
        tracing::warn!(vendor = %key.vendor, replay = %crate::logging::untrusted(&id), %client, method = %key.method, first_method = %method, "replayed request refused: its replay id was first used by another method");
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            failed_message,
        ));
    };
    tracing::info!(vendor = %key.vendor, replay = %crate::logging::untrusted(&id), %client, method = %key.method, "replayed request answered with its first outcome; nothing changed");
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_id_leaves_the_mapped_arguments_and_only_a_body_only_plugin_may_write_it() {
        let (rest, id) =
            split_replay_id("is_quantity=3&IS_REPLAYID=ab12&is_email=a%40b.c", true).unwrap();
        assert_eq!(id.as_deref(), Some("ab12"));
        assert_eq!(rest, "is_quantity=3&is_email=a%40b.c");
        assert_eq!(
            split_replay_id("is_quantity=3", true),
            Ok(("is_quantity=3".to_string(), None))
        );
        let e = split_replay_id("is_replayid=ab12", false).unwrap_err();
        assert!(e.contains("LICD_FLAG_SIGNS_BODY_ONLY"), "{e}");
        let long = format!("is_replayid={}", "a".repeat(MAX_REPLAY_ID_BYTES + 1));
        for bad in [
            "is_replayid=",
            "is_replayid=a%0Ab",
            "is_replayid=a&is_replayid=b",
            &long,
        ] {
            assert!(split_replay_id(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_repeat_gets_the_first_outcome_and_another_method_is_refused() {
        let key = ReplayKey::new("FS", "hash", "GetActivationKey");
        let client =
            crate::http::client_addr::ClientAddr::from(std::net::IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            first_outcome(&key, Replayable::Fresh(1), client, "no"),
            Ok(1)
        );
        let repeat = |method: &str, first: Option<i32>| Replayable::Repeat {
            method: method.into(),
            first,
        };
        assert_eq!(
            first_outcome(&key, repeat("GetActivationKey", Some(2)), client, "no"),
            Ok(2)
        );
        let e = first_outcome(&key, repeat("GetActivationKey", None), client, "no").unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthenticationError);
        let e = first_outcome(&key, repeat("RenewSubscriptionHttp", Some(2)), client, "no")
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::AuthenticationError, "no")
        );
    }
}
