//! Paid memberships' store operations, through the [`Store`] facade, on a
//! fresh SQLite file and a fresh PostgreSQL database: the same sequence on
//! each, the same results asserted (issue 11). Needs
//! `MASTHEAD_TEST_DATABASE_URL` (see tests.rs): without it these fail.

use masthead_domain::Email;

use super::tests::TestDb;
use crate::Store;
use masthead_model::billing::*;
use masthead_model::members::*;
use masthead_model::tiers::*;

const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

fn member(email: &str, status: &str) -> NewDeskMember {
    NewDeskMember {
        email: Email::parse(email).expect("email"),
        name: email.split('@').next().unwrap_or("").to_owned(),
        note: String::new(),
        status: status.into(),
        labels: Vec::new(),
        newsletters: Vec::new(),
        source: "admin".into(),
        created_ms: Some(T0),
    }
}

fn sub(id: &str, customer: &str, price: &str, status: &str, end: i64) -> SubscriptionState {
    SubscriptionState {
        subscription_id: id.into(),
        customer_id: customer.into(),
        price_id: price.into(),
        product_id: "prod_gold".into(),
        status: status.into(),
        cancel_at_period_end: false,
        current_period_start_ms: Some(end - 30 * DAY),
        current_period_end_ms: Some(end),
        trial_end_ms: None,
        amount: 500,
        currency: "usd".into(),
        cadence: "month".into(),
    }
}

fn link(customer: &str, member_id: Option<i64>, email: Option<&str>, create: bool) -> CustomerLink {
    CustomerLink {
        customer_id: customer.into(),
        email: email.map(|e| Email::parse(e).expect("email")),
        member_id,
        create_member: create,
        name: "New Reader".into(),
        now_ms: T0,
    }
}

async fn status_of(store: &Store, id: i64) -> String {
    store
        .desk_member(id)
        .await
        .expect("read")
        .expect("member")
        .status
}

