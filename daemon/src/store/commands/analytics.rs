//! Analytics installs: adding one under the `[analytics]` caps, and changing a stored one
//! (update, removal, last access).

use super::{Command, refused};
use crate::license::dates;
use crate::license::install::{
    INSTALL_ID_BYTES, Install, InstallCaps, InstallChange, InstallCounts, InstallFields,
    check_install_caps, install_id_from, install_not_found,
};
use crate::store::StoreError;
use crate::store::tx::{InstallScope, Tx, TxError, TxResult};

/// Records a new installation, unless a cap is reached (then nothing is stored).
pub struct AddInstall {
    /// What the client reported.
    pub fields: InstallFields,
    /// The client address the per-address cap counts under (an IPv6 client's /64).
    pub address: String,
    /// The request's time.
    pub now: i64,
    /// `[analytics]`.
    pub caps: InstallCaps,
}

impl Command for AddInstall {
    type Done = Install;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Install> {
        let day = dates::day_number(self.now);
        let key = self.fields.key_for_cap();
        let mut scopes = Vec::with_capacity(2);
        if let Some(key) = key.as_deref() {
            scopes.push(InstallScope::Key(key));
        }
        scopes.push(InstallScope::Address(&self.address));
        // Each count is read only when its cap is set: a read takes the cap's lock on a
        // backend of several writers (`Tx::licenses_stored`). Key, address, total: always
        // this order.
        let mut counts = InstallCounts::default();
        if self.caps.per_key_per_day >= 0
            && let Some(key) = key.as_deref()
        {
            counts.key_today = tx.installs_added_on(day, InstallScope::Key(key)).await?;
        }
        if self.caps.per_address_per_day >= 0 {
            counts.address_today = tx
                .installs_added_on(day, InstallScope::Address(&self.address))
                .await?;
        }
        if self.caps.stored >= 0 {
            counts.stored = tx.installs_stored().await?;
        }
        check_install_caps(counts, self.caps).map_err(TxError::Abort)?;
        let install = Install::new(fresh_install_id(tx).await?, self.fields.clone(), self.now);
        tx.put_install(&install).await?;
        tx.count_new_install(day, &scopes).await?;
        Ok(install)
    }
}

/// Changes a stored installation; an unknown id is code 203.
pub struct ChangeInstall {
    /// The install id (normalized, `license::install::normalize_install_id`).
    pub id: String,
    /// What to change.
    pub change: InstallChange,
    /// The request's time.
    pub now: i64,
}

impl Command for ChangeInstall {
    type Done = Install;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Install> {
        let Some(install) = tx.install_for_update(&self.id).await? else {
            return refused(install_not_found());
        };
        let changed = install.changed(self.change.clone(), self.now);
        tx.put_install(&changed).await?;
        Ok(changed)
    }
}

/// A random install id no stored install has.
async fn fresh_install_id<T: Tx>(tx: &mut T) -> TxResult<String> {
    loop {
        let mut bytes = [0u8; INSTALL_ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let id = install_id_from(bytes);
        // 128 random bits make a collision unheard of; checking costs one look-up.
        if tx.install_for_update(&id).await?.is_none() {
            return Ok(id);
        }
    }
}
