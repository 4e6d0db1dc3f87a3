//! `GET /create` and `POST /create` (admin): new licence keys with every option of
//! GetActivationKey, through its own parsing, rules, limits and order-id memory, as
//! `licd keys create` does. Each new licence gets a `created` history line naming the
//! staff user and their address, in the creation's transaction.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::{Visit, actions, licence_href};
use crate::errors::MethodError;
use crate::license::history::HistoryEntry;
use crate::license::keys::ActivationKey;
use crate::methods::get_activation_key::GetActivationKey;
use crate::store::commands::{CreateKeysWithHistory, Created};
use crate::web::form::Form;
use crate::web::page::{csrf_field, notice};

/// GetActivationKey's arguments the form carries as they are (the product comes from its
/// own select).
const FIELDS: &[&str] = &[
    "is_quantity",
    "is_numberofactivationsperkey",
    "is_usemultipleactivationskey",
    "is_additionalactivations",
    "is_licensemodel",
    "is_floating",
    "is_features",
    "is_expdate",
    "is_expduration",
    "is_maintenance_plan",
    "is_maintduration",
    "is_pp",
    "is_orderid",
    "is_subscriptionid",
    "is_userdata1",
    "is_affiliateid",
    "is_email",
    "is_qlmversion",
];

/// The models the form offers (GetActivationKey's `is_licensemodel`).
const MODELS: &[&str] = &[
    "permanent",
    "trial",
    "subscription",
    "permanent_cloud",
    "trial_cloud",
    "subscription_cloud",
    "permanent_floating",
    "trial_floating",
    "subscription_floating",
];

/// The creation form, prefilled from `sent` (after a refusal, with `error`).
pub fn form(visit: &Visit, sent: &Form, error: Option<&MethodError>) -> Response<Full<Bytes>> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    visit.page(
        status,
        "New licence",
        html! {
            h1 { "New licence" }
            @if let Some(e) = error {
                (notice("error", "Nothing was created", html! { p { (e.message) " (code " (e.code.number()) ")" } }))
            }
            (fields(visit, sent))
        },
    )
}

fn text(sent: &Form, name: &str, label: &str, hint: &str) -> Markup {
    html! {
        div {
            label for={ "c-" (name) } { (label) @if !hint.is_empty() { span class="hint" { (hint) } } }
            input type="text" id={ "c-" (name) } name=(name) value=(sent.value(name));
        }
    }
}

fn check(sent: &Form, name: &str, label: &str) -> Markup {
    html! {
        div { label { input type="checkbox" name=(name) value="true" checked[sent.get(name) == Some("true")]; " " (label) } }
    }
}