/// The whole sequence on one store; what it saw, line by line.
async fn run(store: &Store) -> Vec<String> {
    let mut seen = Vec::new();
    let added = store
        .add_desk_members(vec![
            member("ada@example.org", "free"),
            member("bob@example.org", "free"),
            member("cy@example.org", "free"),
        ])
        .await
        .expect("members");
    assert_eq!(
        added,
        vec![
            MemberAdded::Added(1),
            MemberAdded::Added(2),
            MemberAdded::Added(3)
        ]
    );
    let tier = store
        .create_tier(TierInput {
            name: "Gold".into(),
            slug: "gold".into(),
            description: String::new(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            currency: Some("usd".into()),
            monthly_price: Some(500),
            yearly_price: Some(5000),
            trial_days: 0,
            welcome_page_url: None,
            benefits: Vec::new(),
        })
        .await
        .expect("tier");
    // The tier's product and its monthly price.
    store
        .save_stripe_product(tier, "prod_gold".into(), T0)
        .await
        .expect("product");
    let monthly = StripePrice {
        price_id: "plan_m".into(),
        product_id: "prod_gold".into(),
        tier_id: tier,
        amount: 500,
        currency: "usd".into(),
        cadence: "month".into(),
        active: true,
    };
    store
        .save_stripe_price(monthly.clone(), T0)
        .await
        .expect("price");

    // Ada's checkout: her customer is linked to her, and stays hers.
    let linked = store
        .link_stripe_customer(link("cus_a", Some(1), Some("ada@example.org"), false))
        .await
        .expect("link");
    assert_eq!(
        linked,
        CustomerLinked::Member {
            member_id: 1,
            created: false
        }
    );
    let again = store
        .link_stripe_customer(link("cus_a", Some(2), None, false))
        .await
        .expect("link again");
    assert_eq!(again, linked, "a linked customer stays with its member");

    // Her subscription starts: paid, with the price's tier; a repeat of the
    // same state changes nothing.
    let synced = store
        .sync_subscription(
            sub("sub_1", "cus_a", "plan_m", "active", T0 + 30 * DAY),
            T0,
            T0,
        )
        .await
        .expect("sync");
    assert_eq!(
        synced,
        SubscriptionSynced::Member {
            member_id: 1,
            status: "paid".into(),
            tier_id: Some(tier),
            changed: true
        }
    );
    let repeat = store
        .sync_subscription(
            sub("sub_1", "cus_a", "plan_m", "active", T0 + 30 * DAY),
            T0,
            T0,
        )
        .await
        .expect("sync");
    assert_eq!(
        repeat,
        SubscriptionSynced::Member {
            member_id: 1,
            status: "paid".into(),
            tier_id: Some(tier),
            changed: false
        }
    );
    assert_eq!(status_of(store, 1).await, "paid");

    // A subscription for a customer who is nobody's is kept, unlinked, then
    // adopted when Bob's address links the customer.
    let unknown = store
        .sync_subscription(
            sub("sub_2", "cus_b", "price_elsewhere", "active", T0 + DAY),
            T0,
            T0,
        )
        .await
        .expect("sync unknown");
    assert_eq!(unknown, SubscriptionSynced::UnknownCustomer);
    assert_eq!(status_of(store, 2).await, "free");
    let bob = store
        .link_stripe_customer(link("cus_b", None, Some("BOB@example.org"), false))
        .await
        .expect("link bob");
    assert_eq!(
        bob,
        CustomerLinked::Member {
            member_id: 2,
            created: false
        }
    );
    assert_eq!(status_of(store, 2).await, "paid");

    // An address nobody has: no member unless asked to create one.
    let nobody = store
        .link_stripe_customer(link("cus_c", None, Some("dee@example.org"), false))
        .await
        .expect("link nobody");
    assert_eq!(nobody, CustomerLinked::NoMember);
    let created = store
        .link_stripe_customer(link("cus_c", None, Some("dee@example.org"), true))
        .await
        .expect("link and create");
    assert_eq!(
        created,
        CustomerLinked::Member {
            member_id: 4,
            created: true
        }
    );
    seen.push(format!("{:?}", store.desk_member(4).await.expect("dee")));

    // Ada's renewal, due a day ago, fails: Stripe has moved her into the
    // new period, unpaid. past_due keeps access for a week from when the
    // renewal was due (not from the new period's end), then the sweep
    // lapses her.
    store
        .sync_subscription(
            sub("sub_1", "cus_a", "plan_m", "past_due", T0 + 29 * DAY),
            T0,
            T0,
        )
        .await
        .expect("past due");
    assert_eq!(status_of(store, 1).await, "paid");
    assert_eq!(
        store
            .lapse_overdue_members(T0 + 6 * DAY - 1)
            .await
            .expect("sweep"),
        Vec::<i64>::new()
    );
    assert_eq!(
        store
            .lapse_overdue_members(T0 + 6 * DAY + 1)
            .await
            .expect("sweep"),
        vec![1]
    );
    assert_eq!(status_of(store, 1).await, "free");
    // Paid again, then canceled: free.
    store
        .sync_subscription(
            sub("sub_1", "cus_a", "plan_m", "active", T0 + 40 * DAY),
            T0,
            T0,
        )
        .await
        .expect("active");
    assert_eq!(status_of(store, 1).await, "paid");
    let mut ending = sub("sub_1", "cus_a", "plan_m", "active", T0 + 40 * DAY);
    ending.cancel_at_period_end = true;
    store
        .sync_subscription(ending, T0, T0)
        .await
        .expect("ending");
    store
        .sync_subscription(
            sub("sub_1", "cus_a", "plan_m", "canceled", T0 + 40 * DAY),
            T0,
            T0,
        )
        .await
        .expect("canceled");
    assert_eq!(status_of(store, 1).await, "free");

    // A comped member who pays is paid; when the subscription ends the
    // comp is still there.
    let comp = store
        .give_comp(3, tier, Some(T0 + 60 * DAY), None)
        .await
        .expect("comp");
    assert_eq!(comp, Ok(CompGiven::Comped));
    assert_eq!(status_of(store, 3).await, "comped");
    store
        .link_stripe_customer(link("cus_d", Some(3), None, false))
        .await
        .expect("link cy");
    store
        .sync_subscription(
            sub("sub_3", "cus_d", "plan_m", "trialing", T0 + DAY),
            T0,
            T0,
        )
        .await
        .expect("trial");
    assert_eq!(status_of(store, 3).await, "paid");
    store
        .sync_subscription(
            sub("sub_3", "cus_d", "plan_m", "canceled", T0 + DAY),
            T0,
            T0,
        )
        .await
        .expect("cancel");
    assert_eq!(status_of(store, 3).await, "comped");

    // A paying member given a comp with no end date keeps the subscription
    // (paid wins); when it ends, the comp takes over, with its own tier.
    assert_eq!(
        store
            .give_comp(2, tier, None, None)
            .await
            .expect("comp bob"),
        Ok(CompGiven::Recorded)
    );
    assert_eq!(status_of(store, 2).await, "paid");
    let bob_ends = store
        .sync_subscription(
            sub("sub_2", "cus_b", "price_elsewhere", "canceled", T0 + DAY),
            T0,
            T0,
        )
        .await
        .expect("bob cancels");
    assert_eq!(
        bob_ends,
        SubscriptionSynced::Member {
            member_id: 2,
            status: "comped".into(),
            tier_id: Some(tier),
            changed: true
        }
    );

    // Two webhooks for one subscription handled at once: the fetch that
    // began later is kept, whichever is written first.
    store
        .link_stripe_customer(link("cus_e", Some(4), None, false))
        .await
        .expect("link dee");
    store
        .sync_subscription(
            sub("sub_4", "cus_e", "plan_m", "active", T0 + DAY),
            T0 + 10,
            T0,
        )
        .await
        .expect("dee pays");
    let stale = store
        .sync_subscription(
            sub("sub_4", "cus_e", "plan_m", "canceled", T0 + DAY),
            T0 + 5,
            T0,
        )
        .await
        .expect("stale fetch");
    assert_eq!(stale, SubscriptionSynced::Outdated);
    assert_eq!(status_of(store, 4).await, "paid");
    store
        .sync_subscription(
            sub("sub_4", "cus_e", "plan_m", "canceled", T0 + DAY),
            T0 + 11,
            T0,
        )
        .await
        .expect("later fetch");
    assert_eq!(status_of(store, 4).await, "free");

    // Events: recorded once.
    assert!(!store.stripe_event_seen("evt_1".into()).await.expect("seen"));
    let first = store
        .record_stripe_event("evt_1".into(), "invoice.paid".into(), "applied".into(), T0)
        .await
        .expect("record");
    let second = store
        .record_stripe_event("evt_1".into(), "invoice.paid".into(), "applied".into(), T0)
        .await
        .expect("record again");
    assert!(first && !second);
    assert!(store.stripe_event_seen("evt_1".into()).await.expect("seen"));

    // A new monthly price retires the old one.
    let mut dearer = monthly.clone();
    dearer.price_id = "plan_m2".into();
    dearer.amount = 700;
    store
        .save_stripe_price(dearer, T0 + DAY)
        .await
        .expect("new price");
    seen.push(format!(
        "{:#?}",
        store.stripe_prices_of_tier(tier).await.expect("prices")
    ));
    seen.push(format!(
        "{:?}",
        store.stripe_product_of_tier(tier).await.expect("product")
    ));
    for id in 1..=4 {
        seen.push(format!(
            "{:#?}",
            store.member_billing(id).await.expect("billing")
        ));
        // Without their times: a comp is stamped with the clock's now.
        let events: Vec<(String, String, Option<String>)> = store
            .member_events(id)
            .await
            .expect("events")
            .into_iter()
            .map(|e| (e.kind, e.note, e.tier_name))
            .collect();
        seen.push(format!("{events:#?}"));
    }
    seen
}

#[tokio::test]
async fn billing_operations_agree_on_both_backends() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-billing-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Store::open_sqlite(&dir.join("billing.db")).expect("open SQLite");
    let db = TestDb::new("billing").await;
    let pg = Store::with_postgres(db.migrated().await);
    let lite_seen = run(&lite).await;
    let pg_seen = run(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(lite_seen.len(), pg_seen.len());
    for (l, p) in lite_seen.iter().zip(&pg_seen) {
        assert_eq!(l, p, "SQLite (left) and PostgreSQL (right) differ");
    }
    // The history says what happened, in order.
    let ada = &lite_seen[4];
    for line in [
        "Linked to Stripe customer cus_a",
        "Stripe subscription sub_1 started: active, 5.00 USD a month",
        "Status free → paid (from Stripe)",
        "Stripe subscription sub_1 changed: past_due",
        "Status paid → free (from Stripe)",
        "ends at the end of the period",
        "Stripe subscription sub_1 changed: canceled",
    ] {
        assert!(ada.contains(line), "{line} missing from {ada}");
    }
    assert!(
        lite_seen[0].contains("source: \"stripe\""),
        "{}",
        lite_seen[0]
    );
}

/// Two syncs of one subscription at the same moment, the later fetch's
/// ticket on the second: whichever is written first, the later fetch's
/// state stands (PostgreSQL: the two run on two connections, a first
/// insert included; SQLite: one after the other, in either order).
async fn race(store: &Store) {
    store
        .add_desk_members(vec![member("racer@example.org", "free")])
        .await
        .expect("member");
    store
        .link_stripe_customer(link("cus_race", Some(1), None, false))
        .await
        .expect("link");
    for round in 0..12 {
        let id = format!("sub_race_{round}");
        let older = sub(&id, "cus_race", "plan_m", "canceled", T0 + DAY);
        let newer = sub(&id, "cus_race", "plan_m", "active", T0 + DAY);
        let (a, b) = if round % 2 == 0 {
            let (a, b) = tokio::join!(
                store.sync_subscription(older, 100 + round, T0),
                store.sync_subscription(newer, 200 + round, T0)
            );
            (a, b)
        } else {
            let (b, a) = tokio::join!(
                store.sync_subscription(newer, 200 + round, T0),
                store.sync_subscription(older, 100 + round, T0)
            );
            (a, b)
        };
        let (a, b) = (a.expect("older"), b.expect("newer"));
        assert!(
            matches!(b, SubscriptionSynced::Member { .. }),
            "the later fetch is always written: {b:?}"
        );
        let billing = store.member_billing(1).await.expect("billing");
        let mirrored = billing
            .subscriptions
            .iter()
            .find(|s| s.subscription_id == id)
            .expect("mirrored");
        assert_eq!(mirrored.status, "active", "round {round}: older {a:?}");
    }
    assert_eq!(status_of(store, 1).await, "paid");
}

fn paid_tier(name: &str, slug: &str, monthly: i64) -> TierInput {
    TierInput {
        name: name.into(),
        slug: slug.into(),
        description: String::new(),
        kind: "paid".into(),
        active: true,
        visibility: "public".into(),
        currency: Some("usd".into()),
        monthly_price: Some(monthly),
        yearly_price: None,
        trial_days: 0,
        welcome_page_url: None,
        benefits: vec!["Every story".into()],
    }
}

fn ghost_billing() -> ImportBilling {
    let email = |e: &str| Email::parse(e).expect("email");
    let mut free = paid_tier("Free", "gratis", 1);
    free.kind = "free".into();
    free.currency = None;
    free.monthly_price = None;
    let mut broken = paid_tier("No currency", "no-currency", 100);
    broken.currency = None;
    let price = |id: &str, amount: i64, active: bool| StripePrice {
        price_id: id.into(),
        product_id: "prod_gold".into(),
        tier_id: 0,
        amount,
        currency: "usd".into(),
        cadence: "month".into(),
        active,
    };
    let mut comped_sub = sub("sub_2", "cus_b", "price_new", "canceled", T0 - DAY);
    comped_sub.product_id = "prod_gold".into();
    ImportBilling {
        tiers: vec![
            ImportTier {
                key: "g-free".into(),
                tier: free,
            },
            ImportTier {
                key: "g-gold".into(),
                tier: paid_tier("Gold", "gold", 500),
            },
            ImportTier {
                key: "g-broken".into(),
                tier: broken,
            },
        ],
        products: vec![
            ImportStripeProduct {
                product_id: "prod_gold".into(),
                tier_key: "g-gold".into(),
                created_ms: T0 - 9 * DAY,
            },
            ImportStripeProduct {
                product_id: "prod_broken".into(),
                tier_key: "g-broken".into(),
                created_ms: T0 - 9 * DAY,
            },
        ],
        prices: vec![
            ImportStripePrice {
                price: price("price_old", 400, false),
                tier_key: "g-gold".into(),
                created_ms: T0 - 9 * DAY,
            },
            ImportStripePrice {
                price: price("price_new", 500, true),
                tier_key: "g-gold".into(),
                created_ms: T0 - 8 * DAY,
            },
        ],
        customers: vec![
            ImportCustomer {
                customer_id: "cus_a".into(),
                member: email("ada@example.org"),
                created_ms: T0 - 7 * DAY,
            },
            ImportCustomer {
                customer_id: "cus_b".into(),
                member: email("bob@example.org"),
                created_ms: T0 - 7 * DAY,
            },
            ImportCustomer {
                customer_id: "cus_nobody".into(),
                member: email("nobody@example.org"),
                created_ms: T0 - 7 * DAY,
            },
        ],
        subscriptions: vec![
            ImportSubscription {
                state: sub("sub_1", "cus_a", "price_new", "active", T0 + 20 * DAY),
                created_ms: T0 - 7 * DAY,
            },
            ImportSubscription {
                state: comped_sub,
                created_ms: T0 - 6 * DAY,
            },
        ],
        comps: vec![ImportComp {
            member: email("bob@example.org"),
            tier_key: "g-gold".into(),
            until_ms: Some(T0 + 400 * DAY),
        }],
    }
}

/// A Ghost import of paid memberships on one store, twice, then a live
/// fetch over it; what it saw.
async fn run_import(store: &Store) -> Vec<String> {
    let mut seen = Vec::new();
    store
        .add_desk_members(vec![
            member("ada@example.org", "paid"),
            member("bob@example.org", "comped"),
        ])
        .await
        .expect("members");
    for _ in 0..2 {
        let done = store
            .import_site(crate::units::SiteImport {
                billing: ghost_billing(),
                ..Default::default()
            })
            .await
            .expect("import");
        seen.push(format!(
            "tiers {}+{} customers {} subscriptions {} comps {} skipped {:?}",
            done.tiers_added,
            done.tiers_present,
            done.customers_linked,
            done.subscriptions_written,
            done.comps_set,
            done.skipped
        ));
    }
    for id in [1, 2] {
        let m = store.desk_member(id).await.expect("read").expect("member");
        seen.push(format!("{} {} {:?}", m.email, m.status, m.tier_id));
    }
    // Without `updated_ms`: it is the clock's now.
    let mut all = store.everything().await.expect("everything");
    for (s, _) in &mut all.billing.subscriptions {
        s.updated_ms = 0;
    }
    seen.push(format!("{:#?}", all.billing));
    let mut listed = store
        .subscriptions_of_members(vec![1, 2, 99])
        .await
        .expect("subscriptions");
    for s in &mut listed {
        s.subscription.updated_ms = 0;
    }
    seen.push(format!("{listed:#?}"));
    // Stripe's word, fetched later, is not undone by importing again.
    let mut live = sub("sub_1", "cus_a", "price_new", "canceled", T0 + 20 * DAY);
    live.cancel_at_period_end = true;
    store
        .sync_subscription(live, T0, T0)
        .await
        .expect("live fetch");
    store
        .import_site(crate::units::SiteImport {
            billing: ghost_billing(),
            ..Default::default()
        })
        .await
        .expect("import again");
    let billing = store.member_billing(1).await.expect("billing");
    seen.push(format!("{:?}", billing.subscriptions[0].status));
    let comp: Vec<(String, String, Option<i64>)> = store
        .member_events(2)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "comp_given")
        .map(|e| (e.kind, e.note, e.until_ms))
        .collect();
    seen.push(format!("{comp:?}"));
    seen
}

