//! Application state: one value, cheap to clone, built once at start-up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::{HeaderMap, header};
use masthead_render::Theme;
use masthead_render::views::{CampaignView, Clock, SiteView};
use masthead_store::{Campaign, SiteSettings, Store, StoreResult, Tag};
use tokio::sync::{Notify, broadcast, watch};

/// Settings of the web layer, from the CLI/environment.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Cards per listing page.
    pub page_size: u32,
    /// Uploaded and generated media, served under `/content/`.
    pub content_dir: PathBuf,
    /// The media library's files (`<key>/original.<ext>` and the widths).
    pub media_dir: PathBuf,
    /// Keep rendered public pages (off only to measure rendering itself).
    pub page_cache: bool,
    /// Outgoing mail (password resets); `None` when no SMTP server is set.
    pub mailer: Option<crate::mail::Mailer>,
    /// The site's public address, for links in e-mail (`https://news.example`).
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for throttling).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Live-stream and page-cache limits (see `throttle.rs`).
    pub limits: crate::throttle::ServerLimits,
}

/// What changes rarely and every page prints: site settings, sections, campaign.
#[derive(Clone)]
pub struct SiteSnapshot {
    pub settings: SiteSettings,
    pub sections: Vec<Tag>,
    pub campaign: Option<Campaign>,
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
    pub member_count: AtomicU64,
    pub cache: crate::cache::PageCache,
    pub live: broadcast::Sender<LiveEvent>,
    /// Wakes the change poller at once after a write made by this process.
    pub wrote: Notify,
    /// Image uploads decoded at once: each may take a few hundred MB.
    pub media_slots: tokio::sync::Semaphore,
    /// Argon2 runs (sign-in, set-up, reset) at once, with a bounded queue.
    pub password_slots: crate::auth::PasswordSlots,
    /// Join writes at once, with a bounded queue.
    pub join_gate: crate::throttle::Gate,
    /// Open live streams, per address and in all.
    pub live_streams: crate::site::live::StreamCount,
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
        let site = load_snapshot(&store).await?;
        let metric = site
            .campaign
            .as_ref()
            .map_or_else(|| "members".to_owned(), |c| c.metric.clone());
        let count = store.member_count(metric).await?;
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
            member_count: AtomicU64::new(count),
            live,
            wrote: Notify::new(),
            media_slots: tokio::sync::Semaphore::new(1),
            shutdown,
        })))
    }

    pub fn site(&self) -> Arc<SiteSnapshot> {
        self.site.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn reload_site(&self) -> StoreResult<()> {
        let snapshot = load_snapshot(&self.store).await?;
        *self.site.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        self.refresh_member_count().await
    }

    pub async fn refresh_member_count(&self) -> StoreResult<()> {
        let metric = self
            .site()
            .campaign
            .as_ref()
            .map_or_else(|| "members".to_owned(), |c| c.metric.clone());
        let n = self.store.member_count(metric).await?;
        self.member_count.store(n, Ordering::Relaxed);
        Ok(())
    }

    pub fn clock(&self) -> Clock {
        Clock::new(&self.site().settings.timezone, masthead_store::now_ms())
    }

    /// The site's view for templates; absolute links use `--public-url` when
    /// it is set (pages not built per request print paths otherwise).
    pub fn site_view(&self) -> SiteView {
        let base = self.public_base_url().unwrap_or_default();
        self.site_view_at(base)
    }

    /// The site's view with absolute links made from `base_url` (see [`Self::base_url`]).
    pub fn site_view_at(&self, base_url: impl Into<String>) -> SiteView {
        let s = self.site();
        SiteView::new(&s.settings, &s.sections).with_base_url(base_url)
    }

    /// `--public-url` without a trailing slash, if set.
    pub fn public_base_url(&self) -> Option<String> {
        self.config
            .public_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
    }

    /// The site's public address for absolute links in pages and feeds
    /// (`https://news.example`, no trailing slash): `--public-url` when set,
    /// else the request's `Host` (with `https` when a proxy says
    /// `X-Forwarded-Proto: https`). The page cache keys by path, not host, so
    /// without `--public-url` a cached page carries the host that first asked
    /// for it: production sites should set it. A malformed `Host` is never
    /// printed.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(base) = self.public_base_url() {
            return base;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| plausible_host(h))
            .unwrap_or("localhost");
        let tls = headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        format!("{}://{host}", if tls { "https" } else { "http" })
    }

    pub fn campaign_view(&self, clock: &Clock) -> Option<CampaignView> {
        let s = self.site();
        s.campaign
            .as_ref()
            .map(|c| CampaignView::new(c, self.member_count.load(Ordering::Relaxed), clock))
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// A host name or address with an optional port, nothing that could break
/// out of a URL or an attribute.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

async fn load_snapshot(store: &Store) -> StoreResult<SiteSnapshot> {
    Ok(SiteSnapshot {
        settings: store.site_settings().await?,
        sections: store.sections().await?,
        campaign: store.active_campaign().await?,
    })
}

#[cfg(test)]
mod tests {
    use super::plausible_host;

    #[test]
    fn only_plausible_hosts_reach_links() {
        for ok in ["news.example", "127.0.0.1:2369", "[::1]:8080", "localhost"] {
            assert!(plausible_host(ok), "{ok}");
        }
        for bad in ["", "evil.example/\"><script>", "a b", "x@y", "host/path"] {
            assert!(!plausible_host(bad), "{bad}");
        }
    }
}
