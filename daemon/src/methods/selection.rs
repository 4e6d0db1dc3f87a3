//! Which licences a licence-editing call names (RevokeLicenseHttp, RenewSubscriptionHttp,
//! EnableMaintenancePlan and RenewMaintenancePlan): one key (`is_avkey`), or every key the
//! calling vendor created for one order (`is_orderid`, or the store's own field its field map
//! names so) or one subscription (`is_subscriptionid`), changed in one transaction.
//!
//! An order or subscription id selects only the calling vendor's own licences, whatever its
//! `scope`: two stores may well number their orders alike, and a store's own ids say nothing
//! about another store's keys (docs/field-maps.md).

use crate::config::Vendor;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::License;
use crate::license::keys::ActivationKey;
use crate::methods::lookup_key;
use crate::methods::update_license::text;
use crate::response::{Field, Reply, Value};
use crate::store::commands::{Group, Target};

/// The longest order or subscription id, as GetActivationKey stores them.
const MAX_ID_CHARS: usize = 255;

/// The licences a call names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `is_avkey`, as sent.
    Key(String),
    /// `is_orderid` or `is_subscriptionid`.
    Group(Group),
}

impl Selection {
    /// `is_avkey`, or an id: `is_subscriptionid`, else `is_orderid` (ids of at most 255
    /// characters). A key beside an id is 5, none of the three 208. Both ids together name
    /// the subscription: a store's rebill or refund callback carries the subscription and the
    /// order id of that payment (FastSpring's plugin maps both), and the payment's own order
    /// holds no key.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let key = args.text("is_avkey");
        let order = text(args, "is_orderid", MAX_ID_CHARS)?;
        let subscription = text(args, "is_subscriptionid", MAX_ID_CHARS)?;
        let group = subscription
            .map(Group::Subscription)
            .or(order.map(Group::Order));
        match (key, group) {
            (Some(key), None) => Ok(Selection::Key(key.to_string())),
            (None, Some(group)) => Ok(Selection::Group(group)),
            (Some(_), Some(_)) => Err(MethodError::invalid(
                "Give either is_avkey or an order or subscription id (is_orderid, is_subscriptionid), not both.",
            )),
            (None, None) => Err(MethodError::new(
                ErrorCode::MissingArgument,
                "The argument is_avkey (or is_orderid, or is_subscriptionid) is required.",
            )),
        }
    }

    /// What the store changes for `vendor`; a malformed key or a failed check character is
    /// 203 without touching the database.
    pub fn target(&self, vendor: &Vendor) -> Result<Target, MethodError> {
        Ok(match self {
            Selection::Key(k) => Target::Key(lookup_key(k)?.as_str().to_string()),
            Selection::Group(group) => Target::Group {
                vendor: vendor.name.clone(),
                group: group.clone(),
            },
        })
    }

    /// The order or subscription named, if the call named one.
    pub fn group(&self) -> Option<&Group> {
        match self {
            Selection::Key(_) => None,
            Selection::Group(group) => Some(group),
        }
    }
}

/// How a reply's `<result>` names a group: `order 1234`, `subscription S-1`.
fn group_words(group: &Group) -> String {
    match group {
        Group::Order(id) => format!("order {id}"),
        Group::Subscription(id) => format!("subscription {id}"),
    }
}

/// "1 licence" or "N licences".
fn licences(n: usize) -> String {
    if n == 1 {
        "1 licence".to_string()
    } else {
        format!("{n} licences")
    }
}

/// A licence's key as a reply writes it: dashed.
pub fn dashed(license: &License) -> String {
    ActivationKey::from_canonical_unchecked(license.key.clone()).dashed()
}

/// The `<licenses>` list of a reply about several licences: one `<license>` each, its
/// `activationKey` first, then `fields` of it.
fn license_list(licenses: &[License], fields: impl Fn(&License) -> Vec<Field>) -> Field {
    let records = licenses
        .iter()
        .map(|l| {
            let mut record = vec![Field::text("activationKey", dashed(l))];
            record.extend(fields(l));
            record
        })
        .collect();
    Field {
        name: "licenses",
        value: Value::List {
            item: "license",
            records,
        },
    }
}

/// The reply of a change of the licences `which` names. `<result>` is `one(licence)` for a
/// lone key, else `many("2 licences of order 1234")`; then, when one licence changed, its
/// `activationKey` and `fields(licence)`; and when an order or subscription was named, the
/// `<licenses>` list with the same of each.
pub fn reply_for(
    licenses: &[License],
    which: &Selection,
    one: impl FnOnce(&License) -> String,
    many: impl FnOnce(&str) -> String,
    fields: impl Fn(&License) -> Vec<Field>,
) -> Reply {
    let mut reply = match (licenses, which.group()) {
        ([lone], None) => Reply::new(one(lone)),
        (_, group) => {
            let of = group.map(|g| format!(" of {}", group_words(g)));
            Reply::new(many(&format!(
                "{}{}",
                licences(licenses.len()),
                of.unwrap_or_default()
            )))
        }
    };
    if let [lone] = licenses {
        reply.push(Field::text("activationKey", dashed(lone)));
        for field in fields(lone) {
            reply.push(field);
        }
    }
    if which.group().is_some() {
        reply.push(license_list(licenses, fields));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::args::ArgLimits;

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    fn parse(query: &str) -> Result<Selection, MethodError> {
        Selection::parse(&Args::parse(Some(query), None, LIMITS).expect("valid"))
    }

    #[test]
    fn a_key_or_an_id_names_the_licences_and_a_subscription_wins_over_an_order() {
        assert_eq!(parse("is_avkey=K").ok(), Some(Selection::Key("K".into())));
        assert_eq!(
            parse("IS_ORDERID=1234").ok(),
            Some(Selection::Group(Group::Order("1234".into())))
        );
        assert_eq!(
            parse("is_subscriptionid=S-1&is_avkey=").ok(),
            Some(Selection::Group(Group::Subscription("S-1".into())))
        );
        assert_eq!(
            parse("is_orderid=REBILL-2&is_subscriptionid=S-1").ok(),
            Some(Selection::Group(Group::Subscription("S-1".into())))
        );
        let e = parse("").unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingArgument);
        assert!(e.message.contains("is_avkey"), "{}", e.message);
        for both in ["is_avkey=K&is_orderid=1", "is_avkey=K&is_subscriptionid=S"] {
            assert_eq!(
                parse(both).unwrap_err().code,
                ErrorCode::InvalidFormat,
                "{both}"
            );
        }
        let long = format!("is_orderid={}", "x".repeat(256));
        assert_eq!(parse(&long).unwrap_err().code, ErrorCode::InvalidFormat);
    }
}
