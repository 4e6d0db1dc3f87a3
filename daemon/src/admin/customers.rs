//! Customers through the admin API: list, show, and delete (the GDPR right to erasure).

use std::time::Instant;

use http::StatusCode;
use serde::Serialize;

use super::api::{AdminCtx, Refusal, Reply};
use super::body;
use super::keys::COMMAND_DEADLINE;
use crate::customers::Customer;
use crate::license::dates;
use crate::license::keys::ActivationKey;
use crate::store::commands::{EraseCustomer, Erased};

/// The dashed form of stored keys.
fn dashed(keys: Vec<String>) -> Vec<String> {
    keys.into_iter()
        .map(|k| ActivationKey::from_canonical_unchecked(k).dashed())
        .collect()
}

/// Code 404 for an e-mail no customer has.
fn no_customer(email: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("no customer has the e-mail {email}"),
    )
}

/// `GET /v1/customers`: every customer as stored, in the order of their e-mails.
pub async fn list(ctx: &AdminCtx) -> Reply {
    let customers: Vec<Customer> = ctx.state.store.read().await?.customers().await?;
    Ok(body::json(StatusCode::OK, &customers))
}

/// `GET /v1/customers/{email}`.
#[derive(Serialize)]
struct Shown {
    customer: Customer,
    #[serde(rename = "licences")]
    licenses: Vec<String>,
}

/// `GET /v1/customers/{email}`: the whole record (consent and mailing-list flag included) and
/// the customer's keys.
pub async fn show(ctx: &AdminCtx, email: &str) -> Reply {
    let reader = ctx.state.store.read().await?;
    let customer = reader
        .customer_by_email(email)
        .await?
        .ok_or_else(|| no_customer(email))?;
    let licenses = dashed(reader.license_keys_of_customer(email).await?);
    Ok(body::json(StatusCode::OK, &Shown { customer, licenses }))
}

/// `DELETE /v1/customers/{email}`.
#[derive(Serialize)]
struct Deleted {
    /// The id the customer had.
    erased: String,
    #[serde(rename = "licences")]
    licenses: Vec<String>,
}

/// `DELETE /v1/customers/{email}`: erases the customer's personal data; its licences stay,
/// without a customer, each with a history line that holds none of the data.
pub async fn delete(ctx: &AdminCtx, email: &str) -> Reply {
    let command = EraseCustomer {
        email: email.to_string(),
        now: dates::now(),
        vendor: Some("licd customers delete (command line)".into()),
    };
    let result = ctx
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await;
    let Erased { id, keys } = match result {
        Ok(done) => done,
        Err(crate::store::CommandError::Refused(_)) => return Err(no_customer(email)),
        Err(crate::store::CommandError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(customer = %id, licences = keys.len(), "customer erased (licd customers delete)");
    Ok(body::json(
        StatusCode::OK,
        &Deleted {
            erased: id,
            licenses: dashed(keys),
        },
    ))
}
