//! `licd keys …` and `licd release`: licence keys through the admin API.

use anyhow::Context;
use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, json_request, request};
use licd::license::License;
use licd::license::dates;
use licd::license::keys::ActivationKey;
use serde_json::json;

use super::{Location, block_on, read_json};

/// `licd keys` actions.
#[derive(clap::Subcommand)]
pub enum KeysAction {
    /// List licences, one a line: key, product and version, model, seats used/allowed,
    /// expiry, state, order.
    List {
        /// Only licences of this product id.
        #[arg(long)]
        product: Option<u32>,
        /// Only licences created with this order id.
        #[arg(long)]
        order: Option<String>,
        /// Print each licence as stored (one JSON object a line) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        location: Location,
    },
    /// Show one licence with its activations, history and release log (JSON).
    Show {
        /// The activation key, with or without dashes.
        key: String,
        #[command(flatten)]
        location: Location,
    },
    /// Delete a licence: it, its activations and its order, subscription and customer
    /// entries go; its history stays. Sends `license_deleted` to the webhook endpoints.
    Delete {
        /// The activation key, with or without dashes.
        key: String,
        #[command(flatten)]
        location: Location,
    },
    /// Create keys, as GetActivationKey does for a vendor; prints one key a line.
    Create(CreateArgs),
    /// Revoke a licence (RevokeLicenseHttp); --restore undoes it.
    Revoke {
        /// The activation key.
        key: String,
        /// Restore a revoked licence instead.
        #[arg(long)]
        restore: bool,
        /// The vendor to act for (default: options.defaultCommerceProvider, or the only one).
        #[arg(long)]
        vendor: Option<String>,
        #[command(flatten)]
        location: Location,
    },
}

/// `licd keys create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// Product id.
    #[arg(long)]
    product: u32,
    /// Product version, MAJOR.MINOR.
    #[arg(long, value_name = "MAJOR.MINOR")]
    version: String,
    /// Activations allowed per key (is_numberofactivationsperkey).
    #[arg(long)]
    seats: Option<u32>,
    /// Number of keys (each with --seats activations).
    #[arg(long)]
    count: Option<u32>,
    /// Licence model: permanent, trial or subscription, optionally _cloud or _floating.
    #[arg(long)]
    model: Option<String>,
    /// Expiry date, yyyy-MM-dd.
    #[arg(long)]
    expiry: Option<String>,
    /// Order id (a retry with the same order returns the same keys).
    #[arg(long)]
    order: Option<String>,
    /// Customer e-mail.
    #[arg(long)]
    email: Option<String>,
    /// Any other GetActivationKey argument, NAME=VALUE (repeatable), e.g. is_expduration=30.
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    args: Vec<String>,
    /// The vendor the keys are created for (default: options.defaultCommerceProvider, or
    /// the only one).
    #[arg(long)]
    vendor: Option<String>,
    #[command(flatten)]
    location: Location,
}

/// Runs a `licd keys` action.
pub fn run(action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::List {
            product,
            order,
            json,
            location,
        } => block_on(list(location, product, order, json)),
        KeysAction::Show { key, location } => block_on(async move {
            let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
            let path = format!("/v1/keys/{}", encode(&key));
            let reply = conn
                .call(request(Method::GET, &path, body::empty()))
                .await?;
            let shown = read_json(reply.into_body()).await?;
            conn.close().await?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }),
        KeysAction::Delete { key, location } => block_on(async move {
            let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
            let path = format!("/v1/keys/{}", encode(&key));
            let reply = conn
                .call(request(Method::DELETE, &path, body::empty()))
                .await;
            let value = match reply {
                Ok(reply) => read_json(reply.into_body()).await,
                Err(e) => Err(e.into()),
            };
            conn.close().await?;
            println!(
                "licence {} deleted",
                value?["deleted"].as_str().unwrap_or(&key)
            );
            Ok(())
        }),
        KeysAction::Create(args) => block_on(create(args)),
        KeysAction::Revoke {
            key,
            restore,
            vendor,
            location,
        } => block_on(async move {
            let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
            let path = format!("/v1/keys/{}/revoke", encode(&key));
            let req = json_request(
                Method::POST,
                &path,
                &json!({ "restore": restore, "vendor": vendor }),
            );
            let result = method_result(&mut conn, req).await;
            conn.close().await?;
            println!("{}", result?["result"].as_str().unwrap_or_default());
            Ok(())
        }),
    }
}

/// `licd release`: through the running daemon, or on the stopped database.
pub fn release(
    location: Location,
    key: String,
    computer_id: String,
    code: Option<String>,
) -> anyhow::Result<()> {
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let req = json_request(
            Method::POST,
            "/v1/release",
            &json!({ "key": key, "computerId": computer_id, "code": code }),
        );
        let result = method_result(&mut conn, req).await;
        conn.close().await?;
        println!("{}", result?["result"].as_str().unwrap_or_default());
        Ok(())
    })
}

