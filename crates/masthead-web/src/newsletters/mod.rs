//! Newsletters that are sent: a post e-mailed to a newsletter's members.
//!
//! A send is a job (migration 0015). Creating it snapshots its recipients
//! in one transaction; then any number of instances work the recipients as
//! a leased queue (the store's `lease.rs`): each lane of [`spawn_sender`]
//! claims a small batch under a lease, sends one message at a time over a
//! pooled SMTP connection (lettre's pool), and marks each recipient `sent`
//! with the relay's reply right after the relay accepts it.
//!
//! Exactly once, as far as SMTP allows. A recipient is `sending` (leased)
//! before its message goes out and `sent` only after the relay said yes.
//! A process killed at any point leaves its recipients `sending`; once the
//! lease ends, another claim takes them over and sends them. SMTP has no
//! way to ask a relay whether it took a message, so the moment of doubt is
//! moved to where the lane controls it: the lane writes the body, then
//! records the recipient as *handed over* (`handed_at`, migration 0017),
//! and only then writes the final dot that makes the relay take it
//! ([`crate::mail::Handover`]). A recipient taken over with `handed_at`
//! set is recorded as sent, not sent again. What is left is the gap between
//! that record's commit and the dot's write on the socket, where a kill
//! loses the message instead of repeating it. The record is made on the
//! thread that writes the dot (blocking, stepping aside from the runtime),
//! so the gap is a return and a system call: an awaited record left a task
//! wake-up there, milliseconds on a busy machine, and lost messages;
//! before, the gap was the relay's whole answer and our record of it
//! (milliseconds), and a kill there repeated the message. A relay that does
//! not answer a dot it was sent (a live server, not a killed one) is still
//! retried: a repeat is better than a loss when nothing was killed.
//! Connections made through lettre's pool (`smtps://`) and the outbox keep
//! the old order: the answer, then the record.
//! A lane stops taking messages from its batch at half the lease, and each
//! message has a quarter of it to be answered, so a live lane never has
//! its recipients taken over. A server that stops on purpose finishes the
//! message in hand and hands the rest of its batch back at once.
//!
//! A 5xx refusal fails the recipient and marks the member as bouncing
//! (`members.email_disabled`), which later sends skip. A 4xx reply, a
//! timeout or an unreachable relay is retried with growing delays, then
//! failed after [`MAX_TRIES`].
//!
//! Every message carries the RFC 8058 one-click headers; its unsubscribe
//! link holds a token signed with the site's `newsletter_secret`
//! ([`unsubscribe_token`]), checked by `site/unsubscribe.rs`.

pub mod email;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use masthead_store::{
    ClaimedRecipient, NewSend, Newsletter, RecipientOutcome, Segment, SendCreated, StoreError,
    now_ms,
};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::mail::Delivery;
use crate::state::AppState;
use email::{EmailSite, EmailStory, RenderedEmail};

/// The settings key of the secret that signs unsubscribe links.
const SECRET_KEY: &str = "newsletter_secret";
/// Recipients one lane claims at once.
const BATCH: u32 = 25;
/// How often an idle lane looks for work (a send created here wakes it).
const EVERY: Duration = Duration::from_secs(1);
/// Tries before a temporarily refused recipient is failed.
pub const MAX_TRIES: u32 = 5;

fn env_number(name: &str) -> Option<i64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// How long a claimed batch is held. `MASTHEAD_MAIL_LEASE_MS` changes it
/// (tests: a killed server's recipients are taken over sooner).
fn lease_ms() -> i64 {
    env_number("MASTHEAD_MAIL_LEASE_MS")
        .filter(|v| *v >= 400)
        .unwrap_or(120_000)
}

/// The first retry's delay (then ×4 each time). `MASTHEAD_MAIL_RETRY_MS`.
fn retry_base_ms() -> i64 {
    env_number("MASTHEAD_MAIL_RETRY_MS")
        .filter(|v| *v > 0)
        .unwrap_or(60_000)
}

/// Lanes: messages in flight at once per instance.
pub fn lanes(configured: u32) -> u32 {
    configured.clamp(1, crate::mail::POOL_SIZE)
}

