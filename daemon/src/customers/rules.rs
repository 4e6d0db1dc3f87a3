//! The rules of the customer methods, as pure functions: the store loads the customers a
//! request names, asks here, and writes what comes back.

use super::{Customer, Details, same_email};
use crate::license::refusal::{Reason, Refusal};

/// What UpdateUserInformation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdate {
    /// The customer's e-mail (required).
    pub email: String,
    /// `is_previousemail`: the e-mail the customer had, when it changes.
    pub previous_email: Option<String>,
    /// The details given; absent ones stay as they are.
    pub details: Details,
}

impl UserUpdate {
    /// The previous e-mail when it names another e-mail than [`UserUpdate::email`] (the
    /// request changes the e-mail); the same e-mail in another case is no change.
    pub fn changed_from(&self) -> Option<&str> {
        self.previous_email
            .as_deref()
            .filter(|p| !same_email(p, &self.email))
    }
}

/// What UpdateUserInformation does to the customer records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDecision {
    /// A new customer.
    Create(Customer),
    /// An existing customer changed, its e-mail perhaps too.
    Update(Customer),
}

impl UserDecision {
    /// The customer as it will be stored.
    pub fn customer(&self) -> &Customer {
        match self {
            UserDecision::Create(c) | UserDecision::Update(c) => c,
        }
    }
}

/// Decides UpdateUserInformation.
///
/// `at_email` is the customer that has the request's e-mail, `at_previous` the one that has
/// `is_previousemail` (looked up only when it differs). With `update_existing` false
/// (`options.updateExistingUserInformation`, QLM's default) an existing customer is never
/// changed: naming one, by either e-mail, is 1901. With it true, an existing customer is
/// updated; `is_previousemail` naming nobody is 1904, and a new e-mail another customer has
/// already is 1901 (e-mails are unique).
pub fn decide_user_update(
    at_email: Option<&Customer>,
    at_previous: Option<&Customer>,
    request: &UserUpdate,
    update_existing: bool,
    now: i64,
    new_id: String,
) -> Result<UserDecision, Refusal> {
    let create = || {
        let mut c = Customer::new(new_id.clone(), &request.email, now);
        c.details = request.details.clone();
        UserDecision::Create(c)
    };
    if !update_existing {
        if let Some(existing) = at_email.or(at_previous) {
            return Err(exists(&existing.email));
        }
        return Ok(create());
    }
    let target = match request.changed_from() {
        Some(previous) => {
            let Some(found) = at_previous else {
                return Err(Refusal::new(
                    Reason::CustomerNotFound,
                    format!(
                        "No customer has the e-mail {previous} (is_previousemail); check it, or leave it out to create the customer."
                    ),
                ));
            };
            if let Some(other) = at_email.filter(|o| o.id != found.id) {
                return Err(Refusal::new(
                    Reason::CustomerExists,
                    format!(
                        "Another customer has the e-mail {} already; an e-mail belongs to one customer.",
                        other.email
                    ),
                ));
            }
            found
        }
        None => match at_email {
            Some(found) => found,
            None => return Ok(create()),
        },
    };
    let mut updated = target.clone();
    updated.email = request.email.trim().to_string();
    updated.details = target.details.merged(&request.details);
    updated.modified = now;
    Ok(UserDecision::Update(updated))
}

/// Code 1901 for an existing customer this server does not update.
fn exists(email: &str) -> Refusal {
    Refusal::new(
        Reason::CustomerExists,
        format!(
            "A customer with the e-mail {email} exists already, and this server does not change existing customers (options.updateExistingUserInformation = false)."
        ),
    )
}

/// The customer with its privacy consent (`consent`) recorded at `now`.
pub fn record_consent(customer: &Customer, consent: bool, now: i64) -> Customer {
    let mut c = customer.clone();
    c.privacy_consent = Some(consent);
    c.privacy_consent_date = Some(now);
    c.modified = now;
    c
}

