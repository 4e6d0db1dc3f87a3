//! Form bodies (`application/x-www-form-urlencoded`) of the portal's and console's pages,
//! read with a bound so that a page's POST can never hold more than a form needs.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use licd_plugin_api::form as urlencoded;

/// The largest form body read: far above any of licd's forms (a licence's features and
/// properties fit in a few KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The most fields a form may carry.
pub const MAX_FIELDS: usize = 200;

/// Why a form body was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// The body is larger than [`MAX_BODY`].
    #[error("the form is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body has more than [`MAX_FIELDS`] fields.
    #[error("the form has more than {MAX_FIELDS} fields")]
    TooManyFields,
    /// A name or value is not valid percent-encoded UTF-8.
    #[error("the form is not valid UTF-8 form encoding")]
    Malformed,
    /// The connection failed while the body was read.
    #[error("the form could not be read: {0}")]
    Read(String),
}

/// A decoded form: its fields in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Decodes `body` (also a query string: the same encoding).
    pub fn parse(body: &[u8]) -> Result<Form, FormError> {
        if body.len() > MAX_BODY {
            return Err(FormError::TooLarge);
        }
        let mut fields = Vec::new();
        for (name, value) in urlencoded::pairs(body) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            let name = urlencoded::decode(name).map_err(|_| FormError::Malformed)?;
            let value = urlencoded::decode(value).map_err(|_| FormError::Malformed)?;
            fields.push((name, value));
        }
        Ok(Form { fields })
    }

    /// The first value of field `name` (exact name), trimmed of surrounding white space.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }

    /// Every value of field `name`, trimmed, in the order sent.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value of `name`, or `""` when absent (for prefilling fields).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes.
pub async fn read_body(incoming: Incoming) -> Result<Bytes, FormError> {
    match Limited::new(incoming, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FormError::TooLarge),
        Err(e) => Err(FormError::Read(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_trimmed_and_found_by_exact_name() {
        let f = Form::parse(b"is_avkey=%20AB-CD+&is_pcid=pc%2F1&x=1&x=2").unwrap();
        assert_eq!(f.get("is_avkey"), Some("AB-CD"));
        assert_eq!(f.get("is_pcid"), Some("pc/1"));
        assert_eq!(f.get("IS_PCID"), None);
        assert_eq!(f.get_all("x").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(f.value("missing"), "");
    }

    #[test]
    fn oversized_crowded_or_malformed_forms_are_refused() {
        assert!(matches!(
            Form::parse(&vec![b'a'; MAX_BODY + 1]),
            Err(FormError::TooLarge)
        ));
        let crowded = "a=1&".repeat(MAX_FIELDS + 1);
        assert!(matches!(
            Form::parse(crowded.as_bytes()),
            Err(FormError::TooManyFields)
        ));
        assert!(matches!(Form::parse(b"a=%FF"), Err(FormError::Malformed)));
    }
}