#[tokio::test]
async fn ghost_imports_of_paid_memberships_agree_on_both_backends() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-ghostpay-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Store::open_sqlite(&dir.join("import.db")).expect("open SQLite");
    let db = TestDb::new("ghostpay").await;
    let pg = Store::with_postgres(db.migrated().await);
    let lite_seen = run_import(&lite).await;
    let pg_seen = run_import(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
    for (l, p) in lite_seen.iter().zip(&pg_seen) {
        assert_eq!(l, p, "SQLite (left) and PostgreSQL (right) differ");
    }
    assert_eq!(lite_seen.len(), pg_seen.len());
    assert!(
        lite_seen[0].starts_with("tiers 1+1 customers 2 subscriptions 2 comps 1"),
        "{}",
        lite_seen[0]
    );
    for why in [
        "A paid tier needs a currency",
        "Stripe product prod_broken",
        "Stripe customer cus_nobody",
    ] {
        assert!(lite_seen[0].contains(why), "{why} in {}", lite_seen[0]);
    }
    assert!(
        lite_seen[1].starts_with("tiers 0+2 customers 2 subscriptions 0 comps 0"),
        "a second import changes nothing: {}",
        lite_seen[1]
    );
    assert_eq!(lite_seen[2], "ada@example.org paid Some(2)");
    assert_eq!(lite_seen[3], "bob@example.org comped Some(2)");
    assert!(lite_seen[4].contains("price_old") && lite_seen[4].contains("active: false"));
    assert!(lite_seen[5].contains("sub_1") && lite_seen[5].contains("sub_2"));
    assert_eq!(lite_seen[6], "\"canceled\"", "the live fetch stands");
    assert_eq!(
        lite_seen[7],
        format!(
            "[(\"comp_given\", \"From a Ghost import\", Some({}))]",
            T0 + 400 * DAY
        ),
        "the comp is in the member's history, once"
    );
}

#[tokio::test]
async fn of_two_fetches_synced_at_once_the_later_one_stands() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-billing-race-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Store::open_sqlite(&dir.join("race.db")).expect("open SQLite");
    race(&lite).await;
    let db = TestDb::new("billing_race").await;
    race(&Store::with_postgres(db.migrated().await)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
