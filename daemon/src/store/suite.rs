//! One store test suite for every backend (as garage's `db/test.rs`).
//!
//! Each test is an `async fn` over a [`Store`] and says nothing of the backend; the
//! [`suite!`] macro runs every test against each backend licd is built with. A new backend
//! adds one line to the macro's list and is born tested: atomicity, seat limits under
//! concurrency, the release log, history order, idempotent order ids, reclaimed seats and
//! the replay memory.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::commands::{
    Activate, Activated, AddInstall, ChangeInstall, CreateKeys, Created, Edit, Group, RecordSeat,
    Release, Replayable, Target, Upgrade,
};
use super::replays::ReplayKey;
use super::{CommandError, Store, StoreOptions};
use crate::license::License;
use crate::license::decisions::ActivationLimits;
use crate::license::install::{InstallCaps, InstallChange, InstallFields};
use crate::license::refusal::{Reason, Refusal};
use crate::license::rules::ActivationRequest;

/// The time the suite's licences are created at (UTC Unix seconds).
pub(crate) const T0: i64 = 1_800_000_000;

/// The vendor `License::for_tests` creates licences for.
const VENDOR: &str = "v";

/// A fresh store of one backend, and what holds its data until the test ends (the temporary
/// directory of a redb file; a PostgreSQL database is dropped with the test cluster).
type Fresh = (Store, Option<tempfile::TempDir>);

async fn redb() -> Option<Fresh> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store =
        Store::open(&dir.path().join("licd.redb"), StoreOptions::default()).expect("open redb");
    Some((store, Some(dir)))
}

/// A store on a fresh database of the test run's PostgreSQL cluster; `None` (the test is
/// skipped, one line says why) where PostgreSQL is not installed, outside CI.
async fn postgres() -> Option<Fresh> {
    let url = tokio::task::spawn_blocking(|| Some(licd_pg_cluster::cluster()?.fresh_database()))
        .await
        .expect("the cluster starts")?;
    let settings = super::PostgresSettings {
        url,
        pool_size: 16,
        statement_timeout_ms: 5_000,
        files_dir: None,
    };
    let store = Store::open_postgres(&settings, StoreOptions::default())
        .await
        .expect("open postgres");
    Some((store, None))
}

/// Runs `test` on `fresh` (nothing when the backend is not available), then closes it.
async fn run<F, Fut>(fresh: Option<Fresh>, test: F)
where
    F: FnOnce(Arc<Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((store, _keep)) = fresh else {
        return;
    };
    let store = Arc::new(store);
    test(store.clone()).await;
    match Arc::try_unwrap(store) {
        Ok(store) => store.close().expect("close"),
        Err(_) => panic!("a test kept the store"),
    }
}

/// Declares each test once per backend.
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        suite!(@on on_redb, redb; $($test),*);
        suite!(@on on_postgres, postgres; $($test),*);
    };
    (@on $module:ident, $backend:ident; $($test:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::run(super::$backend().await, super::$test).await;
                }
            )*
        }
    };
}

suite!(
    a_refused_command_writes_nothing_and_the_next_one_applies,
    concurrent_activations_never_take_more_seats_than_allowed,
    releases_are_logged_for_the_limits_and_counted_against_them,
    history_lines_come_back_in_the_order_they_were_appended,
    a_retried_order_gets_the_keys_it_got_first,
    an_idle_cloud_seat_is_reclaimed_past_the_threshold_and_recorded,
    a_replay_id_answers_its_first_result_and_a_refusal_is_not_remembered,
    a_subscription_renews_all_its_keys_or_none,
    an_order_or_subscription_selects_only_the_calling_vendors_live_keys,
    an_authorization_code_activates_once_and_wrong_codes_void_it,
    an_email_names_one_customer_who_owns_its_keys_until_erased,
    concurrent_installs_never_pass_a_cap_and_a_refused_one_stores_nothing,
    a_stored_install_is_updated_removed_and_accessed_and_an_unknown_one_is_not_found,
    queued_mail_is_claimed_by_one_sender_until_its_claim_ends_and_leaves_when_sent,
    events_are_queued_with_their_change_one_row_per_subscribed_endpoint,
    webhook_events_are_claimed_per_endpoint_oldest_first_and_a_dead_one_holds_up_nothing,
    a_deleted_licence_leaves_its_history_and_frees_its_order,
    a_console_session_lives_until_idle_or_old_is_swept_at_login_and_ends_at_logout,
    a_staff_search_finds_licences_by_key_email_order_and_computer_id_or_name,
    the_overview_counts_licences_seats_expiring_ones_and_releases_per_day,
);

/// Ten seconds from now: ample for any command of the suite.
pub(crate) fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// `count` licences of `model` with `seats` seats, created at [`T0`] (with `order` as their
/// order id), under no creation cap.
pub(crate) fn create(model: &str, seats: u32, count: u32, order: Option<&str>) -> CreateKeys {
    let mut template = License::for_tests(model, seats, T0);
    template.key = String::new();
    CreateKeys {
        template,
        count,
        order_id: order.map(str::to_string),
        max_per_day: -1,
        max_stored: -1,
    }
}

/// The key of the one licence `command` creates.
async fn key_of(store: &Store, command: CreateKeys) -> String {
    let created = store.run(command, deadline()).await.expect("created");
    created.licenses[0].key.clone()
}

async fn one_key(store: &Store, model: &str, seats: u32) -> String {
    let created = store
        .run(create(model, seats, 1, None), deadline())
        .await
        .expect("created");
    created.licenses[0].key.clone()
}

/// Activates `key` on computer `pc` at `now`, under no daily cap and with every licence check
/// passing.
pub(crate) fn activate(key: &str, pc: &str, now: i64) -> Activate {
    Activate {
        key: key.to_string(),
        request: ActivationRequest {
            computer_id: pc.to_string(),
            ..Default::default()
        },
        now,
        limits: ActivationLimits {
            max_per_day: -1,
            fix_duration_at_activation: true,
            reclaim_after_minutes: 10,
        },
        check: Box::new(|_| Ok(())),
        secret: [9; 32],
    }
}

fn release(key: &str, pc: &str, now: i64) -> Release {
    Release {
        key: key.to_string(),
        computer_id: Some(pc.to_string()),
        code: None,
        now,
        code_required: false,
        communication_key: None,
        prevent_minutes: 0,
        max_release_count: 2,
        max_release_period_days: 30,
        log_history: true,
        vendor: Some("v".into()),
        client: None,
        check: Box::new(|_| Ok(())),
    }
}

