//! `licd license-file` and `licd signing-key …`: through the running daemon's admin socket,
//! or on the stopped database (spec offline.md).

use std::path::Path;

use anyhow::Context;
use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, json_request, request};
use licd::offline::{PublicKeyFormat, SigningKeyInfo};
use serde_json::json;

use super::{Location, OutputFile, block_on, read_all, read_json};

/// A key as the admin API answers it.
fn key_info(v: &serde_json::Value) -> anyhow::Result<SigningKeyInfo> {
    let text = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the key has no {name}"))
    };
    Ok(SigningKeyInfo {
        name: text("name")?,
        created_at: v["createdAt"]
            .as_i64()
            .context("the key has no createdAt")?,
        current: v["current"].as_bool().unwrap_or(false),
        public_key_pem: text("publicKeyPem")?,
    })
}

/// Every signing key.
async fn keys(conn: &mut Connection) -> anyhow::Result<Vec<SigningKeyInfo>> {
    let reply = conn
        .call(request(Method::GET, "/v1/signing-keys", body::empty()))
        .await?;
    let list = read_json(reply.into_body()).await?;
    list.as_array()
        .context("the key list is not a list")?
        .iter()
        .map(key_info)
        .collect()
}

/// `licd license-file`: the signed licence file of an air-gapped computer, written to `out`
/// with mode 0600 (created first, so an unwritable path fails before anything changes).
pub fn license_file(
    location: Location,
    key: String,
    computer_id: String,
    computer_name: Option<String>,
    out: &Path,
) -> anyhow::Result<()> {
    block_on(async move {
        // Private: the file carries the activation key, which activates further computers.
        let file = OutputFile::create(out, true)?;
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let req = json_request(
            Method::POST,
            "/v1/license-file",
            &json!({ "key": key, "computerId": computer_id, "computerName": computer_name }),
        );
        let reply = match conn.call(req).await {
            Ok(r) => read_json(r.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        let reply = reply?;
        let document = reply["document"]
            .as_str()
            .context("the reply has no licence file")?;
        file.write_all_and_finish(document.as_bytes())?;
        println!("{}", reply["result"].as_str().unwrap_or_default());
        println!(
            "Signed with {}; written to {}.",
            reply["keyName"].as_str().unwrap_or_default(),
            out.display()
        );
        Ok(())
    })
}

/// `licd signing-key export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `-----BEGIN PUBLIC KEY-----`.
    Pem,
    /// QLM's `<RSAKeyValue><Modulus>…</Modulus><Exponent>…</Exponent></RSAKeyValue>`.
    #[value(name = "rsakeyvalue")]
    RsaKeyValue,
}

impl ExportFormat {
    fn library(self) -> PublicKeyFormat {
        match self {
            ExportFormat::Pem => PublicKeyFormat::Pem,
            ExportFormat::RsaKeyValue => PublicKeyFormat::RsaKeyValue,
        }
    }
}

/// `licd signing-key import --format`: the forms a private key is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// QLM's `<RSAKeyValue>` with the private parts.
    #[value(name = "rsakeyvalue")]
    RsaKeyValue,
}

/// `licd signing-key export`: the current public key (or every key, as PEM) to `out`.
pub fn export(
    location: Location,
    out: &Path,
    all: bool,
    format: ExportFormat,
) -> anyhow::Result<()> {
    block_on(async move {
        if all && format != ExportFormat::Pem {
            anyhow::bail!(
                "--all writes PEM only; export the current key alone with --format rsakeyvalue"
            );
        }
        let file = OutputFile::create(out, false)?;
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let path = format!(
            "/v1/signing-keys/public?all={all}&format={}",
            format.library().name()
        );
        let pem = match conn.call(request(Method::GET, &path, body::empty())).await {
            Ok(r) => read_all(r.into_body()).await,
            Err(e) => Err(e.into()),
        };
        let listed = match &pem {
            Ok(_) => keys(&mut conn).await,
            Err(_) => Ok(Vec::new()),
        };
        conn.close().await?;
        let (pem, listed) = (pem?, listed?);
        file.write_all_and_finish(&pem)?;
        for key in listed.iter().filter(|k| all || k.current) {
            println!("{}", key.list_line());
        }
        println!("Written to {}.", out.display());
        Ok(())
    })
}

/// `licd signing-key import`: the key in `file` becomes the current signing key. The file is
/// read here and sent over the admin socket (mode 0600), never written anywhere else.
pub fn import(location: Location, format: ImportFormat, file: &Path) -> anyhow::Result<()> {
    let ImportFormat::RsaKeyValue = format;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the key file {}", file.display()))?;
    let req = json_request(
        Method::POST,
        "/v1/signing-keys/import",
        &json!({ "format": PublicKeyFormat::RsaKeyValue.name(), "key": text }),
    );
    make_current(location, req, ", the imported key")
}

/// `licd signing-key rotate`.
pub fn rotate(location: Location) -> anyhow::Result<()> {
    let req = request(Method::POST, "/v1/signing-keys/rotate", body::empty());
    make_current(location, req, "")
}

/// Sends `req`, which makes a new current key (a rotation or an import), and prints the key
/// and what it means; `which` says what the key is after its name.
fn make_current(
    location: Location,
    req: http::Request<body::Body>,
    which: &'static str,
) -> anyhow::Result<()> {
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let reply = match conn.call(req).await {
            Ok(r) => read_json(r.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        let key = key_info(&reply?)?;
        println!("{}", key.list_line());
        println!(
            "New replies are signed with {}{which}; files signed before still verify with the old keys.",
            key.name
        );
        Ok(())
    })
}

/// `licd signing-key list`.
pub fn list(location: Location) -> anyhow::Result<()> {
    block_on(async move {
        let mut conn = Connection::open(&location.load()?, Open::Existing).await?;
        let listed = keys(&mut conn).await;
        conn.close().await?;
        for key in listed? {
            println!("{}", key.list_line());
        }
        Ok(())
    })
}
