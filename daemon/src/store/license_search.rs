//! Finding licences by what a member of staff knows (the console's search,
//! docs/console.md): part of the key, part of the customer's e-mail, part of the order id,
//! part of a computer's ID or name. The same matching on every backend: the embedded one
//! applies [`LicenseSearch`]'s predicates to what it scans, PostgreSQL runs the same
//! comparisons in SQL (`strpos` on `lower`ed text).
//!
//! Every comparison is "contains, ignoring ASCII case"; a key is compared in its canonical
//! form, so `a7k2m-q9x` finds `A7K2MQ9X…`.

/// What a search compares its text with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchField {
    /// Any of the fields below.
    Any,
    /// The activation key.
    Key,
    /// The e-mail of the licence's customer.
    Email,
    /// The order id given at creation.
    Order,
    /// The ID or the name of an activated computer.
    Computer,
}

impl SearchField {
    /// The field named by the search form's `by` value (`any` for anything else).
    pub fn from_name(name: &str) -> SearchField {
        match name {
            "key" => SearchField::Key,
            "email" => SearchField::Email,
            "order" => SearchField::Order,
            "computer" => SearchField::Computer,
            _ => SearchField::Any,
        }
    }

    /// The form's value for this field.
    pub fn name(self) -> &'static str {
        match self {
            SearchField::Any => "any",
            SearchField::Key => "key",
            SearchField::Email => "email",
            SearchField::Order => "order",
            SearchField::Computer => "computer",
        }
    }

    /// Whether a search on this field compares `other` too.
    pub fn covers(self, other: SearchField) -> bool {
        self == SearchField::Any || self == other
    }
}

/// One search: a text and the fields it is looked for in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSearch {
    /// The text as typed, trimmed and lower-cased (ASCII).
    pub text: String,
    /// The text as a key looks: no dashes or spaces, upper case. Empty when the text has no
    /// character a key could hold, so that a search for an e-mail never matches every key.
    pub key_text: String,
    /// Where to look.
    pub field: SearchField,
    /// Most licences returned (by key order).
    pub limit: usize,
}

impl LicenseSearch {
    /// A search for `text` in `field`, returning at most `limit` licences.
    pub fn new(text: &str, field: SearchField, limit: usize) -> LicenseSearch {
        let text = text.trim().to_ascii_lowercase();
        let key_text: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let key_text = if key_text.chars().all(|c| c.is_ascii_alphanumeric()) {
            key_text
        } else {
            String::new()
        };
        LicenseSearch {
            text,
            key_text,
            field,
            limit,
        }
    }

    /// Whether there is anything to look for.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether a canonical key matches.
    pub fn key_matches(&self, key: &str) -> bool {
        self.field.covers(SearchField::Key)
            && !self.key_text.is_empty()
            && key.contains(&self.key_text)
    }

    /// Whether a customer's e-mail matches.
    pub fn email_matches(&self, email: &str) -> bool {
        self.field.covers(SearchField::Email) && contains(email, &self.text)
    }

    /// Whether an order id matches.
    pub fn order_matches(&self, order_id: Option<&str>) -> bool {
        self.field.covers(SearchField::Order) && order_id.is_some_and(|o| contains(o, &self.text))
    }

    /// Whether an activated computer (its ID, or its name when known) matches.
    pub fn computer_matches(&self, computer_id: &str, computer_name: Option<&str>) -> bool {
        self.field.covers(SearchField::Computer)
            && (contains(computer_id, &self.text)
                || computer_name.is_some_and(|n| contains(n, &self.text)))
    }
}

/// Whether `haystack` holds `needle` (already lower case), ignoring ASCII case.
fn contains(haystack: &str, needle: &str) -> bool {
    !needle.is_empty() && haystack.to_ascii_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_any_part_written_with_or_without_dashes_in_any_case() {
        let s = LicenseSearch::new(" a7k2m-q9x ", SearchField::Any, 10);
        assert!(s.key_matches("A7K2MQ9XWD3T8RBHN4CZE6V1PG"));
        assert!(!s.key_matches("B7K2MQ9XWD3T8RBHN4CZE6V1PG"));
        let email = LicenseSearch::new("ann@example.com", SearchField::Any, 10);
        assert!(email.key_text.is_empty());
        assert!(!email.key_matches("ANNEXAMPLECOM"));
        assert!(email.email_matches("Ann@Example.com"));
    }

    #[test]
    fn a_field_search_looks_only_there() {
        let s = LicenseSearch::new("lab", SearchField::Computer, 10);
        assert!(s.computer_matches("PC-1", Some("Lab bench 3")));
        assert!(s.computer_matches("LAB-7", None));
        assert!(!s.order_matches(Some("lab-order")));
        assert!(!s.email_matches("lab@example.com"));
        let o = LicenseSearch::new("ord-1", SearchField::Order, 10);
        assert!(o.order_matches(Some("ORD-17")));
        assert!(!o.order_matches(None));
        assert_eq!(SearchField::from_name("computer"), SearchField::Computer);
        assert_eq!(SearchField::from_name("?"), SearchField::Any);
    }
}
