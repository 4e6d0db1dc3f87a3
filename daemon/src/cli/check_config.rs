//! `licd check-config`: validate a configuration file without starting anything.

use std::path::PathBuf;

use licd::config::Config;

/// Loads and validates `config` (`None`: the embedded default), printing every problem on
/// stderr and the warnings after them; fails when there is any problem.
pub fn check(config: Option<PathBuf>) -> anyhow::Result<()> {
    let origin = config
        .as_ref()
        .map_or("the embedded default".into(), |p| p.display().to_string());
    // Every problem on a line of its own, so that a long list stays readable; the
    // last line is the one-line reason every failing command ends with.
    let loaded = Config::load(config.as_deref()).map_err(|e| {
        for problem in &e.problems {
            eprintln!("{problem}");
        }
        let n = e.problems.len();
        let problems = if n == 1 { "problem" } else { "problems" };
        anyhow::anyhow!("{origin}: {n} {problems}; the configuration is not valid")
    })?;
    for warning in loaded.warnings() {
        eprintln!("warning: {warning}");
    }
    println!(
        "{}: configuration is valid",
        config.map_or("embedded default".into(), |p| p.display().to_string())
    );
    Ok(())
}
