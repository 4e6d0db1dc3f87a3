//! The offline commands on a stopped database, for the command line: each opens the
//! database (never creating one; a running daemon's lock makes the open fail with a clear
//! message), does the work of `super`, closes the database cleanly, and writes any output
//! file itself.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::{
    LicenseFile, LicenseFileRequest, OfflineError, SigningKeyInfo, export_public_keys,
    license_file, rotate_signing_key, signing_keys,
};
use crate::config::Config;
use crate::output_file::Readers;
use crate::signing::Signer;
use crate::store::{Store, StoreOptions};

/// Runs `work` on the database of `config` with the daemon stopped, and closes the
/// database cleanly whatever `work` answered.
pub async fn on_stopped_database<T>(
    config: &Config,
    work: impl AsyncFnOnce(&Store, &Signer) -> Result<T, OfflineError>,
) -> Result<T, OfflineError> {
    let path = crate::admin::database_path(config);
    let store = Store::open_existing(&path, StoreOptions::default())?;
    // One core is plenty for one command's one signature.
    let signer = Signer::new(1);
    let result = work(&store, &signer).await;
    store.close()?;
    result
}

/// `licd license-file`: the signed licence file of an offline activation, written to `out`.
/// An unwritable `out` fails before anything changes.
pub fn license_file_on_stopped_database(
    config: Config,
    request: &LicenseFileRequest,
    out: &Path,
) -> Result<LicenseFile, OfflineError> {
    let file = OutputFile::create(out)?;
    let config = Arc::new(config);
    let made = block_on(on_stopped_database(&config, async |store, signer| {
        license_file(store, signer, config.clone(), request).await
    }))?;
    file.finish(made.document.as_bytes())?;
    Ok(made)
}

/// `licd signing-key export`: the current public key, or with `all` every key, written to
/// `out`; returns the keys written.
pub fn export_on_stopped_database(
    config: &Config,
    out: &Path,
    all: bool,
) -> Result<Vec<SigningKeyInfo>, OfflineError> {
    let file = OutputFile::create(out)?;
    let (pem, keys) = block_on(on_stopped_database(config, async |store, signer| {
        let pem = export_public_keys(store, signer, all, super::PublicKeyFormat::Pem).await?;
        let keys = signing_keys(store, signer).await?;
        Ok((pem, keys))
    }))?;
    file.finish(pem.as_bytes())?;
    Ok(keys.into_iter().filter(|k| all || k.current).collect())
}

/// `licd signing-key rotate`: the new current key.
pub fn rotate_on_stopped_database(config: &Config) -> Result<SigningKeyInfo, OfflineError> {
    block_on(on_stopped_database(config, async |store, signer| {
        rotate_signing_key(store, signer).await
    }))
}

/// `licd signing-key list`: every key, oldest first.
pub fn list_on_stopped_database(config: &Config) -> Result<Vec<SigningKeyInfo>, OfflineError> {
    block_on(on_stopped_database(config, async |store, signer| {
        signing_keys(store, signer).await
    }))
}

/// Runs a command's future on a current-thread runtime (the command line has none).
fn block_on<T>(work: impl Future<Output = Result<T, OfflineError>>) -> Result<T, OfflineError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OfflineError::Usage(format!("cannot start the async runtime: {e}")))?
        .block_on(work)
}

/// An output file created before the work it will hold, so that an unwritable path fails
/// before anything changes; written under a fresh name with mode 0600 (a licence file
/// carries its activation key) and renamed into place by [`OutputFile::finish`], removed
/// otherwise (`crate::output_file`).
pub struct OutputFile(crate::output_file::OutputFile);

impl OutputFile {
    /// Creates the fresh file that will become `path`.
    pub fn create(path: &Path) -> Result<OutputFile, OfflineError> {
        crate::output_file::OutputFile::create(path, Readers::Owner)
            .map(OutputFile)
            .map_err(|e| OfflineError::Output {
                path: path.to_path_buf(),
                source: e.source,
            })
    }

    /// Writes `bytes`, syncs them to disk and gives the file its name.
    pub fn finish(mut self, bytes: &[u8]) -> Result<(), OfflineError> {
        let path = self.0.path().to_path_buf();
        self.0
            .write_all(bytes)
            .map_err(|source| OfflineError::Output {
                path: path.clone(),
                source,
            })?;
        self.0.persist().map_err(|e| OfflineError::Output {
            path,
            source: e.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_file_is_removed_unless_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licence.xml");
        drop(OutputFile::create(&path).unwrap());
        assert!(!path.exists());
        OutputFile::create(&path)
            .unwrap()
            .finish(b"<x></x>")
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"<x></x>");
        assert!(OutputFile::create(&dir.path().join("no/such/dir/f")).is_err());
    }
}
