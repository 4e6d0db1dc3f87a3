//! The scenarios: what each client sends, what counts as a correct reply, and the set-up
//! (keys with many seats, already activated computers) each one needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::client::{Connection, address, element, is_error};
use crate::stats::{self, ClientStats};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// GetActivationKey: one new key per request.
    Create,
    /// ValidateLicenseHttp activating a distinct computer each time: every request a durable
    /// write.
    Activate,
    /// ValidateLicenseHttp of computers already activated: the read path.
    Validate,
    /// Activate then release the same computer, again and again.
    Release,
    /// 80 % validate, 15 % activate, 5 % release.
    Mixed,
    /// GET against the `hello` baseline server.
    Hello,
}

/// `--baseline`: the hello baseline's requests/s as measured before, or `auto` to measure
/// it now, just before the scenario, with the same clients and duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// A figure from an earlier `licd-bench run --scenario hello`.
    Given(f64),
    /// Start `licd-bench hello` on a free port and measure it first.
    Measure,
}

impl std::str::FromStr for Baseline {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Baseline::Measure);
        }
        match s.parse::<f64>() {
            Ok(rps) if rps > 0.0 && rps.is_finite() => Ok(Baseline::Given(rps)),
            _ => Err(format!(
                "`{s}` is neither `auto` nor the requests/s of a hello run, such as 94225"
            )),
        }
    }
}

/// `licd-bench run` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The scenario.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The daemon's pid, to report its resident memory after the run.
    #[arg(long)]
    pub pid: Option<u32>,
    /// The hello baseline's requests/s, to report the ratio to it; `auto` measures it first
    /// (a `licd-bench hello` on a free port, the same clients and duration).
    #[arg(long)]
    pub baseline: Option<Baseline>,
    /// Vendor that creates the keys.
    #[arg(long, default_value = "QlmAuthenticationProvider")]
    pub vendor: String,
    /// The vendor's user.
    #[arg(long, default_value = "demo")]
    pub user: String,
    /// The vendor's password.
    #[arg(long, default_value = "demo")]
    pub password: String,
    /// Product id, major and minor version of the keys.
    #[arg(long, default_value = "1/1/0")]
    pub product: String,
    /// Activated computers the validate and mixed scenarios pick from.
    #[arg(long, default_value_t = 1000)]
    pub pairs: usize,
}

/// What the clients share: the path prefix, credentials, keys and activated pairs.
struct Setup {
    args: RunArgs,
    product_query: String,
    keys: Vec<String>,
    pairs: Vec<(String, String)>,
    nonce: u64,
}

/// Runs a scenario (after the hello baseline, with `--baseline auto`) and prints its figures.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let baseline = match args.baseline {
        Some(Baseline::Given(rps)) => Some(rps),
        Some(Baseline::Measure) => Some(crate::baseline::measure(&args).await?),
        None => None,
    };
    let report = measure(&args).await?;
    println!(
        "scenario {:?}: {} clients, {:.1} s, {}",
        args.scenario,
        args.clients,
        report.elapsed.as_secs_f64(),
        args.url
    );
    match baseline {
        Some(b) => println!(
            "requests/s: {:.0} ({:.2} of the hello baseline's {b:.0})",
            report.rps,
            report.rps / b
        ),
        None => println!("requests/s: {:.0}", report.rps),
    }
    println!(
        "latency: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        report.p50, report.p90, report.p99, report.max
    );
    println!("ok: {}  errors: {}", report.ok, report.errors);
    if let Some(e) = &report.first_error {
        println!("first error: {e}");
    }
    if args.scenario == Scenario::Hello && report.errors == 0 {
        println!(
            "for the licd runs: --baseline {:.0} (or --baseline auto to measure it each time)",
            report.rps
        );
    }
    if let Some(pid) = args.pid {
        match stats::rss_kib(pid) {
            Some(kib) => println!("daemon RSS: {:.1} MiB", kib as f64 / 1024.0),
            None => println!("daemon RSS: pid {pid} not readable"),
        }
    }
    if report.errors > 0 {
        bail!("{} requests failed", report.errors);
    }
    Ok(())
}

/// Prepares a scenario and runs its clients for the duration; the figures, unprinted.
pub async fn measure(args: &RunArgs) -> anyhow::Result<stats::Report> {
    let args = args.clone();
    let addr = address(&args.url)?;
    let product_query = product_query(&args.product)?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut setup = Setup {
        args,
        product_query,
        keys: Vec::new(),
        pairs: Vec::new(),
        nonce,
    };
    prepare(&mut setup, addr).await?;
    let setup = Arc::new(setup);
    let duration = Duration::from_secs(setup.args.duration);
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..setup.args.clients)
        .map(|id| {
            let setup = setup.clone();
            tokio::spawn(async move { client(id, &setup, addr, deadline).await })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await?);
    }
    Ok(stats::summarise(results, started.elapsed()))
}

fn product_query(product: &str) -> anyhow::Result<String> {
    let parts: Vec<&str> = product.split('/').collect();
    let [id, major, minor] = parts[..] else {
        bail!("--product is id/major/minor, e.g. 1/1/0");
    };
    Ok(format!(
        "is_productid={id}&is_majorversion={major}&is_minorversion={minor}"
    ))
}