fn refusal(e: CommandError) -> Refusal {
    match e {
        CommandError::Refused(r) => r,
        CommandError::Store(e) => panic!("a storage failure instead of a refusal: {e}"),
    }
}

async fn a_refused_command_writes_nothing_and_the_next_one_applies(store: Arc<Store>) {
    let key = one_key(&store, "permanent", 1).await;
    let mut limited = create("permanent", 1, 2, None);
    limited.max_stored = 2;
    let e = store.run(limited, deadline()).await.unwrap_err();
    assert_eq!(refusal(e).reason, Reason::Rule);
    let read = store.read().await.expect("read");
    assert_eq!(read.licenses_stored().await.expect("count"), 1);
    drop(read);
    // A refused activation (another product check) leaves no activation behind.
    let mut refused = activate(&key, "PC", T0);
    refused.check = Box::new(|_| Err(Refusal::new(Reason::WrongProduct, "other product")));
    let e = store.run(refused, deadline()).await.unwrap_err();
    assert_eq!(refusal(e).reason, Reason::WrongProduct);
    let read = store.read().await.expect("read");
    assert!(read.activation(&key, "PC").await.expect("read").is_none());
    let license = read.license(&key).await.expect("read").expect("stored");
    assert_eq!(license.activations_used, 0);
    drop(read);
    let done = store.run(activate(&key, "PC", T0), deadline()).await;
    assert!(matches!(done, Ok(Activated::New { .. })), "{done:?}");
}

async fn concurrent_activations_never_take_more_seats_than_allowed(store: Arc<Store>) {
    let key = one_key(&store, "permanent", 5).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (store, key) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            store
                .run(activate(&key, &format!("PC-{i}"), T0), deadline())
                .await
        }));
    }
    let mut granted = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Activated::New { .. }) => granted += 1,
            Ok(other) => panic!("a new computer found itself active: {other:?}"),
            Err(e) => assert_eq!(refusal(e).reason, Reason::NoSeatsLeft),
        }
    }
    assert_eq!(granted, 5);
    let read = store.read().await.expect("read");
    let license = read.license(&key).await.expect("read").expect("stored");
    assert_eq!(license.activations_used, 5);
    assert_eq!(read.activations(&key).await.expect("read").len(), 5);
    assert_eq!(
        read.activations_on(crate::license::dates::day_number(T0))
            .await
            .expect("count"),
        5
    );
}

async fn releases_are_logged_for_the_limits_and_counted_against_them(store: Arc<Store>) {
    let key = one_key(&store, "permanent", 1).await;
    for (i, at) in [T0, T0 + 60].into_iter().enumerate() {
        store
            .run(activate(&key, "PC", at), deadline())
            .await
            .expect("activated");
        let released = store
            .run(release(&key, "PC", at + 1), deadline())
            .await
            .unwrap_or_else(|e| panic!("release {i}: {e}"));
        assert_eq!(released.license.activations_used, 0);
    }
    store
        .run(activate(&key, "PC", T0 + 120), deadline())
        .await
        .expect("activated");
    let e = store
        .run(release(&key, "PC", T0 + 121), deadline())
        .await
        .unwrap_err();
    assert_eq!(refusal(e).reason, Reason::TooManyReleases);
    let read = store.read().await.expect("read");
    assert_eq!(
        read.release_times(&key).await.expect("read"),
        vec![T0 + 1, T0 + 61]
    );
    assert!(read.activation(&key, "PC").await.expect("read").is_some());
}

async fn history_lines_come_back_in_the_order_they_were_appended(store: Arc<Store>) {
    let key = one_key(&store, "permanent", 1).await;
    let other = one_key(&store, "permanent", 1).await;
    for (n, event) in ["updated", "revoked", "restored"].into_iter().enumerate() {
        for k in [&key, &other] {
            let edit = Edit {
                target: Target::Key(k.clone()),
                check: Box::new(|_| Ok(())),
                edit: Box::new(|l: &License| Ok(l.clone())),
                event,
                log_history: true,
                vendor: None,
                client: None,
                now: T0 + n as i64,
            };
            store.run(edit, deadline()).await.expect("edited");
        }
    }
    let read = store.read().await.expect("read");
    let events: Vec<(String, i64)> = read
        .history(&key)
        .await
        .expect("read")
        .into_iter()
        .map(|h| (h.event, h.time))
        .collect();
    assert_eq!(
        events,
        vec![
            ("updated".to_string(), T0),
            ("revoked".into(), T0 + 1),
            ("restored".into(), T0 + 2)
        ]
    );
}

async fn a_retried_order_gets_the_keys_it_got_first(store: Arc<Store>) {
    let first = store
        .run(create("permanent", 1, 3, Some("order-1")), deadline())
        .await
        .expect("created");
    assert!(!first.reused);
    let again: Created = store
        .run(create("permanent", 1, 3, Some("order-1")), deadline())
        .await
        .expect("found");
    assert!(again.reused);
    assert_eq!(again.licenses, first.licenses);
    let other = store
        .run(create("permanent", 1, 1, Some("order-2")), deadline())
        .await
        .expect("created");
    assert!(!other.reused);
    let read = store.read().await.expect("read");
    assert_eq!(read.licenses_stored().await.expect("count"), 4);
    assert_eq!(
        read.keys_created_on(crate::license::dates::day_number(T0))
            .await
            .expect("count"),
        4
    );
}

async fn an_idle_cloud_seat_is_reclaimed_past_the_threshold_and_recorded(store: Arc<Store>) {
    let key = one_key(&store, "permanent_cloud", 1).await;
    let Activated::New { activation, .. } = store
        .run(activate(&key, "PC-A", T0), deadline())
        .await
        .expect("PC-A activated")
    else {
        panic!("PC-A was already active")
    };
    // PC-A validates at T0 + 8 min: a durable record of its seat.
    let mut seen = activation.clone();
    seen.last_seen = T0 + 8 * 60;
    let recorded = store
        .run(
            RecordSeat {
                key: key.clone(),
                activation: seen,
            },
            deadline(),
        )
        .await
        .expect("recorded");
    assert!(recorded.still_there);
    // At T0 + 15 min PC-A has been idle 7 minutes: not reclaimable yet.
    let e = store
        .run(activate(&key, "PC-B", T0 + 15 * 60), deadline())
        .await
        .unwrap_err();
    assert_eq!(refusal(e).reason, Reason::NoSeatsLeft);
    // At T0 + 19 min it has been idle 11 minutes: PC-B gets the seat.
    let Activated::New { license, .. } = store
        .run(activate(&key, "PC-B", T0 + 19 * 60), deadline())
        .await
        .expect("PC-B activated")
    else {
        panic!("PC-B was already active")
    };
    assert_eq!(license.activations_used, 1);
    let read = store.read().await.expect("read");
    assert!(read.activation(&key, "PC-A").await.expect("read").is_none());
    assert!(read.activation(&key, "PC-B").await.expect("read").is_some());
    let history = read.history(&key).await.expect("read");
    let reclaimed: Vec<_> = history.iter().filter(|h| h.event == "reclaimed").collect();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].computer_id.as_deref(), Some("PC-A"));
    // A check-out is not a new activation: the daily count stays 0.
    assert_eq!(
        read.activations_on(crate::license::dates::day_number(T0))
            .await
            .expect("count"),
        0
    );
}

