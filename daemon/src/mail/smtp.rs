//! One delivery over SMTP with lettre: the transport built from `[mail]`, the message built
//! from an outbox row, and what the server's answer means for the outbox.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, SmtpSecurity};
use crate::store::outbox::QueuedMail;

/// The longest one SMTP conversation may take: a server that hangs delays the outbox, not
/// for ever.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server accepted the message.
    Sent,
    /// It may work later (no connection, a 4xx reply, a timeout): try again after a wait.
    Transient(String),
    /// It will not work as it is (a 5xx reply, an address that is not one): park it until
    /// an operator retries or drops it.
    Permanent(String),
}

/// A configured SMTP client.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// The client for `config` (validated: the server is set, `from` is an address).
    pub fn new(config: &MailConfig) -> Result<Smtp, String> {
        let host = config.smtp_server.as_str();
        let builder = match config.smtp_security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| format!("cannot set up TLS for {host}: {e}"))?;
        let mut builder = builder.port(config.port()).timeout(Some(SMTP_TIMEOUT));
        if !config.smtp_user.is_empty() {
            let password = config.smtp_password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(config.smtp_user.clone(), password));
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("`from` is not a mail address: {e}"))?;
        Ok(Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Hands `queued` to the server once.
    pub async fn deliver(&self, queued: &QueuedMail) -> Delivery {
        let message = match self.message(queued) {
            Ok(message) => message,
            Err(reason) => return Delivery::Permanent(reason),
        };
        match self.transport.send(message).await {
            Ok(_) => Delivery::Sent,
            Err(e) if e.is_permanent() => Delivery::Permanent(e.to_string()),
            Err(e) => Delivery::Transient(e.to_string()),
        }
    }

    /// The message of an outbox row. Its Message-ID names the row, so that the rare second
    /// delivery of the at-least-once outbox (a crash between the server's acceptance and the
    /// row's removal) is recognisable as a duplicate by the receiving side.
    fn message(&self, queued: &QueuedMail) -> Result<Message, String> {
        let to = queued.mail.to.parse::<Mailbox>().map_err(|_| {
            // The address is personal data: the error names the row, not the address.
            format!("the recipient of mail {} is not a mail address", queued.id)
        })?;
        let domain = self.from.email.domain().to_string();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(queued.mail.subject.clone())
            .message_id(Some(format!(
                "<licd.{}.{}@{domain}>",
                queued.queued_at, queued.id
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(queued.mail.body.clone())
            .map_err(|e| format!("mail {} cannot be built: {e}", queued.id))
    }
}