// ------------------------------------------------------------ tokens --

fn mac(secret: &str, member_id: i64, newsletter_id: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("unsubscribe:{member_id}:{newsletter_id}").as_bytes());
    mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<member id>.<newsletter id>.<first 128 bits of the HMAC-SHA256 of both>`:
/// safe in a URL and in a mail subject, and unforgeable without the secret.
pub fn unsubscribe_token(secret: &str, member_id: i64, newsletter_id: i64) -> String {
    format!(
        "{member_id}.{newsletter_id}.{}",
        mac(secret, member_id, newsletter_id)
    )
}

/// The member and newsletter a token names, if its signature is right.
pub fn check_unsubscribe_token(secret: &str, token: &str) -> Option<(i64, i64)> {
    if token.len() > 100 {
        return None;
    }
    let mut parts = token.split('.');
    let member: i64 = parts.next()?.parse().ok()?;
    let newsletter: i64 = parts.next()?.parse().ok()?;
    let sig = parts.next()?;
    if parts.next().is_some() || member <= 0 || newsletter <= 0 {
        return None;
    }
    let want = mac(secret, member, newsletter);
    crate::auth::constant_time_eq(sig.as_bytes(), want.as_bytes()).then_some((member, newsletter))
}

/// The site's unsubscribe secret, made (once, for every instance) if unset.
pub async fn secret(state: &AppState) -> Result<String, StoreError> {
    if let Some(s) = state.store.site_settings_raw(SECRET_KEY).await?
        && s.len() >= 32
    {
        return Ok(s);
    }
    state
        .store
        .setting_or_insert(SECRET_KEY, crate::auth::new_token())
        .await
}

// ------------------------------------------------------------ e-mails --

/// A send's e-mail, rendered once, and its envelope.
pub struct Prepared {
    pub rendered: RenderedEmail,
    /// The story's free part, for recipients who may not read it in full
    /// (a story for paying members or some tiers); with its gate.
    pub free: Option<(email::Gate, RenderedEmail)>,
    pub newsletter: Newsletter,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    list_id: String,
}

/// Why a send's e-mail cannot be made.
#[derive(Debug)]
pub enum PrepareError {
    /// The post is not (or no longer) published, or the newsletter is gone.
    Gone(&'static str),
    Store(StoreError),
}

impl From<StoreError> for PrepareError {
    fn from(e: StoreError) -> Self {
        PrepareError::Store(e)
    }
}

/// The newsletter's envelope: its sender name on the site's address, and
/// its reply-to when that is an address.
fn envelope(state: &AppState, newsletter: &Newsletter) -> (Mailbox, Option<Mailbox>) {
    let site_from = state.config.postbox.from().clone();
    let name = newsletter
        .sender_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| state.site().settings.title.clone());
    let from = Mailbox::new(Some(name), site_from.email.clone());
    let reply_to = newsletter
        .sender_reply_to
        .contains('@')
        .then(|| newsletter.sender_reply_to.parse().ok())
        .flatten();
    (from, reply_to)
}

/// Renders `story` for `newsletter` as the site stands.
pub fn prepare_story(state: &AppState, story: &EmailStory, newsletter: &Newsletter) -> Prepared {
    let settings = state.site().settings.clone();
    let date = story.published_ms.map(|ms| state.clock().time(ms).display);
    let site = EmailSite {
        title: &settings.title,
        base: state.public_url(),
        accent: &settings.accent,
        date,
    };
    let rendered = email::render(story, newsletter, &site);
    let free = story
        .gate
        .clone()
        .zip(story.free_version())
        .map(|(gate, free)| (gate, email::render(&free, newsletter, &site)));
    let (from, reply_to) = envelope(state, newsletter);
    let host = reqwest::Url::parse(state.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    Prepared {
        rendered,
        free,
        list_id: format!(
            "{} <{}.{host}>",
            newsletter.name.replace(['<', '>', '"'], ""),
            newsletter.slug
        ),
        newsletter: newsletter.clone(),
        from,
        reply_to,
    }
}

/// The published post `post_id` as an e-mail story.
pub async fn published_story(state: &AppState, post_id: i64) -> Result<EmailStory, PrepareError> {
    let Some(editable) = state.store.editable_post(post_id).await? else {
        return Err(PrepareError::Gone("the post was deleted"));
    };
    match state.store.published_post_by_slug(editable.slug).await? {
        Some(post) if post.id == post_id => Ok(EmailStory::from_post(&post, state.public_url())),
        _ => Err(PrepareError::Gone("the post is not published")),
    }
}

pub async fn newsletter(state: &AppState, id: i64) -> Result<Option<Newsletter>, StoreError> {
    Ok(state
        .store
        .newsletters()
        .await?
        .into_iter()
        .find(|n| n.id == id))
}

/// A send's e-mail.
async fn prepare_send(state: &AppState, send_id: i64) -> Result<Prepared, PrepareError> {
    let Some(send) = state.store.send(send_id).await? else {
        return Err(PrepareError::Gone("the send was deleted"));
    };
    let Some(newsletter) = newsletter(state, send.newsletter_id).await? else {
        return Err(PrepareError::Gone("the newsletter was deleted"));
    };
    let story = published_story(state, send.post_id).await?;
    let mut prepared = prepare_story(state, &story, &newsletter);
    if let Some((_, free)) = &mut prepared.free {
        free.subject = send.subject.clone();
    }
    prepared.rendered.subject = send.subject;
    Ok(prepared)
}

impl Prepared {
    /// The e-mail `reader` gets (`None`: staff, for a test send): the whole
    /// story if they may read it, else its free part.
    pub fn for_reader(&self, reader: Option<masthead_domain::access::Reader>) -> &RenderedEmail {
        match (&self.free, reader) {
            (Some((gate, free)), Some(r)) if !gate.opens_to(r) => free,
            _ => &self.rendered,
        }
    }
}

/// The message for one recipient (`reader`: as the access rules see them;
/// `None` for staff), with its unsubscribe link and headers.
pub fn message_for(
    state: &AppState,
    prepared: &Prepared,
    reader: Option<masthead_domain::access::Reader>,
    to: &str,
    unsubscribe: Option<&str>,
) -> Result<Message, String> {
    let rendered = prepared.for_reader(reader);
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("not a usable address: {e}"))?;
    let base = state.public_url();
    let (url, token) = match unsubscribe {
        Some(token) => (format!("{base}/unsubscribe/?t={token}"), token.to_owned()),
        // A test send: the link leads to the account page.
        None => (format!("{base}/account/"), String::new()),
    };
    let (html, text) = rendered.personal(&url);
    let mut b = Message::builder()
        .from(prepared.from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Id"),
            prepared.list_id.clone(),
        ));
    if let Some(r) = &prepared.reply_to {
        b = b.reply_to(r.clone());
    }
    if unsubscribe.is_some() {
        let mailto = &prepared.from.email;
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>, <mailto:{mailto}?subject=unsubscribe-{token}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    b.multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("could not build the message: {e}"))
}

// ------------------------------------------------------------ sending --

/// Why a send could not be created.
#[derive(Debug)]
pub enum SendRefused {
    /// Sent to that newsletter before.
    AlreadySent,
    NotPublished,
    NoNewsletter,
    Store(StoreError),
}

/// Creates a send of a published post and wakes this instance's lanes.
pub async fn start_send(
    state: &AppState,
    post_id: i64,
    newsletter_id: i64,
    segment: Segment,
    staff_id: Option<i64>,
) -> Result<SendCreated, SendRefused> {
    let story = match published_story(state, post_id).await {
        Ok(s) => s,
        Err(PrepareError::Gone(_)) => return Err(SendRefused::NotPublished),
        Err(PrepareError::Store(e)) => return Err(SendRefused::Store(e)),
    };
    match newsletter(state, newsletter_id).await {
        Ok(Some(n)) if n.status == "active" => {}
        Ok(_) => return Err(SendRefused::NoNewsletter),
        Err(e) => return Err(SendRefused::Store(e)),
    }
    let created = state
        .store
        .create_send(NewSend {
            post_id,
            newsletter_id,
            segment,
            subject: story.title,
            created_by: staff_id,
            now_ms: now_ms(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => SendRefused::AlreadySent,
            e => SendRefused::Store(e),
        })?;
    state.mail_queued.notify_waiters();
    Ok(created)
}

/// Paces this instance's messages to `--mail-rate` per second (none: as
/// fast as the relay takes them).
struct Pace {
    every: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(per_second: u32) -> Pace {
        Pace {
            every: (per_second > 0).then(|| Duration::from_secs(1) / per_second),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let Some(every) = self.every else { return };
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let at = (*next).max(Instant::now());
            *next = at + every;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// What the lanes share: each send's e-mail, rendered once.
struct Shared {
    state: AppState,
    pace: Pace,
    emails: tokio::sync::Mutex<HashMap<i64, Arc<Result<Prepared, String>>>>,
    lease_ms: i64,
    retry_ms: i64,
}

impl Shared {
    async fn email(&self, send_id: i64) -> Arc<Result<Prepared, String>> {
        let mut emails = self.emails.lock().await;
        if let Some(e) = emails.get(&send_id) {
            return e.clone();
        }
        let made = match prepare_send(&self.state, send_id).await {
            Ok(p) => Ok(p),
            Err(PrepareError::Gone(why)) => Err(why.to_owned()),
            // Not kept: the database may answer next time.
            Err(PrepareError::Store(e)) => return Arc::new(Err(format!("store: {e}"))),
        };
        if emails.len() >= 64 {
            emails.clear();
        }
        let made = Arc::new(made);
        emails.insert(send_id, made.clone());
        made
    }
}

/// Starts this instance's sending lanes.
pub fn spawn_sender(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let lanes = lanes(state.config.mail_connections);
        let shared = Arc::new(Shared {
            pace: Pace::new(state.config.mail_rate),
            state,
            emails: tokio::sync::Mutex::new(HashMap::new()),
            lease_ms: lease_ms(),
            retry_ms: retry_base_ms(),
        });
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..lanes {
            running.spawn(lane(shared.clone()));
        }
        while running.join_next().await.is_some() {}
    })
}

async fn lane(shared: Arc<Shared>) {
    let state = &shared.state;
    let mut shutdown = state.shutdown_signal();
    let half_lease = Duration::from_millis(u64::try_from(shared.lease_ms / 2).unwrap_or(1));
    let send_timeout = Duration::from_millis(u64::try_from(shared.lease_ms / 4).unwrap_or(1))
        .min(Duration::from_secs(60));
    let secret = loop {
        match secret(state).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "newsletter sender: no secret yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(EVERY * 5) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    // This lane's own connection to the relay (lettre's pool otherwise).
    let mut relay = state.config.postbox.lane_connection();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed_at = Instant::now();
        let claim = match state
            .store
            .claim_recipients(now_ms(), BATCH, shared.lease_ms)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "newsletter queue unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        };
        if claim.recipients.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = state.mail_queued.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let mut handed_back = false;
        for r in &claim.recipients {
            if *shutdown.borrow() || claimed_at.elapsed() > half_lease {
                // The rest of the batch goes back to the queue at once.
                handed_back = true;
                break;
            }
            tokio::select! {
                _ = shared.pace.wait() => {}
                _ = shutdown.changed() => { handed_back = true; break; }
            }
            let outcome = deliver(
                &shared,
                r,
                &claim.token,
                &secret,
                send_timeout,
                relay.as_mut(),
            )
            .await;
            match state
                .store
                .record_recipient(r.id, claim.token.clone(), outcome, now_ms())
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    recipient = r.id,
                    "a newsletter recipient's lease was lost before its outcome was recorded"
                ),
                Err(e) => tracing::warn!(
                    recipient = r.id,
                    error = %e,
                    "could not record a newsletter message; it is sent again when its lease ends"
                ),
            }
        }
        if handed_back && let Err(e) = state.store.release_recipients(claim.token.clone()).await {
            tracing::warn!(error = %e, "could not hand back newsletter recipients; they wait out their lease");
        }
        if let Err(e) = state.store.finish_sends(now_ms()).await {
            tracing::warn!(error = %e, "could not mark finished sends");
        }
    }
}

/// One message to one recipient, and what became of it.
async fn deliver(
    shared: &Shared,
    r: &ClaimedRecipient,
    lease: &str,
    secret: &str,
    timeout: Duration,
    relay: Option<&mut crate::mail::RelayConnection>,
) -> RecipientOutcome {
    let state = &shared.state;
    let email = shared.email(r.send_id).await;
    let prepared = match &*email {
        Ok(p) => p,
        Err(why) if why.starts_with("store:") => {
            return retry_or_fail(shared, r, why.clone());
        }
        Err(why) => {
            return RecipientOutcome::Failed {
                reply: format!("not sent: {why}"),
                bounce: false,
            };
        }
    };
    let token = unsubscribe_token(secret, r.member_id, prepared.newsletter.id);
    let message = match message_for(state, prepared, Some(r.reader), &r.email, Some(&token)) {
        Ok(m) => m,
        Err(e) => {
            return RecipientOutcome::Failed {
                reply: e,
                bounce: false,
            };
        }
    };
    let answer = match relay {
        Some(conn) => {
            // Before the final dot: "handing over", under this lane's lease.
            let store = state.store.clone();
            let (id, lease) = (r.id, lease.to_owned());
            let handover: crate::mail::Handover =
                Box::new(
                    move || match store.mark_handed_blocking(id, &lease, now_ms()) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err("the recipient's lease was lost".to_owned()),
                        Err(e) => Err(format!("could not record the handover: {e}")),
                    },
                );
            let answer = tokio::time::timeout(timeout, conn.deliver(message, Some(handover))).await;
            if answer.is_err() {
                // Abandoned mid-session: the next message starts afresh.
                conn.reset();
            }
            answer
        }
        None => tokio::time::timeout(timeout, state.config.postbox.deliver(message)).await,
    };
    match answer {
        Ok(Delivery::Accepted(reply)) => RecipientOutcome::Sent { reply },
        Ok(Delivery::Refused {
            permanent: true,
            reply,
        }) => RecipientOutcome::Failed {
            reply,
            bounce: true,
        },
        Ok(Delivery::Refused {
            permanent: false,
            reply,
        }) => retry_or_fail(shared, r, reply),
        Err(_) => retry_or_fail(shared, r, "the relay did not answer in time".into()),
    }
}

fn retry_or_fail(shared: &Shared, r: &ClaimedRecipient, reply: String) -> RecipientOutcome {
    let tries = r.attempts + 1;
    if tries >= MAX_TRIES {
        return RecipientOutcome::Failed {
            reply,
            bounce: false,
        };
    }
    let delay = shared
        .retry_ms
        .saturating_mul(4_i64.saturating_pow(r.attempts));
    RecipientOutcome::Retry {
        reply,
        at_ms: now_ms().saturating_add(delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_member_and_newsletter_and_cannot_be_altered() {
        let t = unsubscribe_token("secret", 42, 7);
        assert_eq!(check_unsubscribe_token("secret", &t), Some((42, 7)));
        assert_eq!(check_unsubscribe_token("other", &t), None, "another site's");
        let sig = t.rsplit('.').next().expect("signature");
        for forged in [
            format!("43.7.{sig}"),
            format!("42.8.{sig}"),
            format!("42.7.{}", &sig[1..]),
            format!("42.7.{sig}.x"),
            "42.7".into(),
            String::new(),
            format!("-1.7.{sig}"),
        ] {
            assert_eq!(check_unsubscribe_token("secret", &forged), None, "{forged}");
        }
    }

    #[tokio::test]
    async fn the_pace_spaces_messages() {
        let pace = Pace::new(50);
        let start = Instant::now();
        for _ in 0..6 {
            pace.wait().await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
        let free = Pace::new(0);
        let start = Instant::now();
        for _ in 0..1000 {
            free.wait().await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
