//! The `licd` command line: the daemon and its admin tools.
//!
//! Exit codes (spec operations.md): 0 ok, 1 failure with a one-line reason on stderr,
//! 2 usage error (clap).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cli;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::Location;

/// A self-hosted software-licence server (Quick License Manager compatible).
///
/// Software vendors create licence keys with licd; their applications activate, validate
/// and release those keys over Quick License Manager's HTTP methods. `licd serve` runs the
/// server; the other commands are the administrator's tools, which work through the running
/// server's admin socket or on the stopped database.
#[derive(Parser)]
#[command(version)]
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
    /// Release a key from a computer on the server host, for example with a customer's
    /// offline deactivation code (through the running daemon, or on the stopped database).
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
    /// Licence keys: list, show, create, revoke (through the running daemon's admin socket,
    /// or on the stopped database).
    Keys {
        #[command(subcommand)]
        action: cli::keys::KeysAction,
    },
    /// Customers: list, show, delete (erase the personal data), through the running daemon's
    /// admin socket, or on the stopped database.
    Customers {
        #[command(subcommand)]
        action: cli::customers::CustomersAction,
    },
    /// The mail outbox: list, retry, drop, and a test mail, through the running daemon's
    /// admin socket, or on the stopped database.
    Mail {
        #[command(subcommand)]
        action: cli::mail::MailAction,
    },
    /// The webhook outbox (events licd sends): list, retry, drop, through the running
    /// daemon's admin socket, or on the stopped database.
    Webhooks {
        #[command(subcommand)]
        action: cli::webhooks::WebhooksAction,
    },
    /// Write a consistent snapshot of the database (a redb file) while licd runs or not.
    Backup(cli::data::BackupArgs),
    /// Put a backup in place of the database; licd must be stopped.
    Restore(cli::data::RestoreArgs),
    /// Write every table as JSON lines (secrets included unless --no-secrets).
    Export(cli::data::ExportArgs),
    /// Load an export into an empty database (created if missing).
    Import(cli::data::ImportArgs),
    /// Import a QLM shop's licences and activations from QLM's CSV exports, keeping their
    /// keys (docs/moving-from-qlm.md); all or nothing unless --skip-bad.
    ImportQlm(cli::import_qlm::ImportQlmArgs),
    /// Copy a stopped redb database into an empty PostgreSQL one (one transaction, secrets
    /// included), print the rows per table and check the copy.
    Migrate(cli::migrate::MigrateArgs),
    /// Check the database's consistency (and, stopped, redb's page checksums); exit 1 on a
    /// problem.
    Check {
        #[command(flatten)]
        location: Location,
    },
    /// Give the database's free pages back to the file system; licd must be stopped.
    Compact {
        #[command(flatten)]
        location: Location,
    },
    /// Offline activation for an air-gapped computer (through the running daemon, or on the
    /// stopped database): activates the key for the computer as ValidateLicenseHttp would
    /// and writes the signed licence file.
    LicenseFile {
        /// The activation key.
        #[arg(long)]
        key: String,
        /// The air-gapped computer's ID, as its application shows it.
        #[arg(long)]
        computer_id: String,
        /// The computer's name, stored with the activation.
        #[arg(long)]
        computer_name: Option<String>,
        /// Where to write the signed licence file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        location: Location,
    },
    /// The keys that sign licence files and replies (through the running daemon, or on the
    /// stopped database); the first one is made when first needed.
    SigningKey {
        #[command(subcommand)]
        action: SigningKeyAction,
    },
    /// Write the manual pages (licd.1 and one per command) into a directory; the Debian
    /// package ships them from packaging/man/.
    #[command(hide = true)]
    Man {
        /// The directory to write the pages into (created if missing).
        #[arg(long)]
        out_dir: PathBuf,
    },
}

