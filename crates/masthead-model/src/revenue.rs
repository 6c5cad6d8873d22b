//! The desk's revenue figures (issue 11, item 8): series by day in the
//! site's time zone, as the store computes them. A day is a count of days
//! since 1970-01-01 in that zone (as [`crate::JoinsOnDay`]).

use serde::Serialize;

/// The days a series covers, `first..=last`, in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub first: i64,
    pub last: i64,
    /// The site's distance from UTC (`Clock::utc_offset_ms`).
    pub offset_ms: i64,
    /// Now: a day's standing is read at its end, or now for today.
    pub now_ms: i64,
}

impl DayRange {
    /// The last `days` days up to today (in the zone `offset_ms` from UTC).
    pub fn last_days(days: u32, offset_ms: i64, now_ms: i64) -> DayRange {
        let today = (now_ms + offset_ms).div_euclid(DAY_MS);
        DayRange {
            first: today - i64::from(days.max(1)) + 1,
            last: today,
            offset_ms,
            now_ms,
        }
    }

    /// When the first day begins, in UTC milliseconds.
    pub fn start_ms(&self) -> i64 {
        self.first * DAY_MS - self.offset_ms
    }
}

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Paying members at the end of a day (or now, for today).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PayingOnDay {
    pub day: i64,
    pub count: u64,
}

/// Recurring revenue in one currency at the end of a day: the sum of the
/// live subscriptions' amounts over a year (a monthly price times twelve,
/// a yearly one as it is), so that months are exact integers too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecurringOnDay {
    pub day: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    /// Minor units a year.
    pub annual: i64,
}

impl RecurringOnDay {
    /// Monthly recurring revenue in minor units (a twelfth of the year,
    /// rounded to the nearest unit).
    pub fn monthly(&self) -> i64 {
        monthly_of_annual(self.annual)
    }
}

/// A twelfth of `annual`, rounded half up.
pub fn monthly_of_annual(annual: i64) -> i64 {
    (annual + 6).div_euclid(12)
}

/// Subscriptions started and cancelled on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubscriptionsOnDay {
    pub day: i64,
    pub started: u64,
    pub cancelled: u64,
}

/// Donations received on a day in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DonationsOnDay {
    pub day: i64,
    pub currency: String,
    pub count: u64,
    /// Minor units.
    pub amount: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_ends_today_in_the_sites_zone() {
        // 23:30 UTC on day 20,000 is already day 20,001 two hours east.
        let now = 20_000 * DAY_MS + 23 * 3_600_000 + 1_800_000;
        let r = DayRange::last_days(30, 2 * 3_600_000, now);
        assert_eq!((r.first, r.last), (19_972, 20_001));
        assert_eq!(r.start_ms(), 19_972 * DAY_MS - 2 * 3_600_000);
        assert_eq!(DayRange::last_days(30, 0, now).last, 20_000);
    }

    #[test]
    fn a_month_is_a_twelfth_of_the_year_rounded() {
        assert_eq!(monthly_of_annual(6_000), 500);
        assert_eq!(monthly_of_annual(5_000), 417);
        assert_eq!(monthly_of_annual(11_000), 917);
        assert_eq!(monthly_of_annual(0), 0);
    }
}
