//! Membership drive progress: "1,234 out of 25,000".

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignProgress {
    pub count: u64,
    pub goal: u64,
    /// 0.0 ..= 100.0, for the progress bar.
    pub percent: f64,
    /// "1,234"
    pub count_label: String,
    /// "25,000"
    pub goal_label: String,
    /// What is counted, after "N out of GOAL": "members", "paying
    /// members", or "raised" (donations, whose labels carry the currency).
    pub noun: String,
}

/// What a campaign counts (`campaigns.metric`).
pub const METRICS: &[&str] = &["members", "paid", "donations"];

impl CampaignProgress {
    pub fn new(count: u64, goal: u64) -> CampaignProgress {
        let percent = if goal == 0 {
            100.0
        } else {
            ((count as f64 / goal as f64) * 1000.0).round() / 10.0
        };
        CampaignProgress {
            count,
            goal,
            percent: percent.clamp(0.0, 100.0),
            count_label: group_thousands(count),
            goal_label: group_thousands(goal),
            noun: "members".to_owned(),
        }
    }

    /// Progress in a campaign's own terms: `count` and `goal` are members,
    /// or for `donations` whole units of `currency` ("1,250 USD").
    pub fn for_metric(count: u64, goal: u64, metric: &str, currency: &str) -> CampaignProgress {
        let mut p = CampaignProgress::new(count, goal);
        match metric {
            "paid" => p.noun = "paying members".to_owned(),
            "donations" => {
                let code = currency.to_uppercase();
                p.count_label = format!("{} {code}", p.count_label);
                p.goal_label = format!("{} {code}", p.goal_label);
                p.noun = "raised".to_owned();
            }
            _ => {}
        }
        p
    }

    pub fn reached(&self) -> bool {
        self.count >= self.goal
    }
}

/// 1234567 -> "1,234,567".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donations_are_counted_in_the_currency() {
        let p = CampaignProgress::for_metric(1_250, 5_000, "donations", "eur");
        assert_eq!(
            (
                p.count_label.as_str(),
                p.goal_label.as_str(),
                p.noun.as_str()
            ),
            ("1,250 EUR", "5,000 EUR", "raised")
        );
        assert_eq!(p.percent, 25.0);
        assert_eq!(
            CampaignProgress::for_metric(3, 10, "paid", "usd").noun,
            "paying members"
        );
        assert_eq!(
            CampaignProgress::for_metric(3, 10, "members", "usd").count_label,
            "3"
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(25_000), "25,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn progress_is_clamped_and_rounded() {
        let p = CampaignProgress::new(1234, 25_000);
        assert_eq!(p.percent, 4.9);
        assert_eq!(p.count_label, "1,234");
        assert!(!p.reached());
        let over = CampaignProgress::new(30_000, 25_000);
        assert_eq!(over.percent, 100.0);
        assert!(over.reached());
        assert_eq!(CampaignProgress::new(5, 0).percent, 100.0);
    }
}
