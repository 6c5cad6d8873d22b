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
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use lettre::message::header::ContentType;
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// The relay, for connections of our own (see [`RelayConnection`]);
    /// `None` for `smtps://`, which goes through lettre's pool only.
    relay: Option<Arc<Relay>>,
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
        let relay = Relay::from_url(smtp_url).map(Arc::new);
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

/// What a lane does between writing a message's body and its final dot:
/// records that the message is being handed to the relay (see
/// [`RelayConnection::deliver`]). It runs inside the socket's write, on
/// the thread that writes the dot right after it, so it blocks (stepping
/// aside from the runtime). An error stops the message there.
pub type Handover = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// The handover of the message in hand, shared by a lane's connection and
/// its socket.
#[derive(Default)]
struct HandoverSlot {
    /// Set once the whole body is written: the next write is the final dot.
    armed: AtomicBool,
    waiting: Mutex<Option<Handover>>,
}

impl HandoverSlot {
    fn set(&self, handover: Option<Handover>) {
        *self.waiting.lock().unwrap_or_else(|p| p.into_inner()) = handover;
        self.armed.store(false, Ordering::Release);
    }
}

/// A lane's socket to the relay. Once armed, its next write first runs the
/// slot's handover, and fails if the handover does: the final dot of a
/// message never leaves before its handover is on record, and leaves at
/// once after it. It sits below STARTTLS, so it holds the dot's encrypted
/// record just the same.
struct GatedStream {
    inner: tokio::net::TcpStream,
    slot: Arc<HandoverSlot>,
}

impl std::fmt::Debug for GatedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedStream").finish_non_exhaustive()
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.slot.armed.swap(false, Ordering::AcqRel) {
            let handover = this
                .slot
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(handover) = handover
                && let Err(why) = handover()
            {
                return Poll::Ready(Err(std::io::Error::other(why)));
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for GatedStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// A message's body as lettre writes it, arming the slot once the body is
/// out (lettre writes the final dot right after the last part).
struct ArmAfterBody<'a> {
    body: Option<&'a [u8]>,
    slot: &'a HandoverSlot,
}

impl<'a> Iterator for ArmAfterBody<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let part = self.body.take();
        if part.is_none() {
            self.slot.armed.store(true, Ordering::Release);
        }
        part
    }
}

/// One SMTP connection of a newsletter lane, kept open between messages
/// and made again after any failure. Its socket has `TCP_NODELAY`: lettre
/// writes a message's final `.` apart from its body, and with Nagle's
/// algorithm that dot waits for the relay's delayed ACK (40 ms on Linux)
/// on every message. lettre's own pool cannot set the option.
pub struct RelayConnection {
    relay: Arc<Relay>,
    conn: Option<lettre::transport::smtp::client::AsyncSmtpConnection>,
    slot: Arc<HandoverSlot>,
}

impl RelayConnection {
    fn new(relay: Arc<Relay>) -> RelayConnection {
        RelayConnection {
            relay,
            conn: None,
            slot: Arc::default(),
        }
    }

    async fn connect(
        relay: &Relay,
        slot: &Arc<HandoverSlot>,
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
        slot.set(None);
        let stream = GatedStream {
            inner: stream,
            slot: slot.clone(),
        };
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
        self.slot.set(None);
    }

    /// Sends one message, connecting first if needed. With a `handover`,
    /// the message's final dot (the moment the relay takes it) is written
    /// only after the handover has finished, and not at all if it failed:
    /// a lane records "handing over" there, so a server killed at any
    /// point afterwards leaves a record that the relay most likely has the
    /// message (see `newsletters/mod.rs`).
    pub async fn deliver(&mut self, message: Message, handover: Option<Handover>) -> Delivery {
        let conn = match &mut self.conn {
            Some(c) if !c.has_broken() => c,
            _ => match RelayConnection::connect(&self.relay, &self.slot).await {
                Ok(c) => self.conn.insert(c),
                Err(reply) => {
                    return Delivery::Refused {
                        permanent: false,
                        reply,
                    };
                }
            },
        };
        self.slot.set(handover);
        let answer = send_message(conn, &message, &self.slot).await;
        self.slot.set(None);
        match answer {
            Ok(r) => {
                let words: Vec<&str> = r.message().collect();
                Delivery::Accepted(
                    format!("{} {}", r.code(), words.join(" "))
                        .trim()
                        .to_owned(),
                )
            }
            Err(Unsent::Smtp(e)) => {
                // The session is closed after any failure: a refusal half-way
                // through a transaction leaves it in a state not worth repair.
                conn.abort().await;
                self.conn = None;
                Delivery::Refused {
                    permanent: e.is_permanent(),
                    reply: e.to_string(),
                }
            }
            Err(Unsent::Unsupported(reply)) => Delivery::Refused {
                permanent: true,
                reply,
            },
        }
    }
}

/// Why a message was not sent.
enum Unsent {
    Smtp(lettre::transport::smtp::Error),
    /// The message needs an extension the relay does not offer.
    Unsupported(String),
}

/// One SMTP transaction (as lettre's `send`, with the body handed to
/// [`ArmAfterBody`] so that the final dot waits for the handover).
async fn send_message(
    conn: &mut lettre::transport::smtp::client::AsyncSmtpConnection,
    message: &Message,
    slot: &HandoverSlot,
) -> Result<lettre::transport::smtp::response::Response, Unsent> {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let envelope = message.envelope();
    let body = message.formatted();
    let mut options = Vec::new();
    let non_ascii_address = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii_address {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(Unsent::Unsupported(
                "the relay does not take non-ASCII addresses (no SMTPUTF8)".into(),
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(Unsent::Unsupported(
                "the relay does not take 8-bit messages (no 8BITMIME)".into(),
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), options))
        .await
        .map_err(Unsent::Smtp)?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![]))
            .await
            .map_err(Unsent::Smtp)?;
    }
    conn.command(Data).await.map_err(Unsent::Smtp)?;
    conn.message_iter(ArmAfterBody {
        body: Some(&body),
        slot,
    })
    .await
    .map_err(Unsent::Smtp)
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
            Postbox::Smtp(m) => m.relay.clone().map(RelayConnection::new),
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
