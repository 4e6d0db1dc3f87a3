//! The holes a security review found (issue "Safe on the open internet"), each reproduced as
//! the attack against the real daemon and now refused, next to the sound behaviour that must
//! keep working: the failed-login race, aliases around the admin and strict lists, forwarded
//! hops that are no address, forged log fields, timing that told vendors apart, and IPv6
//! throttling per /64. docs/security.md lists them with these tests' names.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::hashed_vendor;
use crate::plugins::build::plugins;
use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

/// What every refusal of a checked credential says (tests/auth.rs holds it to one message).
const CHECKED: &str = "Authentication failed";
/// What a blocked address is told, without any check.
const BLOCKED: &str = "Too many failed authentications";
/// What the daemon logs for each checked (argon2) wrong password, and only for those.
const CHECK_FAILED_LOG: &str = "vendor authentication failed";

/// `GET /qlmservice.asmx/{method}?{query}` sent through the trusted proxy on loopback on
/// behalf of `forwarded` (an `X-Forwarded-For` value).
fn call_from(d: &TestDaemon, forwarded: &str, method: &str, query: &str) -> HttpReply {
    d.raw(&format!(
        "GET /qlmservice.asmx/{method}?{query} HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: {forwarded}\r\nConnection: close\r\n\r\n",
        d.addr
    ))
}

fn behind_proxy() -> TestConfig {
    TestConfig::demo().server("trustedProxies = [\"127.0.0.0/8\"]")
}

