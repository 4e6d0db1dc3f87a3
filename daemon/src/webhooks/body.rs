//! The body of an event: `{"event": NAME, "id": ID, "time": "yyyy-MM-dd HH:mm:ss",
//! "license": {…}}` or `"customer": {…}`. The licence object is the licence info of the
//! methods' JSON replies (`methods::license_info`); the customer object is the customer as
//! the admin API shows it.

use crate::config::Config;
use crate::license::dates::format_datetime;
use crate::methods::license_info::license_info;
use crate::response::json_object;
use crate::store::webhook_outbox::{Subject, WebhookEvent};

/// The body bytes of `event`, rendered with `config` (product names and properties) as of
/// the event's time, so every attempt of one event sends the same body while the
/// configuration stays the same.
pub fn render(event: &WebhookEvent, config: &Config) -> Vec<u8> {
    let (name, object) = match &event.subject {
        Subject::License { license, customer } => (
            "license",
            json_object(&license_info(
                license,
                customer.as_ref(),
                config,
                event.at,
                false,
                None,
            )),
        ),
        // A customer always serialises (strings, numbers and flags only).
        Subject::Customer(customer) => (
            "customer",
            serde_json::to_string(customer).unwrap_or_else(|_| "{}".to_string()),
        ),
    };
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"event\":{},\"id\":{},\"time\":{},\"{name}\":{object}}}",
        text(event.event.as_str()),
        text(&event.event_id),
        text(&format_datetime(event.at)),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::Customer;
    use crate::license::License;
    use crate::store::webhook_outbox::EventName;

    fn event(subject: Subject, event: EventName) -> WebhookEvent {
        WebhookEvent {
            event_id: "0123abcd".into(),
            event,
            url: "http://127.0.0.1:9/".into(),
            at: 1_800_000_000,
            subject,
        }
    }

    #[test]
    fn a_licence_event_carries_the_json_reply_s_licence_fields() {
        let config = Config::embedded().expect("embedded config");
        let license = License::for_tests("permanent", 3, 1_700_000_000);
        let key =
            crate::license::keys::ActivationKey::from_canonical_unchecked(license.key.clone());
        let body = render(
            &event(
                Subject::License {
                    license: Box::new(license),
                    customer: Some(Customer::new("c1".into(), "buyer@example.com", 1)),
                },
                EventName::LicenseCreated,
            ),
            &config,
        );
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["event"], "license_created");
        assert_eq!(v["id"], "0123abcd");
        assert_eq!(v["time"], "2027-01-15 08:00:00");
        assert_eq!(v["license"]["activationKey"], key.dashed());
        assert_eq!(v["license"]["numActivationsAllowed"], 3);
        assert_eq!(v["license"]["userEmail"], "buyer@example.com");
        assert!(v.get("customer").is_none());
    }

    #[test]
    fn a_customer_event_carries_the_customer() {
        let config = Config::embedded().expect("embedded config");
        let body = render(
            &event(
                Subject::Customer(Customer::new("c1".into(), "buyer@example.com", 1)),
                EventName::CustomerDeleted,
            ),
            &config,
        );
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["event"], "customer_deleted");
        assert_eq!(v["customer"]["email"], "buyer@example.com");
        assert_eq!(v["customer"]["id"], "c1");
    }
}