async fn a_replay_id_answers_its_first_result_and_a_refusal_is_not_remembered(store: Arc<Store>) {
    let key = || ReplayKey::new("FastSpring", "hash-1", "GetActivationKey");
    let at = crate::license::dates::now();
    let mut refused = create("permanent", 1, 1, None);
    refused.max_per_day = 0;
    let e = store
        .run_remembered(refused, deadline(), key(), at)
        .await
        .unwrap_err();
    assert_eq!(refusal(e).reason, Reason::Rule);
    let remembered = |id: &'static str| {
        let store = store.clone();
        async move {
            let read = store.read().await.expect("read");
            read.remembers_change("fastspring", id).await.expect("read")
        }
    };
    assert!(!remembered("hash-1").await, "a refusal was remembered");
    let Replayable::Fresh(first) = store
        .run_remembered(create("permanent", 1, 1, None), deadline(), key(), at)
        .await
        .expect("created")
    else {
        panic!("a refused change was remembered");
    };
    let repeat = store
        .run_remembered(create("permanent", 1, 1, None), deadline(), key(), at)
        .await
        .expect("answered");
    let Replayable::Repeat {
        method,
        first: Some(again),
    } = repeat
    else {
        panic!("not answered from the memory: {repeat:?}");
    };
    assert_eq!(method, "GetActivationKey");
    assert_eq!(again.licenses, first.licenses);
    assert!(
        again.reused,
        "a repeat of key creation reports itself as reused"
    );
    // The same id for another kind of change is told apart.
    let other = store
        .run_remembered(
            release(&first.licenses[0].key, "PC", at),
            deadline(),
            key(),
            at,
        )
        .await
        .expect("answered");
    assert!(
        matches!(other, Replayable::Repeat { first: None, .. }),
        "{other:?}"
    );
    let read = store.read().await.expect("read");
    assert_eq!(read.licenses_stored().await.expect("count"), 1);
    assert!(remembered("hash-1").await);
    assert!(!remembered("hash-2").await);
}

async fn a_subscription_renews_all_its_keys_or_none(store: Arc<Store>) {
    let mut template = create("subscription", 1, 3, None);
    template.template.subscription_id = Some("sub-1".into());
    let created = store.run(template, deadline()).await.expect("created");
    let keys: Vec<String> = created.licenses.iter().map(|l| l.key.clone()).collect();
    let refuse_one = keys[1].clone();
    let refusing = renew_subscription(Box::new(move |l: &License| {
        if l.key == refuse_one {
            Err(Refusal::new(Reason::Revoked, "revoked"))
        } else {
            Ok(())
        }
    }));
    let e = store.run(refusing, deadline()).await.unwrap_err();
    assert_eq!(refusal(e).reason, Reason::Revoked);
    let read = store.read().await.expect("read");
    for key in &keys {
        let l = read.license(key).await.expect("read").expect("stored");
        assert_eq!(
            l.revision, 0,
            "{key} changed although the renewal was refused"
        );
        assert!(read.history(key).await.expect("read").is_empty());
    }
    drop(read);
    let renewal = renew_subscription(Box::new(|_| Ok(())));
    let edited = store.run(renewal, deadline()).await.expect("renewed");
    assert_eq!(edited.licenses.len(), 3);
    assert!(edited.licenses.iter().all(|l| l.revision == 1));
}

/// A renewal of every key of `sub-1` that moves each revision, with `check` on each key.
fn renew_subscription(check: super::commands::LicenseCheck) -> Edit {
    Edit {
        target: Target::Group {
            vendor: VENDOR.into(),
            group: Group::Subscription("sub-1".into()),
        },
        check,
        edit: Box::new(|l: &License| {
            let mut after = l.clone();
            after.revision += 1;
            Ok(after)
        }),
        event: "renewed",
        log_history: true,
        vendor: None,
        client: None,
        now: T0,
    }
}

/// Creates `count` keys of `vendor` in order `order` and subscription `sub`.
async fn group_keys(
    store: &Store,
    vendor: &str,
    order: &str,
    sub: &str,
    count: u32,
) -> Vec<String> {
    let mut keys = create("subscription", 1, count, Some(order));
    keys.template.vendor = vendor.to_string();
    keys.template.order_id = Some(order.to_string());
    keys.template.subscription_id = Some(sub.to_string());
    let created = store.run(keys, deadline()).await.expect("created");
    created.licenses.into_iter().map(|l| l.key).collect()
}

/// An edit of every key `vendor` created in `group` that moves each revision.
fn bump_group(vendor: &str, group: Group) -> Edit {
    Edit {
        target: Target::Group {
            vendor: vendor.to_string(),
            group,
        },
        ..renew_subscription(Box::new(|_| Ok(())))
    }
}