/// `licd deactivation-code`: prints the deactivation verification code of `key` on
/// `computer_id` for `date` (default today, UTC), as ReleaseLicenseHttp accepts it.
pub fn deactivation_code(
    location: Location,
    key: &str,
    computer_id: &str,
    date: Option<&str>,
) -> anyhow::Result<()> {
    let config = location.load()?;
    let code = licd::admin::deactivation_code(&config, key, computer_id, date)?;
    println!("{code}");
    Ok(())
}

/// Sends a request answered with a method's JSON reply; a refusal becomes the error.
async fn method_result(
    conn: &mut Connection,
    req: http::Request<body::Body>,
) -> anyhow::Result<serde_json::Value> {
    let reply = conn.call(req).await?;
    read_json(reply.into_body()).await
}

fn encode(key: &str) -> String {
    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn list(
    location: Location,
    product: Option<u32>,
    order: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
    let mut query = Vec::new();
    if let Some(p) = product {
        query.push(format!("product={p}"));
    }
    if let Some(o) = &order {
        query.push(format!("order={}", encode(o)));
    }
    let path = format!("/v1/keys?{}", query.join("&"));
    let reply = conn
        .call(request(Method::GET, &path, body::empty()))
        .await?;
    let printed = print_list(reply.into_body(), json).await;
    conn.close().await?;
    match printed {
        // The reader went away (`licd keys list | head`): not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
                == Some(std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Prints the listed licences as they arrive, as a table or as JSON lines.
async fn print_list(mut body: body::Body, json: bool) -> anyhow::Result<()> {
    use http_body_util::BodyExt;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let mut pending: Vec<u8> = Vec::new();
    if !json {
        writeln!(
            out,
            "KEY                              PRODUCT  MODEL                  SEATS  EXPIRES     STATE     ORDER"
        )?;
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the list broke off")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if json {
                out.write_all(&line)?;
            } else {
                let license: License =
                    serde_json::from_slice(&line).context("a listed licence does not decode")?;
                writeln!(out, "{}", table_row(&license))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// One `keys list` line.
fn table_row(l: &License) -> String {
    let key = ActivationKey::from_canonical_unchecked(l.key.clone()).dashed();
    let expiry = l
        .expiry
        .and_then(dates::utc_date)
        .map_or_else(|| "-".to_string(), |d| d.to_string());
    let state = if l.revoked {
        "revoked"
    } else if l.upgraded_to.is_some() {
        "upgraded"
    } else {
        "active"
    };
    format!(
        "{key:<32} {:<8} {:<22} {:>2}/{:<3} {expiry:<11} {state:<9} {}",
        format!("{}/{}.{}", l.product_id, l.major_version, l.minor_version),
        l.model.as_str(),
        l.activations_used,
        l.activations_allowed,
        l.order_id.as_deref().unwrap_or("-")
    )
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let (major, minor) = a
        .version
        .split_once('.')
        .context("--version must be MAJOR.MINOR, e.g. 1.0")?;
    let mut args: Vec<(String, String)> = vec![
        ("is_productid".into(), a.product.to_string()),
        ("is_majorversion".into(), major.into()),
        ("is_minorversion".into(), minor.into()),
    ];
    let optional = [
        (
            "is_numberofactivationsperkey",
            a.seats.map(|n| n.to_string()),
        ),
        ("is_quantity", a.count.map(|n| n.to_string())),
        ("is_licensemodel", a.model),
        ("is_expdate", a.expiry),
        ("is_orderid", a.order),
        ("is_email", a.email),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            args.push((name.into(), v));
        }
    }
    if a.count.is_some() {
        // --count N makes N keys, not one key with N times the seats.
        args.push(("is_usemultipleactivationskey".into(), "false".into()));
    }
    for extra in a.args {
        let (name, value) = extra
            .split_once('=')
            .with_context(|| format!("--arg {extra}: expected NAME=VALUE"))?;
        args.push((name.into(), value.into()));
    }
    let mut conn = Connection::open(&a.location.load()?, Open::Existing).await?;
    let req = json_request(
        Method::POST,
        "/v1/keys",
        &json!({ "vendor": a.vendor, "args": args }),
    );
    let result = method_result(&mut conn, req).await;
    conn.close().await?;
    let reply = result?;
    let keys = created_keys(&reply);
    if keys.is_empty() {
        anyhow::bail!("no key in the reply: {reply}");
    }
    for key in keys {
        println!("{key}");
    }
    Ok(())
}

/// Every `activationKey` in a GetActivationKey JSON reply, at any depth.
fn created_keys(reply: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![reply];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("activationKey", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => stack.push(v),
                    }
                }
            }
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    out
}
