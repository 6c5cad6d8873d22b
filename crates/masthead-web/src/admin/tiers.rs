//! Tiers in the desk (issue 11, item 1): the list, adding, editing and
//! archiving (administrators and the owner: `Action::ManageSettings`,
//! since prices are the site's business), and members' complimentary
//! access, given and ended from a member's page (`Action::ManageMembers`).
//! Prices are typed as decimal amounts of the site's currency and stored
//! in minor units; the Admin API shares the checks (`tier_input`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use masthead_domain::money::{display_amount, format_amount, is_currency, parse_amount};
use masthead_domain::{Action, Slug, permits};
use masthead_store::{CompGiven, CompRefused, StoreError, Tier, TierInput, now_ms};
use serde::Serialize;

use super::form::DeskForm;
use super::{Link, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

/// Longest name, description and benefit, in characters.
const MAX_NAME: usize = 191;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_BENEFIT: usize = 191;
/// Longest free trial a tier may offer (Stripe allows up to two years).
const MAX_TRIAL_DAYS: u32 = 730;

fn forbidden(what: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        what,
        Some(Link {
            url: "/admin/",
            text: "Back to the desk",
        }),
    )
}

fn may_manage_tiers(staff: &Staff) -> bool {
    permits(staff.0.user.role, Action::ManageSettings)
}

/// A tier's fields as typed or sent, before they are checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TierFields {
    pub name: String,
    /// Empty: made from the name.
    pub slug: String,
    pub description: String,
    /// free | paid
    pub kind: String,
    pub active: bool,
    /// public | none
    pub visibility: String,
    pub monthly: Option<i64>,
    pub yearly: Option<i64>,
    pub trial_days: u32,
    pub welcome_page_url: String,
    pub benefits: Vec<String>,
}

/// Checks a tier's fields (the desk's form and the Admin API share it):
/// a name, a slug, prices above zero (a paid tier needs a monthly or a
/// yearly one), a welcome page on this site or on the web.
pub fn tier_input(f: &TierFields, currency: &str) -> Result<TierInput, String> {
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!(
            "A tier needs a name of at most {MAX_NAME} characters."
        ));
    }
    let slug = match f.slug.trim() {
        "" => masthead_domain::slug::slugify(name)
            .ok_or("The name needs a letter or a digit to make the tier's address from.")?,
        s => Slug::parse(s).map_err(|_| {
            "A slug is lowercase letters, digits and hyphens, such as gold-members.".to_owned()
        })?,
    };
    if f.description.chars().count() > MAX_DESCRIPTION {
        return Err(format!(
            "The description is at most {MAX_DESCRIPTION} characters."
        ));
    }
    if !matches!(f.visibility.as_str(), "public" | "none") {
        return Err("A tier is shown on the site (public) or not (none).".into());
    }
    if !matches!(f.kind.as_str(), "free" | "paid") {
        return Err("A tier is free or paid.".into());
    }
    let benefits: Vec<String> = f
        .benefits
        .iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    if benefits.len() > masthead_store::MAX_BENEFITS {
        return Err("A tier lists at most 20 benefits.".into());
    }
    if benefits.iter().any(|b| b.chars().count() > MAX_BENEFIT) {
        return Err(format!("A benefit is at most {MAX_BENEFIT} characters."));
    }
    if f.trial_days > MAX_TRIAL_DAYS {
        return Err(format!("A free trial is at most {MAX_TRIAL_DAYS} days."));
    }
    let welcome = f.welcome_page_url.trim();
    let welcome_ok = welcome.is_empty()
        || (welcome.starts_with('/') && !welcome.starts_with("//"))
        || welcome.starts_with("https://")
        || welcome.starts_with("http://");
    if !welcome_ok || welcome.len() > 2_000 || welcome.chars().any(char::is_whitespace) {
        return Err(
            "The welcome page is an address on this site (/welcome/) or a full https:// address."
                .into(),
        );
    }
    let paid = f.kind == "paid";
    if paid {
        if !is_currency(currency) {
            return Err(
                "The site's currency is not set right (three lowercase letters, such as usd)."
                    .into(),
            );
        }
        if f.monthly.is_some_and(|p| p <= 0) || f.yearly.is_some_and(|p| p <= 0) {
            return Err("Prices must be above zero.".into());
        }
        if f.monthly.is_none() && f.yearly.is_none() {
            return Err("A paid tier needs a monthly or a yearly price (or both).".into());
        }
    }
    Ok(TierInput {
        name: name.to_owned(),
        slug: slug.into_string(),
        description: f.description.trim().to_owned(),
        kind: f.kind.clone(),
        active: f.active,
        visibility: f.visibility.clone(),
        currency: paid.then(|| currency.to_owned()),
        monthly_price: if paid { f.monthly } else { None },
        yearly_price: if paid { f.yearly } else { None },
        trial_days: if paid { f.trial_days } else { 0 },
        welcome_page_url: Some(welcome.to_owned()).filter(|w| !w.is_empty()),
        benefits,
    })
}