const SEATS_PER_KEY: u64 = 10_000;

/// Creates the keys and activated pairs the scenario needs.
async fn prepare(setup: &mut Setup, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let a = &setup.args;
    let needs_seats = matches!(
        a.scenario,
        Scenario::Activate | Scenario::Release | Scenario::Mixed | Scenario::Validate
    );
    if !needs_seats {
        return Ok(());
    }
    // Enough seats for 50,000 activations a second for the whole run.
    let keys = (50_000 * a.duration).div_ceil(SEATS_PER_KEY).clamp(2, 200);
    let mut conn = Connection::new(addr);
    for _ in 0..keys {
        let path = format!(
            "/qlmservice.asmx/GetActivationKey?{}&is_numberofactivationsperkey={SEATS_PER_KEY}&is_vendor={}&is_user={}&is_pwd={}",
            setup.product_query, a.vendor, a.user, a.password
        );
        let (status, body) = conn.get(&path).await?;
        if status != 200 || is_error(&body) {
            bail!("cannot create a key: {}", String::from_utf8_lossy(&body));
        }
        setup
            .keys
            .push(element(&body, "activationKey").context("no activationKey in the reply")?);
    }
    if matches!(a.scenario, Scenario::Validate | Scenario::Mixed) {
        for i in 0..a.pairs {
            let key = setup.keys[i % setup.keys.len()].clone();
            let pc = format!("POOL-{}-{i}", setup.nonce);
            let (_, body) = conn.get(&validate_path(&key, &pc)).await?;
            if is_error(&body) {
                bail!(
                    "cannot activate the pool: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            setup.pairs.push((key, pc));
        }
    }
    Ok(())
}

fn validate_path(key: &str, pc: &str) -> String {
    format!("/qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid={pc}")
}

/// One request's operation (a scenario mixes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Activate,
    Validate,
    Release,
    Hello,
}

/// A tiny per-client generator: which pair to validate, which operation in `mixed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One client: requests until the deadline, each reply checked.
async fn client(
    id: usize,
    setup: &Setup,
    addr: std::net::SocketAddr,
    deadline: Instant,
) -> ClientStats {
    let mut conn = Connection::new(addr);
    let mut stats = ClientStats::default();
    let mut rng = Rng((id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut activated: Vec<(String, String)> = Vec::new();
    let mut i: u64 = 0;
    while Instant::now() < deadline {
        i += 1;
        let op = match setup.args.scenario {
            Scenario::Mixed => match rng.next() % 100 {
                0..80 => Op::Validate,
                80..95 => Op::Activate,
                _ if activated.is_empty() => Op::Activate,
                _ => Op::Release,
            },
            // Release cycles: activate a computer, release it on the next turn.
            Scenario::Release if activated.is_empty() => Op::Activate,
            Scenario::Release => Op::Release,
            Scenario::Create => Op::Create,
            Scenario::Activate => Op::Activate,
            Scenario::Validate => Op::Validate,
            Scenario::Hello => Op::Hello,
        };
        let (path, expect): (String, &str) = match op {
            Op::Hello => ("/".to_string(), "<result>"),
            Op::Create => (
                format!(
                    "/qlmservice.asmx/GetActivationKey?{}&is_vendor={}&is_user={}&is_pwd={}",
                    setup.product_query, setup.args.vendor, setup.args.user, setup.args.password
                ),
                "<activationKey>",
            ),
            Op::Validate => {
                let (key, pc) = &setup.pairs[(rng.next() % setup.pairs.len() as u64) as usize];
                (validate_path(key, pc), "<pckey>")
            }
            Op::Activate => {
                let key = &setup.keys[(rng.next() % setup.keys.len() as u64) as usize];
                let pc = format!("B{}-{id}-{i}", setup.nonce);
                // Only the release and mixed scenarios come back to release what they made.
                if setup.args.scenario != Scenario::Activate {
                    activated.push((key.clone(), pc.clone()));
                }
                (validate_path(key, &pc), "was activated")
            }
            Op::Release => {
                let Some((key, pc)) = activated.pop() else {
                    continue;
                };
                (
                    format!(
                        "/qlmservice.asmx/ReleaseLicenseHttp?is_avkey={key}&is_pcid={pc}&is_logRelease=false&is_vendor={}&is_user={}&is_pwd={}",
                        setup.args.vendor, setup.args.user, setup.args.password
                    ),
                    "has been released",
                )
            }
        };
        let started = Instant::now();
        match conn.get(&path).await {
            Ok((200, body)) if !is_error(&body) && contains(&body, expect) => {
                let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                stats.latencies_us.push(us);
            }
            Ok((status, body)) => stats.error(format!(
                "{path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )),
            Err(e) => stats.error(format!("{path}: {e:#}")),
        }
    }
    stats
}

fn contains(body: &[u8], needle: &str) -> bool {
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_is_auto_or_a_positive_figure() {
        assert_eq!("auto".parse(), Ok(Baseline::Measure));
        assert_eq!("AUTO".parse(), Ok(Baseline::Measure));
        assert_eq!("94225".parse(), Ok(Baseline::Given(94225.0)));
        assert!("0".parse::<Baseline>().is_err());
        assert!("<hello req/s>".parse::<Baseline>().is_err());
    }
}