async fn an_order_or_subscription_selects_only_the_calling_vendors_live_keys(store: Arc<Store>) {
    let mut mine = group_keys(&store, "Shop", "1234", "S-1", 2).await;
    let theirs = group_keys(&store, "Other", "1234", "S-1", 1).await;
    mine.sort();
    // Vendor names match in any case; the other vendor's key of the same ids stays as it was.
    let by_order = store
        .run(bump_group("SHOP", Group::Order("1234".into())), deadline())
        .await
        .expect("edited");
    let edited: Vec<String> = by_order.licenses.iter().map(|l| l.key.clone()).collect();
    assert_eq!(edited, mine);
    let by_sub = store
        .run(
            bump_group("shop", Group::Subscription("S-1".into())),
            deadline(),
        )
        .await
        .expect("edited");
    assert!(by_sub.licenses.iter().all(|l| l.revision == 2));
    let read = store.read().await.expect("read");
    let other = read
        .license(&theirs[0])
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(other.revision, 0);
    drop(read);
    // A key replaced by an upgrade leaves its groups; its replacement joins them.
    let upgraded = store
        .run(upgrade(&mine[0]), deadline())
        .await
        .expect("upgraded");
    let mut live = vec![mine[1].clone(), upgraded.new.key.clone()];
    live.sort();
    let after = store
        .run(bump_group("Shop", Group::Order("1234".into())), deadline())
        .await
        .expect("edited");
    let edited: Vec<String> = after.licenses.iter().map(|l| l.key.clone()).collect();
    assert_eq!(edited, live);
    // An id the vendor never used is 203, and so is an order id sent as a subscription id.
    for group in [
        Group::Order("999".into()),
        Group::Subscription("1234".into()),
    ] {
        let e = store
            .run(bump_group("Shop", group), deadline())
            .await
            .unwrap_err();
        assert_eq!(refusal(e).reason, Reason::NotFound);
    }
    // A vendor without any licence of that order finds none either.
    let e = store
        .run(
            bump_group("Nobody", Group::Order("1234".into())),
            deadline(),
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(e).reason, Reason::NotFound);
}

/// Replaces `key` by a new key that copies it.
fn upgrade(key: &str) -> Upgrade {
    Upgrade {
        key: key.to_string(),
        check: Box::new(|_| Ok(())),
        upgrade: Box::new(|old: &License, new_key: &str| {
            let mut replaced = old.clone();
            replaced.upgraded_to = Some(new_key.to_string());
            let mut new = old.clone();
            new.key = new_key.to_string();
            Ok((replaced, new))
        }),
        max_stored: -1,
        log_history: false,
        vendor: None,
        client: None,
        now: T0,
    }
}

fn issue_code(pc: &str, now: i64) -> super::commands::IssueAuthorizationCode {
    super::commands::IssueAuthorizationCode {
        email: "ann@example.com".into(),
        computer_id: pc.into(),
        now,
        expires: now + 600,
        check: Box::new(|_| Ok(())),
        secret: [9; 32],
        mail: super::commands::CodeMail {
            template: crate::mail::template::MailTemplate::new(
                "Code for {productName}",
                "Hi {customerName}, {authorizationCode} ({expiryMinutes} min, {computerId})",
            ),
            expiry_minutes: "10".into(),
            product_name: Box::new(|l| format!("Product {}", l.product_id)),
        },
    }
}

fn check_code(
    code: &str,
    pc: &str,
    email: Option<&str>,
    now: i64,
) -> super::commands::CheckAuthorizationCode {
    super::commands::CheckAuthorizationCode {
        hash: crate::license::authorization_code::code_hash(&[9; 32], code),
        computer_id: pc.into(),
        email: email.map(str::to_string),
        now,
        max_attempts: 2,
    }
}

async fn an_authorization_code_activates_once_and_wrong_codes_void_it(store: Arc<Store>) {
    use super::commands::{CodeChecked, CodeIssued, SpendAuthorizationCode};
    assert_eq!(
        store
            .run(issue_code("pc-1", T0), deadline())
            .await
            .expect("no customer"),
        CodeIssued::NoLicense,
        "an e-mail address that owns nothing gets no code"
    );
    let mut with_email = create("permanent", 1, 1, None);
    with_email.template.email = Some("Ann@Example.com".into());
    let key = key_of(&store, with_email).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        match store
            .run(issue_code("pc-1", T0), deadline())
            .await
            .expect("issued")
        {
            CodeIssued::Mailed { license, code } => {
                assert_eq!(license.key, key);
                codes.push(code);
            }
            other => panic!("expected a code, got {other:?}"),
        }
    }
    assert_eq!(
        store
            .run(issue_code("pc-1", T0 + 10), deadline())
            .await
            .expect("limit"),
        CodeIssued::HourlyLimit,
        "three codes an hour per e-mail address"
    );
    // Each code's mail was queued in its transaction; the refused fourth queued none.
    let queued = store
        .run(super::commands::ListMail, deadline())
        .await
        .expect("outbox");
    assert_eq!(queued.len(), 3, "one mail per code");
    for (mail, code) in queued.iter().zip(&codes) {
        assert_eq!(mail.mail.to, "Ann@Example.com", "the address as stored");
        assert_eq!(mail.mail.template, "AuthorizationCode");
        assert_eq!(mail.mail.subject, "Code for Product 1");
        assert_eq!(
            mail.mail.body,
            format!("Hi Ann@Example.com, {code} (10 min, pc-1)")
        );
    }
    let (first, second, third) = (&codes[0], &codes[1], &codes[2]);
    assert_ne!(first, second);
    // The right code, another computer: wrong, and counted against nobody without an e-mail.
    let wrong_pc = store
        .run(check_code(first, "pc-2", None, T0), deadline())
        .await
        .expect("check");
    assert_eq!(wrong_pc, CodeChecked::Wrong { counted: 0 });
    let ok = store
        .run(check_code(first, "pc-1", None, T0), deadline())
        .await
        .expect("check");
    assert_eq!(ok, CodeChecked::Activate { key: key.clone() });
    let hash = crate::license::authorization_code::code_hash(&[9; 32], first);
    assert!(
        store
            .run(SpendAuthorizationCode { hash: hash.clone() }, deadline())
            .await
            .expect("spend")
    );
    assert!(
        !store
            .run(SpendAuthorizationCode { hash }, deadline())
            .await
            .expect("spent once")
    );
    let again = store
        .run(check_code(first, "pc-1", None, T0), deadline())
        .await
        .expect("check");
    assert_eq!(again, CodeChecked::Spent, "a code activates once");
    // Two wrong codes for the address void its two pending codes (max_attempts = 2).
    let not_a_code = if first == "000000" {
        "000001"
    } else {
        "000000"
    };
    for expected in [2, 2] {
        let wrong = store
            .run(
                check_code(not_a_code, "pc-1", Some("ann@example.com"), T0),
                deadline(),
            )
            .await
            .expect("wrong");
        assert_eq!(wrong, CodeChecked::Wrong { counted: expected });
    }
    for code in [second, third] {
        let voided = store
            .run(check_code(code, "pc-1", None, T0), deadline())
            .await
            .expect("check");
        assert_eq!(
            voided,
            CodeChecked::Spent,
            "voided after too many wrong codes"
        );
    }
    // An hour later another code may be mailed; an expired one is spent.
    let later = T0 + 3600;
    assert!(matches!(
        store
            .run(issue_code("pc-1", later), deadline())
            .await
            .expect("issued"),
        CodeIssued::Mailed { .. }
    ));
    let expired = store
        .run(check_code(second, "pc-1", None, later + 601), deadline())
        .await
        .expect("check");
    assert_eq!(expired, CodeChecked::Spent);
}

