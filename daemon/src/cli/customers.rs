//! `licd customers …`: customers through the admin API (the running daemon's socket, or the
//! stopped database).

use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, request};

use super::{Location, block_on, read_json};

/// `licd customers` actions.
#[derive(clap::Subcommand)]
pub enum CustomersAction {
    /// List customers, one a line: e-mail, full name, company, privacy consent, mailing list.
    List {
        /// Print each customer as stored (one JSON object a line) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        location: Location,
    },
    /// Show one customer's whole record and keys (JSON).
    Show {
        /// The customer's e-mail (any case).
        email: String,
        #[command(flatten)]
        location: Location,
    },
    /// Erase a customer's personal data (GDPR right to erasure): the record goes, its
    /// licences stay without a customer, each with a history line that holds no data.
    Delete {
        /// The customer's e-mail (any case).
        email: String,
        #[command(flatten)]
        location: Location,
    },
}

/// The e-mail as one path segment.
fn encode(email: &str) -> String {
    percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Runs a `licd customers` action.
pub fn run(action: CustomersAction) -> anyhow::Result<()> {
    let (method, path, location, list_json) = match action {
        CustomersAction::List { json, location } => (
            Method::GET,
            "/v1/customers".to_string(),
            location,
            Some(json),
        ),
        CustomersAction::Show { email, location } => (
            Method::GET,
            format!("/v1/customers/{}", encode(&email)),
            location,
            None,
        ),
        CustomersAction::Delete { email, location } => (
            Method::DELETE,
            format!("/v1/customers/{}", encode(&email)),
            location,
            None,
        ),
    };
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let reply = conn
            .call(request(method.clone(), &path, body::empty()))
            .await;
        let value = match reply {
            Ok(reply) => read_json(reply.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        let value = value?;
        match list_json {
            Some(true) => {
                for c in value.as_array().into_iter().flatten() {
                    println!("{c}");
                }
            }
            Some(false) => {
                for c in value.as_array().into_iter().flatten() {
                    let text = |name: &str| c[name].as_str().unwrap_or("-").to_string();
                    let consent = match c["privacyConsent"].as_bool() {
                        Some(true) => "consent",
                        Some(false) => "no-consent",
                        None => "-",
                    };
                    let mail = if c["mailList"].as_bool() == Some(true) {
                        "mail-list"
                    } else {
                        "-"
                    };
                    println!(
                        "{}\t{}\t{}\t{consent}\t{mail}",
                        text("email"),
                        text("fullName"),
                        text("company")
                    );
                }
            }
            None if method == Method::DELETE => {
                let keys = value["licences"].as_array().map_or(0, Vec::len);
                println!("customer erased; {keys} licence(s) kept without a customer");
            }
            None => println!("{}", serde_json::to_string_pretty(&value)?),
        }
        Ok(())
    })
}
