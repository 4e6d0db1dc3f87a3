//! The wire rules of README §1–§3: URL forms and basePath, case-insensitive routing, verbs,
//! argument decoding and limits, reply formats, canonical XML, and the client address.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

const LATEST_1_0: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

/// Sends `request` without failing on a write error (the server may answer and close before
/// reading everything) and returns the status code and the whole reply as text.
fn send_lenient(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// True when `message` holds `number` as a whole number (not as part of a longer one).
fn names_number(message: &str, number: usize) -> bool {
    message
        .split(|c: char| !c.is_ascii_digit())
        .any(|t| t == number.to_string())
}

fn validate(d: &TestDaemon, query: &str) -> HttpReply {
    d.call("ValidateLicenseHttp", query)
}

fn content_type(r: &HttpReply) -> &str {
    r.header("content-type").unwrap_or("")
}

/// PingHttp as relayed by a proxy that says the client is `xff`.
fn ping_forwarded_for(d: &TestDaemon, xff: &str) -> HttpReply {
    get_with_header(
        d,
        "/qlmservice.asmx/PingHttp",
        &format!("X-Forwarded-For: {xff}"),
    )
}

fn get_with_header(d: &TestDaemon, path: &str, header: &str) -> HttpReply {
    d.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{header}\r\nConnection: close\r\n\r\n",
        d.addr
    ))
}

#[test]
fn the_three_url_forms_answer_under_base_path_and_only_there() {
    let d = TestDaemon::start(&TestConfig::demo().server("basePath = \"/qlmLicenseServer\""));
    for path in [
        "/qlmLicenseServer/qlmservice.asmx/GetLatestVersionHttp",
        "/qlmLicenseServer/api/v1/QlmApi/GetLatestVersionHttp",
        "/qlmLicenseServer/api/WebService/GetLatestVersionHttp",
    ] {
        let r = d.get(&format!("{path}?{LATEST_1_0}"));
        r.expect_ok();
        assert_eq!(r.get("latestVersion").as_deref(), Some("1.4.2"), "{path}");
    }
    let page = d.get("/qlmLicenseServer/qlmservice.asmx");
    assert_eq!(page.status, 200, "{}", page.body);
    for outside in [
        "/qlmservice.asmx/PingHttp",
        "/api/v1/QlmApi/PingHttp",
        "/qlmservice.asmx",
    ] {
        assert_eq!(d.get(outside).status, 404, "{outside} without basePath");
    }
}

#[test]
fn path_segments_method_names_and_argument_names_match_in_any_case() {
    let d = TestDaemon::start(&TestConfig::demo().server("basePath = \"/qlmLicenseServer\""));
    for path in [
        "/QLMLICENSESERVER/QlmService.ASMX/getlatestversionhttp",
        "/qlmlicenseserver/API/V1/qlmapi/GETLATESTVERSIONHTTP",
        "/QlmLicenseServer/Api/webservice/GetLatestVersionHTTP",
    ] {
        let r = d.get(&format!(
            "{path}?IS_PRODUCTID=1&Is_MajorVersion=1&is_MINORVERSION=0"
        ));
        r.expect_ok();
        assert_eq!(r.get("latestVersion").as_deref(), Some("1.4.2"), "{path}");
    }
}

#[test]
fn service_page_lists_enabled_methods_and_omits_gated_off_ones() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableGetActivationKey = false"));
    let r = d.get("/qlmservice.asmx");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(env!("CARGO_PKG_VERSION")), "{}", r.body);
    let names: Vec<&str> = r.body.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    for listed in ["PingHttp", "ValidateLicenseHttp", "ActivateKey"] {
        assert!(names.contains(&listed), "{listed} missing: {}", r.body);
    }
    for hidden in ["GetActivationKey", "GetActivationKeyWithExpiryDate"] {
        assert!(!names.contains(&hidden), "{hidden} listed: {}", r.body);
    }
    let on = TestDaemon::start(&TestConfig::demo());
    let page = on.get("/QLMSERVICE.asmx");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("GetActivationKey"), "{}", page.body);
}

#[test]
fn unknown_method_is_http_404_with_code_5() {
    let d = TestDaemon::start(&TestConfig::demo());
    for path in [
        "/qlmservice.asmx/NoSuchMethod",
        "/api/v1/QlmApi/NoSuchMethod",
    ] {
        let r = d.get(path);
        assert_eq!(r.status, 404, "{}", r.body);
        assert!(content_type(&r).starts_with("text/xml"));
        r.expect_error(5);
    }
}

