//! Donations' store operations, through the [`Store`] facade, on a fresh
//! SQLite file and a fresh PostgreSQL database: the same sequence on each,
//! the same results asserted (issue 11, item 5). Needs
//! `MASTHEAD_TEST_DATABASE_URL` (see tests.rs): without it these fail.

use masthead_domain::Email;

use super::tests::TestDb;
use crate::Store;
use masthead_model::billing::*;
use masthead_model::members::*;

const T0: i64 = 1_800_000_000_000;

fn member(email: &str) -> NewDeskMember {
    NewDeskMember {
        email: Email::parse(email).expect("email"),
        name: "Ada".into(),
        note: String::new(),
        status: "free".into(),
        labels: Vec::new(),
        newsletters: Vec::new(),
        source: "admin".into(),
        created_ms: Some(T0),
    }
}

fn gift(kind: &str, amount: i64, stripe_ref: &str, email: &str, at: i64) -> NewDonation {
    NewDonation {
        kind: kind.into(),
        amount,
        currency: "usd".into(),
        member_id: None,
        email: email.into(),
        name: "Giver".into(),
        stripe_ref: stripe_ref.into(),
        stripe_session_id: (kind == "one_off").then(|| format!("cs_{stripe_ref}")),
        stripe_subscription_id: (kind == "monthly").then(|| "sub_gift".to_owned()),
        stripe_customer_id: Some("cus_gift".into()),
        created_ms: at,
    }
}

/// A donation without its id: PostgreSQL's identity spends a number on a
/// refused insert (the repeat), SQLite's rowid does not.
fn line(d: &Donation) -> String {
    format!("{:?}", Donation { id: 0, ..d.clone() })
}

/// The whole sequence on one store; what it saw, line by line.
async fn run(store: &Store) -> Vec<String> {
    let mut seen = Vec::new();
    store
        .add_desk_members(vec![member("ada@example.org")])
        .await
        .expect("member");
    // A stranger's one-off gift, delivered twice: recorded once.
    let first = store
        .record_donation(gift("one_off", 1_250, "pi_1", "stranger@example.org", T0))
        .await
        .expect("record");
    assert!(first.is_some());
    let again = store
        .record_donation(gift("one_off", 1_250, "pi_1", "stranger@example.org", T0))
        .await
        .expect("record again");
    assert_eq!(again, None, "the same payment records nothing twice");
    // Ada gives monthly without being signed in: her address links her.
    let ada_first = store
        .record_donation(gift("monthly", 500, "in_1", "ada@example.org", T0 + 10))
        .await
        .expect("monthly")
        .expect("new");
    let ada_second = store
        .record_donation(gift("monthly", 500, "in_2", "Ada@Example.org", T0 + 20))
        .await
        .expect("monthly 2")
        .expect("new");
    // A member id that names nobody is not kept (and breaks nothing).
    let ghost = store
        .record_donation(NewDonation {
            member_id: Some(999),
            ..gift("one_off", 300, "pi_ghost", "", T0 + 30)
        })
        .await
        .expect("ghost")
        .expect("new");
    seen.push(line(
        &store.donation(ghost).await.expect("read").expect("row"),
    ));
    let d = store.donation(ada_first).await.expect("read").expect("row");
    assert_eq!(d.member_id, Some(1), "linked by address");
    let second = store
        .donation(ada_second)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(second.member_id, Some(1), "whatever its case");
    assert!(!d.thanked);
    seen.push(line(&d));

    let mine = store.member_donations(1).await.expect("mine");
    assert_eq!(
        mine.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![500, 500]
    );
    assert_eq!(store.member_donations(2).await.expect("nobody's"), vec![]);

    // Thanked once.
    assert!(
        store
            .mark_donation_thanked(ada_first, T0 + 11)
            .await
            .expect("thank")
    );
    assert!(
        !store
            .mark_donation_thanked(ada_first, T0 + 12)
            .await
            .expect("thank again")
    );
    assert!(
        store
            .donation(ada_first)
            .await
            .expect("read")
            .expect("row")
            .thanked
    );

    // The thank-you page finds a one-off gift by its session.
    let by_session = store
        .donation_by_session("cs_pi_1".into())
        .await
        .expect("by session")
        .expect("found");
    assert_eq!(
        (by_session.amount, by_session.kind.as_str()),
        (1_250, "one_off")
    );
    assert_eq!(
        store
            .donation_by_session("cs_nothing".into())
            .await
            .expect("none"),
        None
    );

    // Totals since a time, in one currency.
    assert_eq!(
        store
            .donations_total("usd".into(), T0)
            .await
            .expect("total"),
        2_550
    );
    assert_eq!(
        store
            .donations_total("usd".into(), T0 + 15)
            .await
            .expect("total"),
        800
    );
    assert_eq!(
        store.donations_total("eur".into(), 0).await.expect("total"),
        0
    );

    // Ada deletes her account: her gifts stay, without her name or address.
    assert!(store.delete_member_account(1).await.expect("delete"));
    for id in [ada_first, ada_second] {
        let d = store.donation(id).await.expect("read").expect("kept");
        assert_eq!(
            (d.email.as_str(), d.name.as_str(), d.member_id),
            ("", "", None)
        );
        assert_eq!(d.amount, 500);
        seen.push(line(&d));
    }
    // The stranger's gift keeps its address.
    assert_eq!(by_session.email, "stranger@example.org");
    assert_eq!(
        store
            .donations_total("usd".into(), T0)
            .await
            .expect("total"),
        2_550
    );
    seen
}

#[tokio::test]
async fn donation_operations_agree_on_both_backends() {
    let dir = std::env::temp_dir().join(format!(
        "masthead-donations-{}-{}",
        std::process::id(),
        crate::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lite = Store::open_sqlite(&dir.join("donations.db")).expect("open SQLite");
    let db = TestDb::new("donations").await;
    let pg = Store::with_postgres(db.migrated().await);
    let lite_seen = run(&lite).await;
    let pg_seen = run(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        lite_seen, pg_seen,
        "SQLite (left) and PostgreSQL (right) differ"
    );
}
