//! The `licd` command line: the daemon and its admin tools.
//!
//! Exit codes (spec operations.md): 0 ok, 1 failure with a one-line reason on stderr,
//! 2 usage error (clap).

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use licd::config::{Config, LogFormat, LogLevel};

/// licd: a self-hosted software-licence server (Quick License Manager compatible).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon. Without --config it uses the embedded demo configuration.
    Serve {
        /// The TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen on this address:port instead of server.listen (port 0 picks a free one).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Keep the database in this directory instead of server.dataDir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Validate a configuration file and list every problem; exit 0 when valid, 1 otherwise.
    CheckConfig {
        /// The TOML configuration file (default: the embedded configuration).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Read a password on standard input and print an argon2id hash for `passwordHash`.
    HashPassword,
    /// Print the deactivation verification code ReleaseLicenseHttp accepts for a key and
    /// computer (needs options.communicationEncryptionKey from the server's configuration).
    DeactivationCode {
        /// The activation key.
        #[arg(long)]
        key: String,
        /// The computer ID of the activation.
        #[arg(long)]
        computer_id: String,
        /// The UTC date the code is for (yyyy-MM-dd); default today.
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        location: Location,
    },
    /// Release a key from a computer on the server host (the daemon stopped), for example
    /// with a customer's offline deactivation code.
    Release {
        /// The activation key.
        #[arg(long)]
        key: String,
        /// The computer ID to release.
        #[arg(long)]
        computer_id: String,
        /// The customer's deactivation verification code.
        #[arg(long)]
        code: Option<String>,
        #[command(flatten)]
        location: Location,
    },
}

/// Where the configuration and the database are, as for `serve`.
#[derive(clap::Args)]
struct Location {
    /// The TOML configuration file (default: the embedded configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data directory instead of server.dataDir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Location {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            config.server.data_dir = dir.clone();
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licd: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, as operations.md asks.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string().replace('\n', "; "))
        .collect::<Vec<_>>()
        .join(": ")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
        } => serve(config, listen, data_dir),
        Command::CheckConfig { config } => {
            let loaded = Config::load(config.as_deref())?;
            for warning in loaded.warnings() {
                eprintln!("warning: {warning}");
            }
            println!(
                "{}: configuration is valid",
                config.map_or("embedded default".into(), |p| p.display().to_string())
            );
            Ok(())
        }
        Command::DeactivationCode {
            key,
            computer_id,
            date,
            location,
        } => {
            let config = location.load()?;
            let code =
                licd::admin::deactivation_code(&config, &key, &computer_id, date.as_deref())?;
            println!("{code}");
            Ok(())
        }
        Command::Release {
            key,
            computer_id,
            code,
            location,
        } => {
            let config = location.load()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let reply = runtime.block_on(licd::admin::release(
                &config,
                &key,
                &computer_id,
                code.as_deref(),
            ))?;
            println!("{}", reply.result);
            Ok(())
        }
        Command::HashPassword => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("cannot read the password from standard input")?;
            let password = input
                .strip_suffix("\r\n")
                .or_else(|| input.strip_suffix('\n'))
                .unwrap_or(&input);
            if password.is_empty() {
                bail!("the password is empty");
            }
            println!("{}", licd::auth::password::hash_password(password)?);
            Ok(())
        }
    }
}

fn serve(
    path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut config = Config::load(path.as_deref())?;
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    if let Some(dir) = data_dir {
        config.server.data_dir = dir;
    }
    // Overrides can change what is valid (the demo password on a public address).
    config.validate()?;
    init_logging(config.server.log_level, config.server.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        licd::serve::run(config, shutdown).await?;
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Installs the SIGTERM/SIGINT handlers at once (before the port is bound, so a signal
/// sent as soon as the start-up line appears is never fatal) and returns a future that
/// completes on the first one; a second one exits at once (the database stays consistent:
/// redb recovers on open).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::warn!("second signal: exiting at once");
            std::process::exit(1);
        });
    })
}

fn init_logging(level: LogLevel, format: LogFormat) {
    let level = tracing::Level::from(level);
    // journald adds its own timestamps and shows no colours.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false);
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}
