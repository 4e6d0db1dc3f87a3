//! Licence editing. UpdateLicenseHttp, RevokeLicenseHttp, RenewSubscriptionHttp and the
//! maintenance-plan methods change licences in place ([`Edit`]); UpgradeLicense replaces a
//! licence by a new key ([`Upgrade`]). Each is one transaction, every refusal is decided
//! before the first write, and the history keeps each licence as it was before.
//!
//! The rule itself arrives as a closure built by the method handler from the request and the
//! configuration (it calls `crate::license::update` or `crate::license::renewal`), so the
//! store stays ignorant of the rules and of the configuration.

use serde::{Deserialize, Serialize};

use super::{Command, LicenseCheck, Remembered, fresh_key, refused, stored_license};
use crate::license::decisions::{self, Actor};
use crate::license::refusal::{Reason, Refusal};
use crate::license::{License, rules};
use crate::store::StoreError;
use crate::store::tx::{Group, Tx, TxError, TxResult};

/// A change of one licence: the licence as stored in, the licence to store (or the refusal)
/// out. It must not change the key.
pub type LicenseEdit = Box<dyn Fn(&License) -> Result<License, Refusal> + Send>;

/// UpgradeLicense's rule: the old licence and the new key in; the old licence marked as
/// replaced and the new licence out.
pub type UpgradeRule = Box<dyn Fn(&License, &str) -> Result<(License, License), Refusal> + Send>;

/// Which licences an [`Edit`] changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One licence, by canonical activation key.
    Key(String),
    /// Every licence `vendor` created in `group` (its order or its subscription), except
    /// keys replaced by an upgrade; another vendor's licences of the same id are not
    /// touched, whatever the caller's scope.
    Group {
        /// The calling vendor.
        vendor: String,
        /// The order or subscription.
        group: Group,
    },
}

/// Changes licences in place, all or none.
pub struct Edit {
    /// The licences to change.
    pub target: Target,
    /// Checks on each licence (vendor scope), run inside the transaction.
    pub check: LicenseCheck,
    /// The rule: each licence after the change.
    pub edit: LicenseEdit,
    /// The history event: `updated`, `revoked`, `restored`, `renewed`, `maintenance`.
    pub event: &'static str,
    /// False when the method was asked not to log (`is_logRelease=false` on a renewal).
    pub log_history: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
    /// The request's time.
    pub now: i64,
}

/// Licences changed in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edited {
    /// Each licence after the change, in key order.
    pub licenses: Vec<License>,
}

impl Command for Edit {
    type Done = Edited;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Edited> {
        let keys = match &self.target {
            Target::Key(key) => vec![key.clone()],
            Target::Group { vendor, group } => tx.vendor_group_keys(vendor, group).await?,
        };
        let mut changes = Vec::with_capacity(keys.len());
        for key in keys {
            let before = match &self.target {
                Target::Key(_) => stored_license(tx, &key).await?,
                Target::Group { .. } => {
                    let Some(before) = tx.license_for_update(&key).await? else {
                        return Err(StoreError::Corrupt(format!(
                            "the vendor group index names a missing licence {key}"
                        ))
                        .into());
                    };
                    // The index drops replaced keys; this guards against an index that
                    // missed one.
                    if !decisions::renewed_with_subscription(&before) {
                        continue;
                    }
                    before
                }
            };
            (self.check)(&before).or_else(refused)?;
            let after = (self.edit)(&before).or_else(refused)?;
            changes.push((before, after));
        }
        if changes.is_empty() {
            return refused(match &self.target {
                Target::Group { group, .. } => group_not_found(group),
                Target::Key(_) => Refusal::key_not_found(),
            });
        }
        let actor = Actor {
            vendor: self.vendor.clone(),
            client: self.client.clone(),
        };
        for (before, after) in &changes {
            tx.put_license(after).await?;
            if self.log_history {
                let entry = decisions::change_entry(self.event, self.now, &actor, before);
                tx.append_history(&before.key, &entry).await?;
            }
        }
        Ok(Edited {
            licenses: changes.into_iter().map(|(_, after)| after).collect(),
        })
    }
}

impl Remembered for Edit {
    const KIND: &'static str = "Edited";
}

/// Replaces a licence by a new key (UpgradeLicense).
pub struct Upgrade {
    /// Canonical activation key of the licence replaced.
    pub key: String,
    /// Checks on the licence (vendor scope), run inside the transaction.
    pub check: LicenseCheck,
    /// The rule.
    pub upgrade: UpgradeRule,
    /// `options.dbMaxRecords`: the new licence counts as one more stored.
    pub max_stored: i64,
    /// `options.historyTableLogUpgrade`.
    pub log_history: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
    /// The request's time.
    pub now: i64,
}

/// A licence replaced by a new key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upgraded {
    /// The old licence, now marked as replaced.
    pub old: Box<License>,
    /// The new licence.
    pub new: Box<License>,
}

impl Command for Upgrade {
    type Done = Upgraded;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Upgraded> {
        let old = stored_license(tx, &self.key).await?;
        (self.check)(&old).or_else(refused)?;
        let new_key = fresh_key(tx, old.model).await?;
        let (replaced, new) = (self.upgrade)(&old, new_key.as_str()).or_else(refused)?;
        let stored = if self.max_stored >= 0 {
            tx.licenses_stored().await?
        } else {
            0
        };
        rules::check_creation_limits(1, 0, -1, stored, self.max_stored).map_err(TxError::Abort)?;
        tx.put_license(&replaced).await?;
        tx.put_license(&new).await?;
        tx.count_stored_license().await?;
        if let Some(id) = &old.subscription_id {
            tx.leave_subscription(id, &self.key).await?;
        }
        if let Some(id) = &new.subscription_id {
            tx.join_subscription(id, &new.key).await?;
        }
        tx.leave_vendor_groups(&old).await?;
        tx.join_vendor_groups(&new).await?;
        // The new key is the same customer's (the old one stays listed: it was theirs).
        if let Some(customer) = &new.customer {
            tx.join_customer(customer, &new.key).await?;
        }
        if self.log_history {
            let actor = Actor {
                vendor: self.vendor.clone(),
                client: self.client.clone(),
            };
            // On both keys, so either one leads to the other's story.
            let on_old = decisions::change_entry("upgraded", self.now, &actor, &old);
            tx.append_history(&self.key, &on_old).await?;
            let on_new = decisions::change_entry("upgraded_from", self.now, &actor, &old);
            tx.append_history(&new.key, &on_new).await?;
        }
        Ok(Upgraded {
            old: Box::new(replaced),
            new: Box::new(new),
        })
    }
}

impl Remembered for Upgrade {
    const KIND: &'static str = "Upgraded";
}

/// Code 203 for an order or subscription id under which the calling vendor has no licence
/// that can still be changed.
fn group_not_found(group: &Group) -> Refusal {
    let message = match group {
        Group::Order(_) => "No licence of this vendor has this order id; check the order id.",
        Group::Subscription(_) => {
            "No licence of this vendor has this subscription id; check is_subscriptionid."
        }
    };
    Refusal::new(Reason::NotFound, message)
}