#[test]
fn path_outside_the_url_forms_is_404_with_plain_text() {
    let d = TestDaemon::start(&TestConfig::demo());
    for path in [
        "/",
        "/nothing",
        "/qlmservice.asmx/PingHttp/extra",
        "/api/v1/Other/PingHttp",
        "/api/v2/QlmApi/PingHttp",
    ] {
        let r = d.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(content_type(&r).starts_with("text/plain"), "{path}");
        assert!(!r.body.contains("<QuickLicenseManager>"), "{path}");
    }
}

#[test]
fn verbs_other_than_get_and_post_are_405_with_allow_header() {
    let d = TestDaemon::start(&TestConfig::demo());
    for verb in ["PUT", "DELETE", "PATCH"] {
        let r = d.raw(&format!(
            "{verb} /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(r.status, 405, "{verb}: {}", r.body);
        let allow = r.header("allow").unwrap_or_default();
        assert!(allow.contains("GET") && allow.contains("POST"), "{r:?}");
    }
}

#[test]
fn post_form_body_gives_the_same_reply_as_get_query() {
    let d = TestDaemon::start(&TestConfig::demo());
    let get = d.call("GetLatestVersionHttp", LATEST_1_0);
    get.expect_ok();
    let post = d.post_form("/qlmservice.asmx/GetLatestVersionHttp", LATEST_1_0);
    assert_eq!(post.status, 200);
    assert_eq!(post.bytes, get.bytes);
    let split = d.post_form(
        "/qlmservice.asmx/GetLatestVersionHttp?is_productid=1",
        "is_majorversion=1&is_minorversion=0",
    );
    assert_eq!(split.bytes, get.bytes, "query and body are merged");
}

#[test]
fn same_argument_twice_is_refused_naming_it_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    let before = d.license_snapshot(&key);
    let r = d.post_form(
        &format!("/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid=pc-1"),
        "is_pcid=pc-2",
    );
    assert!(r.expect_error(5).contains("is_pcid"), "{}", r.body);
    let r = validate(&d, &format!("is_avkey={key}&is_pcid=pc-1&IS_PCID=pc-2"));
    assert!(r.expect_error(5).contains("is_pcid"), "{}", r.body);
    let r = d.call(
        "GetLatestVersionHttp",
        "is_productid=1&is_majorversion=1&is_minorversion=0&is_minorverson=0",
    );
    assert!(
        r.expect_error(5).contains("is_minorvers"),
        "alias: {}",
        r.body
    );
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn bad_escape_invalid_utf8_and_control_characters_are_refused_naming_the_argument() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let bad_values = [
        "%zz", "pc%", "pc%4", "%ff%fe", "%c3%28", "pc%01", "pc%0A", "%7F",
    ];
    for bad in bad_values {
        let r = validate(&d, &format!("is_avkey={key}&is_pcid={bad}"));
        assert!(r.expect_error(5).contains("is_pcid"), "{bad}: {}", r.body);
    }
    let r = d.post_form(
        "/qlmservice.asmx/ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=pc&is_computer_name=a%00b"),
    );
    assert!(r.expect_error(5).contains("is_computer_name"), "{}", r.body);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn value_longer_than_max_value_bytes_is_refused_naming_the_limit() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let ok = format!("x={}", "a".repeat(4096));
    d.call("PingHttp", &ok).expect_ok();
    let r = validate(&d, &format!("is_avkey={key}&is_pcid=pc-1&{ok}a"));
    assert_eq!(r.status, 200);
    assert!(names_number(&r.expect_error(5), 4096), "{}", r.body);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn more_than_max_args_is_refused_naming_the_limit() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let pad = |n: usize| (0..n).map(|i| format!("&x{i}=1")).collect::<String>();
    d.call("PingHttp", &pad(64)[1..]).expect_ok();
    let r = validate(&d, &format!("is_avkey={key}&is_pcid=pc-1{}", pad(63)));
    assert_eq!(r.status, 200);
    assert!(names_number(&r.expect_error(5), 64), "{}", r.body);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn smaller_configured_argument_limits_are_enforced() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("maxArgs = 3")
            .server("maxValueBytes = 16"),
    );
    d.call(
        "GetLatestVersionHttp",
        "is_productid=1&is_majorversion=1&is_minorversion=0",
    )
    .expect_ok();
    let r = d.call("GetLatestVersionHttp", &format!("{LATEST_1_0}&x=1"));
    assert!(names_number(&r.expect_error(5), 3), "{}", r.body);
    d.call("PingHttp", &format!("x={}", "b".repeat(16)))
        .expect_ok();
    let r = d.call("PingHttp", &format!("x={}", "b".repeat(17)));
    assert!(names_number(&r.expect_error(5), 16), "{}", r.body);
}

