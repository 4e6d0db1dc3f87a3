//! `licd serve`: logging, signals, the runtime, then the library's server.

use std::sync::Arc;

use anyhow::Context;
use licd::reload::ConfigSource;
use licd::serve::Control;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

/// Loads the configuration from `source`, sets up logging and signals, and serves until
/// SIGTERM or SIGINT.
pub fn serve(source: ConfigSource) -> anyhow::Result<()> {
    let config = source.load()?;
    let logs = licd::logging::init(config.server.log_level, config.server.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (shutdown, reloads) = signals()?;
        let control = Control {
            shutdown: Box::pin(async move {
                // A dropped sender (the signal task ended) also means stop.
                let _ = shutdown.await;
            }),
            reloads: Some(reloads),
            source,
            logs: Some(Arc::new(logs)),
        };
        licd::serve::run(config, control).await?;
        anyhow::Ok(())
    })
}

/// Installs the SIGTERM, SIGINT and SIGHUP handlers at once (before the database is opened
/// and the port bound, so a signal sent as soon as the start-up line appears is never
/// fatal). Returns a receiver that fires on the first SIGTERM/SIGINT and a channel that
/// carries one message per SIGHUP. A second SIGTERM/SIGINT exits at once: the database
/// stays consistent (redb recovers on open).
///
/// tokio's own signal driver, not signal-hook-tokio: the runtime already has it (feature
/// `signal`), it gives one stream per signal that `select!` waits on directly, and
/// signal-hook-tokio would add two crates to do the same through a futures `Stream`.
fn signals() -> anyhow::Result<(oneshot::Receiver<()>, mpsc::UnboundedReceiver<()>)> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stop = Some(stop_tx);
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {
                    // Reloads during shutdown are pointless; the receiver may be gone.
                    let _ = reload_tx.send(());
                    continue;
                }
            }
            match stop.take() {
                Some(tx) => {
                    let _ = tx.send(());
                }
                None => {
                    tracing::warn!("second stop signal: exiting at once");
                    std::process::exit(1);
                }
            }
        }
    });
    Ok((stop_rx, reload_rx))
}
