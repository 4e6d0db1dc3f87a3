//! Consistency under concurrency (README §6, methods.md GetActivationKey): activations never
//! exceed a key's seats, and store retries of one order create one licence.

use std::sync::{Arc, Barrier};

use crate::util::{TestConfig, TestDaemon, VENDOR, send_raw};

const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

/// Runs `n` threads that each make one GET of `path(i)` at the same moment; returns the
/// replies in thread order.
fn all_at_once(
    d: &TestDaemon,
    n: usize,
    path: impl Fn(usize) -> String,
) -> Vec<crate::util::HttpReply> {
    let start = Arc::new(Barrier::new(n));
    let addr = d.addr;
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let start = start.clone();
            let req = format!(
                "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
                path(i)
            );
            std::thread::spawn(move || {
                start.wait();
                send_raw(addr, req.as_bytes())
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("request thread"))
        .collect()
}

#[test]
fn parallel_activations_of_distinct_computers_never_exceed_the_seats() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=10");
    let replies = all_at_once(&d, 100, |i| {
        format!("/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid=pc-{i}")
    });
    let mut won = Vec::new();
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.status, 200, "pc-{i}: {}", r.body);
        match r.error_code() {
            None => won.push(i),
            Some(210) => {}
            Some(other) => panic!("pc-{i}: code {other}: {}", r.body),
        }
    }
    assert_eq!(won.len(), 10, "activations that succeeded: {won:?}");

    let after = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    after.expect_ok();
    assert_eq!(
        after.get("availableLicenses").as_deref(),
        Some("0"),
        "{}",
        after.body
    );
    for i in &won {
        let pckey = replies[*i].get("pckey").expect("pckey");
        let again = d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid=pc-{i}"),
        );
        assert_eq!(again.get("pckey"), Some(pckey), "pc-{i} keeps its seat");
    }
    let loser = (0..100).find(|i| !won.contains(i)).unwrap();
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=pc-{loser}"),
    )
    .expect_error(210);
}

#[test]
fn parallel_key_requests_with_one_order_id_create_one_license() {
    // Two new keys a day: the racing order may use one and ORD-2 the other, so ORD-3 is
    // refused; a second licence created by the race would make ORD-2 fail instead.
    let d = TestDaemon::start(&TestConfig::demo().options("maxNewKeysPerDay = 2"));
    let replies = all_at_once(&d, 50, |_| {
        format!("/qlmservice.asmx/GetActivationKey?{PRODUCT}&{VENDOR}&is_orderid=ORD-RACE-1")
    });
    let keys: Vec<String> = replies
        .iter()
        .map(|r| {
            r.expect_ok();
            let all = r.all("activationKey");
            assert_eq!(all.len(), 1, "{}", r.body);
            all[0].clone()
        })
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "keys differ: {keys:?}");

    let again = d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&{VENDOR}&is_orderid=ORD-RACE-1"),
    );
    assert_eq!(again.get("activationKey").as_ref(), Some(&keys[0]));
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={}&is_pcid=pc-1", keys[0]),
    )
    .expect_ok();
    d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&{VENDOR}&is_orderid=ORD-2"),
    )
    .expect_ok();
    d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&{VENDOR}&is_orderid=ORD-3"),
    )
    .expect_error(200);
}

/// With a request timeout too short for the writer to keep up, each activation is either
/// applied and reported, or answered 3000 "nothing was changed" and absent: a client is
/// never told "timed out" about a change that was then applied.
#[test]
fn timed_out_activation_is_never_applied_and_applied_one_is_never_reported_as_timed_out() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=200");
    // Key creation pays one argon2 verification, far above 1 ms: make the key first.
    let short = TestConfig::demo().server("requestTimeoutMs = 1");
    d.rewrite_config(&short.to_toml());
    let d = d.restart();
    let replies: Vec<(String, Option<u32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (d, key) = (&d, &key);
                s.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let pc = format!("PC-{t}-{i}");
                            let r = d.call(
                                "ValidateLicenseHttp",
                                &format!("is_avkey={key}&is_pcid={pc}"),
                            );
                            (pc, r.error_code())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let applied = replies.iter().filter(|(_, c)| c.is_none()).count();
    for (_, code) in &replies {
        assert!(matches!(code, None | Some(3000)), "{code:?}");
    }
    // What the server now holds is exactly what it acknowledged.
    for (pc, code) in &replies {
        let r = d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid={pc}&is_activate=false"),
        );
        r.expect_ok();
        let activated = r.get("pckey").is_some();
        assert_eq!(
            activated,
            code.is_none(),
            "{pc}: reply {code:?}, stored {activated}"
        );
    }
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=X&is_activate=false"),
    );
    assert_eq!(
        r.get("availableLicenses"),
        Some((200 - applied).to_string())
    );
}
