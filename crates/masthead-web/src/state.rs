//! Application state: one value, cheap to clone, built once at start-up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::Uri;
use masthead_render::Theme;
use masthead_render::views::{CampaignView, Clock, SiteView};
use masthead_store::{Campaign, ChangeCursor, SiteSettings, Store, StoreResult, Tag};
use tokio::sync::{Notify, broadcast, watch};

/// Settings of the web layer, from the CLI/environment.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Cards per listing page.
    pub page_size: u32,
    /// Uploaded and generated media, served under `/content/`.
    pub content_dir: PathBuf,
    /// The media library's files (`<key>/original.<ext>`, the widths and
    /// `info`): a local directory or an S3 bucket.
    pub media: crate::media_store::MediaStore,
    /// Keep rendered public pages (off only to measure rendering itself).
    pub page_cache: bool,
    /// Outgoing mail (password resets); `None` when no SMTP server is set.
    pub mailer: Option<crate::mail::Mailer>,
    /// Members' mail: the SMTP server, or the outbox directory without one.
    pub postbox: crate::mail::Postbox,
    /// The site's public address (`https://news.example`): the only source
    /// of absolute links in pages, feeds, e-mail, API and webhook bodies.
    pub public_url: PublicUrl,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for throttling).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Deliver webhooks to loopback and private addresses too (an intranet);
    /// off, only public addresses are ever connected to.
    pub allow_private_webhooks: bool,
    /// Live-stream and page-cache limits (see `throttle.rs`).
    pub limits: crate::throttle::ServerLimits,
    /// Newsletter messages per second from this instance; 0: no limit.
    pub mail_rate: u32,
    /// Newsletter messages in flight at once from this instance (SMTP
    /// connections kept open; see `newsletters/mod.rs`).
    pub mail_connections: u32,
    /// Stripe keys from the environment (they win over the desk's) and
    /// the API's address.
    pub stripe: crate::billing::StripeEnv,
}

/// What changes rarely and every page prints: site settings, sections, campaign.
#[derive(Clone)]
pub struct SiteSnapshot {
    pub settings: SiteSettings,
    pub sections: Vec<Tag>,
    pub campaign: Option<Campaign>,
    /// The site's currency (lowercase ISO 4217): tiers, donations and a
    /// campaign counting donations are in it.
    pub currency: String,
}

/// A live-page update pushed to readers.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    Entry {
        change_id: i64,
        post_id: i64,
        entry_id: i64,
        html: Arc<str>,
    },
    Removed {
        change_id: i64,
        post_id: i64,
        entry_id: i64,
    },
}

impl LiveEvent {
    pub fn post_id(&self) -> i64 {
        match self {
            LiveEvent::Entry { post_id, .. } | LiveEvent::Removed { post_id, .. } => *post_id,
        }
    }
}

