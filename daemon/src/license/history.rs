//! A licence's history: one line per change that the licence record alone does not keep
//! (a release, a reclaimed seat, an update with the licence as it was before).

use serde::{Deserialize, Serialize};

use super::{Activation, License};

/// One line of a licence's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    pub time: i64,
    /// What happened: `released`, `reclaimed` (an idle cloud seat given to another
    /// computer), `updated`, `upgraded`, …. Activations have no entry of their own: the
    /// activation row records them, and its release writes it here.
    pub event: String,
    /// The computer concerned, if any.
    #[serde(default)]
    pub computer_id: Option<String>,
    /// That computer's name, if known.
    #[serde(default)]
    pub computer_name: Option<String>,
    /// The computer key that activation was last given.
    #[serde(default)]
    pub computer_key: Option<String>,
    /// When that activation was made.
    #[serde(default)]
    pub activated_at: Option<i64>,
    /// The vendor that asked, if any.
    #[serde(default)]
    pub vendor: Option<String>,
    /// The client address.
    #[serde(default)]
    pub client: Option<String>,
    /// The licence as it was before the change (updates keep it).
    #[serde(default)]
    pub license_before: Option<Box<License>>,
}

impl HistoryEntry {
    /// An entry about one activation (released or reclaimed).
    pub fn for_activation(event: &str, time: i64, activation: &Activation) -> Self {
        HistoryEntry {
            time,
            event: event.to_string(),
            computer_id: Some(activation.computer_id.clone()),
            computer_name: activation.computer_name.clone(),
            computer_key: Some(activation.computer_key.clone()),
            activated_at: Some(activation.activated_at),
            vendor: None,
            client: None,
            license_before: None,
        }
    }
}