/// Keys made with an e-mail (any case), at once, belong to one customer; its e-mail changes
/// in one place; refusals change nothing; erasure leaves the keys without a customer.
async fn an_email_names_one_customer_who_owns_its_keys_until_erased(store: Arc<Store>) {
    use super::commands::{EraseCustomer, RecordConsent, UpdateCustomer};
    use crate::customers::rules::UserUpdate;

    let with_email = |email: &str, count| {
        let mut c = create("permanent", 1, count, None);
        c.template.email = Some(email.to_string());
        c
    };
    // Concurrent creations for a new e-mail make one customer (PostgreSQL: two nodes).
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let email = if i % 2 == 0 {
            "Ann@Example.com"
        } else {
            "ann@example.COM"
        };
        let command = with_email(email, 1);
        tasks.push(tokio::spawn(
            async move { store.run(command, deadline()).await },
        ));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(
            t.await.expect("joined").expect("created").licenses[0]
                .key
                .clone(),
        );
    }
    keys.sort();
    store
        .run(with_email("bob@example.com", 1), deadline())
        .await
        .expect("bob");
    let r = store.read().await.expect("read");
    let ann = r
        .customer_by_email("ANN@example.com")
        .await
        .expect("read")
        .expect("Ann");
    assert_eq!(
        r.license_keys_of_customer("ann@example.com")
            .await
            .expect("keys"),
        keys
    );
    let license = r.license(&keys[0]).await.expect("read").expect("there");
    assert_eq!(
        (license.email, license.customer.as_deref()),
        (None, Some(ann.id.as_str()))
    );
    assert_eq!(r.customers().await.expect("all").len(), 2);
    drop(r);

    let update = |email: &str, previous: Option<&str>, update_existing| UpdateCustomer {
        request: UserUpdate {
            email: email.to_string(),
            previous_email: previous.map(str::to_string),
            details: Default::default(),
        },
        key: None,
        update_existing,
        check: Box::new(|_| Ok(())),
        now: T0 + 5,
        vendor: None,
        client: None,
    };
    let e = store
        .run(update("BOB@example.com", None, false), deadline())
        .await;
    assert_eq!(
        refusal(e.expect_err("exists")).reason,
        Reason::CustomerExists
    );
    let e = store
        .run(
            update("bob@example.com", Some("ann@example.com"), true),
            deadline(),
        )
        .await;
    assert_eq!(
        refusal(e.expect_err("taken")).reason,
        Reason::CustomerExists
    );
    let consent = RecordConsent {
        key: keys[0].clone(),
        email: "bob@example.com".into(),
        consent: true,
        now: T0 + 6,
    };
    let e = store.run(consent, deadline()).await;
    assert_eq!(refusal(e.expect_err("not hers")).reason, Reason::NotFound);
    store
        .run(
            update("ann.new@example.com", Some("ann@example.com"), true),
            deadline(),
        )
        .await
        .expect("e-mail changed");
    let r = store.read().await.expect("read");
    assert_eq!(
        r.license_keys_of_customer("ann.new@example.com")
            .await
            .expect("keys"),
        keys
    );
    assert!(
        r.customer_by_email("ann@example.com")
            .await
            .expect("read")
            .is_none()
    );
    let fourth = r.license(&keys[3]).await.expect("read").expect("there");
    let same = r.customer_of(&fourth).await.expect("read").expect("hers");
    assert_eq!(same.email, "ann.new@example.com");
    drop(r);

    let erase = EraseCustomer {
        email: "ANN.NEW@example.com".into(),
        now: T0 + 9,
        vendor: None,
    };
    let erased = store.run(erase, deadline()).await.expect("erased");
    assert_eq!(erased.keys, keys);
    let r = store.read().await.expect("read");
    assert!(
        r.customer_by_email("ann.new@example.com")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        r.license_keys_of_customer("ann.new@example.com")
            .await
            .expect("keys")
            .is_empty()
    );
    for key in &keys {
        let l = r.license(key).await.expect("read").expect("kept");
        assert_eq!((l.email, l.customer), (None, None), "{key}");
        let last = r
            .history(key)
            .await
            .expect("history")
            .pop()
            .expect("a line");
        assert_eq!(last.event, "customer_erased");
    }
    assert_eq!(r.customers().await.expect("all").len(), 1, "Bob stays");
}

fn add_install(key: Option<&str>, address: &str, caps: InstallCaps) -> AddInstall {
    AddInstall {
        fields: InstallFields {
            activation_key: key.map(str::to_string),
            software_version: Some("1.0".into()),
            ..Default::default()
        },
        address: address.to_string(),
        now: T0,
        caps,
    }
}

/// Runs `n` adds at once; returns how many were stored, the others having been refused by a
/// cap.
async fn concurrent_adds(store: &Arc<Store>, n: usize, add: impl Fn(usize) -> AddInstall) -> usize {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, command) = (store.clone(), add(i));
            tokio::spawn(async move { store.run(command, deadline()).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => stored += 1,
            Err(e) => assert_eq!(refusal(e).reason, Reason::Rule),
        }
    }
    stored
}

async fn concurrent_installs_never_pass_a_cap_and_a_refused_one_stores_nothing(store: Arc<Store>) {
    let caps = InstallCaps {
        per_key_per_day: 4,
        per_address_per_day: 6,
        stored: 10,
    };
    // One key from many addresses: the key cap binds.
    let stored = concurrent_adds(&store, 20, |i| {
        add_install(Some("KEY-1"), &format!("10.0.0.{i}"), caps)
    })
    .await;
    assert_eq!(stored, 4);
    // No key, one address: the address cap binds.
    let stored = concurrent_adds(&store, 20, |_| add_install(None, "10.9.9.9", caps)).await;
    assert_eq!(stored, 6);
    // Fresh keys and addresses: the total binds (4 + 6 stored, the cap is 10).
    let stored = concurrent_adds(&store, 5, |i| {
        add_install(Some(&format!("K{i}")), &format!("10.1.0.{i}"), caps)
    })
    .await;
    assert_eq!(stored, 0);
    let read = store.read().await.expect("read");
    assert_eq!(read.installs_stored().await.expect("count"), 10);
    drop(read);
    let raised = InstallCaps { stored: 11, ..caps };
    let stored = concurrent_adds(&store, 5, |i| {
        add_install(Some(&format!("K{i}")), &format!("10.1.0.{i}"), raised)
    })
    .await;
    assert_eq!(stored, 1);
    let read = store.read().await.expect("read");
    assert_eq!(read.installs_stored().await.expect("count"), 11);
}

