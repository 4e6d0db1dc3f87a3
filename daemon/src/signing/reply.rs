//! Signing one licence reply, in two steps around the activation: [`PendingSignature::prepare`]
//! before anything changes (a place in the signing queue, 503 when full; the current key,
//! made when first needed), [`PendingSignature::apply`] on the finished reply.

use std::sync::Arc;

use super::keys::SigningKey;
use super::{Signer, Ticket};
use crate::config::SignatureAlgorithm;
use crate::errors::MethodError;
use crate::response::{Reply, xml_reply_document};
use crate::store::Store;

/// A reply that is to be signed once it is built.
pub struct PendingSignature {
    ticket: Ticket,
    key: Arc<SigningKey>,
    algorithm: SignatureAlgorithm,
}

impl PendingSignature {
    /// Takes a place in the signing queue and the current key. A refusal here (503 busy,
    /// 3000 storage) comes before the request changes anything.
    pub async fn prepare(
        signer: &Signer,
        store: &Store,
        algorithm: SignatureAlgorithm,
    ) -> Result<PendingSignature, MethodError> {
        let ticket = signer.admit()?;
        let key = signer.current_key(store).await?;
        Ok(PendingSignature {
            ticket,
            key,
            algorithm,
        })
    }

    /// The name of the key that will sign (`KeyInfo/KeyName`).
    pub fn key_name(&self) -> &str {
        self.key.name()
    }

    /// Signs the XML document of `reply` and keeps it in the reply, which is then always
    /// sent as that document.
    ///
    /// The change the reply reports is already committed here, so a failure must not say
    /// "nothing was changed"; it cannot come from the input (the document is licd's own), only
    /// from OpenSSL or a stopped blocking pool.
    pub async fn apply(self, reply: &mut Reply) -> Result<(), MethodError> {
        let document = xml_reply_document(reply);
        match self.ticket.sign(self.key, document, self.algorithm).await {
            Ok(signed) => {
                reply.signed_document = Some(signed);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "signing a licence reply failed");
                Err(MethodError::internal(
                    "The request was carried out, but its reply could not be signed; ask again for the signed licence.",
                ))
            }
        }
    }
}
