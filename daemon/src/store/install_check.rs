//! `licd check`'s rules for analytics installs, the same on every backend: each install
//! decodes and is stored under its own id, and the count `analytics.maxInstalls` reads equals
//! the installs stored.

use crate::license::install::Install;

/// The installs seen so far and what was wrong with them.
#[derive(Debug, Default)]
pub(crate) struct InstallCheck {
    stored: i64,
    problems: Vec<String>,
}

impl InstallCheck {
    /// One stored row: its key and its value as JSON.
    pub(crate) fn row(&mut self, id: &str, value: &[u8]) {
        self.stored += 1;
        match serde_json::from_slice::<Install>(value) {
            Ok(install) if install.id == id => {}
            Ok(install) => self.problems.push(format!(
                "install {id} is stored under another id than its own ({})",
                install.id
            )),
            Err(e) => self
                .problems
                .push(format!("install {id} does not decode: {e}")),
        }
    }

    /// The problems, once every row was seen and `counted` is the stored count.
    pub(crate) fn finish(mut self, counted: i64) -> Vec<String> {
        if counted != self.stored {
            self.problems.push(format!(
                "the install counter says {counted} but {} installs are stored",
                self.stored
            ));
        }
        self.problems
    }
}
