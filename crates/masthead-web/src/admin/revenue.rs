//! The desk's revenue figures (issue 11, item 8): `/admin/revenue` with
//! paying members, monthly recurring revenue, subscriptions started and
//! cancelled, and donations by day over the last 30, 90 or 365 days, and
//! the two compact charts the front page shows beside the member trend.
//! Administrators and the owner only (`Action::ManageMembers`, as the
//! member trend): these are the members' payments.
//!
//! Each chart is inline SVG drawn here (no script), `role="img"` with a
//! title a screen reader says, and a table of the same numbers beside it.
//! The figures come from the store's series (`masthead_store::figures`);
//! days are the site's time zone's, as the member chart's.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::money::display_amount;
use masthead_domain::{Action, permits};
use masthead_render::views::Clock;
use masthead_store::{DayRange, DonationsOnDay, RecurringOnDay, StoreError, monthly_of_annual};
use serde::{Deserialize, Serialize};

use super::front::grouped;
use super::{Link, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

/// The page's query: how many days the charts cover.
#[derive(Deserialize, Default)]
pub struct RevenueQuery {
    #[serde(default)]
    days: Option<String>,
}

/// 30, 90 or 365 (anything else is 30).
pub fn chosen_days(days: Option<&str>) -> u32 {
    match days {
        Some("90") => 90,
        Some("365") => 365,
        _ => 30,
    }
}

/// One chart: its SVG and the table that says the same.
#[derive(Debug, Serialize)]
pub struct Chart {
    /// For ids: `rev-<key>`.
    pub key: &'static str,
    pub heading: String,
    /// One line under the heading (a total, the latest figure).
    pub summary: String,
    pub svg: String,
    /// What the axes would say: the first and last day, the tallest bar.
    pub span: String,
    pub columns: Vec<&'static str>,
    /// (day label, cells), oldest first.
    pub rows: Vec<(String, Vec<String>)>,
}

/// The headline figures and the charts.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub days: u32,
    /// Uppercase, for labels.
    pub currency: String,
    pub paying_now: String,
    pub mrr_now: String,
    /// Recurring revenue now in other currencies ("EUR 9.00"), not summed.
    pub mrr_other: Vec<String>,
    pub donations_month: String,
    pub donations_month_count: u64,
    /// Donations this month in other currencies.
    pub donations_other: Vec<String>,
    pub paying: Chart,
    pub mrr: Chart,
    pub started: Chart,
    pub cancelled: Chart,
    pub donations: Chart,
}

/// Minimal escaping for text put inside SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Bars, one a day, scaled to the largest; `value` says a bar's figure in
/// its tooltip. Negative values are drawn as nothing (none occur).
fn bar_svg(key: &str, title: &str, series: &[(i64, i64)], value: impl Fn(i64) -> String) -> String {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const TOP: f64 = 16.0;
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = W / series.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let mut svg = format!(
        "<svg class=\"growth\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-labelledby=\"rev-{key}-title\" \
         preserveAspectRatio=\"none\" width=\"100%\" height=\"{H}\">\
         <title id=\"rev-{key}-title\">{}</title>",
        H + 1.0,
        escape(title)
    );
    for (i, (day, n)) in series.iter().enumerate() {
        let h = (H - TOP) * (*n).max(0) as f64 / max as f64;
        let x = i as f64 * slot + (slot - bar) / 2.0;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"><title>{}: {}</title></rect>",
            H - h,
            Clock::day_label(*day),
            escape(&value(*n))
        ));
    }
    svg.push_str(&format!(
        "<line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" class=\"axis\"/></svg>"
    ));
    svg
}

/// "2026-11-04 to 2026-12-03; the tallest bar is 96": the axes in words,
/// under the chart.
fn span(series: &[(i64, i64)], value: impl Fn(i64) -> String) -> String {
    let (Some(first), Some(last)) = (series.first(), series.last()) else {
        return String::new();
    };
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0);
    format!(
        "{} to {}; the tallest bar is {}.",
        Clock::day_label(first.0),
        Clock::day_label(last.0),
        value(max)
    )
}

