//! What each subcommand does; `main.rs` only parses the command line and dispatches here.

pub mod check_config;
pub mod customers;
pub mod data;
pub mod hash_password;
pub mod import_qlm;
pub mod keys;
pub mod mail;
pub mod man;
pub mod migrate;
pub mod serve;
pub mod signing;
pub mod webhooks;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use http_body_util::BodyExt;
use licd::admin::body::Body;
use licd::config::Config;
use licd::output_file::Readers;

/// Where the configuration and the database are, as for `serve`.
#[derive(clap::Args)]
pub struct Location {
    /// The TOML configuration file (default: the embedded configuration).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The data directory instead of server.dataDir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl Location {
    /// The configuration with `--data-dir` applied.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            config.server.data_dir = dir.clone();
        }
        Ok(config)
    }
}

/// Runs `work` on a small runtime: admin commands do one thing at a time.
pub fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    warnings_to_stderr();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(work)
}

/// Shows the library's warnings and errors on stderr as `licd: warning: …` lines: a command working on
/// a stopped database must tell the admin, as `serve` logs it, that it made a loose data
/// directory or database private, or could not give a restored file to its owner.
fn warnings_to_stderr() {
    use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
    use tracing_subscriber::registry::LookupSpan;

    /// `licd: warning: ` (or `error: `) and the message with its fields.
    struct Warning;
    impl<S, N> FormatEvent<S, N> for Warning
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &tracing::Event<'_>,
        ) -> std::fmt::Result {
            let level = match *event.metadata().level() {
                tracing::Level::ERROR => "error",
                _ => "warning",
            };
            write!(writer, "licd: {level}: ")?;
            ctx.field_format().format_fields(writer.by_ref(), event)?;
            writeln!(writer)
        }
    }

    // A second command in one process (none today) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(Warning)
        .try_init();
}

/// An output file of a command, written under a fresh name and renamed into place once
/// complete (`licd::output_file`), so a failed command never leaves a truncated file under
/// the name asked for, and a file or link already there is replaced, never written through.
pub struct OutputFile(licd::output_file::OutputFile);

impl OutputFile {
    /// Creates the fresh file that will become `path`; `secret`: mode 0600, else 0644 less
    /// the umask.
    pub fn create(path: &Path, secret: bool) -> anyhow::Result<OutputFile> {
        let readers = if secret {
            Readers::Owner
        } else {
            Readers::Anyone
        };
        Ok(OutputFile(licd::output_file::OutputFile::create(
            path, readers,
        )?))
    }

    /// Writes `body` to the file as it arrives; returns the bytes written.
    pub async fn write_body(&mut self, mut body: Body) -> anyhow::Result<u64> {
        let mut written = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.context("the reply broke off")?;
            if let Ok(data) = frame.into_data() {
                self.0
                    .write_all(&data)
                    .with_context(|| format!("cannot write {}", self.0.path().display()))?;
                written += data.len() as u64;
            }
        }
        Ok(written)
    }

    /// The file, to write to directly.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.0
    }

    /// Writes `bytes`, makes the file durable and gives it its name.
    pub fn write_all_and_finish(mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.0
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.0.path().display()))?;
        self.finish()
    }

    /// Makes the file durable and gives it its name.
    pub fn finish(self) -> anyhow::Result<()> {
        Ok(self.0.persist()?)
    }
}

/// A whole reply body.
pub async fn read_all(body: Body) -> anyhow::Result<bytes::Bytes> {
    Ok(body
        .collect()
        .await
        .context("the reply broke off")?
        .to_bytes())
}

/// A whole JSON reply body.
pub async fn read_json(body: Body) -> anyhow::Result<serde_json::Value> {
    let bytes = read_all(body).await?;
    serde_json::from_slice(&bytes).context("the reply is not JSON")
}
