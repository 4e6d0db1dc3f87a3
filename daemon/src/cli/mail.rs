//! `licd mail …`: the mail outbox through the admin API (the running daemon's socket, or
//! the stopped database).

use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, request};

use super::{Location, block_on, read_json};

/// `licd mail` actions.
#[derive(clap::Subcommand)]
pub enum MailAction {
    /// List the mail waiting in the outbox, one a line: id, state, attempts, next try,
    /// template, recipient, last error. Bodies are never shown (they may hold a code).
    List {
        /// Print each message as JSON (one object a line) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        location: Location,
    },
    /// Make a waiting or parked message due now (after fixing what refused it).
    Retry {
        /// The message's id (`licd mail list`).
        id: String,
        #[command(flatten)]
        location: Location,
    },
    /// Remove a message from the outbox unsent.
    Drop {
        /// The message's id (`licd mail list`).
        id: String,
        #[command(flatten)]
        location: Location,
    },
    /// Queue a test mail to an address, to check the `[mail]` settings.
    Test {
        /// The recipient.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        location: Location,
    },
}

/// The id as one path segment.
fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Runs a `licd mail` action.
pub fn run(action: MailAction) -> anyhow::Result<()> {
    let (method, path, location, payload, json) = match action {
        MailAction::List { json, location } => {
            (Method::GET, "/v1/mail".to_string(), location, None, json)
        }
        MailAction::Retry { id, location } => (
            Method::POST,
            format!("/v1/mail/{}/retry", encode(&id)),
            location,
            None,
            false,
        ),
        MailAction::Drop { id, location } => (
            Method::DELETE,
            format!("/v1/mail/{}", encode(&id)),
            location,
            None,
            false,
        ),
        MailAction::Test { to, location } => (
            Method::POST,
            "/v1/mail/test".to_string(),
            location,
            Some(serde_json::json!({ "to": to }).to_string()),
            false,
        ),
    };
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let request_body = payload.map_or_else(body::empty, body::full);
        let reply = conn.call(request(method, &path, request_body)).await;
        let value = match reply {
            Ok(reply) => read_json(reply.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        print(&path, &value?, json)
    })
}

/// Prints an endpoint's answer.
fn print(path: &str, value: &serde_json::Value, json: bool) -> anyhow::Result<()> {
    if path == "/v1/mail" {
        let rows = value.as_array().into_iter().flatten();
        if json {
            for m in rows {
                println!("{m}");
            }
            return Ok(());
        }
        let mut any = false;
        for m in rows {
            any = true;
            let text = |name: &str| m[name].as_str().unwrap_or("-").to_string();
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                m["id"],
                text("state"),
                m["attempts"],
                text("nextTryAt"),
                text("template"),
                text("to"),
                text("lastError")
            );
        }
        if !any {
            println!("the outbox is empty");
        }
    } else if let Some(id) = value["retried"].as_i64() {
        if value["running"].as_bool() == Some(true) {
            println!("mail {id} is due now; the sender is sending it");
        } else {
            println!("mail {id} is due now; it is sent when licd starts");
        }
    } else if let Some(id) = value["dropped"].as_i64() {
        println!("mail {id} dropped unsent");
    } else if let Some(id) = value["queued"].as_i64() {
        match (value["running"].as_bool(), value["sends"].as_bool()) {
            (Some(true), Some(true)) => {
                println!("test mail {id} queued; `licd mail list` shows it until it is sent")
            }
            (_, Some(false)) => println!(
                "test mail {id} queued, but [mail] smtpServer is not set: it waits in the outbox"
            ),
            _ => println!("test mail {id} queued; it is sent when licd starts"),
        }
    } else {
        println!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}
