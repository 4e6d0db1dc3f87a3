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

/// `licd migrate --to postgres ARGS` on the redb files of the (stopped) daemon `d`.
fn migrate(d: &TestDaemon, target: &[&str]) -> (i32, String, String) {
    let mut args = vec!["migrate", "--to", "postgres"];
    args.extend(target);
    d.cli(&args)
}

/// The number psql prints for `sql`.
fn count(pg: &licd_pg_cluster::PgCluster, url: &str, sql: &str) -> u64 {
    pg.psql(database_of(url), sql).parse().expect("a count")
}

/// The `<KeyName>` of a signed reply.
fn key_name(body: &str) -> String {
    let start = body.find("<KeyName>").expect("a KeyName") + "<KeyName>".len();
    let end = start + body[start..].find("</KeyName>").expect("its end");
    body[start..end].to_string()
}

#[test]
fn migrate_copies_a_stopped_redb_database_and_a_node_on_postgresql_answers_as_it_did() {
    let Some((pg, url)) = fresh_database() else {
        return;
    };
    let mut redb = TestDaemon::start(&TestConfig::demo());
    let seeded = seed(&redb);
    let signed = redb.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={}&is_pcid=pc-0-0&is_sign=true", seeded[0].key),
    );
    signed.expect_ok();
    let signer = key_name(&signed.body);
    assert_eq!(redb.stop(), Some(0));

    // The URL from a file, as a secret is given.
    let url_file = redb.dir().join("pg-url");
    std::fs::write(&url_file, format!("{url}\n")).expect("write the URL file");
    std::fs::set_permissions(
        &url_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let out = cli_ok(migrate(
        &redb,
        &["--postgres-url-file", path_str(&url_file)],
    ));
    let printed = |table: &str| -> u64 {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no count for {table}: {out}"));
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    assert_eq!(printed("licenses"), 4, "{out}");
    assert_eq!(printed("activations"), 8, "{out}");
    assert_eq!(printed("releases"), 1, "{out}");
    assert_eq!(printed("subscriptions"), 4, "{out}");
    assert_eq!(printed("orders"), 4, "{out}");
    assert_eq!(printed("signing_keys"), 1, "{out}");
    // Each licence is in its order's and its subscription's vendor group.
    assert_eq!(printed("vendor_groups"), 8, "{out}");
    assert!(printed("history") > 0, "{out}");
    assert_eq!(
        printed("history"),
        count(pg, &url, "SELECT count(*) FROM history")
    );
    assert!(
        out.contains("check: ok, 4 licences and 8 activations"),
        "{out}"
    );

    let node = TestDaemon::start(&on_postgres(&url));
    for licence in &seeded {
        for (pc, pckey) in &licence.activations {
            let again = node.activate(&licence.key, pc);
            again.expect_ok();
            assert_eq!(
                again.get("pckey").as_ref(),
                Some(pckey),
                "{pc}: same computer key"
            );
        }
    }
    // The released seat is free on PostgreSQL as it was on redb.
    let info = node.licence_info(&seeded[3].key);
    assert_eq!(
        info.get("availableLicenses").as_deref(),
        Some("1"),
        "{}",
        info.body
    );
    let signed = node.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={}&is_pcid=pc-0-0&is_sign=true", seeded[0].key),
    );
    signed.expect_ok();
    assert_eq!(
        key_name(&signed.body),
        signer,
        "the current signing key moved"
    );
    let config = node.config_path().expect("config");
    let checked = cli_ok(run(node.dir(), &config, &["check"]));
    assert!(
        checked.contains("ok: 4 licences, 8 activations"),
        "{checked}"
    );

    // A second migration into the database a node now serves is refused, changing nothing.
    let before = count(pg, &url, "SELECT count(*) FROM licenses");
    let (code, _, err) = migrate(&redb, &["--postgres-url", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(count(pg, &url, "SELECT count(*) FROM licenses"), before);
    assert_eq!(count(pg, &url, "SELECT count(*) FROM activations"), 8);
}

#[test]
fn migrate_refuses_a_running_daemon_and_leaves_the_target_untouched() {
    let Some((pg, url)) = fresh_database() else {
        return;
    };
    let redb = TestDaemon::start(&TestConfig::demo());
    redb.create_key("is_numberofactivationsperkey=1");
    let (code, _, err) = migrate(&redb, &["--postgres-url", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("running") && err.contains("stop it"), "{err}");
    assert_eq!(
        count(
            pg,
            &url,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        0,
        "nothing was created in the target"
    );
}

#[test]
fn an_export_imports_into_an_empty_postgresql_database_whole_or_not_at_all() {
    let Some((pg, url)) = fresh_database() else {
        return;
    };
    let mut redb = TestDaemon::start(&TestConfig::demo());
    let seeded = seed(&redb);
    let export = redb.dir().join("all.jsonl");
    cli_ok(redb.cli(&["export", "--out", path_str(&export)]));
    assert_eq!(redb.stop(), Some(0));
    let text = std::fs::read_to_string(&export).expect("the export");
    let pg_config = redb.dir().join("pg.toml");
    std::fs::write(&pg_config, on_postgres(&url).to_toml()).expect("write config");

    // Truncated (no end line): refused, nothing written.
    let cut = redb.dir().join("cut.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).expect("write");
    let (code, _, err) = run(
        redb.dir(),
        &pg_config,
        &["import", "--from", path_str(&cut)],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert_eq!(count(pg, &url, "SELECT count(*) FROM licenses"), 0);

    // As an earlier licd exported: no vendor_groups_v1 rows. The load files every licence
    // under its groups, as the embedded import does.
    let (groups, kept): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|l| l.contains("\"vendor_groups_v1\""));
    assert_eq!(groups.len(), 8, "an order and a subscription per licence");
    let rows = kept.len() - 2;
    let mut old: Vec<String> = kept[..kept.len() - 1]
        .iter()
        .map(|l| l.to_string())
        .collect();
    old.push(format!("{{\"end\":{{\"rows\":{rows}}}}}"));
    let old_export = redb.dir().join("old.jsonl");
    std::fs::write(&old_export, old.join("\n") + "\n").expect("write");
    let out = cli_ok(run(
        redb.dir(),
        &pg_config,
        &["import", "--from", path_str(&old_export)],
    ));
    assert!(out.contains("into PostgreSQL"), "{out}");
    assert_eq!(count(pg, &url, "SELECT count(*) FROM vendor_groups"), 8);
    let node = TestDaemon::start(&on_postgres(&url));
    let (pc, pckey) = &seeded[2].activations[1];
    let again = node.activate(&seeded[2].key, pc);
    assert_eq!(again.get("pckey").as_ref(), Some(pckey), "{}", again.body);
}

#[test]
fn an_export_of_postgresql_imports_into_redb_with_the_same_computer_keys_and_checks_clean() {
    let Some((_, url)) = fresh_database() else {
        return;
    };
    let node = TestDaemon::start(&on_postgres(&url));
    let seeded = seed(&node);
    let config = node.config_path().expect("config");
    // Exported while the node serves: one snapshot.
    let export = node.dir().join("pg.jsonl");
    cli_ok(run(
        node.dir(),
        &config,
        &["export", "--out", path_str(&export)],
    ));
    let text = std::fs::read_to_string(&export).expect("the export");
    assert!(text.contains("\"history_v1\""), "history is exported");

    let back = tempfile::tempdir().expect("dir");
    let data = back.path().join("data");
    let imported = cli_ok(licd_cmd(
        &[
            "import",
            "--from",
            path_str(&export),
            "--data-dir",
            path_str(&data),
        ],
        None,
        back.path(),
    ));
    assert!(imported.contains("into the stopped database"), "{imported}");
    let checked = cli_ok(licd_cmd(
        &["check", "--data-dir", path_str(&data)],
        None,
        back.path(),
    ));
    assert!(
        checked.contains("ok: 4 licences, 8 activations"),
        "{checked}"
    );
    let redb = TestDaemon::start_in(back, &TestConfig::demo());
    for licence in &seeded {
        for (pc, pckey) in &licence.activations {
            let again = redb.activate(&licence.key, pc);
            assert_eq!(
                again.get("pckey").as_ref(),
                Some(pckey),
                "{pc}: {}",
                again.body
            );
        }
    }
    // The imported database takes new activations.
    redb.activate(&seeded[3].key, "pc-new").expect_ok();
}

#[test]
fn keys_list_and_show_answer_through_a_node_on_postgresql() {
    let Some((_, url)) = fresh_database() else {
        return;
    };
    let node = TestDaemon::start(&on_postgres(&url));
    let seeded = seed(&node);
    let listed = cli_ok(node.cli(&["keys", "list"]));
    // A header line, then one line per licence.
    assert_eq!(listed.lines().count(), seeded.len() + 1, "{listed}");
    for licence in &seeded {
        let canonical = licence.key.replace('-', "");
        assert!(
            listed.contains(&licence.key) || listed.contains(&canonical),
            "{} missing from: {listed}",
            licence.key
        );
    }
    let shown = cli_ok(node.cli(&["keys", "show", &seeded[2].key]));
    for (pc, _) in &seeded[2].activations {
        assert!(shown.contains(pc.as_str()), "{pc} missing from: {shown}");
    }
}
