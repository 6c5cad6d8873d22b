//! The desk's revenue figures (issue 11, item 8) through the real server:
//! paying members, subscriptions and donations written by the store's own
//! operations into the site's database (as Stripe's webhooks would have
//! them), then `/admin/revenue` and the front page read as an
//! administrator, and refused to roles below.

use masthead_domain::Email;
use masthead_store::{CustomerLink, MemberAdded, NewDeskMember, NewDonation, SubscriptionState};

use super::members_desk::{desk_get, start};
use super::*;

const DAY: i64 = 86_400_000;

fn subscription(
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
        current_period_start_ms: None,
        current_period_end_ms: None,
        trial_end_ms: None,
        amount,
        currency: currency.into(),
        cadence: cadence.into(),
    }
}

/// Ada (5.00 USD a month, cancelled today), Bob (60.00 USD a year), Cy
/// (9.00 EUR a month), and two donations: 12.34 USD and 3.00 GBP.
async fn write_figures(data: &Path) {
    let store = open_store(data).await;
    let now = masthead_store::now_ms();
    let members = ["ada", "bob", "cy"]
        .iter()
        .map(|n| NewDeskMember {
            email: Email::parse(&format!("{n}@readers.example")).expect("email"),
            name: (*n).into(),
            note: String::new(),
            status: "free".into(),
            labels: Vec::new(),
            newsletters: Vec::new(),
            source: "admin".into(),
            created_ms: Some(now - 10 * DAY),
        })
        .collect();
    let ids = store.add_desk_members(members).await.expect("members");
    for (customer, added) in ["cus_a", "cus_b", "cus_c"].iter().zip(ids) {
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
                now_ms: now - 5 * DAY,
            })
            .await
            .expect("link");
    }
    for (s, at) in [
        (
            subscription("sub_a", "cus_a", "active", 500, "usd", "month"),
            now - 3 * DAY,
        ),
        (
            subscription("sub_b", "cus_b", "active", 6_000, "usd", "year"),
            now - 2 * DAY,
        ),
        (
            subscription("sub_c", "cus_c", "active", 900, "eur", "month"),
            now - DAY,
        ),
        (
            subscription("sub_a", "cus_a", "canceled", 500, "usd", "month"),
            now - 1_000,
        ),
    ] {
        store.sync_subscription(s, at, at).await.expect("sync");
    }
    for (reference, amount, currency) in [("pi_1", 1_234, "usd"), ("pi_2", 300, "gbp")] {
        store
            .record_donation(NewDonation {
                kind: "one_off".into(),
                amount,
                currency: currency.into(),
                member_id: None,
                email: String::new(),
                name: String::new(),
                stripe_ref: reference.into(),
                stripe_session_id: None,
                stripe_subscription_id: None,
                stripe_customer_id: None,
                created_ms: now,
            })
            .await
            .expect("donation");
    }
}

/// The text of the element that opens with `opening` (up to the next `<`).
fn text_after<'a>(html: &'a str, opening: &str) -> &'a str {
    html.split(opening)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no {opening} in the page"))
}

#[tokio::test]
async fn revenue_figures_show_to_administrators_only() {
    let dir = TempDir::new("revenue");
    let s = start(&dir);
    write_figures(&dir.0).await;
    let (boss, _) = signed_in(&s, "boss@courier.example", "administrator").await;

    let (status, html) = desk_get(&s, &boss, "/admin/revenue").await;
    assert_eq!(status, 200, "{html}");
    // Bob and Cy pay; Ada cancelled. Bob's year is 5.00 a month, Cy's
    // euros are shown apart, never added in.
    assert_eq!(
        text_after(&html, "id=\"paying-now\" class=\"big-number\">"),
        "2"
    );
    assert_eq!(
        text_after(&html, "id=\"mrr-now\" class=\"big-number\">"),
        "USD 5.00"
    );
    assert!(html.contains("and, apart, EUR 9.00"), "{html}");
    assert_eq!(
        text_after(&html, "id=\"donations-month\" class=\"big-number\">"),
        "USD 12.34"
    );
    assert!(html.contains("and, apart, GBP 3.00"), "{html}");
    let card = |key: &str| -> String {
        html.split(&format!("id=\"rev-{key}\""))
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .unwrap_or_else(|| panic!("no {key} chart"))
            .to_owned()
    };
    assert!(card("started").contains("<p>3 in 30 days.</p>"));
    assert!(card("cancelled").contains("<p>1 in 30 days.</p>"));
    // Three days ago only Ada paid (5.00); two days ago Bob joined her
    // (10.00); today Ada has gone.
    let mrr = card("mrr");
    assert!(
        mrr.contains("<p>USD 5.00 now; USD 0.00 30 days ago.</p>"),
        "{mrr}"
    );
    assert!(mrr.contains("<td>USD 10.00</td>"), "{mrr}");
    assert!(
        card("paying").contains("<td>3</td>"),
        "Cy's day: all three paid"
    );
    // Every chart is an image with a title, and a table of its numbers.
    for key in ["paying", "mrr", "started", "cancelled", "donations"] {
        let c = card(key);
        assert!(c.contains("role=\"img\""), "{key}");
        assert!(
            c.contains(&format!("aria-labelledby=\"rev-{key}-title\"")),
            "{key}"
        );
        assert_eq!(c.matches("<rect").count(), 30, "{key}: a bar a day");
        assert_eq!(c.matches("<tr><td>").count(), 30, "{key}: a row a day");
    }
    // The range switch is a plain link.
    let (status, year) = desk_get(&s, &boss, "/admin/revenue?days=365").await;
    assert_eq!(status, 200);
    assert!(year.contains("href=\"/admin/revenue?days=365\" aria-current=\"page\""));
    assert!(year.contains("<p>3 in 365 days.</p>"));

    // The front page's card, with its link and nav entry.
    let (_, home) = desk_get(&s, &boss, "/admin/").await;
    assert!(home.contains("id=\"revenue\""), "{home}");
    assert!(home.contains("href=\"/admin/revenue\""));
    assert!(home.contains("href=\"/admin/revenue?days=30\""));
    assert!(
        home.contains("USD 5.00</strong> monthly recurring revenue"),
        "{home}"
    );

    // Editors and contributors: refused, and nothing on their front page.
    for (email, role) in [
        ("ed@courier.example", "editor"),
        ("cont@courier.example", "contributor"),
    ] {
        let (cookie, _) = signed_in(&s, email, role).await;
        let (status, page) = desk_get(&s, &cookie, "/admin/revenue").await;
        assert_eq!(status, 403, "{role}");
        assert!(!page.contains("USD 5.00"), "{role}");
        let (_, home) = desk_get(&s, &cookie, "/admin/").await;
        assert!(!home.contains("id=\"revenue\""), "{role}");
        assert!(!home.contains("/admin/revenue"), "{role}");
    }
    // Nobody signed in goes to the sign-in page.
    let res = client()
        .get(s.url("/admin/revenue"))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(res.status().as_u16(), 303);
}
