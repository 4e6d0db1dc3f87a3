//! Activation by e-mailed authorization code: making a code for a customer's licence (and its
//! mail, in the same transaction), checking a presented code (counting a wrong one in the
//! same transaction), and spending a code once its activation is made.
//!
//! The rules are `crate::license::authorization_code`; these commands read what they need,
//! ask them, and write the decision after every refusal is known (the embedded backend
//! shares one transaction among many commands).

use super::{Command, LicenseCheck};
use crate::license::License;
use crate::license::authorization_code::{self as rules, AuthorizationCode, CodeState, Redemption};
use crate::mail::template::{AUTHORIZATION_CODE, MailTemplate};
use crate::store::StoreError;
use crate::store::outbox::OutgoingMail;
use crate::store::tx::{Tx, TxResult};

/// How many fresh codes are drawn at most when each collides with a pending one (with a
/// million codes and a few thousand pending, one draw in hundreds collides).
const DRAWS: usize = 32;

/// Makes an authorization code for the first licence of the customer with this e-mail
/// address (`crate::customers`) that the request may activate, and queues its mail in the
/// same transaction.
pub struct IssueAuthorizationCode {
    /// The customer's e-mail address, lower case.
    pub email: String,
    /// The computer the code is for (`is_pcid`).
    pub computer_id: String,
    /// The request's time.
    pub now: i64,
    /// When the code expires.
    pub expires: i64,
    /// Product, version and usability rule of activation (`validation::check_in_use`).
    pub check: LicenseCheck,
    /// The server secret codes are hashed with.
    pub secret: [u8; 32],
    /// The mail the code goes out in.
    pub mail: CodeMail,
}

/// What the mail of a code needs besides the store: its template and the names the store
/// does not hold.
pub struct CodeMail {
    /// The `AuthorizationCode` template in force (`[mail.template.AuthorizationCode]` or the
    /// built-in one).
    pub template: MailTemplate,
    /// `{expiryMinutes}` as the customer reads it (`10`, `0.5`).
    pub expiry_minutes: String,
    /// `{productName}` of a licence (the configured product's name).
    pub product_name: Box<dyn Fn(&License) -> String + Send>,
}

/// What a code request did. The reply is the same whatever it did: it never tells whether
/// the e-mail address owns a licence.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeIssued {
    /// A code was stored and its mail queued.
    Mailed {
        /// The licence the code activates.
        license: Box<License>,
        /// The code, for the mail only; never logged.
        code: String,
    },
    /// The e-mail address owns no licence the request may activate.
    NoLicense,
    /// The address was sent [`rules::MAX_CODES_PER_EMAIL_PER_HOUR`] codes this hour.
    HourlyLimit,
}

impl IssueAuthorizationCode {
    /// The candidate licences, each with whether it is activated on the requesting computer.
    async fn candidates<T: Tx>(
        &mut self,
        tx: &mut T,
        keys: &[String],
    ) -> TxResult<(Vec<License>, Vec<String>)> {
        let mut licenses = Vec::with_capacity(keys.len());
        let mut activated_here = Vec::new();
        for key in keys {
            let Some(license) = tx.license_for_update(key).await? else {
                continue;
            };
            if tx.activation(key, &self.computer_id).await?.is_some() {
                activated_here.push(key.clone());
            }
            licenses.push(license);
        }
        Ok((licenses, activated_here))
    }

    /// Decides and stores the code, given the customer's licence keys.
    pub async fn issue<T: Tx>(&mut self, tx: &mut T, keys: &[String]) -> TxResult<CodeIssued> {
        let codes = tx.authorization_codes_of(&self.email).await?;
        if !rules::may_mail_again(&codes, self.now) {
            return Ok(CodeIssued::HourlyLimit);
        }
        let (licenses, activated_here) = self.candidates(tx, keys).await?;
        let check = &self.check;
        let Some(license) = rules::pick_license(
            &licenses,
            |l| check(l).is_ok(),
            |l| activated_here.contains(&l.key),
        )
        .cloned() else {
            return Ok(CodeIssued::NoLicense);
        };
        let (code, hash) = self.fresh_code(tx).await?;
        for stale in codes.iter().filter(|c| rules::is_stale(c, self.now)) {
            tx.remove_authorization_code(stale).await?;
        }
        tx.put_authorization_code(&AuthorizationCode {
            hash,
            email: self.email.clone(),
            key: license.key.clone(),
            computer_id: self.computer_id.clone(),
            created: self.now,
            expires: self.expires,
            attempts: 0,
            state: CodeState::Pending,
        })
        .await?;
        let mail = self.render_mail(tx, &license, &code).await?;
        tx.enqueue_mail(&mail, self.now).await?;
        Ok(CodeIssued::Mailed {
            license: Box::new(license),
            code,
        })
    }

