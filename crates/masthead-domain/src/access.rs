//! Who may read a story in full: the rules of Ghost's content gating
//! (`visibility` public, members, paid or tiers), and when complimentary
//! access ends. Pages, the page cache's audiences and the APIs all ask here.

use crate::Visibility;

/// A member's status as stored: `free`, `paid` (a live subscription) or
/// `comped` (complimentary access given by staff).
pub const FREE: &str = "free";
pub const PAID: &str = "paid";
pub const COMPED: &str = "comped";

/// A member's status at `now_ms`: a comp whose end has passed is `free`
/// from that moment on, whether or not a job has written it down yet.
/// `paid` is never changed here (payments decide it).
pub fn settled_status(status: &str, comp_expires_ms: Option<i64>, now_ms: i64) -> &str {
    match (status, comp_expires_ms) {
        (COMPED, Some(end)) if end <= now_ms => FREE,
        _ => status,
    }
}

/// A signed-in reader, as access decisions need them: the settled status
/// and tier (`None` is the free tier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// `paid` or `comped`: access beyond the free tier.
    pub paying: bool,
    pub tier_id: Option<i64>,
}

impl Reader {
    pub fn new(settled_status: &str, tier_id: Option<i64>) -> Reader {
        let paying = settled_status == PAID || settled_status == COMPED;
        Reader {
            paying,
            // A free member is on the free tier, whatever was left behind.
            tier_id: if paying { tier_id } else { None },
        }
    }
}

/// One of the tiers a `tiers` story is open to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTo {
    pub tier_id: i64,
    /// The free tier: every signed-in member who pays nothing.
    pub free: bool,
}

/// Whether `reader` (`None`: anonymous) may read a story of `visibility`,
/// open to `tiers` when that is `tiers`, in full.
pub fn may_read(visibility: Visibility, tiers: &[OpenTo], reader: Option<Reader>) -> bool {
    match (visibility, reader) {
        (Visibility::Public, _) => true,
        (_, None) => false,
        (Visibility::Members, Some(_)) => true,
        (Visibility::Paid, Some(r)) => r.paying,
        (Visibility::Tiers, Some(r)) => tiers.iter().any(|t| match r.tier_id {
            Some(id) if r.paying => t.tier_id == id,
            _ => t.free && !r.paying,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLD: i64 = 7;
    const SILVER: i64 = 8;
    const FREE_TIER: i64 = 1;

    fn open(ids: &[i64]) -> Vec<OpenTo> {
        ids.iter()
            .map(|&tier_id| OpenTo {
                tier_id,
                free: tier_id == FREE_TIER,
            })
            .collect()
    }

    #[test]
    fn comps_end_at_their_time() {
        assert_eq!(settled_status(COMPED, Some(1_000), 999), COMPED);
        assert_eq!(settled_status(COMPED, Some(1_000), 1_000), FREE);
        assert_eq!(settled_status(COMPED, None, i64::MAX), COMPED);
        // A subscription is not a comp: its end is the payments' business.
        assert_eq!(settled_status(PAID, Some(1_000), 5_000), PAID);
        assert_eq!(settled_status(FREE, Some(1_000), 5_000), FREE);
    }

    #[test]
    fn who_reads_what() {
        let free = Some(Reader::new(FREE, None));
        let gold = Some(Reader::new(PAID, Some(GOLD)));
        let comped_silver = Some(Reader::new(COMPED, Some(SILVER)));
        // A free member with a tier left over from an ended comp is free.
        let lapsed = Some(Reader::new(FREE, Some(GOLD)));
        for r in [None, free, gold, comped_silver, lapsed] {
            assert!(may_read(Visibility::Public, &[], r));
        }
        assert!(!may_read(Visibility::Members, &[], None));
        assert!(may_read(Visibility::Members, &[], free));
        assert!(!may_read(Visibility::Paid, &[], None));
        assert!(!may_read(Visibility::Paid, &[], free));
        assert!(!may_read(Visibility::Paid, &[], lapsed));
        assert!(may_read(Visibility::Paid, &[], gold));
        assert!(may_read(Visibility::Paid, &[], comped_silver));

        let gold_only = open(&[GOLD]);
        assert!(may_read(Visibility::Tiers, &gold_only, gold));
        assert!(!may_read(Visibility::Tiers, &gold_only, comped_silver));
        assert!(!may_read(Visibility::Tiers, &gold_only, free));
        assert!(!may_read(Visibility::Tiers, &gold_only, lapsed));
        assert!(!may_read(Visibility::Tiers, &gold_only, None));
        let free_and_silver = open(&[FREE_TIER, SILVER]);
        assert!(may_read(Visibility::Tiers, &free_and_silver, free));
        assert!(may_read(Visibility::Tiers, &free_and_silver, lapsed));
        assert!(may_read(Visibility::Tiers, &free_and_silver, comped_silver));
        assert!(!may_read(Visibility::Tiers, &free_and_silver, gold));
        assert!(!may_read(Visibility::Tiers, &free_and_silver, None));
        // No tiers chosen: nobody but staff.
        assert!(!may_read(Visibility::Tiers, &[], gold));
    }
}