/// Amounts in other currencies than the site's, summed per currency, as
/// "EUR 9.00", by currency.
fn others(lines: impl Iterator<Item = (String, i64)>, site: &str) -> Vec<String> {
    let mut sums: Vec<(String, i64)> = Vec::new();
    for (currency, amount) in lines.filter(|(c, _)| c != site) {
        match sums.iter_mut().find(|(c, _)| *c == currency) {
            Some((_, a)) => *a += amount,
            None => sums.push((currency, amount)),
        }
    }
    sums.sort();
    sums.into_iter()
        .map(|(c, a)| display_amount(a, &c))
        .collect()
}

/// The day of the month of `day` (1 for the first).
fn day_of_month(day: i64) -> i64 {
    Clock::day_label(day)
        .get(8..10)
        .and_then(|d| d.parse().ok())
        .unwrap_or(1)
}

/// Reads every series for the last `days` days (one query each, at once).
pub async fn figures(state: &AppState, days: u32) -> Result<Figures, StoreError> {
    let clock = state.clock();
    let range = DayRange::last_days(days, clock.utc_offset_ms(), clock.now_ms());
    let month = DayRange {
        first: range.last - day_of_month(range.last) + 1,
        ..range
    };
    let store = &state.store;
    let (currency, paying, recurring, subscriptions, donations, this_month) = tokio::try_join!(
        store.site_currency(),
        store.paying_members_by_day(range),
        store.recurring_revenue_by_day(range),
        store.subscriptions_by_day(range),
        store.donations_by_day(range),
        store.donations_by_day(month),
    )?;
    Ok(build(
        days,
        range,
        &currency,
        paying.iter().map(|p| (p.day, p.count)).collect(),
        &recurring,
        subscriptions
            .iter()
            .map(|s| (s.day, s.started, s.cancelled))
            .collect(),
        &donations,
        &this_month,
    ))
}

