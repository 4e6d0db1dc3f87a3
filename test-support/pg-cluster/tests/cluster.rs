//! The harness itself: a fresh database answers, belongs to its own role, and two are apart.

#[test]
fn each_fresh_database_has_its_own_owner_who_is_no_superuser() {
    let Some(pg) = licd_pg_cluster::cluster() else {
        return;
    };
    let a = pg.fresh_database();
    let b = pg.fresh_database();
    assert_ne!(a, b);
    let owners = pg.psql(
        "postgres",
        "SELECT string_agg(pg_get_userbyid(datdba)::text || ':' || rolsuper::text, ',' ORDER BY datname) \
         FROM pg_database JOIN pg_roles ON pg_roles.oid = datdba WHERE datname LIKE 'licd_test_%'",
    );
    assert_eq!(owners, "licd_test_0:false,licd_test_1:false");
}
