//! `licd-bench seed`: many licences through the HTTP API, fast: GetActivationKey creates up
//! to 10,000 keys in one request and one transaction (`is_usemultipleactivationskey=false`).

use std::time::Instant;

use anyhow::bail;

use crate::client::{Connection, address, is_error};

/// `licd-bench seed` arguments.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many licences to create.
    #[arg(long = "licences", default_value_t = 1_000_000)]
    pub licenses: u64,
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Vendor, user and password that create the keys.
    #[arg(long, default_value = "QlmAuthenticationProvider")]
    pub vendor: String,
    /// The vendor's user.
    #[arg(long, default_value = "demo")]
    pub user: String,
    /// The vendor's password.
    #[arg(long, default_value = "demo")]
    pub password: String,
    /// Parallel requests.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Also activate one computer on every licence created (the "one activation per
    /// licence" database of the size and memory figures).
    #[arg(long)]
    pub activate: bool,
    /// Give each request's keys an order id and a subscription id, this prefix and the
    /// request's number (`P0`, `P1`, …), so that the vendor's order and subscription index
    /// holds every licence (bench/order-lookup.sh).
    #[arg(long)]
    pub order_prefix: Option<String>,
    /// With `--activate`: write every activated pair to this file, one `KEY COMPUTER-ID` a
    /// line, so that a benchmark can validate pairs spread over the whole database
    /// (bench/compare-nginx.sh).
    #[arg(long, requires = "activate")]
    pub pairs_out: Option<std::path::PathBuf>,
}

const PER_REQUEST: u64 = 10_000;

/// Creates the licences and prints how long it took.
pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let addr = address(&args.url)?;
    let started = Instant::now();
    let batches = args.licenses.div_ceil(PER_REQUEST);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pairs_out = match &args.pairs_out {
        Some(path) => Some(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let pairs_out = std::sync::Arc::new(std::sync::Mutex::new(
        pairs_out.map(std::io::BufWriter::new),
    ));
    let args = std::sync::Arc::new(args);
    let tasks: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let (next, args, pairs_out) = (next.clone(), args.clone(), pairs_out.clone());
            tokio::spawn(async move {
                let mut conn = Connection::new(addr);
                loop {
                    let b = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if b >= batches {
                        return anyhow::Ok(());
                    }
                    let n = PER_REQUEST.min(args.licenses - b * PER_REQUEST);
                    let mut path = format!(
                        "/qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity={n}&is_usemultipleactivationskey=false&is_vendor={}&is_user={}&is_pwd={}",
                        args.vendor, args.user, args.password
                    );
                    if let Some(prefix) = &args.order_prefix {
                        path.push_str(&format!(
                            "&is_orderid={prefix}{b}&is_subscriptionid={prefix}{b}"
                        ));
                    }
                    let (status, body) = conn.get(&path).await?;
                    if status != 200 || is_error(&body) {
                        bail!("seeding failed: {}", String::from_utf8_lossy(&body));
                    }
                    if args.activate {
                        let pairs = activate_each(&mut conn, &body).await?;
                        let mut out = pairs_out.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(out) = out.as_mut() {
                            use std::io::Write;
                            for (key, pc) in pairs {
                                writeln!(out, "{key} {pc}")?;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    if let Some(out) = pairs_out.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        use std::io::Write;
        out.flush()?;
    }
    println!(
        "created {} licences in {:.1} s",
        args.licenses,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Activates one computer on every key listed in a GetActivationKey reply; returns the
/// (key, computer id) pairs activated.
async fn activate_each(
    conn: &mut Connection,
    body: &[u8],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let text = String::from_utf8_lossy(body);
    for (i, part) in text.split("<activationKey>").skip(1).enumerate() {
        let Some(key) = part.split('<').next() else {
            continue;
        };
        let path = format!("/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid=SEED-{i}");
        let (status, reply) = conn.get(&path).await?;
        if status != 200 || is_error(&reply) {
            bail!("activation failed: {}", String::from_utf8_lossy(&reply));
        }
        pairs.push((key.to_string(), format!("SEED-{i}")));
    }
    Ok(pairs)
}
