//! PostgreSQL out of reach under load: `/healthz` says so, every request in the gap gets
//! 503 with `Retry-After` or code 3000 (never a dropped connection nor a wrong answer), the
//! nodes come back by themselves, nothing is over-issued, and the database agrees with every
//! definite answer a client received.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::load::{Answer, Load, wait_until};
use super::{database_of, on_postgres};
use crate::util::TestDaemon;

/// The request timeout of these nodes: a request in an outage must be answered within it
/// plus 5 s.
const REQUEST_TIMEOUT_MS: u64 = 5_000;

const SEATS: usize = 25;

fn healthz(node: &TestDaemon) -> u16 {
    node.get("/healthz").status
}

#[test]
fn a_postgresql_restart_under_load_gets_503_or_3000_and_the_nodes_come_back_by_themselves() {
    let Some(pg) = licd_pg_cluster::private_cluster() else {
        return;
    };
    let url = pg.fresh_database();
    let db = database_of(&url);
    let config = on_postgres(&url).server(&format!("requestTimeoutMs = {REQUEST_TIMEOUT_MS}"));
    let nodes = [TestDaemon::start(&config), TestDaemon::start(&config)];
    let key = nodes[0].create_key(&format!("is_numberofactivationsperkey={SEATS}"));
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let load = Load::start(&addrs, &key, 4);
    assert!(
        wait_until(Duration::from_secs(60), || load.activated() >= 3),
        "no activation before the outage"
    );

    pg.stop_fast();
    for (i, node) in nodes.iter().enumerate() {
        // Each node's check runs after the stop; the figure is the 15 s.
        let down = Instant::now();
        assert!(
            wait_until(Duration::from_secs(15), || healthz(node) == 503),
            "node {i}: /healthz not 503 15 s into the outage"
        );
        eprintln!("node {i}: /healthz 503 after {:?}", down.elapsed());
    }
    let gap_before = load.gap();
    assert!(
        wait_until(Duration::from_secs(60), || load.gap() >= gap_before + 8),
        "no request was answered during the outage"
    );
    let seats_before_return = load.activated();

    pg.start();
    let up = Instant::now();
    for (i, node) in nodes.iter().enumerate() {
        assert!(
            wait_until(Duration::from_secs(30).saturating_sub(up.elapsed()), || {
                healthz(node) == 200
            }),
            "node {i}: not answering again 30 s after the database returned"
        );
    }
    eprintln!(
        "every node healthy {:?} after the database returned",
        up.elapsed()
    );
    assert!(
        wait_until(Duration::from_secs(120), || load.no_seat() > 0),
        "the seats never ran out after the outage ({} activated)",
        load.activated()
    );
    let sent = load.finish();

    let count = |a: Answer| sent.iter().filter(|s| s.answer == a).count();
    eprintln!(
        "{} requests: {} activated, {} code 210, {} 503, {} code 3000",
        sent.len(),
        count(Answer::Activated),
        count(Answer::NoSeat),
        count(Answer::NotApplied),
        count(Answer::Code3000)
    );
    let limit = Duration::from_millis(REQUEST_TIMEOUT_MS) + Duration::from_secs(5);
    for s in &sent {
        assert!(
            matches!(
                s.answer,
                Answer::Activated | Answer::NoSeat | Answer::NotApplied | Answer::Code3000
            ),
            "{} on {}: {:?}",
            s.pc,
            s.node,
            s.answer
        );
        assert!(s.took <= limit, "{} answered after {:?}", s.pc, s.took);
    }
    let stored: BTreeSet<String> = pg
        // The database holds this one licence.
        .psql(&db, "SELECT computer_id FROM activations")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(stored.len(), SEATS, "seats stored: {stored:?}");
    let used = pg.psql(&db, "SELECT value->>'activations_used' FROM licenses");
    assert_eq!(used, SEATS.to_string());
    let activated = sent
        .iter()
        .filter(|s| s.answer == Answer::Activated)
        .count();
    assert!(activated <= SEATS, "{activated} activations acknowledged");
    assert!(
        activated > seats_before_return,
        "no seat was taken after the database returned"
    );
    for s in &sent {
        if s.answer == Answer::Activated {
            assert!(stored.contains(&s.pc), "{} acknowledged, not stored", s.pc);
        }
        if s.answer.not_applied() {
            assert!(
                !stored.contains(&s.pc),
                "{} refused ({:?}), yet stored",
                s.pc,
                s.answer
            );
        }
    }
}
