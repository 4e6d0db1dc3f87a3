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
//! Configuration (`[plugin.config]`): `privateKey = "…"` or `privateKeyFile = "/path"` (the
//! key is the file's content without its trailing line break).

use licd_plugin_api::{Request, VendorPlugin, Verdict, export_vendor_plugin, form};
use md5::{Digest, Md5};

/// The form parameter that carries the signature.
const HASH_PARAMETER: &str = "security_request_hash";

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
        let params = match form::parse(req.body()) {
            Ok(p) => p,
            Err(e) => return Verdict::Deny(format!("the POST body is not a form: {e}")),
        };
        match check_hash(&params, &self.private_key) {
            Ok(()) => Verdict::Allow,
            Err(why) => Verdict::Deny(why),
        }
    }

    fn map_args(&self, req: &Request<'_>) -> Result<Vec<(String, String)>, String> {
        // Only the signed body is mapped: a field in the query string is not covered by the
        // hash and could have been added by anyone who saw the URL.
        let params = form::parse(req.body()).map_err(|e| e.to_string())?;
        Ok(MAPPING
            .iter()
            .filter_map(|(field, arg)| {
                params
                    .iter()
                    .find(|(n, _)| n == field)
                    .map(|(_, v)| ((*arg).to_string(), v.clone()))
            })
            .collect())
    }
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

export_vendor_plugin!(FastSpring, name = "fastspring");

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