async fn a_stored_install_is_updated_removed_and_accessed_and_an_unknown_one_is_not_found(
    store: Arc<Store>,
) {
    let none = InstallCaps {
        per_key_per_day: -1,
        per_address_per_day: -1,
        stored: -1,
    };
    let added = store
        .run(add_install(Some("K"), "10.0.0.1", none), deadline())
        .await
        .expect("added");
    assert_eq!(added.id.len(), 32);
    let change = |id: &str, change: InstallChange, now: i64| ChangeInstall {
        id: id.to_string(),
        change,
        now,
    };
    let fields = InstallFields {
        os_version: Some("Linux".into()),
        ..Default::default()
    };
    let steps = [
        change(
            &added.id,
            InstallChange::Update(Box::new(fields.clone())),
            T0 + 10,
        ),
        change(&added.id, InstallChange::Access, T0 + 20),
        change(&added.id, InstallChange::Remove, T0 + 30),
    ];
    for step in steps {
        store.run(step, deadline()).await.expect("changed");
    }
    let read = store.read().await.expect("read");
    let stored = read
        .install(&added.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.fields, fields);
    assert_eq!(
        (
            stored.updated_at,
            stored.last_accessed_at,
            stored.uninstalled_at
        ),
        (T0 + 10, T0 + 20, Some(T0 + 30))
    );
    drop(read);
    let unknown = "0".repeat(32);
    let e = store
        .run(change(&unknown, InstallChange::Access, T0), deadline())
        .await
        .unwrap_err();
    assert_eq!(refusal(e).reason, Reason::NotFound);
    let read = store.read().await.expect("read");
    assert!(read.install(&unknown).await.expect("read").is_none());
    assert_eq!(read.installs_stored().await.expect("count"), 1);
}

fn test_mail(to: &str) -> super::outbox::OutgoingMail {
    super::outbox::OutgoingMail {
        to: to.into(),
        subject: "s".into(),
        body: "b".into(),
        template: "Test".into(),
    }
}

async fn claim(store: &Store, now: i64, limit: usize) -> (Vec<i64>, Option<i64>) {
    let lease_until = now + 60;
    let claimed = store
        .run(
            super::commands::ClaimMail {
                now,
                lease_until,
                limit,
            },
            deadline(),
        )
        .await
        .expect("claim");
    let ids = claimed.mail.iter().map(|m| m.id).collect();
    (ids, claimed.next_due)
}

async fn mail_change(store: &Store, change: super::outbox::MailChange) -> bool {
    store.run(change, deadline()).await.expect("mail change")
}

