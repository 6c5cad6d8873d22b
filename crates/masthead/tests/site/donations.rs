//! Donations (issue 11, item 5) through the real server, against the same
//! Stripe-API server as `stripe.rs` (localstripe and the fixture's recording
//! Checkout endpoint; events localstripe cannot produce are signed by the
//! official `stripe` library through the fixture) and a real SMTP server
//! (aiosmtpd) that receives the thank-you e-mails.
//!
//! The Checkout Sessions Masthead asks for are checked parameter by
//! parameter against Stripe's documented ones
//! (`stripe::documented_checkout_parameter`).

use serde_json::{Value, json};

use super::members::{link_and_code, mail, member_cookie};
use super::stripe::{
    StripeApi, WHSEC, account, csrf_of, deliver, documented_checkout_parameter, event, form_of,
    stripe_env,
};
use super::*;

/// A server on `api` whose mail goes to `smtp`.
fn start(dir: &Path, api: &StripeApi, smtp: &SmtpSink) -> Server {
    let mut env = stripe_env(api);
    env.push((
        "MASTHEAD_SMTP_URL",
        format!("smtp://127.0.0.1:{}", smtp.port),
    ));
    env.push((
        "MASTHEAD_MAIL_FROM",
        "The Aldren Courier <members@courier.example>".to_owned(),
    ));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(dir, &pairs)
}

async fn post_form(
    s: &Server,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = client().post(s.url(path)).form(form);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = req.send().await.expect("post");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, res.text().await.expect("body"))
}

async fn page(s: &Server, path: &str, cookie: Option<&str>) -> String {
    let mut req = client().get(s.url(path));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.send().await.expect("get").text().await.expect("html")
}

