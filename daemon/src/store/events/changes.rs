//! Which events a command's writes make: a pure rule over what [`super::watch::Watch`] saw,
//! unit-tested without a database.

use std::collections::{HashMap, HashSet};

use crate::customers::Customer;
use crate::license::License;
use crate::store::webhook_outbox::EventName;

/// One write a command made that may be an event, in the order it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// The first write of licence `key` in the command.
    License(String),
    /// A computer of licence `key` was activated (no activation on it before).
    Activated(String),
    /// An activation of licence `key` was removed.
    Released(String),
    /// Licence `key` was deleted.
    LicenseRemoved(String),
    /// The first write of customer `id` in the command.
    Customer(String),
    /// Customer `id` was removed.
    CustomerRemoved(String),
}

/// What a command read and wrote, as the rule needs it.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// Each licence as it was before the command (`None`: not stored), first look.
    pub(super) licenses_before: HashMap<String, Option<License>>,
    /// Each licence as the command last wrote it.
    pub(super) licenses_after: HashMap<String, License>,
    /// Each customer as it was before the command, first look.
    pub(super) customers_before: HashMap<String, Option<Customer>>,
    /// Each customer as the command last wrote it.
    pub(super) customers_after: HashMap<String, Customer>,
    /// The writes, in order.
    pub(super) steps: Vec<Step>,
}

/// What an event is about, by key or id: the caller loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum About {
    /// A licence (the key).
    License(String),
    /// A customer (the id).
    Customer(String),
}