pub struct Inner {
    pub store: Store,
    pub theme: Theme,
    pub config: WebConfig,
    pub site: RwLock<Arc<SiteSnapshot>>,
    /// Reloads of `site` one at a time, so a reload that read the database
    /// before a write can never replace one that read it after (on
    /// PostgreSQL the poller's reload and a handler's run side by side).
    site_reload: tokio::sync::Mutex<()>,
    pub member_count: AtomicU64,
    pub cache: crate::cache::PageCache,
    pub live: broadcast::Sender<LiveEvent>,
    /// Wakes the change poller at once after a write made by this process.
    pub wrote: Notify,
    /// Wakes this instance's newsletter lanes when a send is created here.
    pub mail_queued: Notify,
    /// Where the change poller starts: taken before the site snapshot was
    /// loaded, so a change committed in between is applied, not missed.
    change_start: std::sync::Mutex<Option<ChangeCursor>>,
    /// Image uploads decoded at once: each may take a few hundred MB.
    pub media_slots: tokio::sync::Semaphore,
    /// Argon2 runs (sign-in, set-up, reset) at once, with a bounded queue.
    pub password_slots: crate::auth::PasswordSlots,
    /// Join writes at once, with a bounded queue.
    pub join_gate: crate::throttle::Gate,
    /// Open live streams, per address and in all.
    pub live_streams: crate::site::live::StreamCount,
    /// The metered paywall's cookie key, derived from the site secret on
    /// first use (`site/meter.rs`).
    pub meter_key: tokio::sync::OnceCell<[u8; 32]>,
    shutdown: watch::Sender<bool>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub async fn new(store: Store, theme: Theme, config: WebConfig) -> StoreResult<AppState> {
        let change_start = store.change_cursor().await?;
        let site = load_snapshot(&store).await?;
        let count = campaign_count(&store, &site).await?;
        let (live, _) = broadcast::channel(256);
        let (shutdown, _) = watch::channel(false);
        Ok(AppState(Arc::new(Inner {
            cache: crate::cache::PageCache::new(config.page_cache, config.limits.page_cache_bytes),
            password_slots: crate::auth::PasswordSlots::for_this_machine(),
            join_gate: crate::throttle::Gate::new(
                crate::throttle::JOIN_SLOTS,
                crate::throttle::JOIN_QUEUE,
                crate::throttle::JOIN_MAX_WAIT,
            ),
            live_streams: crate::site::live::StreamCount::new(
                config.limits.live_streams_total,
                config.limits.live_streams_per_address,
            ),
            store,
            theme,
            config,
            site: RwLock::new(Arc::new(site)),
            site_reload: tokio::sync::Mutex::new(()),
            member_count: AtomicU64::new(count),
            live,
            wrote: Notify::new(),
            mail_queued: Notify::new(),
            change_start: std::sync::Mutex::new(Some(change_start)),
            media_slots: tokio::sync::Semaphore::new(1),
            meter_key: tokio::sync::OnceCell::new(),
            shutdown,
        })))
    }

    /// The change poller's starting point, once.
    pub(crate) fn take_change_start(&self) -> Option<ChangeCursor> {
        self.change_start
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub fn site(&self) -> Arc<SiteSnapshot> {
        self.site.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn reload_site(&self) -> StoreResult<()> {
        {
            let _one_at_a_time = self.site_reload.lock().await;
            let snapshot = load_snapshot(&self.store).await?;
            *self.site.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        }
        self.refresh_member_count().await
    }

    /// Refreshes the campaign's count (members, paying members or
    /// donations, as the campaign counts).
    pub async fn refresh_member_count(&self) -> StoreResult<()> {
        let n = campaign_count(&self.store, &self.site()).await?;
        self.member_count.store(n, Ordering::Relaxed);
        Ok(())
    }

    pub fn clock(&self) -> Clock {
        Clock::new(&self.site().settings.timezone, masthead_store::now_ms())
    }

    /// The site's view for templates, absolute links on the public address.
    pub fn site_view(&self) -> SiteView {
        let s = self.site();
        SiteView::new(&s.settings, &s.sections).with_base_url(self.public_url())
    }

    /// The site's public address without a trailing slash
    /// (`https://news.example`). Never taken from a request: a forged `Host`
    /// must not reach a cached page, a feed or a password-reset e-mail.
    pub fn public_url(&self) -> &str {
        self.config.public_url.as_str()
    }

    pub fn campaign_view(&self, clock: &Clock) -> Option<CampaignView> {
        let s = self.site();
        s.campaign.as_ref().map(|c| {
            CampaignView::new(
                c,
                self.member_count.load(Ordering::Relaxed),
                &s.currency,
                clock,
            )
        })
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

async fn load_snapshot(store: &Store) -> StoreResult<SiteSnapshot> {
    Ok(SiteSnapshot {
        settings: store.site_settings().await?,
        sections: store.sections().await?,
        campaign: store.active_campaign().await?,
        currency: store.site_currency().await?,
    })
}

/// What the active campaign counts now (members when there is none): a
/// number of members, or for `donations` the whole units of the site's
/// currency given since the campaign started.
async fn campaign_count(store: &Store, site: &SiteSnapshot) -> StoreResult<u64> {
    match site.campaign.as_ref() {
        Some(c) if c.metric == "donations" => {
            let minor = store
                .donations_total(site.currency.clone(), c.starts_ms)
                .await?;
            let unit = 10i64.pow(masthead_domain::money::decimals(&site.currency));
            Ok((minor / unit).max(0) as u64)
        }
        Some(c) => store.member_count(c.metric.clone()).await,
        None => store.member_count("members".to_owned()).await,
    }
}

/// The site's public address, resolved once at start-up: `http` or `https`,
/// a host and an optional port, nothing else. Masthead serves a whole host,
/// so a path prefix (`https://example.org/news`) is refused rather than
/// half-supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://news.example` or `http://127.0.0.1:2369`: lower case, no
    /// default port, no trailing slash; also the browser's `Origin` for it.
    origin: String,
    https: bool,
}

impl PublicUrl {
    /// Parses `--public-url`; the error says what to change.
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        let raw = raw.trim();
        if raw.contains('#') {
            return Err("must not have a #fragment".into());
        }
        let uri: Uri = raw
            .parse()
            .map_err(|_| "is not a URL; give one like https://news.example".to_owned())?;
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("must start with https:// or http://".into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "has no host name; give one like https://news.example".to_owned())?;
        if authority.as_str().contains('@') {
            return Err("must not carry a user name or password".into());
        }
        if uri.query().is_some() {
            return Err("must not have a ?query".into());
        }
        let path = uri.path();
        if !path.is_empty() && path != "/" {
            return Err(format!(
                "must be the address of a whole host: Masthead cannot be served under a \
                 path such as {path}; remove it (serve the site on its own host name)"
            ));
        }
        let host = authority.host().to_ascii_lowercase();
        let plausible = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
            });
        if !plausible {
            return Err("has no valid host name".into());
        }
        let port = match (authority.port_u16(), https) {
            (Some(443), true) | (Some(80), false) | (None, _) => String::new(),
            (Some(p), _) => format!(":{p}"),
        };
        let scheme = if https { "https" } else { "http" };
        Ok(PublicUrl {
            origin: format!("{scheme}://{host}{port}"),
            https,
        })
    }