/// The median of `n` timed runs of `f`.
fn median_time(n: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

#[test]
fn a_burst_of_wrong_passwords_is_checked_only_up_to_the_limit_and_another_address_logs_in_at_once()
{
    // Three more vendors with the same credential, each a first (not remembered) login for B.
    let other_vendors: String = (1..=3)
        .map(|i| hashed_vendor("right").replace("\"Hashed\"", &format!("\"Hashed{i}\"")))
        .collect();
    let d = Arc::new(TestDaemon::start(
        &behind_proxy()
            .security("authFailuresPerMinute = 20")
            .append(&hashed_vendor("right"))
            .append(&other_vendors),
    ));
    let wrong = format!("{PRODUCT}&is_vendor=Hashed&is_user=hu&is_pwd=wrong");
    // One argon2 run, as a whole request, beside another one as during the burst (argon2 is
    // bound by memory bandwidth, so two at once each take longer than one alone).
    // Five runs of two wrong passwords each: the checked failures logged before A's burst.
    const MEASURED_FAILURES: usize = 5 * 2;
    let argon2 = median_time(5, || {
        let beside = {
            let (d, wrong) = (d.clone(), wrong.clone());
            std::thread::spawn(move || {
                call_from(&d, "10.0.0.98", "GetActivationKey", &wrong).expect_error(8);
            })
        };
        call_from(&d, "10.0.0.99", "GetActivationKey", &wrong).expect_error(8);
        beside.join().expect("thread");
    });

    // Address A: 600 wrong passwords, 40 at a time.
    let burst: Vec<_> = (0..40)
        .map(|_| {
            let (d, wrong) = (d.clone(), wrong.clone());
            std::thread::spawn(move || {
                (0..15)
                    .map(|_| call_from(&d, "10.0.0.1", "GetActivationKey", &wrong).expect_error(8))
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    // While A's checks run, the first (not remembered) correct login from address B.
    assert!(
        d.wait_for_log_count(CHECK_FAILED_LOG, MEASURED_FAILURES + 2),
        "the burst did not start: {}",
        d.logs()
    );
    // The fastest of three such logins (one per vendor, so none is remembered): load from the
    // tests running beside this one only ever adds time, and one slow try of three says
    // nothing about the daemon. Only a login that ended while A's checks were still being
    // made counts: one made after them would be fast even if B had to wait behind A, so
    // without this the fastest of three could not fail.
    let checked_failures = || d.logs().matches(CHECK_FAILED_LOG).count();
    let all_checked = MEASURED_FAILURES + 20;
    let during: Vec<Duration> = (1..=3)
        .filter_map(|i| {
            let right = format!("{PRODUCT}&is_vendor=Hashed{i}&is_user=hu&is_pwd=right");
            let started = Instant::now();
            call_from(&d, &format!("10.0.0.{}", i + 1), "GetActivationKey", &right).expect_ok();
            let took = started.elapsed();
            (checked_failures() < all_checked).then_some(took)
        })
        .collect();
    assert!(
        !during.is_empty(),
        "no login from B ended before A's 20 checks did: B waited behind them: {}",
        d.logs()
    );
    let login = during.iter().copied().min().unwrap_or(Duration::MAX);
    eprintln!(
        "B's fastest of {} logins during A's checks: {login:?}; one argon2 run: {argon2:?}",
        during.len()
    );

    let messages: Vec<String> = burst
        .into_iter()
        .flat_map(|t| t.join().expect("burst thread"))
        .collect();
    assert_eq!(messages.len(), 600);
    let checked = messages.iter().filter(|m| m.contains(CHECKED)).count();
    let blocked = messages.iter().filter(|m| m.contains(BLOCKED)).count();
    assert_eq!(checked, 20, "A's wrong passwords checked: {checked}");
    assert_eq!(blocked, 580);
    assert!(
        login <= argon2 * 3,
        "B's login took {login:?} during A's burst; one argon2 run takes {argon2:?}"
    );
    // A's correct password after its 20th failure is refused without a check.
    let right = format!("{PRODUCT}&is_vendor=Hashed&is_user=hu&is_pwd=right");
    let e = call_from(&d, "10.0.0.1", "GetActivationKey", &right).expect_error(8);
    assert!(e.contains(BLOCKED), "{e}");
}

#[test]
fn a_refusal_costs_one_argon2_run_of_the_strongest_configured_hash_whoever_is_refused() {
    let p = plugins();
    // Four times the memory of `licd hash-password`'s default: the costliest hash configured.
    let strong = argon2_hash("right", 4 * 19_456, 2);
    let d = TestDaemon::start(&TestConfig::demo().security("authFailuresPerMinute = 1000").append(
        &format!(
            "[[vendor]]\nname = \"Strong\"\nuser = \"su\"\npasswordHash = \"{strong}\"\n\n[[plugin]]\nname = \"shop-token\"\npath = \"{}\"\ntimeoutMs = 1000\n  [plugin.config]\ntoken = \"s3cret\"\n\n[[vendor]]\nname = \"Shop\"\nplugin = \"shop-token\"\n",
            p.example_c.display()
        ),
    ));
    // The fastest of 7 each, taken in turns so that load from other tests falls on all three
    // alike (load only ever adds time; the minimum shows the work the server does).
    let queries = [
        "is_vendor=NoSuchVendor&is_user=su&is_pwd=wrong",
        "is_vendor=Strong&is_user=su&is_pwd=wrong",
        "is_vendor=Shop",
    ];
    let mut fastest = [Duration::MAX; 3];
    for _ in 0..7 {
        for (query, best) in queries.iter().zip(&mut fastest) {
            let start = Instant::now();
            d.call("GetActivationKey", &format!("{PRODUCT}&{query}"))
                .expect_error(8);
            *best = (*best).min(start.elapsed());
        }
    }
    let [unknown, wrong_password, plugin_denial] = fastest;
    eprintln!(
        "refusals: unknown vendor {unknown:?}, wrong password {wrong_password:?}, plugin denial {plugin_denial:?}"
    );
    let all = [unknown, wrong_password, plugin_denial];
    let (fast, slow) = (all.iter().min().unwrap(), all.iter().max().unwrap());
    assert!(
        *slow <= *fast * 2,
        "unknown vendor {unknown:?}, wrong password {wrong_password:?}, plugin denial {plugin_denial:?}: timing tells them apart"
    );
    // The sound path next to it: the plugin's own token still passes.
    d.raw(&format!(
        "GET /qlmservice.asmx/GetActivationKey?is_vendor=Shop&{PRODUCT} HTTP/1.1\r\nHost: {}\r\nX-Shop-Token: s3cret\r\nConnection: close\r\n\r\n",
        d.addr
    ))
    .expect_ok();
}

/// An argon2id PHC string of `password` with `m_cost` KiB and `t_cost` passes.
fn argon2_hash(password: &str, m_cost: u32, t_cost: u32) -> String {
    use argon2::password_hash::PasswordHasher;
    let params = argon2::Params::new(m_cost, t_cost, 1, None).expect("argon2 parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("argon2 hash")
        .to_string()
}

#[test]
fn naming_one_creator_in_the_admin_and_strict_lists_guards_both_creators() {
    let d = TestDaemon::start(
        &behind_proxy()
            .security("httpAdminMethods = [\"GetActivationKey\"]")
            .security("httpAdminMethodsAllowedIPAddresses = [\"10.9.9.9\"]"),
    );
    let query = format!("{PRODUCT}&{VENDOR}");
    for method in ["GetActivationKey", "GetActivationKeyWithExpiryDate"] {
        call_from(&d, "203.0.113.5", method, &query).expect_error(3);
        call_from(&d, "10.9.9.9", method, &query).expect_ok();
    }

    let strict = TestDaemon::start(
        &TestConfig::demo().security("strictAuthenticationHttpMethods = [\"GetActivationKey\"]"),
    );
    for method in ["GetActivationKey", "GetActivationKeyWithExpiryDate"] {
        let e = strict.call(method, &query).expect_error(8);
        assert!(e.contains(CHECKED), "{method}: {e}");
    }
}

#[test]
fn revoking_through_update_license_is_admin_only_when_revoke_license_is() {
    let d = TestDaemon::start(
        &behind_proxy()
            .security("httpAdminMethods = [\"RevokeLicenseHttp\"]")
            .security("httpAdminMethodsAllowedIPAddresses = [\"10.9.9.9\"]"),
    );
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let revoke = format!("is_avkey={key}&{VENDOR}&is_revoke=true");
    call_from(&d, "203.0.113.5", "UpdateLicenseHttp", &revoke).expect_error(3);
    call_from(&d, "203.0.113.5", "RevokeLicenseHttp", &revoke).expect_error(3);
    assert_eq!(d.license_snapshot(&key), before, "the licence changed");
    // Other updates stay open to that address, and the allowed address may revoke.
    let features = format!("is_avkey={key}&{VENDOR}&is_features=0:1");
    call_from(&d, "203.0.113.5", "UpdateLicenseHttp", &features).expect_ok();
    let r = call_from(&d, "10.9.9.9", "UpdateLicenseHttp", &revoke);
    assert_eq!(r.expect_ok().get("revoked").as_deref(), Some("true"));
}

#[test]
fn a_vendor_allowed_one_creator_may_call_the_other_and_nothing_else() {
    let d = TestDaemon::start(&TestConfig::demo().append(
        "[[vendor]]\nname = \"Creator\"\nuser = \"cu\"\npassword = \"cpw\"\nmethods = [\"GetActivationKeyWithExpiryDate\"]\n",
    ));
    let creds = "is_vendor=Creator&is_user=cu&is_pwd=cpw";
    d.call("GetActivationKey", &format!("{PRODUCT}&{creds}"))
        .expect_ok();
    let key = d.create_key("");
    d.call(
        "RevokeLicenseHttp",
        &format!("is_avkey={key}&{creds}&is_revoke=true"),
    )
    .expect_error(8);
}

#[test]
fn a_forwarded_hop_that_is_no_address_is_in_no_allow_list() {
    let d = TestDaemon::start(
        &behind_proxy()
            .security("httpAdminMethods = [\"GetActivationKey\"]")
            .server("metricsAllowedIPs = [\"127.0.0.0/8\"]"),
    );
    let query = format!("{PRODUCT}&{VENDOR}");
    for hops in ["6.6.6.6, unknown", "unknown", "unix:", "1.2.3.4:abc"] {
        call_from(&d, hops, "GetActivationKey", &query).expect_error(3);
        let metrics = d.raw(&format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: {hops}\r\nConnection: close\r\n\r\n",
            d.addr
        ));
        assert_eq!(metrics.status, 403, "{hops}: {}", metrics.body);
    }
    // The proxy itself (loopback, in the lists) is still allowed.
    d.call("GetActivationKey", &query).expect_ok();
    assert_eq!(d.get("/metrics").status, 200);
}

#[test]
fn clients_a_proxy_could_not_name_are_throttled_in_a_bucket_of_their_own() {
    let d = TestDaemon::start(&behind_proxy().security("authFailuresPerMinute = 2"));
    let wrong = format!("{PRODUCT}&is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong");
    let right = format!("{PRODUCT}&{VENDOR}");
    for _ in 0..2 {
        call_from(&d, "unknown", "GetActivationKey", &wrong).expect_error(8);
    }
    let e = call_from(&d, "garbage", "GetActivationKey", &right).expect_error(8);
    assert!(e.contains(BLOCKED), "{e}");
    // Neither the proxy nor a named client pays for them.
    d.call("GetActivationKey", &right).expect_ok();
    call_from(&d, "198.51.100.7", "GetActivationKey", &right).expect_ok();
}

#[test]
fn ipv6_clients_are_throttled_per_64() {
    let d = TestDaemon::start(&behind_proxy().security("authFailuresPerMinute = 2"));
    let wrong = format!("{PRODUCT}&is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong");
    let right = format!("{PRODUCT}&{VENDOR}");
    call_from(&d, "2001:db8:1:2::1", "GetActivationKey", &wrong).expect_error(8);
    call_from(&d, "2001:db8:1:2::ffff", "GetActivationKey", &wrong).expect_error(8);
    let e = call_from(&d, "2001:db8:1:2:aaaa::7", "GetActivationKey", &right).expect_error(8);
    assert!(e.contains(BLOCKED), "{e}");
    call_from(&d, "2001:db8:1:3::1", "GetActivationKey", &right).expect_ok();
}

#[test]
fn request_values_in_log_lines_are_quoted_and_cannot_forge_fields() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("logLevel = \"info\"")
            .security("authFailuresPerMinute = 100"),
    );
    // An unknown vendor whose name carries fake fields.
    d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&is_vendor=x%20client=6.6.6.6%20level=ERROR&is_user=a&is_pwd=b"),
    )
    .expect_error(8);
    // A computer ID (no spaces allowed) carrying a quote and a fake field.
    let key = d.create_key("");
    d.activate(&key, "PC-1%22client=6.6.6.6").expect_ok();
    assert!(d.wait_for_log("licence activated"), "{}", d.logs());
    assert!(d.wait_for_log(CHECK_FAILED_LOG), "{}", d.logs());
    let logs = d.logs();
    for line in logs.lines() {
        assert!(
            !line.contains(" client=6.6.6.6") && !line.contains("level=ERROR"),
            "a forged field: {line}"
        );
    }
    assert!(
        logs.contains(r#"computer="PC-1\"client=6.6.6.6""#),
        "the computer ID is not quoted and escaped:\n{logs}"
    );
    assert!(
        !logs.contains("x client"),
        "an unknown vendor's name reached the log:\n{logs}"
    );
}