/// `/api/campaign` once its count is `count` (the counter follows the
/// change log, a moment after the webhook).
async fn campaign_at(s: &Server, count: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(&s.url("/api/campaign")).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        if v["count"].as_u64() == Some(count) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign never counted {count}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn value(form: &[(String, String)], k: &str) -> Option<String> {
    form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[tokio::test]
async fn gifts_go_through_checkout_are_recorded_once_thanked_and_counted_by_the_campaign() {
    let api = StripeApi::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("donations");
    let s = start(&dir.0, &api, &smtp);
    api.register_webhook(&s.url("/members/webhooks/stripe/"))
        .await;

    // A campaign counting donations: 100 USD.
    let (staff, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let (status, _, html) = post_form(
        &s,
        "/admin/settings",
        Some(&staff),
        &[
            ("csrf", &csrf),
            ("title", "The Aldren Courier"),
            ("description", "News."),
            ("accent", "#b3261e"),
            ("timezone", "Europe/London"),
            ("pitch", "Readers pay for our reporting."),
            ("goal", "100"),
            ("metric", "donations"),
            ("deadline", "2035-12-31"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let v = campaign_at(&s, 0).await;
    assert_eq!(
        (
            v["metric"].as_str(),
            v["goal_label"].as_str(),
            v["noun"].as_str()
        ),
        (Some("donations"), Some("100 USD"), Some("raised")),
        "{v}"
    );

    // The suggested amounts: administrators only, checked.
    let (status, _, html) = post_form(
        &s,
        "/admin/settings/donations",
        Some(&staff),
        &[("csrf", &csrf), ("amounts", "3, 0")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("greater than zero"), "{html}");
    let (editor, editor_csrf) = signed_in(&s, "ed@courier.example", "editor").await;
    let (status, _, _) = post_form(
        &s,
        "/admin/settings/donations",
        Some(&editor),
        &[("csrf", &editor_csrf), ("amounts", "1")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = post_form(
        &s,
        "/admin/settings/donations",
        Some(&staff),
        &[("csrf", "forged"), ("amounts", "1")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, html) = post_form(
        &s,
        "/admin/settings/donations",
        Some(&staff),
        &[("csrf", &csrf), ("amounts", "40 3 15")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"3.00 15.00 40.00\""), "{html}");

    // The page offers them, once or monthly, and another amount.
    let html = page(&s, "/support/", None).await;
    for text in [
        "value=\"300\"",
        "3.00 USD",
        "15.00 USD",
        "40.00 USD",
        "Every month",
        "name=\"custom\"",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    assert!(
        html.contains("value=\"300\" checked"),
        "the first is chosen: {html}"
    );
    // From a story's box: its amount chosen, and only it.
    let html = page(&s, "/support/?amount=1500", None).await;
    assert!(html.contains("value=\"1500\" checked"), "{html}");
    assert_eq!(
        html.matches(" checked>").count(),
        2,
        "an amount and Once: {html}"
    );

    // A story's support box offers the same amounts.
    super::feeds::publish_post(
        &s,
        &staff,
        &csrf,
        "article",
        "Ferry fares",
        &[
            ("slug", "ferry-fares"),
            (
                "body",
                "Fares rise in May.\n\n<!--support-->\n\nThe board explains why.",
            ),
        ],
    )
    .await;
    let story = page(&s, "/ferry-fares/", None).await;
    assert!(story.contains("class=\"support-box\""), "{story}");
    assert!(
        story.contains("href=\"/support/?amount=1500\">15.00 USD</a>"),
        "{story}"
    );
    assert!(!story.contains("<!--support-->"), "{story}");

    // Bad amounts: clear errors, no Checkout Session.
    for (form, error) in [
        (
            vec![
                ("amount", "custom"),
                ("custom", "0"),
                ("frequency", "one_off"),
            ],
            "greater than zero",
        ),
        (
            vec![
                ("amount", "custom"),
                ("custom", "-5"),
                ("frequency", "one_off"),
            ],
            "greater than zero",
        ),
        (
            vec![
                ("amount", "custom"),
                ("custom", "lots"),
                ("frequency", "one_off"),
            ],
            "not an amount",
        ),
        (
            vec![
                ("amount", "custom"),
                ("custom", "20000"),
                ("frequency", "monthly"),
            ],
            "at most 10000.00 USD",
        ),
        (
            vec![
                ("amount", "custom"),
                ("custom", "0.40"),
                ("frequency", "one_off"),
            ],
            "smallest gift",
        ),
        (
            vec![("amount", "1500"), ("frequency", "weekly")],
            "once or every month",
        ),
        (vec![("frequency", "one_off")], "Choose an amount"),
    ] {
        let (status, _, html) = post_form(&s, "/support/", None, &form).await;
        assert_eq!(status, 422, "{form:?}");
        assert!(html.contains(error), "{error}: {html}");
        assert!(html.contains("role=\"alert\""), "{html}");
    }
    assert!(
        api.seen().await["sessions"]
            .as_array()
            .expect("sessions")
            .is_empty()
    );

    // A reader without an account gives 15 once: off to Checkout.
    let (status, location, _) = post_form(
        &s,
        "/support/",
        None,
        &[("amount", "1500"), ("frequency", "one_off")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, "https://checkout.stripe.com/c/pay/cs_test_0001");

    // Ada, a member, gives 7.50 a month; her form needs its token.
    let res = client()
        .post(s.url("/join/"))
        .form(&[("email", "ada@example.org")])
        .send()
        .await
        .expect("join");
    assert_eq!(res.status().as_u16(), 303);
    let (link, _) = link_and_code(&mail(&smtp, 1));
    let res = client().get(&link).send().await.expect("confirm");
    let ada = member_cookie(&res);
    let ada_csrf = csrf_of(&page(&s, "/support/", Some(&ada)).await);
    let monthly = [
        ("amount", "custom"),
        ("custom", "7.50"),
        ("frequency", "monthly"),
    ];
    let mut forged = monthly.to_vec();
    forged.push(("csrf", "forged"));
    assert_eq!(post_form(&s, "/support/", Some(&ada), &forged).await.0, 403);
    let mut genuine = monthly.to_vec();
    genuine.push(("csrf", &ada_csrf));
    let (status, location, _) = post_form(&s, "/support/", Some(&ada), &genuine).await;
    assert_eq!(status, 303);
    assert_eq!(location, "https://checkout.stripe.com/c/pay/cs_test_0002");

    // What Masthead asked of Stripe: documented parameters only.
    let seen = api.seen().await;
    let sessions = seen["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{seen}");
    let once = form_of(&sessions[0]);
    let month = form_of(&sessions[1]);
    for form in [&once, &month] {
        for (k, _) in form {
            assert!(
                documented_checkout_parameter(k),
                "undocumented parameter {k}"
            );
        }
        assert_eq!(value(form, "metadata[kind]").as_deref(), Some("donation"));
        assert_eq!(
            value(form, "line_items[0][price_data][currency]").as_deref(),
            Some("usd")
        );
        assert_eq!(value(form, "line_items[0][quantity]").as_deref(), Some("1"));
        assert_eq!(
            value(form, "success_url"),
            Some(s.url("/support/thanks/?session_id={CHECKOUT_SESSION_ID}"))
        );
        assert_eq!(
            value(form, "cancel_url"),
            Some(s.url("/support/?canceled=1"))
        );
    }
    assert_eq!(value(&once, "mode").as_deref(), Some("payment"));
    assert_eq!(value(&once, "submit_type").as_deref(), Some("donate"));
    assert_eq!(
        value(&once, "line_items[0][price_data][unit_amount]").as_deref(),
        Some("1500")
    );
    assert_eq!(
        value(&once, "line_items[0][price_data][product_data][name]").as_deref(),
        Some("Donation to The Aldren Courier")
    );
    assert_eq!(
        value(&once, "payment_intent_data[metadata][kind]").as_deref(),
        Some("donation")
    );
    assert_eq!(
        value(&once, "line_items[0][price_data][recurring][interval]"),
        None
    );
    assert_eq!(value(&once, "customer_email"), None);
    assert_eq!(value(&month, "mode").as_deref(), Some("subscription"));
    assert_eq!(value(&month, "submit_type"), None);
    assert_eq!(
        value(&month, "line_items[0][price_data][unit_amount]").as_deref(),
        Some("750")
    );
    assert_eq!(
        value(&month, "line_items[0][price_data][recurring][interval]").as_deref(),
        Some("month")
    );
    assert_eq!(
        value(&month, "subscription_data[metadata][kind]").as_deref(),
        Some("donation")
    );
    assert_eq!(
        value(&month, "customer_email").as_deref(),
        Some("ada@example.org")
    );
    let ada_id = value(&month, "metadata[member_id]").expect("member id");

    // Stripe says the one-off gift is paid. A forged event first: 400.
    let paid = event(
        "evt_gift_once",
        "checkout.session.completed",
        json!({
            "id": "cs_test_0001", "object": "checkout.session", "mode": "payment",
            "status": "complete", "payment_status": "paid",
            "amount_total": 1500, "currency": "usd", "payment_intent": "pi_gift_1",
            "customer": null,
            "customer_details": {"email": "Sam@Example.org", "name": "Sam Stranger"},
            "metadata": {"kind": "donation"}
        }),
    );
    let t = masthead_store::now_ms() / 1000;
    let (status, _) = deliver(&s, &paid, Some(&format!("t={t},v1={}", "0".repeat(64)))).await;
    assert_eq!(status, 400);
    let other = api.sign(&paid, "whsec_somebodyelse0123456789", None).await;
    assert_eq!(deliver(&s, &paid, Some(&other)).await.0, 400);
    assert_eq!(campaign_at(&s, 0).await["count"], 0);

    let sig = api.sign(&paid, WHSEC, None).await;
    let (status, body) = deliver(&s, &paid, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("recorded: 15.00 USD once"), "{body}");
    // Delivered twice, and the same payment in another event: once only.
    let (status, body) = deliver(&s, &paid, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("duplicate"), "{body}");
    let again = paid.replace("evt_gift_once", "evt_gift_once_again");
    let sig = api.sign(&again, WHSEC, None).await;
    let (status, body) = deliver(&s, &again, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("already recorded"), "{body}");

    // The site thanks Sam by e-mail (message 2: Ada's confirmation was 1).
    let thanks = mail(&smtp, 2);
    assert!(thanks.starts_with("RCPT-TO: Sam@Example.org"), "{thanks}");
    assert!(
        thanks.contains("Thank you for supporting The Aldren Courier"),
        "{thanks}"
    );
    assert!(thanks.contains("gift of 15.00 USD"), "{thanks}");
    assert!(thanks.contains("Dear Sam Stranger"), "{thanks}");

    // A gift by bank debit: completed unpaid, paid a few days later.
    let delayed = |id: &str, kind: &str, status: &str| {
        event(
            id,
            kind,
            json!({
                "id": "cs_test_delayed", "object": "checkout.session", "mode": "payment",
                "status": "complete", "payment_status": status,
                "amount_total": 1000, "currency": "usd", "payment_intent": "pi_gift_delayed",
                "customer_details": {"email": "lee@example.org", "name": ""},
                "metadata": {"kind": "donation"}
            }),
        )
    };
    let completed = delayed("evt_delayed_1", "checkout.session.completed", "unpaid");
    let sig = api.sign(&completed, WHSEC, None).await;
    let (status, body) = deliver(&s, &completed, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not paid yet"), "{body}");
    let paid_later = delayed(
        "evt_delayed_2",
        "checkout.session.async_payment_succeeded",
        "paid",
    );
    let sig = api.sign(&paid_later, WHSEC, None).await;
    let (status, body) = deliver(&s, &paid_later, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("recorded: 10.00 USD once"), "{body}");
    let thanks = mail(&smtp, 3);
    assert!(thanks.starts_with("RCPT-TO: lee@example.org"), "{thanks}");
    assert!(thanks.contains("Hello,"), "{thanks}");

    // The campaign counts them; the API and the banner follow.
    let v = campaign_at(&s, 25).await;
    assert_eq!(v["count_label"], "25 USD", "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let home = page(&s, "/", None).await;
        if home.contains("<strong data-drive-count>25 USD</strong>") {
            assert!(
                home.contains("<span data-drive-noun>raised</span>"),
                "{home}"
            );
            assert!(home.contains("href=\"/support/\">Give</a>"), "{home}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the banner never said 25 USD: {home}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Back from Checkout: the amount, looked up by the session.
    let html = page(&s, "/support/thanks/?session_id=cs_test_0001", None).await;
    assert!(
        html.contains("gift of <strong>15.00 USD</strong>"),
        "{html}"
    );
    let html = page(&s, "/support/thanks/?session_id=cs_test_9999", None).await;
    assert!(html.contains("Stripe is confirming your payment"), "{html}");
    assert!(!html.contains("gift of"), "{html}");

    // Ada's monthly gift, as Stripe runs it: a subscription made in
    // localstripe with the gift's metadata. Its own signed events reach
    // Masthead, which reads the subscription and leaves her free.
    let product = api
        .post("/v1/products", &[("name", "Monthly donation")])
        .await;
    let plan = api
        .post(
            "/v1/plans",
            &[
                ("product", product["id"].as_str().expect("product")),
                ("amount", "750"),
                ("currency", "usd"),
                ("interval", "month"),
            ],
        )
        .await;
    let customer = api
        .post(
            "/v1/customers",
            &[
                ("email", "ada@example.org"),
                ("payment_method", "pm_card_visa"),
                ("invoice_settings[default_payment_method]", "pm_card_visa"),
            ],
        )
        .await;
    let customer_id = customer["id"].as_str().expect("customer").to_owned();
    let sub = api
        .post(
            "/v1/subscriptions",
            &[
                ("customer", customer_id.as_str()),
                ("items[0][plan]", plan["id"].as_str().expect("plan")),
                ("metadata[kind]", "donation"),
                ("metadata[member_id]", ada_id.as_str()),
            ],
        )
        .await;
    let sub_id = sub["id"].as_str().expect("subscription").to_owned();
    assert_eq!(sub["status"], "active", "{sub}");
    // The gift's checkout completing changes no membership.
    let started = event(
        "evt_gift_monthly_checkout",
        "checkout.session.completed",
        json!({
            "id": "cs_test_0002", "object": "checkout.session", "mode": "subscription",
            "status": "complete", "payment_status": "paid", "customer": customer_id,
            "subscription": sub_id,
            "customer_details": {"email": "ada@example.org", "name": "Ada"},
            "metadata": {"kind": "donation", "member_id": ada_id}
        }),
    );
    let sig = api.sign(&started, WHSEC, None).await;
    let (status, body) = deliver(&s, &started, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("monthly gift began"), "{body}");
    let updated = event(
        "evt_gift_sub_updated",
        "customer.subscription.updated",
        json!({"id": sub_id, "object": "subscription", "customer": customer_id, "status": "active"}),
    );
    let sig = api.sign(&updated, WHSEC, None).await;
    let (status, body) = deliver(&s, &updated, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not a membership"), "{body}");

    // Each paid invoice is a monthly gift, recorded once. localstripe paid
    // the first at once, and its own signed invoice.payment_succeeded
    // records it (25 + 7.50 = 32 whole dollars counted).
    campaign_at(&s, 32).await;
    let first = sub["latest_invoice"]
        .as_str()
        .expect("first invoice")
        .to_owned();
    // The second month, which localstripe cannot bring about: signed by
    // Stripe's library. Each is recorded once, however often delivered.
    for (n, invoice) in [first.as_str(), "in_gift_2"].iter().enumerate() {
        let paid = event(
            &format!("evt_gift_invoice_{n}"),
            "invoice.paid",
            json!({
                "id": invoice, "object": "invoice", "subscription": sub_id,
                "customer": customer_id, "customer_email": "ada@example.org",
                "customer_name": "Ada", "amount_paid": 750, "currency": "usd",
                "status": "paid"
            }),
        );
        let sig = api.sign(&paid, WHSEC, None).await;
        let (status, body) = deliver(&s, &paid, Some(&sig)).await;
        assert_eq!(status, 200, "{body}");
        if n == 0 {
            assert!(body.contains("already recorded"), "{body}");
        } else {
            assert!(body.contains("recorded: 7.50 USD this month"), "{body}");
        }
        let repeat = paid.replace("evt_gift_invoice_", "evt_gift_invoice_again_");
        let sig = api.sign(&repeat, WHSEC, None).await;
        let (status, body) = deliver(&s, &repeat, Some(&sig)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("already recorded"), "{body}");
    }
    let v = campaign_at(&s, 40).await;
    assert_eq!(v["count_label"], "40 USD", "{v}");
    for n in [4, 5] {
        let thanks = mail(&smtp, n);
        assert!(thanks.starts_with("RCPT-TO: ada@example.org"), "{thanks}");
        assert!(thanks.contains("this month's gift of 7.50 USD"), "{thanks}");
    }

    // A monthly donor is not a paying member.
    let html = account(&s, &ada).await;
    assert!(html.contains("(free membership)"), "{html}");
    assert!(
        api.seen().await["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .any(
                |r| r["path"] == format!("/v1/subscriptions/{sub_id}").as_str()
                    && r["user_agent"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("Masthead/"))
            ),
        "Masthead read the subscription from Stripe"
    );
}
