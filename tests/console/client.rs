//! A staff member's browser, minus the browser: plain HTTP to the console on loopback with a
//! cookie jar, every `Set-Cookie` kept, and the forms' CSRF tokens read from the pages.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::util::{TestDaemon, send_raw};

/// A reply of the console.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Every header, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` value of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The CSRF token of the form posting to `action`.
    #[track_caller]
    pub fn token(&self, action: &str) -> String {
        let at = self
            .body
            .find(&format!("action=\"{action}\""))
            .unwrap_or_else(|| panic!("no form posts to {action}:\n{}", self.body));
        let rest = &self.body[at..];
        let field = "name=\"csrf_token\" value=\"";
        let start = rest.find(field).expect("a csrf_token field") + field.len();
        let end = rest[start..].find('"').expect("the end of the token");
        rest[start..start + end].to_string()
    }
}

/// One staff member's session with the console.
pub struct Client {
    /// The console's address.
    pub addr: SocketAddr,
    cookies: RefCell<BTreeMap<String, String>>,
    /// Sent as `X-Forwarded-For` (with `trustedProxies` set, the client's address).
    pub forwarded_for: Option<String>,
}

/// The console's address from the daemon's start-up line.
#[track_caller]
pub fn console_addr(d: &TestDaemon) -> SocketAddr {
    assert!(
        d.wait_for_log("licd console listening on "),
        "no console line:\n{}",
        d.logs()
    );
    let logs = d.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("licd console listening on "))
        .expect("the console line");
    let rest = line
        .split("licd console listening on ")
        .nth(1)
        .expect("an address");
    let addr = rest
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"))
}

/// `s` percent-encoded for a form body or query.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    /// A client of `d`'s console with an empty cookie jar.
    pub fn of(d: &TestDaemon) -> Client {
        Client {
            addr: console_addr(d),
            cookies: RefCell::default(),
            forwarded_for: None,
        }
    }

    /// A second client of the same console, with its own cookie jar, seen from `address`.
    pub fn seen_from(&self, address: &str) -> Client {
        Client {
            addr: self.addr,
            cookies: RefCell::default(),
            forwarded_for: Some(address.to_string()),
        }
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// Puts a cookie in the jar (an old session id, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Page {
        self.send("GET", path, None)
    }

    /// POST `fields` as a form to `path`.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.send("POST", path, Some(body.join("&")))
    }

    /// Opens `page`, then posts its form to `action` with its token and `fields`.
    pub fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(page).token(action);
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    /// Logs in through the login form; the reply to the POST.
    pub fn login(&self, user: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("user", user), ("password", password)],
        )
    }

    /// Logs in and asserts it worked.
    #[track_caller]
    pub fn logged_in(&self, user: &str, password: &str) {
        let r = self.login(user, password);
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some("/"));
    }

    fn send(&self, method: &str, path: &str, body: Option<String>) -> Page {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        let cookies: Vec<String> = self
            .cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(xff) = &self.forwarded_for {
            head.push_str(&format!("X-Forwarded-For: {xff}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        let reply = send_raw(self.addr, format!("{head}\r\n{body}").as_bytes());
        let page = Page {
            status: reply.status,
            headers: reply.header_lines,
            body: reply.body,
        };
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let mut jar = self.cookies.borrow_mut();
                if value.is_empty() || c.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_string(), value.to_string());
                }
            }
        }
        page
    }
}
