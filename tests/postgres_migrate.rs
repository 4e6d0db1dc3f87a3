//! Moving between the backends and checking PostgreSQL (docs/scale-out.md): `licd check` on
//! a database nodes serve, `licd migrate --to postgres` from a stopped redb database, and
//! `licd export` / `licd import` on PostgreSQL. The real daemon over HTTP, a fresh database of
//! the test run's private cluster (test-support/pg-cluster); skipped without PostgreSQL.

use std::path::Path;

use crate::util::{TestConfig, TestDaemon, VENDOR, cli_ok, licd_cmd, path_str};

/// The demo configuration on the PostgreSQL database at `url`.
fn on_postgres(url: &str) -> TestConfig {
    TestConfig::demo().append(&format!(
        "[store]\nbackend = \"postgres\"\npostgresUrl = \"{url}\"\npoolSize = 4\n"
    ))
}

/// The test cluster and a fresh database on it, or `None` (the test skips).
fn fresh_database() -> Option<(&'static licd_pg_cluster::PgCluster, String)> {
    let pg = licd_pg_cluster::cluster()?;
    Some((pg, pg.fresh_database()))
}

/// The database name of a cluster URL (`…/NAME?sslmode=disable`).
fn database_of(url: &str) -> &str {
    let tail = url.rsplit('/').next().unwrap_or_default();
    tail.split('?').next().unwrap_or_default()
}

/// A licence of the seed: its key and the computer keys of its activations.
struct Seeded {
    key: String,
    activations: Vec<(String, String)>,
}

/// Licences, activations (one released, so the release log and history have rows), orders
/// and a subscription, made through the real daemon's HTTP methods.
fn seed(d: &TestDaemon) -> Vec<Seeded> {
    let mut seeded = Vec::new();
    for i in 0..4 {
        let key = d.create_key(&format!(
            "is_numberofactivationsperkey=3&is_orderid=ORDER-{i}&is_subscriptionid=SUB-{}",
            i % 2
        ));
        let mut activations = Vec::new();
        for pc in 0..=i.min(2) {
            let pc = format!("pc-{i}-{pc}");
            let r = d.activate(&key, &pc);
            r.expect_ok();
            activations.push((pc, r.get("pckey").expect("a computer key")));
        }
        seeded.push(Seeded { key, activations });
    }
    // One release: the release log and the history get a row, the seat is free again.
    let last = seeded.last_mut().expect("a licence");
    let (pc, _) = last.activations.pop().expect("an activation");
    let r = d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={}&is_pcid={pc}&{VENDOR}", last.key),
    );
    assert!(r.error_code().is_none(), "release: {}", r.body);
    seeded
}

/// `licd ARGS --config FILE` in `dir` (the PostgreSQL side needs no data directory).
fn run(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--config", path_str(config)]);
    licd_cmd(&all, None, dir)
}

#[test]
fn check_on_postgresql_passes_a_served_database_and_names_what_sql_corrupted() {
    let Some((pg, url)) = fresh_database() else {
        return;
    };
    let d = TestDaemon::start(&on_postgres(&url));
    let seeded = seed(&d);
    let config = d.config_path().expect("config");
    // The node keeps serving: the check reads one snapshot and takes no lock.
    let out = cli_ok(run(d.dir(), &config, &["check"]));
    assert!(out.contains("ok: 4 licences, 8 activations"), "{out}");
    d.activate(&seeded[3].key, "pc-after-check").expect_ok();

    let db = database_of(&url);
    let with = |n: u32| {
        pg.psql(
            db,
            &format!("SELECT key FROM activations GROUP BY key HAVING count(*) = {n}"),
        )
    };
    let (one, two) = (with(1), with(2));
    pg.psql(
        db,
        &format!(
            "UPDATE licenses SET value = jsonb_set(value, '{{activations_used}}', '7') \
             WHERE key = '{two}'"
        ),
    );
    pg.psql(
        db,
        &format!(
            "UPDATE licenses SET value = jsonb_set(value, '{{activations_allowed}}', '0') \
             WHERE key = '{one}'"
        ),
    );
    pg.psql(
        db,
        "INSERT INTO history (key, value) VALUES ('NOSUCHKEY', '{}')",
    );
    pg.psql(
        db,
        "UPDATE counters SET n = n + 5 WHERE (counter, day, shard) = \
         (SELECT counter, day, shard FROM counters WHERE counter = 'licenses_stored' LIMIT 1)",
    );
    let (code, out, err) = run(d.dir(), &config, &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("problems found"), "{err}");
    for finding in [
        format!("licence {two} counts 7 activations but 2 are stored"),
        format!("licence {one} has 1 activations stored but only 0 seats"),
        "names a missing licence NOSUCHKEY".to_string(),
        "does not decode".to_string(),
        "the licence counter says 9 but 4 licences are stored".to_string(),
    ] {
        assert!(out.contains(finding.as_str()), "{finding} not in: {out}");
    }
}
