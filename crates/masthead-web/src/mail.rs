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
    /// The relay, for connections of our own (see [`RelayConnection`]);
    /// `None` for `smtps://`, which goes through lettre's pool only.
    relay: Option<std::sync::Arc<Relay>>,
}

/// `%XX` escapes undone (a URL's user and password).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where and how [`RelayConnection`]s connect.
struct Relay {
    host: String,
    port: u16,
    /// `tls=required` (STARTTLS, or fail) or `tls=opportunistic`.
    starttls: Option<bool>,
    credentials: Option<lettre::transport::smtp::authentication::Credentials>,
}

impl Relay {
    /// The `smtp://` URLs lettre's `from_url` takes: host, port (25),
    /// `user:password@`, `?tls=required|opportunistic`.
    fn from_url(url: &str) -> Option<Relay> {
        let u = reqwest::Url::parse(url).ok()?;
        if u.scheme() != "smtp" {
            return None;
        }
        let starttls = match u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned())
        {
            None => None,
            Some(v) if v == "required" => Some(true),
            Some(v) if v == "opportunistic" => Some(false),
            Some(_) => return None,
        };
        let credentials = (!u.username().is_empty()).then(|| {
            let decode = |s: &str| percent_decode(s);
            lettre::transport::smtp::authentication::Credentials::new(
                decode(u.username()),
                decode(u.password().unwrap_or("")),
            )
        });
        Some(Relay {
            host: u.host_str()?.trim_matches(['[', ']']).to_owned(),
            port: u.port().unwrap_or(25),
            starttls,
            credentials,
        })
    }
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
        let relay = Relay::from_url(smtp_url).map(std::sync::Arc::new);
        Ok(Mailer {
            transport,
            from,
            relay,
        })
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

/// One SMTP connection of a newsletter lane, kept open between messages
/// and made again after any failure. Its socket has `TCP_NODELAY`: lettre
/// writes a message's final `.` apart from its body, and with Nagle's
/// algorithm that dot waits for the relay's delayed ACK (40 ms on Linux)
/// on every message. lettre's own pool cannot set the option.
pub struct RelayConnection {
    relay: std::sync::Arc<Relay>,
    conn: Option<lettre::transport::smtp::client::AsyncSmtpConnection>,
}

impl RelayConnection {
    async fn connect(
        relay: &Relay,
    ) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, String> {
        use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
        use lettre::transport::smtp::extension::ClientId;
        let failed = |e: &dyn std::fmt::Display| format!("could not connect to the relay: {e}");
        let stream = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::net::TcpStream::connect((relay.host.as_str(), relay.port)),
        )
        .await
        .map_err(|_| failed(&"connection timed out"))?
        .map_err(|e| failed(&e))?;
        stream.set_nodelay(true).map_err(|e| failed(&e))?;
        let hello = ClientId::default();
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .map_err(|e| failed(&e))?;
        if let Some(required) = relay.starttls {
            if conn.can_starttls() {
                let tls = TlsParameters::new(relay.host.clone()).map_err(|e| failed(&e))?;
                conn.starttls(tls, &hello).await.map_err(|e| failed(&e))?;
            } else if required {
                return Err(failed(
                    &"it does not offer STARTTLS, which the URL requires",
                ));
            }
        }
        if let Some(c) = &relay.credentials {
            use lettre::transport::smtp::authentication::Mechanism;
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(|e| failed(&e))?;
        }
        Ok(conn)
    }

    /// Forgets the connection (a send abandoned half-way).
    pub fn reset(&mut self) {
        self.conn = None;
    }

    /// Sends one message, connecting first if needed.
    pub async fn deliver(&mut self, message: Message) -> Delivery {
        let conn = match &mut self.conn {
            Some(c) if !c.has_broken() => c,
            _ => match RelayConnection::connect(&self.relay).await {
                Ok(c) => self.conn.insert(c),
                Err(reply) => {
                    return Delivery::Refused {
                        permanent: false,
                        reply,
                    };
                }
            },
        };
        match conn.send(message.envelope(), &message.formatted()).await {
            Ok(r) => {
                let words: Vec<&str> = r.message().collect();
                Delivery::Accepted(
                    format!("{} {}", r.code(), words.join(" "))
                        .trim()
                        .to_owned(),
                )
            }
            Err(e) => {
                // A refusal leaves the session usable; anything else, anew.
                if !(e.is_permanent() || e.is_transient()) {
                    self.conn = None;
                }
                Delivery::Refused {
                    permanent: e.is_permanent(),
                    reply: e.to_string(),
                }
            }
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

    /// A connection of its own for a sending lane, when the relay allows
    /// one (not `smtps://`, and not the outbox).
    pub fn lane_connection(&self) -> Option<RelayConnection> {
        match self {
            Postbox::Smtp(m) => m
                .relay
                .clone()
                .map(|relay| RelayConnection { relay, conn: None }),
            Postbox::Outbox { .. } => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_read_as_lettre_reads_them() {
        let r = Relay::from_url("smtp://news%40site:p%40ss@mail.example:2525?tls=required")
            .expect("a relay");
        assert_eq!(
            (r.host.as_str(), r.port, r.starttls),
            ("mail.example", 2525, Some(true))
        );
        assert_eq!(
            r.credentials,
            Some(lettre::transport::smtp::authentication::Credentials::new(
                "news@site".into(),
                "p@ss".into()
            ))
        );
        let plain = Relay::from_url("smtp://127.0.0.1").expect("a relay");
        assert_eq!(
            (plain.port, plain.starttls, plain.credentials.is_none()),
            (25, None, true)
        );
        assert_eq!(
            Relay::from_url("smtp://h?tls=opportunistic").map(|r| r.starttls),
            Some(Some(false))
        );
        // Implicit TLS and unknown options stay with lettre's own transport.
        assert!(Relay::from_url("smtps://u:p@h:465").is_none());
        assert!(Relay::from_url("smtp://h?tls=sometimes").is_none());
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
