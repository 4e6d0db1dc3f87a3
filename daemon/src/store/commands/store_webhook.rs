//! A store's webhook event (`QlmWebHookHandler`): the actions the vendor's plugin read from
//! it, applied in one transaction, with the mail of the keys created, and remembered under
//! the event's id by the caller (`apply_remembered`), so a store's retry changes nothing.
//!
//! Every action is one of the commands the query-string methods run (key creation, an edit,
//! a customer update), built by those methods from the action's arguments. A command decides
//! every refusal before its first write, and so does this one as long as nothing of the event
//! is written yet: the creation limits are checked for all the event's keys at once before
//! the first, and a refusal of the first action refuses the whole event (nothing changes,
//! nothing is remembered, and the store's retry runs it afresh). A later action refused
//! after an earlier one wrote is kept as that action's outcome: the transaction cannot drop
//! the earlier writes alone (the embedded backend shares it with other commands), and a
//! retry could not redo them, so the outcome says what happened and the log tells the
//! operator.

use serde::{Deserialize, Serialize};

use super::{Command, CreateKeys, CustomerUpdated, Edit, Edited, Remembered, UpdateCustomer};
use crate::license::refusal::Reason;
use crate::license::{License, dates, rules};
use crate::mail::template::MailTemplate;
use crate::store::outbox::OutgoingMail;
use crate::store::tx::{Tx, TxError, TxResult};

/// One action of an event, as the store runs it.
pub enum WebhookStep {
    /// GetActivationKey: keys for the buyer, mailed to them when `mail` is set.
    Create {
        /// The keys.
        command: CreateKeys,
        /// The mail of the new keys.
        mail: Option<KeyMail>,
    },
    /// RenewSubscriptionHttp or RevokeLicenseHttp.
    Edit(Edit),
    /// UpdateUserInformation.
    Customer(UpdateCustomer),
}

/// The mail that carries new keys to their buyer.
pub struct KeyMail {
    /// The buyer's address.
    pub to: String,
    /// The template's name, for the outbox (`licd mail list`).
    pub template_name: String,
    /// The template in force.
    pub template: MailTemplate,
    /// `{productName}`.
    pub product_name: String,
}

/// What one action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepDone {
    /// Keys created (or found again for an order fulfilled before).
    Created {
        /// The canonical keys.
        keys: Vec<String>,
        /// The order had been fulfilled before: nothing new was made, nothing mailed.
        reused: bool,
        /// The id of the mail queued with the keys.
        mail_id: Option<i64>,
    },
    /// Licences changed.
    Changed {
        /// What was done (`renewed`, `revoked`).
        event: String,
        /// The canonical keys.
        keys: Vec<String>,
    },
    /// A customer created or updated.
    Customer {
        /// The customer's e-mail.
        email: String,
        /// Whether it was new.
        created: bool,
    },
    /// Refused after an earlier action of the event had been applied.
    Refused {
        /// Why.
        message: String,
    },
}

/// The outcome of an event: one entry per action, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookApplied {
    /// What each action did.
    pub steps: Vec<StepDone>,
}

/// Applies the actions of one event.
pub struct ApplyWebhookEvent {
    /// The actions, in the order the plugin gave them.
    pub steps: Vec<WebhookStep>,
    /// The event's time (UTC Unix seconds): when mail is queued.
    pub now: i64,
}