async fn queued_mail_is_claimed_by_one_sender_until_its_claim_ends_and_leaves_when_sent(
    store: Arc<Store>,
) {
    use super::outbox::MailChange;
    let mut ids = Vec::new();
    for to in ["a@example.com", "b@example.com", "c@example.com"] {
        let enqueue = super::commands::EnqueueMail {
            mail: test_mail(to),
            at: T0,
        };
        ids.push(store.run(enqueue, deadline()).await.expect("enqueue"));
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    assert_eq!(claim(&store, T0, 2).await, (vec![a, b], Some(T0)));
    assert_eq!(claim(&store, T0, 2).await, (vec![c], Some(T0 + 60)));
    // Claimed mail is nobody's to take until the claim ends.
    assert_eq!(claim(&store, T0 + 59, 10).await, (vec![], Some(T0 + 60)));
    assert_eq!(claim(&store, T0 + 60, 10).await.0, vec![a, b, c]);

    assert!(mail_change(&store, MailChange::Sent(a)).await);
    assert!(
        !mail_change(&store, MailChange::Sent(a)).await,
        "sent twice"
    );
    let failed = MailChange::Failed {
        id: b,
        next_try_at: T0 + 200,
        error: "451 try again later".into(),
    };
    assert!(mail_change(&store, failed).await);
    assert!(mail_change(&store, MailChange::Drop(c)).await);
    let listed = store
        .run(super::commands::ListMail, deadline())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let left = &listed[0];
    assert_eq!((left.id, left.attempts), (b, 1));
    assert_eq!(left.next_try_at, T0 + 200);
    assert_eq!(left.queued_at, T0);
    assert_eq!(left.last_error.as_deref(), Some("451 try again later"));
    assert_eq!(left.mail, test_mail("b@example.com"));

    assert_eq!(claim(&store, T0 + 150, 10).await.0, Vec::<i64>::new());
    assert!(
        mail_change(
            &store,
            MailChange::Retry {
                id: b,
                at: T0 + 150
            }
        )
        .await
    );
    assert_eq!(claim(&store, T0 + 150, 10).await.0, vec![b]);
    assert!(!mail_change(&store, MailChange::Drop(a)).await);
    // A new message never takes a delivered one's id.
    let next = store
        .run(
            super::commands::EnqueueMail {
                mail: test_mail("d@example.com"),
                at: T0,
            },
            deadline(),
        )
        .await
        .expect("enqueue");
    assert!(next > c);
}

/// Routes: endpoint `a` receives every event, `b` only activations.
fn two_routes() -> super::events::EventRoutes {
    use super::webhook_outbox::EventName;
    super::events::EventRoutes {
        routes: vec![
            super::events::Route {
                url: "http://a".into(),
                events: EventName::ALL.into_iter().collect(),
            },
            super::events::Route {
                url: "http://b".into(),
                events: [EventName::LicenseActivated].into_iter().collect(),
            },
        ],
    }
}

async fn queued_webhooks(store: &Store) -> Vec<super::webhook_outbox::QueuedWebhook> {
    store
        .run(super::commands::ListWebhooks, deadline())
        .await
        .expect("list")
}

async fn claim_webhooks(store: &Store, now: i64) -> Vec<i64> {
    let claimed = store
        .run(
            super::commands::ClaimWebhooks {
                now,
                lease_until: now + 60,
                limit: 10,
            },
            deadline(),
        )
        .await
        .expect("claim");
    claimed.events.iter().map(|e| e.id).collect()
}

async fn events_are_queued_with_their_change_one_row_per_subscribed_endpoint(store: Arc<Store>) {
    use super::webhook_outbox::{EventName, Subject};
    // No routes: nothing is queued.
    one_key(&store, "permanent", 2).await;
    assert!(queued_webhooks(&store).await.is_empty());

    store.events().set_routes(Some(two_routes()));
    let key = one_key(&store, "permanent", 2).await;
    store
        .run(activate(&key, "pc-1", T0), deadline())
        .await
        .expect("activate");
    // A refused change queues nothing.
    let refused = store
        .run(activate("NOSUCHKEY", "pc-1", T0), deadline())
        .await;
    assert!(matches!(refused, Err(CommandError::Refused(_))));
    let queued = queued_webhooks(&store).await;
    let seen: Vec<(EventName, &str)> = queued
        .iter()
        .map(|q| (q.event.event, q.event.url.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (EventName::LicenseCreated, "http://a"),
            (EventName::LicenseActivated, "http://a"),
            (EventName::LicenseActivated, "http://b"),
        ]
    );
    assert!(queued.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(queued[1].event.event_id, queued[2].event.event_id);
    assert_ne!(queued[0].event.event_id, queued[1].event.event_id);
    match &queued[1].event.subject {
        Subject::License { license, .. } => {
            assert_eq!(license.key, key);
            assert_eq!(license.activations_used, 1, "the licence after the change");
        }
        other => panic!("{other:?}"),
    }
    store.events().set_routes(None);
}

async fn webhook_events_are_claimed_per_endpoint_oldest_first_and_a_dead_one_holds_up_nothing(
    store: Arc<Store>,
) {
    use super::webhook_outbox::WebhookChange;
    store.events().set_routes(Some(two_routes()));
    let key = one_key(&store, "permanent", 2).await;
    store
        .run(activate(&key, "pc-1", T0), deadline())
        .await
        .expect("activate");
    store.events().set_routes(None);
    let ids: Vec<i64> = queued_webhooks(&store).await.iter().map(|q| q.id).collect();
    let (a1, a2, b1) = (ids[0], ids[1], ids[2]);
    let later = crate::license::dates::now() + 1_000;
    // One per endpoint: a's oldest and b's only event.
    assert_eq!(claim_webhooks(&store, later).await, vec![a1, b1]);
    // Claimed events are nobody's until the claim ends, and hold their endpoint.
    assert_eq!(claim_webhooks(&store, later + 59).await, Vec::<i64>::new());
    let failed = WebhookChange::Failed {
        id: a1,
        next_try_at: later + 10,
        dead: true,
        error: "the endpoint answered 500".into(),
    };
    assert!(store.run(failed, deadline()).await.expect("failed"));
    // A dead event no longer holds its endpoint's later ones.
    assert_eq!(claim_webhooks(&store, later + 1).await, vec![a2]);
    assert!(
        store
            .run(WebhookChange::Delivered(a2), deadline())
            .await
            .expect("delivered")
    );
    let listed = queued_webhooks(&store).await;
    let dead = listed.iter().find(|q| q.id == a1).expect("still listed");
    assert!(dead.dead);
    assert_eq!(dead.attempts, 1);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("the endpoint answered 500")
    );
    assert!(!listed.iter().any(|q| q.id == a2));
    // Retried, it is alive and due, its attempts kept.
    let retry = WebhookChange::Retry {
        id: a1,
        at: later + 2,
    };
    assert!(store.run(retry, deadline()).await.expect("retry"));
    assert_eq!(claim_webhooks(&store, later + 2).await, vec![a1]);
    let again = queued_webhooks(&store).await;
    let a = again.iter().find(|q| q.id == a1).expect("listed");
    assert!(!a.dead && a.attempts == 1);
    assert!(
        store
            .run(WebhookChange::Drop(b1), deadline())
            .await
            .expect("drop")
    );
    assert!(
        !store
            .run(WebhookChange::Drop(b1), deadline())
            .await
            .expect("drop twice")
    );
}

/// Keys for order `ORD-1`, the order id in the licences too, as GetActivationKey makes them.
fn ordered(count: u32) -> CreateKeys {
    let mut command = create("permanent", 2, count, Some("ORD-1"));
    command.template.order_id = Some("ORD-1".into());
    command
}

async fn a_deleted_licence_leaves_its_history_and_frees_its_order(store: Arc<Store>) {
    let created = store.run(ordered(2), deadline()).await.expect("created");
    let (k1, k2) = (
        created.licenses[0].key.clone(),
        created.licenses[1].key.clone(),
    );
    store
        .run(activate(&k1, "pc-1", T0), deadline())
        .await
        .expect("activate");
    store.events().set_routes(Some(two_routes()));
    let delete = |key: &str| super::commands::DeleteLicense {
        key: key.to_string(),
        now: T0 + 5,
        by: "test".into(),
        client: None,
    };
    let gone = store.run(delete(&k1), deadline()).await.expect("deleted");
    assert_eq!(gone.key, k1);
    let events: Vec<_> = queued_webhooks(&store)
        .await
        .iter()
        .map(|q| q.event.event)
        .collect();
    assert_eq!(
        events,
        [super::webhook_outbox::EventName::LicenseDeleted],
        "deleted only, not released"
    );
    store.events().set_routes(None);
    let read = store.read().await.expect("read");
    assert_eq!(read.license(&k1).await.expect("read"), None);
    assert!(read.activations(&k1).await.expect("read").is_empty());
    let history = read.history(&k1).await.expect("history");
    assert_eq!(history.last().map(|h| h.event.as_str()), Some("deleted"));
    drop(read);
    assert!(matches!(
        store.run(delete(&k1), deadline()).await,
        Err(CommandError::Refused(_))
    ));
    // The order keeps its other key; once that is deleted too it can be fulfilled afresh.
    let again = store
        .run(ordered(2), deadline())
        .await
        .expect("retried order");
    assert!(again.reused);
    assert_eq!(
        again
            .licenses
            .iter()
            .map(|l| l.key.clone())
            .collect::<Vec<_>>(),
        vec![k2.clone()]
    );
    store.run(delete(&k2), deadline()).await.expect("deleted");
    let fresh = store.run(ordered(2), deadline()).await.expect("new order");
    assert!(!fresh.reused);
    assert_eq!(fresh.licenses.len(), 2);
}

async fn a_console_session_lives_until_idle_or_old_is_swept_at_login_and_ends_at_logout(
    store: Arc<Store>,
) {
    use super::console_sessions::{
        ConsoleSession, EndConsoleSession, SessionLifetime, StartConsoleSession,
        TouchConsoleSession,
    };
    let life = SessionLifetime {
        idle_secs: 30,
        max_secs: 100,
    };
    let session = |user: &str, at: i64| ConsoleSession {
        user: user.into(),
        created_at: at,
        last_seen: at,
        address: "192.0.2.7".into(),
    };
    let start = |digest: &str, user: &str, at: i64| StartConsoleSession {
        digest: digest.into(),
        session: session(user, at),
        lifetime: life,
        now: at,
    };
    let touch = |digest: &str, now: i64| TouchConsoleSession {
        digest: digest.into(),
        now,
        lifetime: life,
    };
    let stored = |digest: &'static str| {
        let store = store.clone();
        async move {
            let read = store.read().await.expect("read");
            read.console_session(digest).await.expect("read")
        }
    };
    store
        .run(start("d-ann", "ann", T0), deadline())
        .await
        .expect("start");
    assert_eq!(stored("d-ann").await, Some(session("ann", T0)));
    assert_eq!(stored("d-none").await, None);

    // Each use within the idle time moves last_seen on: the session outlives its idle time
    // while used, but not its absolute lifetime.
    for at in [T0 + 25, T0 + 50, T0 + 75] {
        let s = store
            .run(touch("d-ann", at), deadline())
            .await
            .expect("touch");
        assert_eq!(s.map(|s| s.last_seen), Some(at));
    }
    assert_eq!(
        store
            .run(touch("d-ann", T0 + 100), deadline())
            .await
            .expect("touch"),
        None,
        "older than its lifetime"
    );
    assert_eq!(stored("d-ann").await, None, "an expired session is removed");

    // An idle session is over; a login sweeps expired sessions away and keeps live ones.
    store
        .run(start("d-bob", "bob", T0), deadline())
        .await
        .expect("start");
    store
        .run(start("d-cy", "cy", T0 + 20), deadline())
        .await
        .expect("start");
    let swept = store
        .run(start("d-dee", "dee", T0 + 40), deadline())
        .await
        .expect("start");
    assert_eq!(swept, 1, "bob's session was idle for 40 s");
    assert_eq!(stored("d-bob").await, None);
    assert!(stored("d-cy").await.is_some());
    assert_eq!(
        store
            .run(touch("d-bob", T0 + 41), deadline())
            .await
            .expect("touch"),
        None
    );

    // Logout ends a session at once, and only that one.
    let end = || EndConsoleSession {
        digest: "d-cy".into(),
    };
    assert!(store.run(end(), deadline()).await.expect("end"));
    assert_eq!(stored("d-cy").await, None);
    assert!(stored("d-dee").await.is_some());
    let again = store.run(end(), deadline()).await.expect("end");
    assert!(!again, "nothing left to end");
}

