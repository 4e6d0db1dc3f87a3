//! The connection string's TLS parameters, taken out before tokio-postgres reads the rest.
//!
//! licd accepts libpq's `sslmode`, `sslrootcert`, `sslcert`, `sslkey` and `sslpassword` in
//! `postgresUrl`, in both of libpq's forms (a `postgres://` URL, or `key=value` pairs).
//! tokio-postgres knows only `sslmode` `disable`/`prefer`/`require` and refuses the other
//! names as unknown options, so they are removed here, with the same reading of the string
//! tokio-postgres makes: in a URL, the query after the first `?` that follows the
//! credentials, `&`-separated and percent-decoded; in key/value form, whitespace-separated
//! pairs whose values may be single-quoted, with backslash escapes.
//!
//! Nothing here quotes a value in a message: the string may hold a password, and so may
//! `sslpassword`.

use std::fmt;

use percent_encoding::percent_decode_str;

/// The parameters taken out of the connection string.
const TAKEN: [&str; 5] = ["sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword"];

/// The parameter names a message may quote: tokio-postgres' and the ones above. Any other
/// word where a name should stand may be a piece of a password that lost its quotes.
const KNOWN: [&str; 23] = [
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
];

/// `key` for a message: quoted if it is a known name, else only "a parameter".
fn named(key: &str) -> String {
    if KNOWN.contains(&key) {
        format!("parameter `{key}`")
    } else {
        "a parameter".to_string()
    }
}

/// A connection string split in two: what tokio-postgres reads and what licd reads.
#[derive(Debug)]
pub(super) struct ConnInfo {
    /// The string without the parameters of [`SslParams`], in its own form.
    pub rest: String,
    /// The TLS parameters, as written (the last one wins, as in libpq).
    pub ssl: SslParams,
}

/// The TLS parameters of a connection string, unchecked.
#[derive(Default, PartialEq, Eq)]
pub(super) struct SslParams {
    /// `sslmode`.
    pub mode: Option<String>,
    /// `sslrootcert`: a PEM file of trusted roots, or `system`.
    pub root_cert: Option<String>,
    /// `sslcert`: the client's certificate chain (PEM).
    pub cert: Option<String>,
    /// `sslkey`: the client's private key (PEM).
    pub key: Option<String>,
    /// `sslpassword`: the passphrase of an encrypted `sslkey` (a secret).
    pub password: Option<String>,
}

impl fmt::Debug for SslParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SslParams")
            .field("mode", &self.mode)
            .field("root_cert", &self.root_cert)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SslParams {
    fn set(&mut self, key: &str, value: String) {
        let slot = match key {
            "sslmode" => &mut self.mode,
            "sslrootcert" => &mut self.root_cert,
            "sslcert" => &mut self.cert,
            "sslkey" => &mut self.key,
            _ => &mut self.password,
        };
        *slot = Some(value);
    }
}

/// Splits `s` into the part tokio-postgres reads and the TLS parameters; an error says what
/// is malformed without quoting any value.
pub(super) fn split(s: &str) -> Result<ConnInfo, String> {
    for prefix in ["postgres://", "postgresql://"] {
        if s.starts_with(prefix) {
            return split_url(s, prefix.len());
        }
    }
    split_pairs(s)
}

/// The URL form: `postgres://user:password@host:port/db?key=value&…`.
fn split_url(s: &str, body: usize) -> Result<ConnInfo, String> {
    // tokio-postgres takes the credentials up to the first `@` (a password may hold a `?`),
    // then host and path up to the first `?`.
    let after_credentials = s[body..].find('@').map_or(body, |at| body + at + 1);
    let mut ssl = SslParams::default();
    let Some(query) = s[after_credentials..]
        .find('?')
        .map(|q| after_credentials + q)
    else {
        return Ok(ConnInfo {
            rest: s.to_string(),
            ssl,
        });
    };
    let mut kept = Vec::new();
    for chunk in s[query + 1..].split('&').filter(|c| !c.is_empty()) {
        let Some((key, value)) = chunk.split_once('=') else {
            // tokio-postgres says what is wrong with it.
            kept.push(chunk);
            continue;
        };
        let key = decode(key, "a parameter name")?;
        if TAKEN.contains(&key.as_str()) {
            ssl.set(&key, decode(value, &format!("the value of `{key}`"))?);
        } else {
            kept.push(chunk);
        }
    }
    let mut rest = s[..query].to_string();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok(ConnInfo { rest, ssl })
}

/// `text` percent-decoded, as tokio-postgres decodes the URL's parts.
fn decode(text: &str, what: &str) -> Result<String, String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|d| d.into_owned())
        .map_err(|_| format!("{what} is not UTF-8 once percent-decoded"))
}

/// The key/value form: `host=db dbname=licd sslmode=verify-full sslrootcert='/etc/a b.pem'`.
fn split_pairs(s: &str) -> Result<ConnInfo, String> {
    let mut ssl = SslParams::default();
    let mut kept = Vec::new();
    let mut pairs = Pairs { s, at: 0 };
    while let Some(pair) = pairs.next_pair()? {
        if TAKEN.contains(&pair.key) {
            ssl.set(pair.key, pair.value);
        } else {
            kept.push(&s[pair.span.0..pair.span.1]);
        }
    }
    Ok(ConnInfo {
        rest: kept.join(" "),
        ssl,
    })
}

/// One `key=value` of the key/value form.
struct Pair<'a> {
    key: &'a str,
    value: String,
    /// Where it lies in the string, quotes included.
    span: (usize, usize),
}