/// The page's figures from the series (pure, for tests).
#[allow(clippy::too_many_arguments)]
fn build(
    days: u32,
    range: DayRange,
    currency: &str,
    paying: Vec<(i64, u64)>,
    recurring: &[RecurringOnDay],
    subscriptions: Vec<(i64, u64, u64)>,
    donations: &[DonationsOnDay],
    this_month: &[DonationsOnDay],
) -> Figures {
    let all_days: Vec<i64> = (range.first..=range.last).collect();
    let money = |minor: i64| display_amount(minor, currency);
    let label = |d: i64| Clock::day_label(d);

    // Paying members: every day is in the series.
    let paying_series: Vec<(i64, i64)> = all_days
        .iter()
        .map(|d| {
            let n = paying.iter().find(|p| p.0 == *d).map_or(0, |p| p.1);
            (*d, n as i64)
        })
        .collect();
    let paying_now = paying_series.last().map_or(0, |p| p.1);

    // Recurring revenue in the site's currency; a day with none is zero.
    let mrr_series: Vec<(i64, i64)> = all_days
        .iter()
        .map(|d| {
            let annual = recurring
                .iter()
                .find(|r| r.day == *d && r.currency == currency)
                .map_or(0, |r| r.annual);
            (*d, monthly_of_annual(annual))
        })
        .collect();
    let mrr_now = mrr_series.last().map_or(0, |m| m.1);
    let mrr_other = others(
        recurring
            .iter()
            .filter(|r| r.day == range.last)
            .map(|r| (r.currency.clone(), r.monthly())),
        currency,
    );

    let changes = |d: i64| {
        subscriptions
            .iter()
            .find(|s| s.0 == d)
            .map_or((0, 0), |s| (s.1, s.2))
    };
    let started: Vec<(i64, i64)> = all_days
        .iter()
        .map(|d| (*d, changes(*d).0 as i64))
        .collect();
    let cancelled: Vec<(i64, i64)> = all_days
        .iter()
        .map(|d| (*d, changes(*d).1 as i64))
        .collect();
    let total = |s: &[(i64, i64)]| s.iter().map(|p| p.1).sum::<i64>();

    let given = |d: i64| {
        donations
            .iter()
            .find(|g| g.day == d && g.currency == currency)
            .map_or((0, 0), |g| (g.count, g.amount))
    };
    let donation_series: Vec<(i64, i64)> = all_days.iter().map(|d| (*d, given(*d).1)).collect();
    let donated_total = total(&donation_series);
    let donated_count: u64 = all_days.iter().map(|d| given(*d).0).sum();
    let donations_elsewhere = others(
        donations.iter().map(|g| (g.currency.clone(), g.amount)),
        currency,
    );

    let month_here = this_month
        .iter()
        .filter(|g| g.currency == currency)
        .fold((0u64, 0i64), |(n, a), g| (n + g.count, a + g.amount));
    let cur = currency.to_uppercase();

    Figures {
        days,
        currency: cur.clone(),
        paying_now: grouped(paying_now.max(0) as u64),
        mrr_now: money(mrr_now),
        mrr_other,
        donations_month: money(month_here.1),
        donations_month_count: month_here.0,
        donations_other: others(
            this_month.iter().map(|g| (g.currency.clone(), g.amount)),
            currency,
        ),
        paying: Chart {
            key: "paying",
            heading: "Paying members".into(),
            summary: format!(
                "{} now; {} {days} days ago.",
                grouped(paying_now.max(0) as u64),
                grouped(paying_series.first().map_or(0, |p| p.1).max(0) as u64)
            ),
            svg: bar_svg(
                "paying",
                &format!(
                    "Paying members at the end of each day over {days} days, {paying_now} now"
                ),
                &paying_series,
                |n| n.to_string(),
            ),
            span: span(&paying_series, |n| n.to_string()),
            columns: vec!["Paying members"],
            rows: paying_series
                .iter()
                .map(|(d, n)| (label(*d), vec![n.to_string()]))
                .collect(),
        },
        mrr: Chart {
            key: "mrr",
            heading: format!("Monthly recurring revenue ({cur})"),
            summary: format!(
                "{} now; {} {days} days ago.",
                money(mrr_now),
                money(mrr_series.first().map_or(0, |m| m.1))
            ),
            svg: bar_svg(
                "mrr",
                &format!(
                    "Monthly recurring revenue in {cur} at the end of each day over {days} days, {} now",
                    money(mrr_now)
                ),
                &mrr_series,
                money,
            ),
            span: span(&mrr_series, money),
            columns: vec!["Monthly recurring revenue"],
            rows: mrr_series
                .iter()
                .map(|(d, m)| (label(*d), vec![money(*m)]))
                .collect(),
        },
        started: Chart {
            key: "started",
            heading: "New subscriptions".into(),
            summary: format!("{} in {days} days.", total(&started)),
            svg: bar_svg(
                "started",
                &format!(
                    "Subscriptions started each day: {} in {days} days",
                    total(&started)
                ),
                &started,
                |n| n.to_string(),
            ),
            span: span(&started, |n| n.to_string()),
            columns: vec!["Started"],
            rows: started
                .iter()
                .map(|(d, n)| (label(*d), vec![n.to_string()]))
                .collect(),
        },
        cancelled: Chart {
            key: "cancelled",
            heading: "Cancelled subscriptions".into(),
            summary: format!("{} in {days} days.", total(&cancelled)),
            svg: bar_svg(
                "cancelled",
                &format!(
                    "Subscriptions cancelled each day: {} in {days} days",
                    total(&cancelled)
                ),
                &cancelled,
                |n| n.to_string(),
            ),
            span: span(&cancelled, |n| n.to_string()),
            columns: vec!["Cancelled"],
            rows: cancelled
                .iter()
                .map(|(d, n)| (label(*d), vec![n.to_string()]))
                .collect(),
        },
        donations: Chart {
            key: "donations",
            heading: format!("Donations ({cur})"),
            summary: {
                let mut s = format!(
                    "{} from {donated_count} donation{} in {days} days.",
                    money(donated_total),
                    if donated_count == 1 { "" } else { "s" }
                );
                if !donations_elsewhere.is_empty() {
                    s.push_str(&format!(
                        " In other currencies, not counted here: {}.",
                        donations_elsewhere.join(", ")
                    ));
                }
                s
            },
            svg: bar_svg(
                "donations",
                &format!(
                    "Donations in {cur} each day: {} from {donated_count} over {days} days",
                    money(donated_total)
                ),
                &donation_series,
                money,
            ),
            span: span(&donation_series, money),
            columns: vec!["Donations", "Amount"],
            rows: all_days
                .iter()
                .map(|d| {
                    let (n, a) = given(*d);
                    (label(*d), vec![n.to_string(), money(a)])
                })
                .collect(),
        },
    }
}