/// The customer on (`include`) or off the mailing list, changed at `now`.
pub fn set_mail_list(customer: &Customer, include: bool, now: i64) -> Customer {
    let mut c = customer.clone();
    c.mail_list = include;
    c.modified = now;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: &str, email: &str) -> Customer {
        let mut c = Customer::new(id.into(), email, 1);
        c.details.full_name = Some("Ann".into());
        c
    }

    fn update(email: &str, previous: Option<&str>) -> UserUpdate {
        UserUpdate {
            email: email.into(),
            previous_email: previous.map(str::to_string),
            details: Details {
                city: Some("Oslo".into()),
                ..Details::default()
            },
        }
    }

    #[test]
    fn a_new_email_creates_a_customer_with_the_details_given() {
        for update_existing in [false, true] {
            let d = decide_user_update(
                None,
                None,
                &update("a@x.io", None),
                update_existing,
                9,
                "n".into(),
            )
            .expect("created");
            let UserDecision::Create(c) = d else {
                panic!("not a creation")
            };
            assert_eq!(
                (c.id.as_str(), c.email.as_str(), c.created),
                ("n", "a@x.io", 9)
            );
            assert_eq!(c.details.city.as_deref(), Some("Oslo"));
        }
    }

    #[test]
    fn without_update_existing_an_existing_customer_is_1901_by_either_email() {
        let c = customer("c", "a@x.io");
        let e = decide_user_update(
            Some(&c),
            None,
            &update("A@X.io", None),
            false,
            9,
            "n".into(),
        );
        assert_eq!(e.expect_err("refused").reason, Reason::CustomerExists);
        let e = decide_user_update(
            None,
            Some(&c),
            &update("b@x.io", Some("a@x.io")),
            false,
            9,
            "n".into(),
        );
        assert_eq!(e.expect_err("refused").reason, Reason::CustomerExists);
    }

    #[test]
    fn with_update_existing_the_customer_is_updated_and_keeps_what_is_not_given() {
        let c = customer("c", "a@x.io");
        let d = decide_user_update(Some(&c), None, &update("a@x.io", None), true, 9, "n".into())
            .expect("updated");
        let UserDecision::Update(u) = d else {
            panic!("not an update")
        };
        assert_eq!((u.id.as_str(), u.modified, u.created), ("c", 9, 1));
        assert_eq!(u.details.full_name.as_deref(), Some("Ann"));
        assert_eq!(u.details.city.as_deref(), Some("Oslo"));
    }

    #[test]
    fn an_email_changes_only_through_the_previous_email_of_an_existing_customer() {
        let c = customer("c", "a@x.io");
        let d = decide_user_update(
            None,
            Some(&c),
            &update("b@x.io", Some("a@x.io")),
            true,
            9,
            "n".into(),
        )
        .expect("changed");
        assert_eq!(d.customer().email, "b@x.io");
        assert_eq!(d.customer().id, "c");
        let e = decide_user_update(
            None,
            None,
            &update("b@x.io", Some("nobody@x.io")),
            true,
            9,
            "n".into(),
        );
        assert_eq!(e.expect_err("refused").reason, Reason::CustomerNotFound);
        let other = customer("o", "b@x.io");
        let e = decide_user_update(
            Some(&other),
            Some(&c),
            &update("b@x.io", Some("a@x.io")),
            true,
            9,
            "n".into(),
        );
        assert_eq!(e.expect_err("refused").reason, Reason::CustomerExists);
    }

    #[test]
    fn consent_and_mail_list_are_recorded_with_their_time() {
        let c = customer("c", "a@x.io");
        let given = record_consent(&c, true, 7);
        assert_eq!(
            (given.privacy_consent, given.privacy_consent_date),
            (Some(true), Some(7))
        );
        let on = set_mail_list(&c, true, 8);
        assert!(on.mail_list);
        assert_eq!(on.modified, 8);
    }
}
