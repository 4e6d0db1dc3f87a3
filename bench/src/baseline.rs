//! `--baseline auto`: the hello baseline measured just before the scenario, so that the
//! ratio of every figure to it needs no number copied by hand.
//!
//! The baseline runs as it does by hand, in its own process (`licd-bench hello`, this very
//! binary), on a free port, with the same clients and duration as the scenario that follows.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

use crate::scenario::{self, RunArgs, Scenario};

/// The `licd-bench hello` child; stopped when dropped, whatever happened meanwhile.
struct HelloServer(Child);

impl Drop for HelloServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `licd-bench hello --listen 127.0.0.1:0` and returns it with the URL it logged.
fn start() -> anyhow::Result<(HelloServer, String)> {
    let exe = std::env::current_exe().context("cannot find licd-bench's own executable")?;
    let mut child = Command::new(exe)
        .args(["hello", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start licd-bench hello")?;
    let stderr = child
        .stderr
        .take()
        .context("no stderr from licd-bench hello")?;
    let server = HelloServer(child);
    let mut line = String::new();
    BufReader::new(stderr)
        .read_line(&mut line)
        .context("cannot read licd-bench hello's start-up line")?;
    // "hello baseline listening on http://127.0.0.1:40111"
    match line.split_once("listening on ") {
        Some((_, url)) => Ok((server, url.trim().to_owned())),
        None => bail!("licd-bench hello did not start: {line}"),
    }
}

/// Measures the hello baseline with `args`' clients and duration; prints and returns its
/// requests/s.
pub async fn measure(args: &RunArgs) -> anyhow::Result<f64> {
    let (server, url) = tokio::task::spawn_blocking(start).await??;
    let hello = RunArgs {
        scenario: Scenario::Hello,
        url: url.clone(),
        pid: None,
        baseline: None,
        ..args.clone()
    };
    let report = scenario::measure(&hello).await?;
    drop(server);
    if report.errors > 0 || report.rps <= 0.0 {
        bail!(
            "the hello baseline failed ({} errors): {}",
            report.errors,
            report.first_error.unwrap_or_default()
        );
    }
    println!(
        "hello baseline: {:.0} requests/s, {} clients, {:.1} s ({url})",
        report.rps,
        args.clients,
        report.elapsed.as_secs_f64()
    );
    Ok(report.rps)
}
