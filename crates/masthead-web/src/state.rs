//! Application state: one value, cheap to clone, built once at start-up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

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
            cache: crate::cache::PageCache::new(config.page_cache),
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

    pub fn site_view(&self) -> SiteView {
        let s = self.site();
        SiteView::new(&s.settings, &s.sections)
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

async fn load_snapshot(store: &Store) -> StoreResult<SiteSnapshot> {
    Ok(SiteSnapshot {
        settings: store.site_settings().await?,
        sections: store.sections().await?,
        campaign: store.active_campaign().await?,
    })
}
