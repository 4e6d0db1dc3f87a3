//! Two licd nodes on one PostgreSQL database share the console's sessions: a staff member
//! logged in through one node is logged in on the other (a load balancer may send each
//! click to either), and a logout on one ends the session on both.

use super::client::Client;
use super::{SAM, console_section};
use crate::postgres::{fresh_database, on_postgres};
use crate::util::TestDaemon;

#[test]
fn two_nodes_on_one_database_share_console_sessions_and_a_logout_on_one_ends_it_on_both() {
    let Some(url) = fresh_database() else {
        return;
    };
    let config = on_postgres(&url).append(&console_section(&[SAM], ""));
    let (a, b) = (TestDaemon::start(&config), TestDaemon::start(&config));
    let key = a.create_key("");
    let on_a = Client::of(&a);
    on_a.logged_in(SAM.0, SAM.1);
    let id = on_a.cookie("licd_console").expect("a session");
    let on_b = Client::of(&b);
    on_b.set_cookie("licd_console", &id);
    let page = on_b.get(&format!("/licence/{key}"));
    assert_eq!(
        page.status, 200,
        "node b knows node a's session: {}",
        page.body
    );
    assert!(page.body.contains("sam (support)"));
    // A form shown by one node is accepted by the other: the CSRF key is the shared secret.
    let token = on_a.get("/").token("/logout");
    assert_eq!(on_b.post("/logout", &[("csrf_token", &token)]).status, 303);
    on_a.set_cookie("licd_console", &id);
    assert_eq!(on_a.get("/").header("location"), Some("/login?ended=1"));
}
