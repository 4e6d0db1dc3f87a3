//! A full cloud or floating licence gives its longest-idle seat to a new computer, inside the
//! activation transaction, once that seat's last durable validation is older than the
//! threshold; the reclaimed activation is recorded in the history. Driven with explicit
//! times, since the commands carry the request's time.

use std::time::{Duration, Instant};

use super::commands::{Activate, Command, CreateKeys, RecordSeat};
use super::{Outcome, Store, StoreOptions};
use crate::errors::ErrorCode;
use crate::license::License;
use crate::license::rules::ActivationRequest;

const T0: i64 = 1_800_000_000;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn one_seat_cloud_licence() -> Command {
    Command::CreateKeys(CreateKeys {
        template: License::for_tests("permanent_cloud", 1, T0),
        count: 1,
        order_id: None,
        max_per_day: -1,
        max_stored: -1,
    })
}

fn activate(key: &str, pc: &str, now: i64) -> Command {
    Command::Activate(Activate {
        key: key.to_string(),
        request: ActivationRequest {
            computer_id: pc.to_string(),
            ..Default::default()
        },
        now,
        max_per_day: -1,
        fix_duration_at_activation: true,
        check: Box::new(|_| Ok(())),
        reclaim_after_minutes: 10,
    })
}

#[tokio::test]
async fn idle_cloud_seat_is_reclaimed_past_the_threshold_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("licd.redb"), StoreOptions::default()).unwrap();
    let Outcome::Created { licenses, .. } = store
        .execute(one_seat_cloud_licence(), deadline())
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let key = licenses[0].key.clone();

    let Outcome::Activated { activation, .. } = store
        .execute(activate(&key, "PC-A", T0), deadline())
        .await
        .unwrap()
    else {
        panic!("PC-A not activated")
    };
    // PC-A validates at T0 + 8 min: a durable record of its seat.
    let mut seen = activation.clone();
    seen.last_seen = T0 + 8 * 60;
    store
        .execute(
            Command::RecordSeat(RecordSeat {
                key: key.clone(),
                activation: seen,
            }),
            deadline(),
        )
        .await
        .unwrap();

    // At T0 + 15 min PC-A has been idle 7 minutes: not reclaimable yet.
    let e = store
        .execute(activate(&key, "PC-B", T0 + 15 * 60), deadline())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoMoreActivations);

    // At T0 + 19 min it has been idle 11 minutes: PC-B gets the seat.
    let outcome = store
        .execute(activate(&key, "PC-B", T0 + 19 * 60), deadline())
        .await
        .unwrap();
    let Outcome::Activated { license, .. } = outcome else {
        panic!("PC-B not activated")
    };
    assert_eq!(license.activations_used, 1);

    let reader = store.reader().unwrap();
    assert!(reader.activation(&key, "PC-A").unwrap().is_none());
    assert!(reader.activation(&key, "PC-B").unwrap().is_some());
    let history = reader.history(&key).unwrap();
    let reclaimed: Vec<_> = history.iter().filter(|h| h.event == "reclaimed").collect();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].computer_id.as_deref(), Some("PC-A"));
    drop(reader);
    store.close().unwrap();
}