#[test]
fn header_section_larger_than_max_header_bytes_is_431() {
    for (config, limit) in [
        (TestConfig::demo(), 8192),
        (TestConfig::demo().server("maxHeaderBytes = 1024"), 1024),
    ] {
        let d = TestDaemon::start(&config);
        let ok = get_with_header(
            &d,
            "/qlmservice.asmx/PingHttp",
            &format!("X-Pad: {}", "p".repeat(limit - 200)),
        );
        assert_eq!(ok.status, 200, "under {limit}: {}", ok.body);
        let req = format!(
            "GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "p".repeat(limit + 100)
        );
        let (status, text) = send_lenient(d.addr, req.as_bytes());
        assert_eq!(status, 431, "over {limit}: {text}");
    }
}

/// A form body of exactly `len` bytes: the GetLatestVersionHttp arguments padded with
/// arguments licd ignores, each value within the default value limit.
fn form_of_len(len: usize) -> String {
    let mut s = LATEST_1_0.to_string();
    let mut i = 0;
    while len - s.len() > 4010 {
        s.push_str(&format!("&x{i}={}", "a".repeat(4000)));
        i += 1;
    }
    let rest = len - s.len() - 3;
    s.push_str(&format!("&z={}", "a".repeat(rest)));
    assert_eq!(s.len(), len);
    s
}

/// A POST of `body` to GetLatestVersionHttp, with Content-Length or chunked.
fn post_request(body: &str, chunked: bool) -> Vec<u8> {
    let mut req = String::from(
        "POST /qlmservice.asmx/GetLatestVersionHttp HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n",
    );
    if chunked {
        req.push_str("Transfer-Encoding: chunked\r\n\r\n");
        for part in body.as_bytes().chunks(1000) {
            req.push_str(&format!(
                "{:x}\r\n{}\r\n",
                part.len(),
                String::from_utf8_lossy(part)
            ));
        }
        req.push_str("0\r\n\r\n");
    } else {
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    }
    req.into_bytes()
}

#[test]
fn body_larger_than_max_body_bytes_is_413_with_length_or_chunked() {
    for (config, limit) in [
        (TestConfig::demo(), 65536),
        (TestConfig::demo().server("maxBodyBytes = 1024"), 1024),
    ] {
        let d = TestDaemon::start(&config);
        for chunked in [false, true] {
            let (status, text) = send_lenient(d.addr, &post_request(&form_of_len(limit), chunked));
            assert_eq!(status, 200, "{limit} bytes, chunked {chunked}: {text}");
            assert!(
                text.contains("<latestVersion>1.4.2</latestVersion>"),
                "{text}"
            );
            let (status, text) =
                send_lenient(d.addr, &post_request(&form_of_len(limit + 1), chunked));
            assert_eq!(
                status,
                413,
                "{} bytes, chunked {chunked}: {text}",
                limit + 1
            );
        }
    }
}

#[test]
fn xml_replies_are_text_xml_utf8_one_element_a_line() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = validate(&d, &format!("is_avkey={key}&is_pcid=pc-1"));
    r.expect_ok();
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    let lines: Vec<&str> = r.body.split('\n').collect();
    assert_eq!(lines[0], r#"<?xml version="1.0" encoding="utf-8"?>"#);
    assert_eq!(lines[1], "<QuickLicenseManager>");
    assert_eq!(*lines.last().unwrap(), "</QuickLicenseManager>");
    for l in &lines[2..lines.len() - 1] {
        assert!(l.starts_with('<') && l.ends_with('>'), "line {l:?}");
    }
    let err = validate(&d, "is_pcid=pc-1");
    assert_eq!(err.header("content-type"), Some("text/xml; charset=utf-8"));
    err.expect_error(208);
}

#[test]
fn json_format_types_numbers_and_booleans() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    let r = validate(&d, &format!("is_avkey={key}&is_pcid=pc-1&is_format=json"));
    assert_eq!(r.status, 200);
    assert!(content_type(&r).starts_with("application/json"), "{r:?}");
    let j = r.json();
    for number in ["productID", "majorVersion", "minorVersion", "status"] {
        assert!(j[number].is_i64(), "{number}: {j}");
    }
    assert_eq!(j["numActivationsAllowed"], 2, "{j}");
    assert_eq!(j["availableLicenses"], 1, "{j}");
    assert_eq!(j["duration"], -1, "{j}");
    assert_eq!(j["revoked"], false, "{j}");
    assert_eq!(j["activationKey"], key.as_str(), "{j}");
    assert!(
        j["pckey"].is_string() && j["licenseModel"].is_string(),
        "{j}"
    );
    let q = format!("{LATEST_1_0}&{VENDOR}&is_format=json");
    let created = d.call("GetActivationKey", &q).json();
    assert_eq!(
        created["licenses"][0]["numActivationsAllowed"], 1,
        "{created}"
    );
    let e = validate(&d, "is_avkey=AAAAA-AAAAA-AAAAA-AAAAA-AAAAAA&is_format=json");
    assert!(content_type(&e).starts_with("application/json"));
    let ej = e.json();
    assert!(ej["errorCode"].is_u64(), "errorCode must be a number: {ej}");
    assert_eq!(ej["errorCode"], 203, "{ej}");
    assert!(ej["error"].is_string(), "{ej}");
}