    /// The code's mail, to the customer's address as stored.
    // `&mut self`: the closures it holds are `Send` but not `Sync`.
    async fn render_mail<T: Tx>(
        &mut self,
        tx: &mut T,
        license: &License,
        code: &str,
    ) -> TxResult<OutgoingMail> {
        let customer = tx.customer_by_email(&self.email).await?;
        let to = customer
            .as_ref()
            .map_or_else(|| self.email.clone(), |c| c.email.clone());
        // A customer without a name on record is greeted by address.
        let name = customer
            .and_then(|c| c.details.full_name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| to.clone());
        let product = (self.mail.product_name)(license);
        let (subject, body) = self.mail.template.render(&[
            ("authorizationCode", code),
            ("expiryMinutes", &self.mail.expiry_minutes),
            ("productName", &product),
            ("customerName", &name),
            ("email", &to),
            ("computerId", &self.computer_id),
        ]);
        Ok(OutgoingMail {
            to,
            subject,
            body,
            template: AUTHORIZATION_CODE.to_string(),
        })
    }

    /// A code no pending code has, and its hash.
    async fn fresh_code<T: Tx>(&mut self, tx: &mut T) -> TxResult<(String, String)> {
        for _ in 0..DRAWS {
            let mut bytes = [0u8; 64];
            getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
            let draws = bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            let Some(code) = rules::code_from_random(draws) else {
                continue;
            };
            let hash = rules::code_hash(&self.secret, &code);
            let taken = tx
                .authorization_code(&hash)
                .await?
                .is_some_and(|c| c.is_pending(self.now));
            if !taken {
                return Ok((code, hash));
            }
        }
        Err(StoreError::Random("no free authorization code was drawn".into()).into())
    }
}

impl Command for IssueAuthorizationCode {
    type Done = CodeIssued;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<CodeIssued> {
        let keys = tx.license_keys_of_customer(&self.email).await?;
        self.issue(tx, &keys).await
    }
}

/// Checks a presented code for a computer; a wrong code is counted against the pending codes
/// of the e-mail address the request names, in the same transaction.
pub struct CheckAuthorizationCode {
    /// [`rules::code_hash`] of the presented code.
    pub hash: String,
    /// The requesting computer (`is_pcid`).
    pub computer_id: String,
    /// `is_email`, lower case, when given.
    pub email: Option<String>,
    /// The request's time.
    pub now: i64,
    /// `activation.activationByAuthorizationCodeMaxAttempts`.
    pub max_attempts: u32,
}

/// What a presented code allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeChecked {
    /// Activate this key on the computer.
    Activate {
        /// The canonical activation key.
        key: String,
    },
    /// Used, voided or expired: request a new code.
    Spent,
    /// A wrong code; `counted` pending codes of the named e-mail address took an attempt.
    Wrong {
        /// How many pending codes the attempt was counted against.
        counted: usize,
    },
}

impl Command for CheckAuthorizationCode {
    type Done = CodeChecked;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<CodeChecked> {
        let stored = tx.authorization_code(&self.hash).await?;
        let email = self.email.as_deref();
        match rules::redeem(
            stored.as_ref(),
            &self.hash,
            &self.computer_id,
            email,
            self.now,
        ) {
            Redemption::Activate { key } => Ok(CodeChecked::Activate { key }),
            Redemption::Spent => Ok(CodeChecked::Spent),
            Redemption::Wrong => {
                let Some(email) = email else {
                    return Ok(CodeChecked::Wrong { counted: 0 });
                };
                let codes = tx.authorization_codes_of(email).await?;
                let changed = rules::count_wrong_attempt(&codes, self.max_attempts, self.now);
                for code in &changed {
                    tx.put_authorization_code(code).await?;
                }
                Ok(CodeChecked::Wrong {
                    counted: changed.len(),
                })
            }
        }
    }
}

/// Marks a code used once the activation it allowed is made: a code activates once.
pub struct SpendAuthorizationCode {
    /// The code's hash.
    pub hash: String,
}

impl Command for SpendAuthorizationCode {
    /// Whether the code was pending until now.
    type Done = bool;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<bool> {
        let Some(mut code) = tx.authorization_code(&self.hash).await? else {
            return Ok(false);
        };
        if code.state != CodeState::Pending {
            return Ok(false);
        }
        code.state = CodeState::Used;
        tx.put_authorization_code(&code).await?;
        Ok(true)
    }
}
