//! Site settings and the membership campaign, taking effect at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::billing::{is_secret_key, is_webhook_secret};
use masthead_domain::{Action, permits};
use masthead_store::{Campaign, FeedContent, SettingsUpdate, now_ms};
use serde::{Deserialize, Serialize};

use crate::billing::{self, Secret, Source};

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Only administrators and the owner change site settings.",
        None,
    )
}

async fn render(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let site = state.site();
    let tz = site.settings.timezone.clone();
    let campaign = site.campaign.as_ref().map(|c| {
        let deadline = jiff::Timestamp::from_millisecond(c.deadline_ms)
            .ok()
            .and_then(|t| jiff::tz::TimeZone::get(&tz).ok().map(|z| t.to_zoned_datetime(z).strftime("%Y-%m-%d").to_string()))
            .unwrap_or_default();
        serde_json::json!({ "pitch": c.pitch, "goal": c.goal, "metric": c.metric, "deadline": deadline })
    });
    let logos: Vec<serde_json::Value> = state
        .store
        .media_page(None, 60)
        .await
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::json!({ "id": m.id, "label": if m.alt.is_empty() { m.filename.clone() } else { format!("{} ({})", m.alt, m.filename) } }))
        .collect();
    let stripe = stripe_view(state).await;
    let suggested = crate::billing::donations::suggested_for_desk(state).await;
    page(
        status,
        "settings.html",
        serde_json::json!({
            "stripe": stripe,
            "donation_amounts": suggested,
            "currency_upper": site.currency.to_uppercase(),
            "title": "Settings",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "s": site.settings,
            "c": campaign.unwrap_or_else(|| serde_json::json!({ "pitch": "", "goal": 25000, "metric": "members", "deadline": "" })),
            "logos": logos,
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn form(State(state): State<AppState>, staff: Staff) -> Response {
    if !permits(staff.0.user.role, Action::ManageSettings) {
        return forbidden();
    }
    render(&state, &staff, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    accent: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    pitch: String,
    #[serde(default)]
    goal: String,
    #[serde(default)]
    metric: String,
    #[serde(default)]
    deadline: String,
    /// `keep`, empty (none) or a media library id.
    #[serde(default = "keep")]
    logo_media: String,
    /// What feeds carry: `full` or `excerpt`; absent keeps the setting.
    #[serde(default)]
    feed_content: Option<String>,
}

fn keep() -> String {
    "keep".to_owned()
}

pub async fn save(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<SettingsForm>,
) -> Response {
    let f = form;
    if !permits(staff.0.user.role, Action::ManageSettings) {
        return forbidden();
    }
    macro_rules! bad {
        ($m:expr) => {
            return render(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some($m),
                None,
            )
            .await
        };
    }
    let title = f.title.trim().to_owned();
    if title.is_empty() || title.len() > 120 {
        bad!("The site needs a title of at most 120 characters.");
    }
    let accent = f.accent.trim().to_ascii_lowercase();
    let hex_ok = accent.len() == 7
        && accent.starts_with('#')
        && accent[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_ok {
        bad!("The accent colour must look like #b3261e.");
    }
    let Ok(tz) = jiff::tz::TimeZone::get(f.timezone.trim()) else {
        bad!("Unknown time zone: use an IANA name such as Europe/London or America/New_York.");
    };
    let Ok(goal) = f.goal.trim().parse::<u64>() else {
        bad!("The goal must be a whole number.");
    };
    if goal == 0 || goal > 100_000_000 {
        bad!("The goal must be between 1 and 100,000,000.");
    }
    if !masthead_domain::campaign::METRICS.contains(&f.metric.as_str()) {
        bad!("Choose what the campaign counts.");
    }
    let pitch = f.pitch.trim().to_owned();
    if pitch.is_empty() || pitch.len() > 300 {
        bad!("The pitch must be 1 to 300 characters.");
    }
    let deadline = match f.deadline.trim().parse::<jiff::civil::Date>() {
        Ok(d) => match d.at(23, 59, 59, 0).to_zoned_datetime(tz) {
            Ok(z) => z.timestamp().as_millisecond(),
            Err(_) => bad!("That deadline cannot be represented in the time zone."),
        },
        Err(_) => bad!("The deadline must be a date."),
    };
    // The logo: kept, removed, or a library image (stored as its address and size).
    let logo: Option<Option<(String, String)>> = match f.logo_media.trim() {
        "keep" => None,
        "" => Some(None),
        id => match id.parse::<i64>().ok().filter(|i| *i > 0) {
            Some(id) => match state.store.media_item(id).await {
                Ok(Some(m)) => {
                    // Logos print small: the narrowest width that is still sharp at 2x.
                    let w = m
                        .widths
                        .iter()
                        .copied()
                        .find(|w| *w >= 640)
                        .unwrap_or(m.widest());
                    let h = (u64::from(m.height) * u64::from(w) / u64::from(m.width.max(1))).max(1);
                    Some(Some((m.url(w, &m.fallback), format!("{w}x{h}"))))
                }
                Ok(None) => bad!("That image is no longer in the media library."),
                Err(e) => return unavailable(e),
            },
            None => bad!("Choose the logo from the media library."),
        },
    };
    let feed_content = match f.feed_content.as_deref().map(str::trim) {
        None => None,
        Some(value) => match FeedContent::parse(value) {
            Some(fc) => Some(fc),
            None => bad!("Choose what the feeds carry: the full story or the excerpt."),
        },
    };
    let timezone = f.timezone.trim().to_owned();
    let description = f.description.trim().to_owned();
    let metric = f.metric.clone();
    let changed_campaign = state.site().campaign.as_ref().is_none_or(|c| {
        c.pitch != pitch || c.goal != goal || c.metric != metric || c.deadline_ms != deadline
    });
    let mut values = vec![
        ("title", title),
        ("description", description),
        ("accent", accent),
        ("timezone", timezone),
    ];
    if let Some(fc) = feed_content {
        values.push(("feed_content", fc.as_str().to_owned()));
    }
    match logo {
        None => {}
        Some(None) => {
            values.push(("logo", String::new()));
            values.push(("logo_size", String::new()));
        }
        Some(Some((src, size))) => {
            values.push(("logo", src));
            values.push(("logo_size", size));
        }
    }
    // A campaign keeps its start while it counts the same thing: editing
    // the pitch, goal or deadline of a donations drive must not reset what
    // it has raised. A new metric starts a new count.
    let starts_ms = state
        .site()
        .campaign
        .as_ref()
        .filter(|c| c.metric == metric)
        .map_or_else(now_ms, |c| c.starts_ms);
    let campaign = changed_campaign.then_some(Campaign {
        id: 0,
        pitch,
        goal,
        metric,
        starts_ms,
        deadline_ms: deadline,
    });
    let result = state
        .store
        .update_settings(SettingsUpdate { values, campaign })
        .await;
    if let Err(e) = result {
        return unavailable(e);
    }
    // At once for everyone: the poller will also see it, harmlessly.
    if let Err(e) = state.reload_site().await {
        return unavailable(e);
    }
    state.cache.clear();
    render(
        &state,
        &staff,
        StatusCode::OK,
        None,
        Some("Saved. The public site shows the changes now."),
    )
    .await
}

crate::admin::has_csrf!(SettingsForm, StripeForm, MeterForm, DonationsForm);
#[derive(Deserialize)]
pub struct DonationsForm {
    #[serde(default)]
    csrf: String,
    /// "5 10 25" in the site's currency.
    #[serde(default)]
    amounts: String,
}

/// `POST /admin/settings/donations`: the support page's suggested amounts.
pub async fn save_donations(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<DonationsForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageSettings) {
        return forbidden();
    }
    let currency = state.site().currency.clone();
    let amounts = match masthead_domain::donation::parse_suggested(&form.amounts, &currency) {
        Ok(a) => a,
        Err(e) => {
            let error = format!("Suggested amounts: {e} Nothing was saved.");
            return render(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&error),
                None,
            )
            .await;
        }
    };
    let value = masthead_domain::donation::encode_suggested(&amounts);
    if let Err(e) = state
        .store
        .set_setting(crate::billing::donations::SUGGESTED_SETTING, &value)
        .await
    {
        return unavailable(e);
    }
    // Stories' support boxes print the amounts.
    state.cache.clear();
    render(
        &state,
        &staff,
        StatusCode::OK,
        None,
        Some("Suggested amounts saved."),
    )
    .await
}

#[derive(Deserialize)]
pub struct MeterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    meter_free_stories: String,
}

/// `POST /admin/settings/meter`: how many members-only stories anonymous
/// readers open per 30 days (`site/meter.rs`); 0 turns the meter off.
pub async fn save_meter(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<MeterForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageSettings) {
        return forbidden();
    }
    let max = masthead_domain::meter::MAX_FREE_STORIES;
    let Some(n) = form
        .meter_free_stories
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max)
    else {
        let error = format!(
            "The number of free stories must be a whole number from 0 (no meter) to {max}. Nothing was saved."
        );
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&error),
            None,
        )
        .await;
    };
    let update = SettingsUpdate {
        values: vec![("meter_free_stories", n.to_string())],
        campaign: None,
    };
    if let Err(e) = state.store.update_settings(update).await {
        return unavailable(e);
    }
    // Every story page changes audience rules: at once for everyone.
    if let Err(e) = state.reload_site().await {
        return unavailable(e);
    }
    state.cache.clear();
    let notice = match n {
        0 => "The meter is off: members-only stories ask readers to join at once.".to_owned(),
        1 => "Saved. Readers who are not signed in may read one members-only story every 30 days."
            .to_owned(),
        n => format!(
            "Saved. Readers who are not signed in may read {n} members-only stories every 30 days."
        ),
    };
    render(&state, &staff, StatusCode::OK, None, Some(&notice)).await
}

