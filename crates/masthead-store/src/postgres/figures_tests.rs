//! The desk's revenue figures (issue 11, item 8) through the [`Store`]
//! facade, on a fresh SQLite file and a fresh PostgreSQL database: the same
//! made-up members, subscriptions and donations across days written by the
//! real operations, the same exact figures asserted on each. Needs
//! `MASTHEAD_TEST_DATABASE_URL` (see tests.rs): without it these fail.

use masthead_domain::Email;

use super::tests::TestDb;
use crate::Store;
use masthead_model::billing::*;
use masthead_model::members::*;
use masthead_model::revenue::*;

const HOUR: i64 = 3_600_000;
/// The first day of the range, and when it begins (midnight UTC).
const D0: i64 = 20_834;
const S: i64 = D0 * DAY_MS;
/// Noon on the range's last day (D0 + 4).
const NOW: i64 = S + 4 * DAY_MS + 12 * HOUR;

fn member(email: &str) -> NewDeskMember {
    NewDeskMember {
        email: Email::parse(email).expect("email"),
        name: String::new(),
        note: String::new(),
        status: "free".into(),
        labels: Vec::new(),
        newsletters: Vec::new(),
        source: "admin".into(),
        created_ms: Some(S - 10 * DAY_MS),
    }
}

fn sub(
    id: &str,
    customer: &str,
    status: &str,
    amount: i64,
    currency: &str,
    cadence: &str,
) -> SubscriptionState {
    SubscriptionState {
        subscription_id: id.into(),
        customer_id: customer.into(),
        price_id: format!("price_{id}"),
        product_id: "prod_x".into(),
        status: status.into(),
        cancel_at_period_end: false,
        current_period_start_ms: Some(S),
        current_period_end_ms: Some(S + 30 * DAY_MS),
        trial_end_ms: None,
        amount,
        currency: currency.into(),
        cadence: cadence.into(),
    }
}

fn donation(reference: &str, kind: &str, amount: i64, currency: &str, at: i64) -> NewDonation {
    NewDonation {
        kind: kind.into(),
        amount,
        currency: currency.into(),
        member_id: None,
        email: String::new(),
        name: String::new(),
        stripe_ref: reference.into(),
        stripe_session_id: None,
        stripe_subscription_id: None,
        stripe_customer_id: None,
        created_ms: at,
    }
}

async fn sync(store: &Store, s: SubscriptionState, at: i64) {
    store.sync_subscription(s, at, at).await.expect("sync");
}

/// Writes the story on one store.
async fn write(store: &Store) {
    let ids = store
        .add_desk_members(vec![
            member("ada@example.org"),
            member("bob@example.org"),
            member("cy@example.org"),
            member("dee@example.org"),
        ])
        .await
        .expect("members");
    for (customer, added) in ["cus_a", "cus_b", "cus_c", "cus_d"].iter().zip(ids) {
        let MemberAdded::Added(id) = added else {
            panic!("{added:?}")
        };
        store
            .link_stripe_customer(CustomerLink {
                customer_id: (*customer).into(),
                email: None,
                member_id: Some(id),
                create_member: false,
                name: String::new(),
                now_ms: S - 5 * DAY_MS,
            })
            .await
            .expect("link");
    }
    // Dee has paid 3.00 USD a month since before the range.
    sync(
        store,
        sub("sub_0", "cus_d", "active", 300, "usd", "month"),
        S - 3 * DAY_MS,
    )
    .await;
    // Day 0: Ada, 5.00 USD a month.
    sync(
        store,
        sub("sub_1", "cus_a", "active", 500, "usd", "month"),
        S + 10 * HOUR,
    )
    .await;
    // Day 1: Bob, 50.00 USD a year; Cy, 9.00 EUR a month.
    let day1 = S + DAY_MS + 10 * HOUR;
    sync(
        store,
        sub("sub_2", "cus_b", "active", 5_000, "usd", "year"),
        day1,
    )
    .await;
    sync(
        store,
        sub("sub_3", "cus_c", "active", 900, "eur", "month"),
        day1,
    )
    .await;
    // Day 2: Ada cancels.
    let day2 = S + 2 * DAY_MS + 9 * HOUR;
    sync(
        store,
        sub("sub_1", "cus_a", "canceled", 500, "usd", "month"),
        day2,
    )
    .await;
    // Day 3: Ada's new attempt never begins; Bob's renewal, due at the
    // start of day 3, fails (he keeps access for the grace).
    let day3 = S + 3 * DAY_MS + 8 * HOUR;
    sync(
        store,
        sub("sub_4", "cus_a", "incomplete", 500, "usd", "month"),
        day3,
    )
    .await;
    let mut overdue = sub("sub_2", "cus_b", "past_due", 5_000, "usd", "year");
    overdue.current_period_start_ms = Some(S + 3 * DAY_MS);
    sync(store, overdue, day3 + HOUR).await;
    for d in [
        donation("pi_1", "one_off", 1_000, "usd", S + 11 * HOUR),
        donation("in_1", "monthly", 500, "usd", S + 12 * HOUR),
        donation("pi_2", "one_off", 2_500, "eur", S + 2 * DAY_MS + HOUR),
        // 22:00 UTC on day 3: day 4 three hours east.
        donation("pi_3", "one_off", 200, "gbp", S + 3 * DAY_MS + 22 * HOUR),
        donation("pi_4", "one_off", 700, "usd", S + 4 * DAY_MS + HOUR),
        // Before the range: never counted.
        donation("pi_0", "one_off", 9_900, "usd", S - HOUR),
    ] {
        store.record_donation(d).await.expect("donation");
    }
}