/// `licd signing-key` actions.
#[derive(Subcommand)]
enum SigningKeyAction {
    /// Write the current public key that applications verify licence files with (PEM, or
    /// QLM's <RSAKeyValue>); with --all every key as PEM, old ones included, each after a
    /// line naming it.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Write every key, not only the current one (PEM only).
        #[arg(long)]
        all: bool,
        /// pem (default), or rsakeyvalue: the <RSAKeyValue> form QLM applications embed.
        #[arg(long, value_enum, default_value_t = cli::signing::ExportFormat::Pem)]
        format: cli::signing::ExportFormat,
        #[command(flatten)]
        location: Location,
    },
    /// Make a QLM shop's own private key the current signing key, so that QLM applications
    /// in the field verify licd's replies; the old keys stay. FILE holds the key as QLM's
    /// <RSAKeyValue> with its private parts (Modulus, Exponent, P, Q, DP, DQ, InverseQ, D).
    Import {
        /// The form of FILE: rsakeyvalue.
        #[arg(long, value_enum)]
        format: cli::signing::ImportFormat,
        /// The key file.
        file: PathBuf,
        #[command(flatten)]
        location: Location,
    },
    /// Make a new current key; the old ones stay, so files they signed still verify.
    Rotate {
        #[command(flatten)]
        location: Location,
    },
    /// List the keys: name, creation time (UTC), current or old.
    List {
        #[command(flatten)]
        location: Location,
    },
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

/// The error and its causes on one line, as operations.md asks, each said once: many
/// errors write their source into their own message (`cannot open …: {source}`) and also
/// give it as their source, and the chain would print it twice.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', "; ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
        } => cli::serve::serve(licd::reload::ConfigSource {
            path: config,
            listen,
            data_dir,
        }),
        Command::CheckConfig { config } => cli::check_config::check(config),
        Command::DeactivationCode {
            key,
            computer_id,
            date,
            location,
        } => cli::keys::deactivation_code(location, &key, &computer_id, date.as_deref()),
        Command::Release {
            key,
            computer_id,
            code,
            location,
        } => cli::keys::release(location, key, computer_id, code),
        Command::Keys { action } => cli::keys::run(action),
        Command::Customers { action } => cli::customers::run(action),
        Command::Mail { action } => cli::mail::run(action),
        Command::Webhooks { action } => cli::webhooks::run(action),
        Command::Backup(args) => cli::data::backup(args),
        Command::Restore(args) => cli::data::restore(args),
        Command::Export(args) => cli::data::export(args),
        Command::Import(args) => cli::data::import(args),
        Command::ImportQlm(args) => cli::import_qlm::import_qlm(args),
        Command::Migrate(args) => cli::migrate::migrate(args),
        Command::Check { location } => cli::data::check(location),
        Command::Compact { location } => cli::data::compact(location),
        Command::LicenseFile {
            key,
            computer_id,
            computer_name,
            out,
            location,
        } => cli::signing::license_file(location, key, computer_id, computer_name, &out),
        Command::SigningKey { action } => signing_key(action),
        Command::Man { out_dir } => cli::man::write(Cli::command(), &out_dir),
        Command::HashPassword => cli::hash_password::hash_password(),
    }
}

/// `licd signing-key export | import | rotate | list`.
fn signing_key(action: SigningKeyAction) -> anyhow::Result<()> {
    match action {
        SigningKeyAction::Export {
            out,
            all,
            format,
            location,
        } => cli::signing::export(location, &out, all, format),
        SigningKeyAction::Import {
            format,
            file,
            location,
        } => cli::signing::import(location, format, &file),
        SigningKeyAction::Rotate { location } => cli::signing::rotate(location),
        SigningKeyAction::List { location } => cli::signing::list(location),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn a_cause_the_message_already_gives_is_not_repeated() {
        let error = licd::store::StoreError::File {
            what: "cannot write the backup",
            path: "/backups/licd.redb".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let inner = std::io::Error::from_raw_os_error(libc::ENOSPC).to_string();
        let line = one_line(&anyhow::Error::new(error).context("backup failed"));
        assert_eq!(
            line,
            format!("backup failed: cannot write the backup /backups/licd.redb: {inner}")
        );
    }
}