impl Command for ApplyWebhookEvent {
    type Done = WebhookApplied;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<WebhookApplied> {
        self.check_creation_limits(tx).await?;
        let mut done = Vec::with_capacity(self.steps.len());
        let now = self.now;
        for step in &mut self.steps {
            match step.apply(tx, now).await {
                Ok(d) => done.push(d),
                // Nothing of the event is written yet: refuse it whole.
                Err(TxError::Abort(refusal)) if done.is_empty() => {
                    return Err(TxError::Abort(refusal));
                }
                Err(TxError::Abort(refusal)) => done.push(StepDone::Refused {
                    message: refusal.message,
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(WebhookApplied { steps: done })
    }
}

impl Remembered for ApplyWebhookEvent {
    const KIND: &'static str = "WebhookApplied";
}

impl ApplyWebhookEvent {
    /// The creation limits for every key of the event at once, before anything is written:
    /// an event whose second line item would pass `maxNewKeysPerDay` is refused whole.
    // `&mut self`: the rule closures of the steps are `Send` but not `Sync` (see `Command`).
    async fn check_creation_limits<T: Tx>(&mut self, tx: &mut T) -> TxResult<()> {
        let creates: Vec<&CreateKeys> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                WebhookStep::Create { command, .. } => Some(command),
                _ => None,
            })
            .collect();
        let Some(first) = creates.first() else {
            return Ok(());
        };
        let total: u64 = creates.iter().map(|c| u64::from(c.count)).sum();
        let day = dates::day_number(first.template.created);
        let made_today = if first.max_per_day >= 0 {
            tx.keys_created_on(day).await?
        } else {
            0
        };
        let stored = if first.max_stored >= 0 {
            tx.licenses_stored().await?
        } else {
            0
        };
        rules::check_creation_limits(
            total,
            made_today,
            first.max_per_day,
            stored,
            first.max_stored,
        )
        .map_err(TxError::Abort)
    }
}

impl WebhookStep {
    async fn apply<T: Tx>(&mut self, tx: &mut T, now: i64) -> TxResult<StepDone> {
        match self {
            WebhookStep::Create { command, mail } => {
                let created = command.apply(tx).await?;
                let keys: Vec<String> = created.licenses.iter().map(|l| l.key.clone()).collect();
                let mail_id = match mail {
                    Some(mail) if !created.reused => {
                        let customer =
                            match created.licenses.first().and_then(|l| l.customer.as_deref()) {
                                Some(id) => tx.customer(id).await?,
                                None => None,
                            };
                        let name = customer
                            .and_then(|c| c.details.full_name)
                            .unwrap_or_default();
                        let message = mail.render(&created.licenses, &name);
                        Some(tx.enqueue_mail(&message, now).await?)
                    }
                    _ => None,
                };
                Ok(StepDone::Created {
                    keys,
                    reused: created.reused,
                    mail_id,
                })
            }
            WebhookStep::Edit(edit) => {
                let event = edit.event.to_string();
                let Edited { licenses } = edit.apply(tx).await?;
                Ok(StepDone::Changed {
                    event,
                    keys: licenses.into_iter().map(|l| l.key).collect(),
                })
            }
            WebhookStep::Customer(update) => match update.apply(tx).await {
                Ok(CustomerUpdated {
                    customer, created, ..
                }) => Ok(StepDone::Customer {
                    email: customer.email,
                    created,
                }),
                // A returning buyer under `updateExistingUserInformation = false`: the
                // customer stays as stored, and the order goes on (refusing it would refuse
                // every later order of the same buyer, for good).
                Err(TxError::Abort(refusal)) if refusal.reason == Reason::CustomerExists => {
                    Ok(StepDone::Customer {
                        email: update.request.email.clone(),
                        created: false,
                    })
                }
                Err(e) => Err(e),
            },
        }
    }
}

impl KeyMail {
    /// The mail of `licenses`, rendered now so that a template changed later does not
    /// change a mail waiting in the outbox.
    fn render(&self, licenses: &[License], customer_name: &str) -> OutgoingMail {
        let keys: Vec<String> = licenses
            .iter()
            .map(|l| {
                crate::license::keys::ActivationKey::from_canonical_unchecked(l.key.clone())
                    .dashed()
            })
            .collect();
        let order_id = licenses
            .first()
            .and_then(|l| l.order_id.clone())
            .unwrap_or_default();
        let quantity = licenses.len().to_string();
        let keys = keys.join("\n");
        let (subject, body) = self.template.render(&[
            ("keys", &keys),
            ("quantity", &quantity),
            ("productName", &self.product_name),
            ("customerName", customer_name),
            ("email", &self.to),
            ("orderId", &order_id),
        ]);
        OutgoingMail {
            to: self.to.clone(),
            subject,
            body,
            template: self.template_name.clone(),
        }
    }
}