/// What the form shows: typed text kept as typed when it is sent back with
/// an error.
#[derive(Debug, Clone, Default, Serialize)]
struct FormView {
    name: String,
    slug: String,
    description: String,
    kind: String,
    active: bool,
    visibility: String,
    monthly: String,
    yearly: String,
    trial_days: String,
    welcome_page_url: String,
    /// One per line.
    benefits: String,
}

impl FormView {
    fn of(t: &Tier) -> FormView {
        let currency = t.currency.as_deref().unwrap_or("usd");
        FormView {
            name: t.name.clone(),
            slug: t.slug.clone(),
            description: t.description.clone(),
            kind: t.kind.clone(),
            active: t.active,
            visibility: t.visibility.clone(),
            monthly: t
                .monthly_price
                .map(|p| format_amount(p, currency))
                .unwrap_or_default(),
            yearly: t
                .yearly_price
                .map(|p| format_amount(p, currency))
                .unwrap_or_default(),
            trial_days: t.trial_days.to_string(),
            welcome_page_url: t.welcome_page_url.clone().unwrap_or_default(),
            benefits: t.benefits.join("\n"),
        }
    }

    fn read(f: &DeskForm, kind: &str, active: bool) -> FormView {
        FormView {
            name: f.get("name").to_owned(),
            slug: f.get("slug").to_owned(),
            description: f.get("description").to_owned(),
            kind: kind.to_owned(),
            active,
            visibility: match f.get("visibility") {
                "" => "public".to_owned(),
                v => v.to_owned(),
            },
            monthly: f.get("monthly_price").to_owned(),
            yearly: f.get("yearly_price").to_owned(),
            trial_days: f.get("trial_days").to_owned(),
            welcome_page_url: f.get("welcome_page_url").to_owned(),
            benefits: f.get("benefits").to_owned(),
        }
    }

    /// The checked tier, or what is wrong, in words for the form.
    fn input(&self, currency: &str) -> Result<TierInput, String> {
        let price = |text: &str, which: &str| -> Result<Option<i64>, String> {
            match text.trim() {
                "" => Ok(None),
                t => parse_amount(t, currency)
                    .map(Some)
                    .map_err(|e| format!("The {which} price: {e}")),
            }
        };
        let paid = self.kind == "paid";
        let trial_days = match self.trial_days.trim() {
            "" => 0,
            t => t
                .parse::<u32>()
                .map_err(|_| "The free trial is a whole number of days.".to_owned())?,
        };
        tier_input(
            &TierFields {
                name: self.name.clone(),
                slug: self.slug.clone(),
                description: self.description.clone(),
                kind: self.kind.clone(),
                active: self.active,
                visibility: self.visibility.clone(),
                monthly: if paid {
                    price(&self.monthly, "monthly")?
                } else {
                    None
                },
                yearly: if paid {
                    price(&self.yearly, "yearly")?
                } else {
                    None
                },
                trial_days,
                welcome_page_url: self.welcome_page_url.clone(),
                benefits: self.benefits.lines().map(str::to_owned).collect(),
            },
            currency,
        )
    }
}