const REVENUE_ONLY: &str = "Only administrators and the owner see the revenue figures.";

#[derive(Serialize)]
struct RevenuePage<'a> {
    title: &'static str,
    staff: StaffView<'a>,
    figures: Figures,
    timezone: String,
}

/// `GET /admin/revenue`.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    q: Result<Query<RevenueQuery>, QueryRejection>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageMembers) {
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            REVENUE_ONLY,
            Some(Link {
                url: "/admin/",
                text: "Back to the desk",
            }),
        );
    }
    let q = q.map(|q| q.0).unwrap_or_default();
    let days = chosen_days(q.days.as_deref());
    match figures(&state, days).await {
        Ok(figures) => page(
            StatusCode::OK,
            "revenue.html",
            RevenuePage {
                title: "Revenue",
                staff: StaffView::from(&staff.0.user),
                figures,
                timezone: state.site().settings.timezone.clone(),
            },
        ),
        Err(e) => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(day: i64, currency: &str, annual: i64) -> RecurringOnDay {
        RecurringOnDay {
            day,
            currency: currency.into(),
            annual,
        }
    }

    #[test]
    fn the_figures_fill_every_day_and_keep_other_currencies_apart() {
        let range = DayRange {
            first: 20_000,
            last: 20_002,
            offset_ms: 0,
            now_ms: 20_002 * 86_400_000,
        };
        let f = build(
            3,
            range,
            "usd",
            vec![(20_000, 1), (20_001, 2), (20_002, 2)],
            &[
                on(20_001, "usd", 6_000),
                on(20_002, "usd", 11_000),
                on(20_002, "eur", 10_800),
            ],
            vec![(20_001, 2, 1)],
            &[DonationsOnDay {
                day: 20_002,
                currency: "gbp".into(),
                count: 1,
                amount: 200,
            }],
            &[],
        );
        assert_eq!(f.paying_now, "2");
        assert_eq!(f.mrr_now, "USD 9.17");
        assert_eq!(f.mrr_other, vec!["EUR 9.00"]);
        assert_eq!(
            f.mrr.rows[0],
            ("2024-10-04".into(), vec!["USD 0.00".into()])
        );
        assert_eq!(f.mrr.rows[1].1, vec!["USD 5.00"]);
        assert_eq!(f.started.rows.len(), 3);
        assert_eq!(f.started.rows[1].1, vec!["2"]);
        assert_eq!(f.cancelled.summary, "1 in 3 days.");
        assert!(
            f.donations.summary.contains("GBP 2.00"),
            "{}",
            f.donations.summary
        );
        assert_eq!(f.donations_month, "USD 0.00");
        assert_eq!(f.paying.svg.matches("<rect").count(), 3);
        assert_eq!(
            f.mrr.span,
            "2024-10-04 to 2024-10-06; the tallest bar is USD 9.17."
        );
        assert!(
            f.paying
                .svg
                .contains("aria-labelledby=\"rev-paying-title\"")
        );
    }

    #[test]
    fn the_range_is_one_of_three() {
        assert_eq!(chosen_days(Some("365")), 365);
        assert_eq!(chosen_days(Some("90")), 90);
        assert_eq!(chosen_days(Some("7")), 30);
        assert_eq!(chosen_days(None), 30);
    }

    #[test]
    fn the_month_starts_on_the_first() {
        // 2024-10-04 is day 20,000.
        assert_eq!(day_of_month(20_000), 4);
        assert_eq!(day_of_month(19_997), 1);
    }
}