/// A reader of the key/value form, with tokio-postgres' grammar.
struct Pairs<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Pairs<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The next pair; `None` at the end.
    fn next_pair(&mut self) -> Result<Option<Pair<'a>>, String> {
        self.skip_whitespace();
        let start = self.at;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != '=') {
            self.bump();
        }
        let key = &self.s[start..self.at];
        if key.is_empty() {
            return match self.peek() {
                None => Ok(None),
                Some(_) => Err("a parameter has no name before its `=`".into()),
            };
        }
        self.skip_whitespace();
        if self.bump() != Some('=') {
            return Err(format!("{} has no `=` and value", named(key)));
        }
        self.skip_whitespace();
        let value = if self.peek() == Some('\'') {
            self.bump();
            self.quoted(key)?
        } else {
            self.simple(key)?
        };
        Ok(Some(Pair {
            key,
            value,
            span: (start, self.at),
        }))
    }

    /// A value up to the next whitespace; `\` escapes the next character.
    fn simple(&mut self, key: &str) -> Result<String, String> {
        let mut value = String::new();
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            self.bump();
            match c {
                '\\' => value.extend(self.bump()),
                c => value.push(c),
            }
        }
        if value.is_empty() {
            return Err(format!("{} has no value", named(key)));
        }
        Ok(value)
    }

    /// A value up to the closing `'`; `\` escapes the next character.
    fn quoted(&mut self, key: &str) -> Result<String, String> {
        let mut value = String::new();
        loop {
            match self.bump() {
                Some('\'') => return Ok(value),
                Some('\\') => value.extend(self.bump()),
                Some(c) => value.push(c),
                None => {
                    return Err(format!(
                        "the quoted value of {} has no closing `'`",
                        named(key)
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_the_tls_parameters_and_keeps_the_others_in_order() {
        let info = split(
            "postgres://licd:pw@db:6432/licd?application_name=a&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fpg%20ca.pem&connect_timeout=3&sslcert=c.pem&sslkey=k.pem\
             &sslpassword=s3cret",
        )
        .unwrap();
        assert_eq!(
            info.rest,
            "postgres://licd:pw@db:6432/licd?application_name=a&connect_timeout=3"
        );
        assert_eq!(info.ssl.mode.as_deref(), Some("verify-full"));
        assert_eq!(info.ssl.root_cert.as_deref(), Some("/etc/pg ca.pem"));
        assert_eq!(info.ssl.cert.as_deref(), Some("c.pem"));
        assert_eq!(info.ssl.key.as_deref(), Some("k.pem"));
        assert_eq!(info.ssl.password.as_deref(), Some("s3cret"));
        assert!(!format!("{info:?}").contains("s3cret"));
    }

    #[test]
    fn a_url_with_only_tls_parameters_loses_its_question_mark() {
        let info = split("postgresql://db/licd?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!(info.rest, "postgresql://db/licd");
        assert_eq!(info.ssl.root_cert.as_deref(), Some("system"));
        let info = split("postgres://db/licd").unwrap();
        assert_eq!(info.rest, "postgres://db/licd");
        assert_eq!(info.ssl, SslParams::default());
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let info = split("postgres://licd:a?sslmode=x@db/licd?sslmode=verify-ca").unwrap();
        assert_eq!(info.rest, "postgres://licd:a?sslmode=x@db/licd");
        assert_eq!(info.ssl.mode.as_deref(), Some("verify-ca"));
    }

    #[test]
    fn the_last_of_a_repeated_parameter_wins_as_in_libpq() {
        let info = split("postgres://db/licd?sslmode=disable&sslmode=verify-full").unwrap();
        assert_eq!(info.ssl.mode.as_deref(), Some("verify-full"));
    }

    #[test]
    fn key_value_pairs_lose_the_tls_parameters_with_quotes_and_escapes_read() {
        let info = split(
            "host=db  dbname = licd sslmode=verify-full sslrootcert='/etc/pg ca\\'s.pem' \
             password='it\\'s' sslkey=/k\\ ey.pem sslcert=c.pem",
        )
        .unwrap();
        assert_eq!(info.rest, "host=db dbname = licd password='it\\'s'");
        assert_eq!(info.ssl.root_cert.as_deref(), Some("/etc/pg ca's.pem"));
        assert_eq!(info.ssl.key.as_deref(), Some("/k ey.pem"));
        assert_eq!(info.ssl.cert.as_deref(), Some("c.pem"));
        let parsed: tokio_postgres::Config = info.rest.parse().unwrap();
        assert_eq!(parsed.get_password(), Some(&b"it's"[..]));
    }

    #[test]
    fn malformed_pairs_are_described_without_their_values() {
        for (text, words) in [
            ("host=db sslpassword='s3cret", "no closing"),
            ("host=db sslkey=", "no value"),
            ("host=db sslkey", "no `=`"),
            ("host=db =s3cret", "no name"),
            // A password with a space and no quotes: its second half is no name to quote.
            ("host=db password=my s3cret", "a parameter has no `=`"),
        ] {
            let why = split(text).unwrap_err();
            assert!(why.contains(words), "{text}: {why}");
            assert!(!why.contains("s3cret"), "{why}");
        }
        let why = split("postgres://db/licd?sslpassword=%FF%FE").unwrap_err();
        assert!(
            why.contains("sslpassword") && why.contains("UTF-8"),
            "{why}"
        );
    }
}
