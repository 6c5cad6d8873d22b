//! Outgoing e-mail over SMTP (lettre). Configured by a URL:
//! `smtp://host:25` (plain, for a local relay), `smtp://user:pass@host:587?tls=required`
//! (STARTTLS), or `smtps://user:pass@host:465` (TLS).
//!
//! Members' mail (confirmations, sign-in links) goes through a [`Postbox`]:
//! the SMTP server when one is configured, otherwise an outbox directory
//! under the data dir where each message is written as an `.eml` file (the
//! demo's way to read its own mail). Nothing here logs a message's body:
//! it holds links and codes.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold credentials: never print it.
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Connections kept open to the relay and reused (lettre's pool): at least
/// one per newsletter sending lane (see `newsletters.rs`).
pub const POOL_SIZE: u32 = 16;

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("the SMTP URL is not usable: {e}"))?
            .pool_config(
                lettre::transport::smtp::PoolConfig::new()
                    .max_size(POOL_SIZE)
                    .idle_timeout(std::time::Duration::from_secs(30)),
            )
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("the sender address {from:?} is not valid: {e}"))?;
        Ok(Mailer { transport, from })
    }

    pub async fn send_text(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .map_err(|e| format!("could not build the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("the SMTP server refused or failed: {e}"))
    }
}

impl Mailer {
    /// The sender's address, for messages built elsewhere.
    pub fn from(&self) -> &lettre::message::Mailbox {
        &self.from
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("the SMTP server refused or failed: {e}"))
    }
}

/// How the relay answered one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted: the relay's reply (`250 2.0.0 Ok: queued as …`).
    Accepted(String),
    /// Refused, for good (`permanent`: a 5xx reply) or for now (a 4xx
    /// reply, or the relay could not be reached).
    Refused { permanent: bool, reply: String },
}

impl Mailer {
    /// Sends a message built elsewhere (a newsletter), with the relay's answer.
    pub async fn deliver(&self, message: Message) -> Delivery {
        match self.transport.send(message).await {
            Ok(r) => {
                let words: Vec<&str> = r.message().collect();
                Delivery::Accepted(
                    format!("{} {}", r.code(), words.join(" "))
                        .trim()
                        .to_owned(),
                )
            }
            Err(e) => Delivery::Refused {
                permanent: e.is_permanent(),
                reply: e.to_string(),
            },
        }
    }
}

/// A message with a plain-text and an HTML part.
#[derive(Debug, Clone)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Letter {
    fn build(&self, from: lettre::message::Mailbox) -> Result<Message, String> {
        let to = self.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(|e| format!("could not build the message: {e}"))
    }
}

/// Where members' mail goes: an SMTP server, or files in a directory.
#[derive(Debug, Clone)]
pub enum Postbox {
    Smtp(Mailer),
    /// Without `--smtp-url`: `<data dir>/outbox/<time>-<random>.eml`.
    Outbox {
        dir: PathBuf,
        from: lettre::message::Mailbox,
    },
}

impl Postbox {
    /// An outbox directory, created if needed.
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Postbox, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the outbox {}: {e}", dir.display()))?;
        let from = from
            .parse()
            .map_err(|e| format!("the sender address {from:?} is not valid: {e}"))?;
        Ok(Postbox::Outbox { dir, from })
    }

    /// The sender's mailbox.
    pub fn from(&self) -> &lettre::message::Mailbox {
        match self {
            Postbox::Smtp(m) => m.from(),
            Postbox::Outbox { from, .. } => from,
        }
    }

    /// Sends a built message: to the relay, or into the outbox (where it is
    /// "accepted" once written).
    pub async fn deliver(&self, message: Message) -> Delivery {
        match self {
            Postbox::Smtp(m) => m.deliver(message).await,
            Postbox::Outbox { dir, .. } => match write_outbox(dir, &message.formatted()).await {
                Ok(name) => Delivery::Accepted(format!("written to the outbox as {name}")),
                Err(e) => Delivery::Refused {
                    permanent: false,
                    reply: e,
                },
            },
        }
    }

    pub async fn send(&self, letter: &Letter) -> Result<(), String> {
        match self {
            Postbox::Smtp(m) => m.send(letter.build(m.from().clone())?).await,
            Postbox::Outbox { dir, from } => {
                let bytes = letter.build(from.clone())?.formatted();
                write_outbox(dir, &bytes).await.map(|_| ())
            }
        }
    }
}

/// Writes one message into the outbox directory; its file name.
async fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> Result<String, String> {
    let name = format!(
        "{}-{}",
        masthead_store::now_ms(),
        &crate::auth::new_token()[..12]
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = format!("{name}.eml");
    let path = dir.join(&file);
    // Written whole, then renamed: a reader never sees half a message.
    tokio::fs::write(&tmp, bytes)
        .await
        .and(tokio::fs::rename(&tmp, &path).await)
        .map_err(|e| format!("cannot write to the outbox {}: {e}", dir.display()))?;
    Ok(file)
}