async fn a_staff_search_finds_licences_by_key_email_order_and_computer_id_or_name(
    store: Arc<Store>,
) {
    use super::license_search::{LicenseSearch, SearchField};
    let mut with_email = create("permanent", 2, 1, None);
    with_email.template.email = Some("Ann.Smith@Example.com".into());
    let ann = key_of(&store, with_email).await;
    let mut ordered = create("permanent", 2, 1, Some("ORD-4711"));
    ordered.template.order_id = Some("ORD-4711".into());
    let order = key_of(&store, ordered).await;
    let lab = one_key(&store, "permanent", 2).await;
    let mut on_bench = activate(&lab, "PC-LAB-7", T0);
    on_bench.request.computer_name = Some("Lab Bench 3".into());
    store.run(on_bench, deadline()).await.expect("activated");
    let found = |text: &str, field: SearchField| {
        let store = store.clone();
        let text = text.to_string();
        async move {
            let read = store.read().await.expect("read");
            let search = LicenseSearch::new(&text, field, 10);
            let licences = read.search_licenses(&search).await.expect("search");
            licences.into_iter().map(|l| l.key).collect::<Vec<_>>()
        }
    };
    let dashed_part = format!("{}-{}", &ann[..5].to_lowercase(), &ann[5..8]);
    assert_eq!(
        found(&dashed_part, SearchField::Key).await,
        vec![ann.clone()]
    );
    assert_eq!(
        found("ann.smith@example", SearchField::Any).await,
        vec![ann.clone()]
    );
    assert_eq!(
        found("ord-47", SearchField::Order).await,
        vec![order.clone()]
    );
    assert_eq!(
        found("pc-lab", SearchField::Computer).await,
        vec![lab.clone()]
    );
    assert_eq!(found("BENCH 3", SearchField::Any).await, vec![lab.clone()]);
    assert!(
        found("bench", SearchField::Order).await.is_empty(),
        "looks only where asked"
    );
    assert!(found("nobody@nowhere", SearchField::Any).await.is_empty());
    assert!(found("   ", SearchField::Any).await.is_empty());
    // Released computers are no longer found.
    store
        .run(release(&lab, "PC-LAB-7", T0 + 60), deadline())
        .await
        .expect("released");
    assert!(found("pc-lab", SearchField::Computer).await.is_empty());
}

async fn the_overview_counts_licences_seats_expiring_ones_and_releases_per_day(store: Arc<Store>) {
    use crate::license::dates::{SECONDS_PER_DAY, day_number};
    let now = T0 + 10 * SECONDS_PER_DAY;
    let a = one_key(&store, "permanent", 3).await;
    let mut soon = create("subscription", 1, 1, None);
    soon.template.expiry = Some(now + 5 * SECONDS_PER_DAY);
    store.run(soon, deadline()).await.expect("created");
    store
        .run(activate(&a, "pc-1", now - SECONDS_PER_DAY), deadline())
        .await
        .expect("a");
    store
        .run(activate(&a, "pc-2", now), deadline())
        .await
        .expect("a");
    store
        .run(release(&a, "pc-1", now), deadline())
        .await
        .expect("released");
    let read = store.read().await.expect("read");
    let o = read.overview(now, 90).await.expect("overview");
    assert_eq!((o.seats, o.used), (4, 1));
    assert_eq!(o.expiring_count, 1);
    assert_eq!(o.groups.values().map(|g| g.licences).sum::<u64>(), 2);
    assert_eq!(o.releases.get(&day_number(now)), Some(&1));
    assert_eq!(o.activations.get(&day_number(now)), Some(&1));
    assert_eq!(o.activations.get(&(day_number(now) - 1)), Some(&1));
}