    /// `http://` plus the address a loopback listener is bound to (the
    /// default when no public address is set, for a server on one's own
    /// machine).
    pub fn for_listener(addr: std::net::SocketAddr) -> PublicUrl {
        PublicUrl {
            // SocketAddr prints IPv6 in brackets, as a URL needs.
            origin: format!("http://{addr}"),
            https: false,
        }
    }

    /// The address without a trailing slash, ready to prefix a path.
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// The origin a browser sends in `Origin` for pages of this site.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn public_urls_are_whole_hosts_in_one_spelling() {
        for (raw, origin, https) in [
            ("https://news.example", "https://news.example", true),
            ("https://News.Example/", "https://news.example", true),
            (" https://news.example:443 ", "https://news.example", true),
            ("http://news.example:80/", "http://news.example", false),
            ("http://127.0.0.1:2369", "http://127.0.0.1:2369", false),
            (
                "HTTPS://news.example:8443",
                "https://news.example:8443",
                true,
            ),
            ("http://[::1]:8080/", "http://[::1]:8080", false),
        ] {
            let u = PublicUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!((u.as_str(), u.is_https()), (origin, https), "{raw}");
        }
        for bad in [
            "",
            "news.example",
            "ftp://news.example",
            "https://",
            "https://news.example/blog",
            "https://news.example/?a=1",
            "https://news.example/#top",
            "https://user:pw@news.example",
            "https://news example",
            "javascript:alert(1)",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_loopback_listener_gets_its_bound_address() {
        let v4 = PublicUrl::for_listener("127.0.0.1:40123".parse().expect("addr"));
        assert_eq!(v4.as_str(), "http://127.0.0.1:40123");
        let v6 = PublicUrl::for_listener("[::1]:8080".parse().expect("addr"));
        assert_eq!(v6.origin(), "http://[::1]:8080");
        assert!(!v6.is_https());
    }
}