fn range(first: i64, last: i64, offset_ms: i64, now_ms: i64) -> DayRange {
    DayRange {
        first,
        last,
        offset_ms,
        now_ms,
    }
}

fn recurring(day: i64, currency: &str, annual: i64) -> RecurringOnDay {
    RecurringOnDay {
        day: D0 + day,
        currency: currency.into(),
        annual,
    }
}

fn donated(day: i64, currency: &str, count: u64, amount: i64) -> DonationsOnDay {
    DonationsOnDay {
        day: D0 + day,
        currency: currency.into(),
        count,
        amount,
    }
}

async fn check(store: &Store, backend: &str) {
    write(store).await;
    let five = range(D0, D0 + 4, 0, NOW);

    let paying: Vec<(i64, u64)> = store
        .paying_members_by_day(five)
        .await
        .expect("paying")
        .into_iter()
        .map(|p| (p.day - D0, p.count))
        .collect();
    assert_eq!(
        paying,
        vec![(0, 2), (1, 4), (2, 3), (3, 3), (4, 3)],
        "{backend}: paying members by day"
    );

    // A range that ends before the last change still starts from today's
    // count and walks back over every later change.
    let first_two: Vec<u64> = store
        .paying_members_by_day(range(D0, D0 + 1, 0, NOW))
        .await
        .expect("paying, two days")
        .into_iter()
        .map(|p| p.count)
        .collect();
    assert_eq!(first_two, vec![2, 4], "{backend}: paying members, two days");

    // Dee 3600 a year throughout; Ada's 6000 until she cancels on day 2;
    // Bob's 5000 from day 1, past due but within the grace; Cy's in EUR
    // apart.
    assert_eq!(
        store.recurring_revenue_by_day(five).await.expect("mrr"),
        vec![
            recurring(0, "usd", 9_600),
            recurring(1, "eur", 10_800),
            recurring(1, "usd", 14_600),
            recurring(2, "eur", 10_800),
            recurring(2, "usd", 8_600),
            recurring(3, "eur", 10_800),
            recurring(3, "usd", 8_600),
            recurring(4, "eur", 10_800),
            recurring(4, "usd", 8_600),
        ],
        "{backend}: recurring revenue by day"
    );
    assert_eq!(recurring(1, "usd", 14_600).monthly(), 1_217);
    // A week after it was due Bob's renewal is past its grace: from day 10
    // his subscription no longer counts (and no status change dates it, so
    // the paying count stays as the members list says).
    let later = range(D0 + 9, D0 + 10, 0, S + 10 * DAY_MS + 12 * HOUR);
    assert_eq!(
        store
            .recurring_revenue_by_day(later)
            .await
            .expect("mrr later")
            .into_iter()
            .filter(|r| r.currency == "usd")
            .map(|r| (r.day - D0, r.annual))
            .collect::<Vec<_>>(),
        vec![(9, 8_600), (10, 3_600)],
        "{backend}: the grace ends"
    );

    let changes: Vec<(i64, u64, u64)> = store
        .subscriptions_by_day(five)
        .await
        .expect("subscriptions")
        .into_iter()
        .map(|s| (s.day - D0, s.started, s.cancelled))
        .collect();
    assert_eq!(
        changes,
        vec![(0, 1, 0), (1, 2, 0), (2, 0, 1)],
        "{backend}: subscriptions started and cancelled"
    );

    assert_eq!(
        store.donations_by_day(five).await.expect("donations"),
        vec![
            donated(0, "usd", 2, 1_500),
            donated(2, "eur", 1, 2_500),
            donated(3, "gbp", 1, 200),
            donated(4, "usd", 1, 700),
        ],
        "{backend}: donations by day"
    );
    // Three hours east, 22:00 UTC is the next day.
    let east = range(D0, D0 + 4, 3 * HOUR, NOW);
    let gbp: Vec<i64> = store
        .donations_by_day(east)
        .await
        .expect("donations east")
        .into_iter()
        .filter(|d| d.currency == "gbp")
        .map(|d| d.day - D0)
        .collect();
    assert_eq!(gbp, vec![4], "{backend}: days in the site's zone");
}

#[tokio::test]
async fn revenue_figures_agree_on_both_backends() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-figures-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Store::open_sqlite(&dir.join("figures.db")).expect("open SQLite");
    check(&lite, "SQLite").await;
    let _ = std::fs::remove_dir_all(&dir);
    let db = TestDb::new("figures").await;
    let pg = Store::with_postgres(db.migrated().await);
    check(&pg, "PostgreSQL").await;
}