/// The events of a command, in the order of the writes that made them.
///
/// `license_modified` fires when a stored licence changed in anything but the bookkeeping of
/// every write (`last_accessed`, `revision`) and, in a command that activated or released a
/// computer of it, that activation's bookkeeping (seats used, first activation, the customer
/// an activation's e-mail made). A customer is modified when anything but its `modified`
/// time changed.
pub(super) fn events(seen: &Seen) -> Vec<(EventName, About)> {
    let seat_changed: HashSet<&str> = seen
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Activated(k) | Step::Released(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let removed: HashSet<&str> = seen
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::LicenseRemoved(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for step in &seen.steps {
        match step {
            Step::License(key) => {
                if removed.contains(key.as_str()) {
                    continue;
                }
                let before = seen.licenses_before.get(key).cloned().flatten();
                let Some(after) = seen.licenses_after.get(key) else {
                    continue;
                };
                match before {
                    None => out.push((EventName::LicenseCreated, About::License(key.clone()))),
                    Some(before) => {
                        if license_changed(&before, after, seat_changed.contains(key.as_str())) {
                            out.push((EventName::LicenseModified, About::License(key.clone())));
                        }
                    }
                }
            }
            Step::Activated(key) if !removed.contains(key.as_str()) => {
                out.push((EventName::LicenseActivated, About::License(key.clone())))
            }
            Step::Released(key) if !removed.contains(key.as_str()) => {
                out.push((EventName::LicenseReleased, About::License(key.clone())))
            }
            Step::Activated(_) | Step::Released(_) => {}
            Step::LicenseRemoved(key) => {
                out.push((EventName::LicenseDeleted, About::License(key.clone())))
            }
            Step::Customer(id) => {
                let before = seen.customers_before.get(id).cloned().flatten();
                let Some(after) = seen.customers_after.get(id) else {
                    continue;
                };
                match before {
                    None => out.push((EventName::CustomerCreated, About::Customer(id.clone()))),
                    Some(before) if customer_changed(&before, after) => {
                        out.push((EventName::CustomerModified, About::Customer(id.clone())))
                    }
                    Some(_) => {}
                }
            }
            Step::CustomerRemoved(id) => {
                out.push((EventName::CustomerDeleted, About::Customer(id.clone())))
            }
        }
    }
    out
}

/// Whether `after` differs from `before` in what a receiver cares about.
fn license_changed(before: &License, after: &License, seats_changed: bool) -> bool {
    let neutral = |l: &License| {
        let mut l = l.clone();
        l.last_accessed = None;
        l.revision = 0;
        if seats_changed {
            l.activations_used = 0;
            l.first_activation = None;
            l.customer = None;
            l.email = None;
        }
        l
    };
    neutral(before) != neutral(after)
}

/// Whether a customer changed in anything but its `modified` time.
fn customer_changed(before: &Customer, after: &Customer) -> bool {
    let mut before = before.clone();
    before.modified = after.modified;
    before != *after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(key: &str) -> License {
        let mut l = License::for_tests("permanent", 2, 0);
        l.key = key.into();
        l
    }

    fn seen_put(before: Option<License>, after: License, extra: Vec<Step>) -> Seen {
        let key = after.key.clone();
        let mut seen = Seen::default();
        seen.licenses_before.insert(key.clone(), before);
        seen.licenses_after.insert(key.clone(), after);
        seen.steps.push(Step::License(key));
        seen.steps.extend(extra);
        seen
    }

    fn names(seen: &Seen) -> Vec<EventName> {
        events(seen).into_iter().map(|(e, _)| e).collect()
    }

    #[test]
    fn a_licence_not_stored_before_is_created() {
        let seen = seen_put(None, license("K"), vec![]);
        assert_eq!(names(&seen), [EventName::LicenseCreated]);
    }

    #[test]
    fn an_activation_is_activated_not_modified() {
        let before = license("K");
        let mut after = before.clone();
        after.activations_used = 1;
        after.first_activation = Some(5);
        after.revision += 1;
        after.last_accessed = Some(5);
        let seen = seen_put(Some(before), after, vec![Step::Activated("K".into())]);
        assert_eq!(names(&seen), [EventName::LicenseActivated]);
    }

    #[test]
    fn a_seat_count_changed_without_an_activation_is_a_modification() {
        let before = license("K");
        let mut after = before.clone();
        after.activations_allowed += 3;
        let seen = seen_put(Some(before.clone()), after.clone(), vec![]);
        assert_eq!(names(&seen), [EventName::LicenseModified]);
        // Revoking during a release is still a modification.
        let mut revoked = after;
        revoked.revoked = true;
        let seen = seen_put(Some(before), revoked, vec![Step::Released("K".into())]);
        assert_eq!(
            names(&seen),
            [EventName::LicenseModified, EventName::LicenseReleased]
        );
    }

    #[test]
    fn a_write_that_changes_only_bookkeeping_is_no_event() {
        let before = license("K");
        let mut after = before.clone();
        after.last_accessed = Some(9);
        after.revision += 1;
        assert!(names(&seen_put(Some(before), after, vec![])).is_empty());
    }

    #[test]
    fn a_deleted_licence_is_deleted_only() {
        let before = license("K");
        let seen = seen_put(
            Some(before.clone()),
            before,
            vec![Step::Released("K".into()), Step::LicenseRemoved("K".into())],
        );
        assert_eq!(names(&seen), [EventName::LicenseDeleted]);
    }

    #[test]
    fn customers_are_created_modified_and_deleted() {
        let c = Customer::new("id1".into(), "a@example.com", 1);
        let mut seen = Seen::default();
        seen.customers_before.insert("id1".into(), None);
        seen.customers_after.insert("id1".into(), c.clone());
        seen.steps.push(Step::Customer("id1".into()));
        assert_eq!(names(&seen), [EventName::CustomerCreated]);

        let mut touched = c.clone();
        touched.modified = 99;
        seen.customers_before.insert("id1".into(), Some(c.clone()));
        seen.customers_after.insert("id1".into(), touched.clone());
        assert!(names(&seen).is_empty());

        touched.mail_list = true;
        seen.customers_after.insert("id1".into(), touched);
        seen.steps.push(Step::CustomerRemoved("id1".into()));
        assert_eq!(
            names(&seen),
            [EventName::CustomerModified, EventName::CustomerDeleted]
        );
    }
}