/// One Stripe secret as the desk shows it: masked, with where it comes from.
#[derive(Serialize)]
struct SecretView {
    /// `sk_test_…abcd`, or empty when none is set.
    masked: String,
    /// environment | desk | none
    source: &'static str,
    /// The environment's value is in use (the desk's is not).
    from_env: bool,
}

#[derive(Serialize)]
struct StripeView {
    key: SecretView,
    webhook: SecretView,
    /// Where Stripe sends events: to enter in Stripe's dashboard.
    webhook_url: String,
    api_version: &'static str,
}

fn secret_view(s: Option<&(Secret, Source)>) -> SecretView {
    match s {
        Some((secret, source)) => SecretView {
            masked: secret.masked(),
            source: match source {
                Source::Environment => "environment",
                Source::Desk => "desk",
            },
            from_env: *source == Source::Environment,
        },
        None => SecretView {
            masked: String::new(),
            source: "none",
            from_env: false,
        },
    }
}

async fn stripe_view(state: &AppState) -> StripeView {
    let keys = billing::keys(state).await.unwrap_or_default();
    StripeView {
        key: secret_view(keys.secret_key.as_ref()),
        webhook: secret_view(keys.webhook_secret.as_ref()),
        webhook_url: format!("{}/members/webhooks/stripe/", state.public_url()),
        api_version: billing::stripe::API_VERSION,
    }
}

