//! licd vendor plugin for FastSpring remote-license requests.
//!
//! FastSpring's "remote license" fulfilment POSTs a form to the URL configured in the store
//! (licd's GetActivationKey URL, with licd's own `is_vendor`, `is_productid`, … in its query
//! string) and signs it: `security_request_hash` is the lowercase hex MD5 of the values of
//! every other form parameter of the body, ordered by parameter name (byte order),
//! concatenated, followed by the store's private key. This plugin recomputes it, then maps the
//! store's fields to licd's arguments: `quantity` → `is_quantity`, `email` → `is_email`,
//! `reference` (the order id) → `is_orderid`, `subscription` → `is_subscriptionid`.
//!
//! The hash covers the body's values and nothing else: not the field names, not the method,
//! not the query string. So the plugin declares `FLAG_SIGNS_BODY_ONLY` (licd then refuses
//! `is_*` query arguments outside the vendor's short `unsignedArgs` list), accepts only the
//! methods a FastSpring store calls ([`ACCEPTED_METHODS`]), requires `reference` (a body
//! whose order id was renamed away would otherwise escape the order-id memory), and maps the
//! hash to `is_replayid`, so that licd answers a replayed callback with its first reply
//! instead of creating keys again.
//!
//! Configuration (`[plugin.config]`): `privateKey = "…"` or `privateKeyFile = "/path"` (the
//! key is the file's content without its trailing line break).

use licd_plugin_api::{Request, VendorPlugin, Verdict, export_vendor_plugin, form};
use md5::{Digest, Md5};

/// The form parameter that carries the signature.
const HASH_PARAMETER: &str = "security_request_hash";

/// The form parameter that carries FastSpring's order reference (licd's order id).
const REFERENCE_PARAMETER: &str = "reference";

/// The methods a FastSpring store's fulfilment and rebill URLs call; any other is denied, so
/// a captured callback cannot be replayed against UpdateLicenseHttp or RevokeLicenseHttp.
pub const ACCEPTED_METHODS: [&str; 4] = [
    "GetActivationKey",
    "GetActivationKeyWithExpiryDate",
    "RenewSubscriptionHttp",
    "RenewMaintenancePlan",
];

/// The argument licd reads the replay id from (licd_plugin.h, `LICD_FLAG_SIGNS_BODY_ONLY`).
const REPLAY_ID_ARG: &str = "is_replayid";

/// FastSpring's field → licd's argument.
const MAPPING: [(&str, &str); 4] = [
    ("quantity", "is_quantity"),
    ("email", "is_email"),
    ("reference", "is_orderid"),
    ("subscription", "is_subscriptionid"),
];

/// The plugin instance: the store's private key.
pub struct FastSpring {
    private_key: String,
}

impl VendorPlugin for FastSpring {
    fn create(config_json: &str) -> Result<Self, String> {
        let config: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| format!("the configuration is not a JSON object: {e}"))?;
        let inline = config.get("privateKey").and_then(|v| v.as_str());
        let file = config.get("privateKeyFile").and_then(|v| v.as_str());
        let private_key = match (inline, file) {
            (Some(_), Some(_)) => {
                return Err("set privateKey or privateKeyFile, not both".into());
            }
            (Some(key), None) => key.to_string(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read privateKeyFile {path}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            (None, None) => {
                return Err(
                    "the FastSpring private key is missing: set privateKey or privateKeyFile in [plugin.config]"
                        .into(),
                );
            }
        };
        if private_key.is_empty() {
            return Err("the FastSpring private key is empty".into());
        }
        Ok(FastSpring { private_key })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        let method = req.method();
        if !ACCEPTED_METHODS.contains(&method) {
            return Verdict::Deny(format!(
                "FastSpring callbacks call only {}; this request calls {method}",
                ACCEPTED_METHODS.join(", ")
            ));
        }
        let params = match form::parse(req.body()) {
            Ok(p) => p,
            Err(e) => return Verdict::Deny(format!("the POST body is not a form: {e}")),
        };
        match check_body(&params, &self.private_key) {
            Ok(()) => Verdict::Allow,
            Err(why) => Verdict::Deny(why),
        }
    }

