//! `licd-bench`: measures a running licd over real HTTP.
//!
//! - `run`: a scenario (create, activate, validate, release, mixed, hello) with N keep-alive
//!   clients for S seconds; every reply is checked, errors are counted and reported. With
//!   `--baseline auto` the hello baseline is measured first, so the ratio needs no copying.
//! - `hello`: a minimal hyper server answering a fixed small XML body, the baseline every
//!   figure is compared with (same machine, same client).
//! - `seed`: fills a database with many licences through the HTTP API.

mod baseline;
mod client;
mod hello;
mod scenario;
mod seed;
mod stats;

use std::time::Duration;

use clap::{Parser, Subcommand};

/// Load generator for licd.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario against a licd (or the hello baseline) and print the figures.
    Run(scenario::RunArgs),
    /// Serve the baseline: a fixed small XML body on every request.
    Hello {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
    },
    /// Create many licences through GetActivationKey (10,000 per request, one transaction
    /// each), optionally activating one computer on each.
    Seed(seed::SeedArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Run(args) => runtime.block_on(scenario::run(args)),
        Command::Hello { listen } => runtime.block_on(hello::serve(listen)),
        Command::Seed(args) => runtime.block_on(seed::seed(args)),
    }
}

/// How long a single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
