//! `licd webhooks …`: the webhook outbox through the admin API (the running daemon's
//! socket, or the stopped database).

use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, request};

use super::{Location, block_on, read_json};

/// `licd webhooks` actions.
#[derive(clap::Subcommand)]
pub enum WebhooksAction {
    /// List the events waiting for their endpoint, dead ones included, one a line: id,
    /// event, url, attempts, last error (then state and next try).
    List {
        /// Print each event as JSON (one object a line) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        location: Location,
    },
    /// Make a waiting or dead event due now (after fixing the endpoint).
    Retry {
        /// The event's id (`licd webhooks list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every event in the outbox.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        location: Location,
    },
    /// Remove an event from the outbox unsent.
    Drop {
        /// The event's id (`licd webhooks list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every event in the outbox.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        location: Location,
    },
}

/// The id as one path segment.
fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Runs a `licd webhooks` action.
pub fn run(action: WebhooksAction) -> anyhow::Result<()> {
    let (method, path, location, json) = match action {
        WebhooksAction::List { json, location } => {
            (Method::GET, "/v1/webhooks".to_string(), location, json)
        }
        WebhooksAction::Retry { id, location, .. } => (
            Method::POST,
            match id {
                Some(id) => format!("/v1/webhooks/{}/retry", encode(&id)),
                None => "/v1/webhooks/retry".to_string(),
            },
            location,
            false,
        ),
        WebhooksAction::Drop { id, location, .. } => (
            Method::DELETE,
            match id {
                Some(id) => format!("/v1/webhooks/{}", encode(&id)),
                None => "/v1/webhooks".to_string(),
            },
            location,
            false,
        ),
    };
    let listing = method == Method::GET;
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let reply = conn.call(request(method, &path, body::empty())).await;
        let value = match reply {
            Ok(reply) => read_json(reply.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        print(listing, &value?, json)
    })
}

/// Prints an endpoint's answer.
fn print(listing: bool, value: &serde_json::Value, json: bool) -> anyhow::Result<()> {
    if listing {
        let rows = value.as_array().into_iter().flatten();
        if json {
            for e in rows {
                println!("{e}");
            }
            return Ok(());
        }
        let mut any = false;
        for e in rows {
            any = true;
            let text = |name: &str| e[name].as_str().unwrap_or("-").to_string();
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                e["id"],
                text("event"),
                text("url"),
                e["attempts"],
                text("lastError"),
                text("state"),
                text("nextTryAt"),
            );
        }
        if !any {
            println!("the webhook outbox is empty");
        }
    } else if let Some(ids) = value["retried"].as_array() {
        let running = value["running"].as_bool() == Some(true);
        println!(
            "{} event(s) due now; {}",
            ids.len(),
            if running {
                "the sender is sending them"
            } else {
                "they are sent when licd starts"
            }
        );
    } else if let Some(ids) = value["dropped"].as_array() {
        println!("{} event(s) dropped unsent", ids.len());
    } else {
        println!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}