    fn map_args(&self, req: &Request<'_>) -> Result<Vec<(String, String)>, String> {
        // Only the signed body is mapped: a field in the query string is not covered by the
        // hash and could have been added by anyone who saw the URL.
        let params = form::parse(req.body()).map_err(|e| e.to_string())?;
        let mut mapped: Vec<(String, String)> = MAPPING
            .iter()
            .filter_map(|(field, arg)| {
                value(&params, field).map(|v| ((*arg).to_string(), v.to_string()))
            })
            .collect();
        // `authenticate` allowed, so the hash is there and matches; it names this callback.
        let hash =
            value(&params, HASH_PARAMETER).ok_or("the POST body has no security_request_hash")?;
        mapped.push((REPLAY_ID_ARG.to_string(), hash.to_ascii_lowercase()));
        Ok(mapped)
    }
}

/// The value of the body parameter `name` (names are case-sensitive, as FastSpring sends them).
fn value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The checks of a callback body: a matching hash, every name once, and an order reference.
fn check_body(params: &[(String, String)], private_key: &str) -> Result<(), String> {
    check_hash(params, private_key)?;
    // A name given twice would let a forger add a field whose value is empty (which leaves
    // the hash unchanged) ahead of the genuine one.
    for (i, (name, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(format!("the POST body names {name} twice"));
        }
    }
    if value(params, REFERENCE_PARAMETER).is_none_or(str::is_empty) {
        return Err("the POST body has no reference (FastSpring's order id)".into());
    }
    Ok(())
}

/// Checks `security_request_hash` over the body's parameters.
fn check_hash(params: &[(String, String)], private_key: &str) -> Result<(), String> {
    let given = params
        .iter()
        .find(|(n, _)| n == HASH_PARAMETER)
        .map(|(_, v)| v.as_str())
        .ok_or("the POST body has no security_request_hash")?;
    let expected = request_hash(params, private_key);
    if constant_time_eq(given.to_ascii_lowercase().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("security_request_hash does not match (tampered request or wrong privateKey)".into())
    }
}