/// A tier as the list shows it.
#[derive(Serialize)]
struct Row<'a> {
    tier: &'a Tier,
    monthly: Option<String>,
    yearly: Option<String>,
}

async fn render_list(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: Option<&FormView>,
    error: Option<&str>,
) -> Response {
    let (all, currency) = match tokio::try_join!(state.store.tiers(), state.store.site_currency()) {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let rows: Vec<Row<'_>> = all
        .iter()
        .map(|t| {
            let c = t.currency.as_deref().unwrap_or(&currency);
            Row {
                tier: t,
                monthly: t.monthly_price.map(|p| display_amount(p, c)),
                yearly: t.yearly_price.map(|p| display_amount(p, c)),
            }
        })
        .collect();
    let blank = FormView {
        kind: "paid".into(),
        active: true,
        visibility: "public".into(),
        ..FormView::default()
    };
    page(
        status,
        "tiers.html",
        serde_json::json!({
            "title": "Tiers",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "tiers": rows,
            "currency": currency.to_uppercase(),
            "form": form.unwrap_or(&blank),
            "error": error,
        }),
    )
}

const TIERS_ONLY: &str = "Only administrators and the owner manage tiers.";

pub async fn list(State(state): State<AppState>, staff: Staff) -> Response {
    if !may_manage_tiers(&staff) {
        return forbidden(TIERS_ONLY);
    }
    render_list(&state, &staff, StatusCode::OK, None, None).await
}

/// Adds a paid tier (the free tier exists from the start; there is one).
pub async fn add(State(state): State<AppState>, staff: Staff, body: Bytes) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may_manage_tiers(&staff) {
        return forbidden(TIERS_ONLY);
    }
    let form = FormView::read(&f, "paid", true);
    let currency = match state.store.site_currency().await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let input = match form.input(&currency) {
        Ok(i) => i,
        Err(e) => {
            return render_list(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&form),
                Some(&e),
            )
            .await;
        }
    };
    match state.store.create_tier(input).await {
        Ok(id) => {
            state.wrote.notify_one();
            Redirect::to(&format!("/admin/tiers/{id}")).into_response()
        }
        Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => {
            render_list(&state, &staff, StatusCode::CONFLICT, Some(&form), Some(&m)).await
        }
        Err(e) => unavailable(e),
    }
}

