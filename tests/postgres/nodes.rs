//! Three licd nodes on one database: seats are exact whatever node a call lands on, computer
//! keys are equal on every node, a release on one node frees the seat for another, and a
//! node killed with SIGKILL loses no acknowledged change while the others keep serving.

use std::collections::BTreeSet;
use std::time::Duration;

use super::load::{Answer, Load, wait_until};
use super::{database_of, fresh_database, on_postgres, race_for_seats};
use crate::util::{TestConfig, TestDaemon, VENDOR};

/// Three nodes on the database at `url`, patient enough for a thousand requests queueing on
/// one licence's lock on a loaded 2-core machine.
fn three_nodes(url: &str) -> [TestDaemon; 3] {
    let config: TestConfig = on_postgres(url)
        .server("requestTimeoutMs = 120000")
        .append("statementTimeoutMs = 60000\n");
    [
        TestDaemon::start(&config),
        TestDaemon::start(&config),
        TestDaemon::start(&config),
    ]
}

#[test]
fn a_thousand_concurrent_activations_over_three_nodes_take_exactly_the_ten_seats() {
    let Some(url) = fresh_database() else {
        return;
    };
    let nodes = three_nodes(&url);
    let key = nodes[0].create_key("is_numberofactivationsperkey=10");
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let won = race_for_seats(&addrs, &key, 1_000);
    assert_eq!(won.len(), 10, "activations that succeeded: {won:?}");
    for (i, pckey) in &won {
        for node in &nodes {
            let again = node.activate(&key, &format!("pc-{i}"));
            assert_eq!(
                again.get("pckey").as_ref(),
                Some(pckey),
                "pc-{i} on {}",
                node.addr
            );
        }
    }

    // A seat released on one node is free for a computer asking another; then none is.
    let (freed, _) = &won[0];
    nodes[0]
        .call(
            "ReleaseLicenseHttp",
            &format!("is_avkey={key}&is_pcid=pc-{freed}&{VENDOR}"),
        )
        .expect_ok();
    nodes[1].activate(&key, "pc-after-release").expect_ok();
    nodes[2].activate(&key, "pc-one-too-many").expect_error(210);
    let db = database_of(&url);
    let pg = licd_pg_cluster::cluster().expect("the cluster of this run");
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM activations"), "10");
}

#[test]
fn a_node_killed_under_load_loses_no_acknowledged_change_and_the_others_keep_serving() {
    let Some(url) = fresh_database() else {
        return;
    };
    let [first, second, mut third] = three_nodes(&url);
    let key = first.create_key("is_numberofactivationsperkey=10000");
    let load = Load::start(&[first.addr, second.addr, third.addr], &key, 6);
    assert!(
        wait_until(Duration::from_secs(60), || load.activated() >= 15),
        "no load before the kill"
    );
    let killed = third.addr;
    third.kill_hard();
    let at_kill = load.activated();
    assert!(
        wait_until(Duration::from_secs(120), || load.activated()
            >= at_kill + 30),
        "the other nodes stopped serving after the kill"
    );
    let sent = load.finish();

    let db = database_of(&url);
    let pg = licd_pg_cluster::cluster().expect("the cluster of this run");
    let stored: BTreeSet<String> = pg
        .psql(&db, "SELECT computer_id FROM activations")
        .lines()
        .map(str::to_string)
        .collect();
    for s in &sent {
        if s.node == killed {
            assert!(
                matches!(s.answer, Answer::Activated | Answer::Dropped),
                "{} on the killed node: {:?}",
                s.pc,
                s.answer
            );
        } else {
            assert_eq!(s.answer, Answer::Activated, "{} on {}", s.pc, s.node);
        }
        if s.answer == Answer::Activated {
            assert!(stored.contains(&s.pc), "{} acknowledged, not stored", s.pc);
        }
    }
    assert!(
        sent.iter()
            .any(|s| s.node == killed && s.answer == Answer::Dropped),
        "no request met the killed node"
    );
}

#[test]
fn a_strictly_signed_request_accepted_by_one_node_is_a_replay_on_another() {
    use crate::strict_auth::{Signing, config, daemon_with_orders, signed};
    let Some(url) = fresh_database() else {
        return;
    };
    let store = format!("[store]\nbackend = \"postgres\"\npostgresUrl = \"{url}\"\npoolSize = 4\n");
    let config = config().append(&store);
    let first = daemon_with_orders(&config);
    let second = TestDaemon::start(&config);
    // Signed over the path and query alone, a form every node accepts whatever its address.
    let signing = Signing {
        url_prefix: Some(""),
        ..Signing::default()
    };
    let query = "is_vendor=Store&is_user=s&is_pwd=spw&is_orderid=O-2";
    signed(&first, query, &signing, None).expect_ok();
    signed(&second, query, &signing, None).expect_error(8);
    signed(&first, query, &signing, None).expect_error(8);
    // A new signature (a later timestamp) is a new request, on any node.
    let later = Signing {
        url_prefix: Some(""),
        timestamp: chrono::Utc::now()
            .checked_add_signed(chrono::TimeDelta::seconds(1))
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        ..Signing::default()
    };
    signed(&second, query, &later, None).expect_ok();
}

#[test]
fn a_daily_activation_cap_is_exact_over_two_nodes_deciding_at_once() {
    use std::sync::{Arc, Barrier};
    let Some(url) = fresh_database() else {
        return;
    };
    let config = on_postgres(&url).options("maxActivationsPerDay = 7");
    let nodes = [TestDaemon::start(&config), TestDaemon::start(&config)];
    let keys: Vec<String> = (0..30).map(|_| nodes[0].create_key("")).collect();
    let start = Arc::new(Barrier::new(keys.len()));
    let threads: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let addr = nodes[i % 2].addr;
            let start = start.clone();
            let request = format!(
                "GET /qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid=cap-{i} \
                 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            );
            std::thread::spawn(move || {
                start.wait();
                crate::util::send_raw(addr, request.as_bytes())
            })
        })
        .collect();
    let mut activated = 0;
    for (i, t) in threads.into_iter().enumerate() {
        let reply = t.join().expect("request thread");
        assert_eq!(reply.status, 200, "cap-{i}: {}", reply.body);
        if reply.error_code().is_none() {
            activated += 1;
        }
    }
    assert_eq!(activated, 7, "activations granted under a cap of 7 a day");
    let db = database_of(&url);
    let pg = licd_pg_cluster::cluster().expect("the cluster of this run");
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM activations"), "7");
}