#[test]
fn unknown_format_value_is_refused() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = d.call("PingHttp", "is_format=bogus");
    assert!(r.expect_error(5).contains("is_format"), "{}", r.body);
    d.call("PingHttp", "is_format=xml").expect_ok();
}

#[test]
fn writebom_puts_a_utf8_bom_before_the_reply() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = d.call("PingHttp", "is_writebom=true");
    r.expect_ok();
    assert!(
        r.bytes.starts_with(b"\xEF\xBB\xBF<?xml"),
        "{:?}",
        &r.bytes[..8]
    );
    let plain = d.call("PingHttp", "is_writebom=false");
    assert!(plain.bytes.starts_with(b"<?xml"), "{}", plain.body);
}

#[test]
fn forwarded_for_from_a_trusted_proxy_is_the_client_address() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .options("blockIPAddresses = [\"198.51.100.7\"]")
            .server("trustedProxies = [\"127.0.0.0/8\"]"),
    );
    for xff in [
        "198.51.100.7",
        "203.0.113.1, 198.51.100.7",
        "198.51.100.7, 127.0.0.9",
        "::ffff:198.51.100.7",
    ] {
        ping_forwarded_for(&d, xff).expect_error(3);
    }
    for xff in ["198.51.100.8", "198.51.100.7, 203.0.113.1"] {
        ping_forwarded_for(&d, xff).expect_ok();
    }
    d.call("PingHttp", "").expect_ok();
}

#[test]
fn forwarded_for_is_ignored_without_trusted_proxies() {
    let d = TestDaemon::start(&TestConfig::demo().options("blockIPAddresses = [\"198.51.100.7\"]"));
    ping_forwarded_for(&d, "198.51.100.7").expect_ok();
    let blocked =
        TestDaemon::start(&TestConfig::demo().options("blockIPAddresses = [\"127.0.0.1\"]"));
    ping_forwarded_for(&blocked, "203.0.113.1").expect_error(3);
}

#[test]
fn admin_method_from_outside_the_allowed_addresses_is_refused_with_code_3() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .security("httpAdminMethods = [\"PingHttp\"]")
            .security("httpAdminMethodsAllowedIPAddresses = [\"10.0.0.0/8\"]")
            .server("trustedProxies = [\"127.0.0.0/8\"]"),
    );
    d.call("PingHttp", "").expect_error(3);
    d.get("/api/v1/QlmApi/pinghttp").expect_error(3);
    d.call("GetLatestVersionHttp", LATEST_1_0).expect_ok();
    ping_forwarded_for(&d, "10.1.2.3").expect_ok();
}

#[test]
fn gated_off_method_is_code_7_naming_the_property() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableGetActivationKey = false"));
    for method in ["GetActivationKey", "GetActivationKeyWithExpiryDate"] {
        let r = d.call(method, &format!("{LATEST_1_0}&{VENDOR}"));
        let message = r.expect_error(7);
        assert!(message.contains("enableGetActivationKey"), "{message}");
        d.call(method, "").expect_error(7);
    }
    validate(&d, "is_pcid=x").expect_error(208);
}

#[test]
fn xml_text_is_written_in_canonical_form() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_userdata1=%26%20%3C%20%3E%20%22%20%27%20%09end");
    let r = validate(
        &d,
        &format!("is_avkey={key}&is_pcid=pc-1&is_computer_name=A%26B+%3Cx%3E+%22q%22"),
    );
    r.expect_ok();
    for raw in [
        "<userData>&amp; &lt; &gt; \" ' \tend</userData>",
        "<computerName>A&amp;B &lt;x&gt; \"q\"</computerName>",
    ] {
        assert!(r.body.contains(raw), "{raw} not in {}", r.body);
    }
    let (decl, rest) = r.body.split_once('\n').expect("declaration line");
    assert_eq!(decl, r#"<?xml version="1.0" encoding="utf-8"?>"#);
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys,xml.etree.ElementTree as E; sys.stdout.write(E.canonicalize(sys.stdin.read()))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin.take().unwrap().write_all(rest.as_bytes()).unwrap();
    let out = py.wait_with_output().expect("python3 output");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), rest);
}