/// FastSpring's hash: MD5 of the values sorted by parameter name, then the private key.
pub fn request_hash(params: &[(String, String)], private_key: &str) -> String {
    let mut signed: Vec<&(String, String)> =
        params.iter().filter(|(n, _)| n != HASH_PARAMETER).collect();
    signed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut md5 = Md5::new();
    for (_, value) in signed {
        md5.update(value.as_bytes());
    }
    md5.update(private_key.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality whose time does not depend on where the inputs differ, so that a forger cannot
/// find the hash byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

export_vendor_plugin!(
    FastSpring,
    name = "fastspring",
    flags = licd_plugin_api::FLAG_SIGNS_BODY_ONLY
);

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hash_is_md5_of_values_sorted_by_name_then_the_key() {
        let p = params(&[("reference", "R-1"), ("quantity", "3"), ("email", "a@b.c")]);
        // Sorted by name: email, quantity, reference.
        let expected: String = Md5::digest(b"a@b.c3R-1secret")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(request_hash(&p, "secret"), expected);
    }

    #[test]
    fn names_sort_by_bytes_so_upper_case_comes_first() {
        let p = params(&[("b", "2"), ("B", "1"), ("a", "3")]);
        assert_eq!(
            request_hash(&p, "k"),
            request_hash(&params(&[("x", "132")]), "k")
        );
    }

    #[test]
    fn tampered_value_missing_hash_or_wrong_key_is_refused() {
        let mut p = params(&[("quantity", "3"), ("reference", "R-1")]);
        let hash = request_hash(&p, "secret");
        p.push((HASH_PARAMETER.into(), hash.to_uppercase()));
        assert_eq!(check_hash(&p, "secret"), Ok(()));
        assert!(check_hash(&p, "other").is_err());
        p[0].1 = "30".into();
        assert!(check_hash(&p, "secret").is_err());
        assert!(check_hash(&params(&[("quantity", "3")]), "secret").is_err());
    }

    /// A signed body of `pairs`, as FastSpring sends it.
    fn signed(pairs: &[(&str, &str)], key: &str) -> Vec<(String, String)> {
        let mut p = params(pairs);
        let hash = request_hash(&p, key);
        p.push((HASH_PARAMETER.into(), hash));
        p
    }

    #[test]
    fn a_body_without_reference_or_with_a_name_twice_is_refused_even_when_signed() {
        let good = signed(&[("reference", "R-1"), ("quantity", "3")], "k");
        assert_eq!(check_body(&good, "k"), Ok(()));
        let renamed = signed(&[("Reference", "R-1"), ("quantity", "3")], "k");
        let e = check_body(&renamed, "k").unwrap_err();
        assert!(e.contains("no reference"), "{e}");
        let empty = signed(&[("reference", ""), ("quantity", "3")], "k");
        assert!(check_body(&empty, "k").is_err());
        // An empty value leaves the hash as it was: the duplicate is what gives it away.
        let mut twice = params(&[("quantity", ""), ("quantity", "3"), ("reference", "R-1")]);
        let hash = request_hash(&params(&[("quantity", "3"), ("reference", "R-1")]), "k");
        assert_eq!(request_hash(&twice, "k"), hash);
        twice.push((HASH_PARAMETER.into(), hash));
        let e = check_body(&twice, "k").unwrap_err();
        assert!(e.contains("quantity twice"), "{e}");
    }

    /// Runs `f` on a request for `method` whose body is `body`.
    fn with_request<T>(method: &str, body: &str, f: impl FnOnce(&Request<'_>) -> T) -> T {
        use licd_plugin_api::ffi::{LicdBytes, LicdRequest, LicdStr};
        let raw = LicdRequest {
            struct_size: size_of::<LicdRequest>() as u32,
            method: LicdStr::new(method),
            vendor: LicdStr::new("FastSpring"),
            client_addr: LicdStr::new("192.0.2.1"),
            url: LicdStr::new("/qlmservice.asmx/x"),
            args: std::ptr::null(),
            args_len: 0,
            headers: std::ptr::null(),
            headers_len: 0,
            body: LicdBytes::new(body.as_bytes()),
        };
        // SAFETY: every pointer of `raw` is valid (or null with length 0) during `f`.
        f(&unsafe { Request::from_raw(&raw) })
    }

    #[test]
    fn only_the_four_store_methods_are_allowed_and_the_hash_becomes_the_replay_id() {
        let plugin = FastSpring {
            private_key: "k".into(),
        };
        let p = signed(&[("reference", "R-1"), ("quantity", "3")], "k");
        let body = form::encode(&p);
        for method in ACCEPTED_METHODS {
            let verdict = with_request(method, &body, |r| plugin.authenticate(r));
            assert_eq!(verdict, Verdict::Allow, "{method}");
        }
        for method in [
            "UpdateLicenseHttp",
            "RevokeLicenseHttp",
            "ReleaseLicenseHttp",
        ] {
            match with_request(method, &body, |r| plugin.authenticate(r)) {
                Verdict::Deny(why) => assert!(why.contains(method), "{why}"),
                Verdict::Allow => panic!("{method} was allowed"),
            }
        }
        let mapped = with_request("GetActivationKey", &body, |r| plugin.map_args(r));
        let hash = p[2].1.clone();
        assert_eq!(
            mapped,
            Ok(vec![
                ("is_quantity".to_string(), "3".to_string()),
                ("is_orderid".to_string(), "R-1".to_string()),
                ("is_replayid".to_string(), hash),
            ])
        );
    }

    #[test]
    fn config_needs_exactly_one_private_key_source() {
        assert!(FastSpring::create("{}").is_err());
        assert!(FastSpring::create(r#"{"privateKey":""}"#).is_err());
        assert!(FastSpring::create(r#"{"privateKey":"a","privateKeyFile":"/x"}"#).is_err());
        let e = FastSpring::create(r#"{"privateKeyFile":"/nonexistent/key"}"#)
            .err()
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/key"), "{e}");
        let dir = std::env::temp_dir().join(format!("licd-fs-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let plugin = FastSpring::create(&format!(r#"{{"privateKeyFile":"{}"}}"#, dir.display()));
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(
            plugin.map(|p| p.private_key).ok().as_deref(),
            Some("from-file")
        );
    }
}