#[derive(Deserialize)]
pub struct StripeForm {
    #[serde(default)]
    csrf: String,
    /// A new secret key; empty keeps the current one.
    #[serde(default)]
    secret_key: String,
    /// A new webhook signing secret; empty keeps the current one.
    #[serde(default)]
    webhook_secret: String,
    /// Remove the desk's secret key.
    #[serde(default)]
    clear_secret_key: Option<String>,
    /// Remove the desk's webhook signing secret.
    #[serde(default)]
    clear_webhook_secret: Option<String>,
}

/// `POST /admin/settings/stripe`: the desk's Stripe secrets. The values
/// typed are never shown back, logged or put in a message.
pub async fn save_stripe(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<StripeForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageSettings) {
        return forbidden();
    }
    let key = form.secret_key.trim();
    let webhook = form.webhook_secret.trim();
    if !key.is_empty() && !is_secret_key(key) {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("That is not a Stripe secret key: it starts sk_live_, sk_test_, rk_live_ or rk_test_ (Stripe dashboard, Developers, API keys). Nothing was saved."),
            None,
        )
        .await;
    }
    if !webhook.is_empty() && !is_webhook_secret(webhook) {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("That is not a webhook signing secret: it starts whsec_ (Stripe dashboard, Developers, Webhooks, your endpoint). Nothing was saved."),
            None,
        )
        .await;
    }
    let mut values: Vec<(&'static str, String)> = Vec::new();
    if !key.is_empty() {
        values.push((billing::SECRET_KEY_SETTING, key.to_owned()));
    } else if form.clear_secret_key.is_some() {
        values.push((billing::SECRET_KEY_SETTING, String::new()));
    }
    if !webhook.is_empty() {
        values.push((billing::WEBHOOK_SECRET_SETTING, webhook.to_owned()));
    } else if form.clear_webhook_secret.is_some() {
        values.push((billing::WEBHOOK_SECRET_SETTING, String::new()));
    }
    for (k, v) in values {
        if let Err(e) = state.store.set_setting(k, &v).await {
            return unavailable(e);
        }
    }
    tracing::info!(staff = staff.0.user.id, "Stripe settings changed");
    render(
        &state,
        &staff,
        StatusCode::OK,
        None,
        Some("Stripe settings saved."),
    )
    .await
}