fn fields(visit: &Visit, sent: &Form) -> Markup {
    let config = &visit.config;
    html! {
        form class="stack" method="post" action="/create" {
            (csrf_field(&visit.token("create")))
            div {
                label for="c-product" { "Product" }
                select id="c-product" name="product" required {
                    @for p in &config.products {
                        @let value = format!("{}:{}:{}", p.id, p.major_version, p.minor_version);
                        option value=(value) selected[sent.get("product") == Some(value.as_str())] {
                            (p.name) " " (p.major_version) "." (p.minor_version) " (product " (p.id) ")"
                        }
                    }
                }
            }
            @if config.vendors.len() > 1 {
                div {
                    label for="c-vendor" { "For vendor" }
                    select id="c-vendor" name="vendor" {
                        @for v in &config.vendors {
                            option value=(v.name) selected[sent.get("vendor") == Some(v.name.as_str())] { (v.name) }
                        }
                    }
                }
            }
            (text(sent, "is_numberofactivationsperkey", "Seats per key", "1 to 10000; default 1"))
            (text(sent, "is_quantity", "Quantity", "1 to 10000; default 1"))
            div {
                label for="c-multi" { "Keys" span class="hint" { "several keys of the quantity's seats each, or one key with all of them" } }
                select id="c-multi" name="is_usemultipleactivationskey" {
                    option value="true" selected[sent.get("is_usemultipleactivationskey") != Some("false")] { "One key per quantity" }
                    option value="false" selected[sent.get("is_usemultipleactivationskey") == Some("false")] { "One key for the whole quantity" }
                }
            }
            (text(sent, "is_additionalactivations", "Additional seats", "0 to 10000"))
            div {
                label for="c-model" { "Model" span class="hint" { "empty: the server's default" } }
                select id="c-model" name="is_licensemodel" {
                    option value="" { "Server default" }
                    @for m in MODELS {
                        option value=(m) selected[sent.get("is_licensemodel") == Some(*m)] { (m) }
                    }
                }
            }
            (check(sent, "is_floating", "Floating"))
            (text(sent, "is_features", "Features", "set:value entries, e.g. 0:3;1:1"))
            (text(sent, "is_expdate", "Expiry date", "yyyy-MM-dd"))
            (text(sent, "is_expduration", "Duration in days", "1 to 36500, from the first activation"))
            (check(sent, "is_maintenance_plan", "Maintenance plan"))
            (text(sent, "is_maintduration", "Maintenance days", "1 to 36500"))
            (text(sent, "is_pp", "Product properties", "category.name::value entries separated by ||"))
            (text(sent, "is_orderid", "Order id", "a retried order id returns the keys made the first time"))
            (text(sent, "is_subscriptionid", "Subscription id", ""))
            (text(sent, "is_email", "Customer e-mail", ""))
            (text(sent, "is_userdata1", "User data", ""))
            (text(sent, "is_affiliateid", "Affiliate id", ""))
            (text(sent, "is_qlmversion", "QLM version", "empty: the server's default"))
            div { button type="submit" aria-label="Create the licence keys" { "Create" } }
        }
    }
}

/// `POST /create`.
pub async fn submit(visit: &Visit, sent: &Form) -> Response<Full<Bytes>> {
    let result = create(visit, sent).await;
    match result {
        Ok(Created { licenses, reused }) => {
            let keys: Vec<ActivationKey> = licenses
                .iter()
                .map(|l| ActivationKey::from_canonical_unchecked(l.key.clone()))
                .collect();
            for key in &keys {
                actions::log_change(
                    visit,
                    key,
                    if reused {
                        "order's keys found again"
                    } else {
                        "licence created"
                    },
                );
            }
            if let [only] = keys.as_slice()
                && !reused
            {
                return actions::done(only, "created");
            }
            visit.page(
                StatusCode::OK,
                "Licences created",
                html! {
                    h1 { @if reused { "This order's keys" } @else { (keys.len()) " licences created" } }
                    @if reused {
                        (notice("warn", "Nothing new was created", html! { p { "The order id was fulfilled before; these are the keys it got then." } }))
                    }
                    ul { @for k in &keys { li { a class="mono" href=(licence_href(k)) { (k.dashed()) } } } }
                },
            )
        }
        Err(e) => {
            tracing::info!(
                console_user = %visit.staff.name,
                client = %visit.staff.client,
                code = e.code.number(),
                "console: licence creation refused"
            );
            form(visit, sent, Some(&e))
        }
    }
}

async fn create(visit: &Visit, sent: &Form) -> Result<Created, MethodError> {
    let vendor =
        actions::vendor_for(&visit.config, sent.get("vendor")).map_err(MethodError::invalid)?;
    let product = sent.value("product");
    let mut parts = product.splitn(3, ':');
    let (id, major, minor) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let args = actions::method_args(
        sent,
        FIELDS,
        &[
            ("is_productid", id),
            ("is_majorversion", major),
            ("is_minorversion", minor),
        ],
        &visit.config,
    )?;
    let ctx = actions::method_ctx(visit);
    let create = GetActivationKey::parse(&args)?.command(&ctx, &vendor)?;
    let entry = HistoryEntry {
        time: visit.now,
        event: "created".to_string(),
        computer_id: None,
        computer_name: None,
        computer_key: None,
        activated_at: None,
        vendor: Some(visit.history_name()),
        client: Some(super::client_text(visit.staff.client)),
        license_before: None,
    };
    let command = CreateKeysWithHistory { create, entry };
    actions::run(visit, command).await
}