async fn render_tier(
    state: &AppState,
    staff: &Staff,
    id: i64,
    status: StatusCode,
    form: Option<&FormView>,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let (tier, currency) = match tokio::try_join!(state.store.tier(id), state.store.site_currency())
    {
        Ok((Some(t), c)) => (t, c),
        Ok((None, _)) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such tier",
                "That tier does not exist.",
                Some(Link {
                    url: "/admin/tiers",
                    text: "All tiers",
                }),
            );
        }
        Err(e) => return unavailable(e),
    };
    let current = FormView::of(&tier);
    page(
        status,
        "tier.html",
        serde_json::json!({
            "title": tier.name,
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "t": tier,
            "currency": tier.currency.as_deref().unwrap_or(&currency).to_uppercase(),
            "form": form.unwrap_or(&current),
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn show(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Response {
    if !may_manage_tiers(&staff) {
        return forbidden(TIERS_ONLY);
    }
    render_tier(&state, &staff, id, StatusCode::OK, None, None, None).await
}

/// Saves a tier's form, or archives it (`archive`) or brings it back
/// (`restore`).
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may_manage_tiers(&staff) {
        return forbidden(TIERS_ONLY);
    }
    let current = match state.store.tier(id).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return render_tier(&state, &staff, id, StatusCode::NOT_FOUND, None, None, None).await;
        }
        Err(e) => return unavailable(e),
    };
    let currency = current
        .currency
        .clone()
        .unwrap_or(match state.store.site_currency().await {
            Ok(c) => c,
            Err(e) => return unavailable(e),
        });
    let result = if f.has("archive") {
        state
            .store
            .archive_tier(id)
            .await
            .map(|()| "Archived: no longer offered. Its members keep it.")
    } else {
        let mut form = if f.has("restore") {
            FormView::of(&current)
        } else {
            FormView::read(&f, &current.kind, current.active)
        };
        if f.has("restore") {
            form.active = true;
        }
        let input = match form.input(&currency) {
            Ok(i) => i,
            Err(e) => {
                return render_tier(
                    &state,
                    &staff,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&form),
                    Some(&e),
                    None,
                )
                .await;
            }
        };
        state.store.update_tier(id, input).await.map(|()| "Saved.")
    };
    match result {
        Ok(notice) => {
            state.wrote.notify_one();
            render_tier(&state, &staff, id, StatusCode::OK, None, None, Some(notice)).await
        }
        Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => {
            let form = FormView::read(&f, &current.kind, current.active);
            render_tier(
                &state,
                &staff,
                id,
                StatusCode::CONFLICT,
                Some(&form),
                Some(&m),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

/// Sets the site's currency (lowercase ISO 4217). Only while there is no
/// paid tier: prices already set (and Stripe's prices made from them) are
/// in the old currency.
pub async fn set_currency(State(state): State<AppState>, staff: Staff, body: Bytes) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may_manage_tiers(&staff) {
        return forbidden(TIERS_ONLY);
    }
    let currency = f.get("currency").trim().to_ascii_lowercase();
    if !is_currency(&currency) {
        return render_list(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("A currency is a three-letter ISO 4217 code, such as USD, EUR or GBP."),
        )
        .await;
    }
    let tiers = match state.store.tiers().await {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    if tiers
        .iter()
        .any(|t| !t.is_free() && t.currency.as_deref() != Some(currency.as_str()))
    {
        return render_list(
            &state,
            &staff,
            StatusCode::CONFLICT,
            None,
            Some("The currency cannot change once paid tiers are priced in another one."),
        )
        .await;
    }
    if let Err(e) = state
        .store
        .set_setting(masthead_store::CURRENCY_SETTING, &currency)
        .await
    {
        return unavailable(e);
    }
    Redirect::to("/admin/tiers").into_response()
}

// --------------------------------------------------------------- comps --

const MEMBERS_ONLY: &str = "Only administrators and the owner see members' details.";

fn back_to_member(id: i64, outcome: &str) -> Response {
    Redirect::to(&format!("/admin/members/{id}?comp={outcome}")).into_response()
}

/// "Give complimentary access": a paid tier and the last day (in the site's
/// time zone; empty: no end).
pub async fn give_comp(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !permits(staff.0.user.role, Action::ManageMembers) {
        return forbidden(MEMBERS_ONLY);
    }
    let Ok(tier) = f.get("tier").parse::<i64>() else {
        return back_to_member(id, "tier");
    };
    let until = match f.get("until").trim() {
        "" => None,
        day => match state.clock().day_bounds_ms(day) {
            // Through the end of the day chosen.
            Some((_, end)) => Some(end),
            None => return back_to_member(id, "date"),
        },
    };
    if until.is_some_and(|u| u <= now_ms()) {
        return back_to_member(id, "past");
    }
    match state
        .store
        .give_comp(id, tier, until, Some(staff.0.user.id))
        .await
    {
        Ok(Ok(CompGiven::Comped)) => back_to_member(id, "given"),
        Ok(Ok(CompGiven::Recorded)) => back_to_member(id, "recorded"),
        Ok(Err(CompRefused::EndInPast)) => back_to_member(id, "past"),
        Ok(Err(_)) => back_to_member(id, "tier"),
        Err(StoreError::NotFound) => message(
            StatusCode::NOT_FOUND,
            "No such member",
            "That member does not exist, or has deleted their account.",
            None,
        ),
        Err(e) => unavailable(e),
    }
}

/// "End it": complimentary access ends now.
pub async fn end_comp(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    if let Err(r) = DeskForm::read(&staff, &body) {
        return *r;
    }
    if !permits(staff.0.user.role, Action::ManageMembers) {
        return forbidden(MEMBERS_ONLY);
    }
    match state.store.end_comp(id, Some(staff.0.user.id)).await {
        Ok(Ok(())) => back_to_member(id, "ended"),
        Ok(Err(_)) => back_to_member(id, "none"),
        Err(StoreError::NotFound) => message(
            StatusCode::NOT_FOUND,
            "No such member",
            "That member does not exist, or has deleted their account.",
            None,
        ),
        Err(e) => unavailable(e),
    }
}

/// What the member page says after a comp form, by its `comp` outcome.
pub fn comp_outcome(code: &str) -> Option<(bool, &'static str)> {
    Some(match code {
        "given" => (false, "Complimentary access given."),
        "recorded" => (
            false,
            "This member pays already: the complimentary access is recorded and takes over if their subscription ends first.",
        ),
        "ended" => (false, "Complimentary access ended."),
        "none" => (true, "This member has no complimentary access to end."),
        "tier" => (true, "Choose an active paid tier."),
        "date" => (true, "The end date looks like 2026-12-31."),
        "past" => (true, "The end date must be in the future."),
        _ => return None,
    })
}

/// One line of a member's access history, in words.
pub fn event_line(
    e: &masthead_store::MemberEvent,
    clock: &masthead_render::views::Clock,
) -> String {
    let tier = e.tier_name.as_deref().unwrap_or("a tier");
    let until = e
        .until_ms
        .map(|u| format!("until {}", clock.time(u).display))
        .unwrap_or_else(|| "with no end date".to_owned());
    let by = e
        .staff_name
        .as_deref()
        .map(|n| format!(", by {n}"))
        .unwrap_or_default();
    match e.kind.as_str() {
        "comp_given" => format!("Complimentary membership ({tier}) {until}{by}"),
        "comp_ended" => format!("Complimentary membership ({tier}) ended{by}"),
        "comp_expired" => format!("Complimentary membership ({tier}) came to its end"),
        // Written by the Stripe side: the note says it all.
        "subscription" | "status" | "billing" => e.note.clone(),
        other => {
            let note = if e.note.is_empty() {
                String::new()
            } else {
                format!(": {}", e.note)
            };
            format!("{}{note}{by}", other.replace('_', " "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TierFields {
        TierFields {
            name: "Gold".into(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            monthly: Some(500),
            ..TierFields::default()
        }
    }

    #[test]
    fn tier_fields_are_checked_with_reasons() {
        let t = tier_input(&fields(), "usd").expect("valid");
        assert_eq!(
            (t.slug.as_str(), t.currency.as_deref()),
            ("gold", Some("usd"))
        );
        let mut f = fields();
        f.monthly = None;
        assert!(
            tier_input(&f, "usd")
                .expect_err("refused")
                .contains("monthly or a yearly")
        );
        f.yearly = Some(0);
        assert!(
            tier_input(&f, "usd")
                .expect_err("refused")
                .contains("above zero")
        );
        let mut f = fields();
        f.slug = "Not A Slug".into();
        assert!(tier_input(&f, "usd").is_err());
        let mut f = fields();
        f.welcome_page_url = "javascript:alert(1)".into();
        assert!(tier_input(&f, "usd").is_err());
        f.welcome_page_url = "/thanks/".into();
        assert!(tier_input(&f, "usd").is_ok());
        let mut free = fields();
        free.kind = "free".into();
        let t = tier_input(&free, "usd").expect("free");
        assert_eq!((t.monthly_price, t.currency), (None, None));
    }

    #[test]
    fn typed_prices_become_minor_units() {
        let form = FormView {
            name: "Gold".into(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            monthly: "5.50".into(),
            yearly: "55".into(),
            ..FormView::default()
        };
        let t = form.input("usd").expect("valid");
        assert_eq!((t.monthly_price, t.yearly_price), (Some(550), Some(5_500)));
        let bad = FormView {
            monthly: "five".into(),
            ..form
        };
        assert!(
            bad.input("usd")
                .expect_err("refused")
                .starts_with("The monthly price")
        );
    }
}
