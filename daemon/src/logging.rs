//! Logging to stderr (journald captures it), with a level and a format that a reload can
//! change while the daemon runs (spec/config.md, Reload).
//!
//! The subscriber is a registry with two reloadable layers: a level filter and the line
//! formatter (text or JSON). A reload swaps either in place; events already being written
//! finish with the old one.

use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use crate::config::{LogFormat, LogLevel};

/// The subscriber below the formatter: the registry under the level filter.
type Filtered = Layered<reload::Layer<LevelFilter, Registry>, Registry>;
/// A formatter for either format, boxed so both fit one reload slot.
type Formatter = Box<dyn Layer<Filtered> + Send + Sync>;

/// Changes the level and format of the process's logging after start.
pub struct LogControl {
    level: reload::Handle<LevelFilter, Registry>,
    formatter: reload::Handle<Formatter, Filtered>,
    /// The format in force, so that a reload that keeps it does not rebuild the formatter.
    format: Mutex<LogFormat>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up logging: {0}")]
pub struct LogError(String);

/// Installs the process's subscriber: `level` and `format`, to stderr.
///
/// Called once, before anything logs; a second call fails (the subscriber is global).
pub fn init(level: LogLevel, format: LogFormat) -> Result<LogControl, LogError> {
    let (level_layer, level) = reload::Layer::new(level_filter(level));
    let (formatter_layer, formatter) = reload::Layer::new(formatter(format));
    tracing_subscriber::registry()
        .with(level_layer)
        .with(formatter_layer)
        .try_init()
        .map_err(|e| LogError(e.to_string()))?;
    Ok(LogControl {
        level,
        formatter,
        format: Mutex::new(format),
    })
}

impl LogControl {
    /// Applies the level and format of a reloaded configuration.
    pub fn apply(&self, level: LogLevel, format: LogFormat) -> Result<(), LogError> {
        self.level
            .reload(level_filter(level))
            .map_err(|e| LogError(e.to_string()))?;
        let mut current = self.format.lock().unwrap_or_else(|p| p.into_inner());
        if *current != format {
            self.formatter
                .reload(formatter(format))
                .map_err(|e| LogError(e.to_string()))?;
            *current = format;
        }
        Ok(())
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    LevelFilter::from_level(level.into())
}

fn formatter(format: LogFormat) -> Formatter {
    // journald adds its own timestamps and shows no colours.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    match (format, journald) {
        (LogFormat::Json, _) => lines.json().boxed(),
        (LogFormat::Text, true) => lines.without_time().boxed(),
        (LogFormat::Text, false) => lines.boxed(),
    }
}

/// How many characters of a request-supplied value a log line shows at most.
const UNTRUSTED_MAX_CHARS: usize = 200;

/// A value the request supplied (a computer ID, a path, a plugin's reason quoting a store's
/// field), for a log field: always quoted, with quotes, backslashes, control and non-ASCII
/// characters escaped, and cut at 200 characters. Written with `%untrusted(v)`, it cannot end
/// its field early, so a value such as `x client=6.6.6.6` cannot forge another field or line
/// in text logs (the security review's log-forgery finding).
pub fn untrusted(value: &str) -> Untrusted<'_> {
    Untrusted(value)
}

/// See [`untrusted`].
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(&'a str);

impl std::fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char('"')?;
        for (i, c) in self.0.chars().enumerate() {
            if i == UNTRUSTED_MAX_CHARS {
                return f.write_str("…\"");
            }
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                f.write_char(c)?;
            } else {
                write!(f, "{}", c.escape_default())?;
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod untrusted_tests {
    use super::untrusted;

    #[test]
    fn an_untrusted_value_cannot_end_its_field() {
        assert_eq!(untrusted("PC-7").to_string(), "\"PC-7\"");
        assert_eq!(
            untrusted("x\" client=6.6.6.6\nlevel=ERROR").to_string(),
            "\"x\\\" client=6.6.6.6\\nlevel=ERROR\""
        );
        assert_eq!(
            untrusted("a\\b\u{1b}é").to_string(),
            "\"a\\\\b\\u{1b}\\u{e9}\""
        );
    }

    #[test]
    fn an_untrusted_value_is_cut_at_200_characters() {
        let long = "a".repeat(5000);
        let shown = untrusted(&long).to_string();
        assert_eq!(shown.chars().count(), 1 + 200 + 2);
        assert!(shown.ends_with("…\""));
    }
}
