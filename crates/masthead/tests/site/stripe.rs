//! Paid memberships against a real, stateful Stripe-API server: localstripe
//! (PyPI; `scripts/test.sh` installs it), run by `fixtures/stripe_server.py`
//! on a free port, with Masthead pointed at it by `MASTHEAD_STRIPE_API_BASE`
//! and Masthead's webhook registered through localstripe's
//! `/_config/webhooks/{id}` route with the signing secret Masthead has.
//! Customers, plans and subscriptions are created and cancelled in it, and
//! the webhooks it signs and sends drive Masthead.
//!
//! localstripe has no Checkout Sessions and no billing portal: for those two
//! calls only, the fixture answers from a small recording endpoint, and the
//! tests check every parameter Masthead sent against Stripe's documented
//! ones. Events localstripe never sends (checkout.session.completed,
//! invoice.paid, a replay of an old event) are signed by the official
//! `stripe` library's `WebhookSignature.generate_signature_header`, through
//! the fixture, never by code of ours.

use std::net::TcpStream;

use serde_json::{Value, json};

use super::*;

pub(super) const KEY: &str = "sk_test_mastheadlocal0123456789";
pub(super) const WHSEC: &str = "whsec_mastheadlocal0123456789abcdef";
const PINNED_VERSION: &str = "2024-06-20";
const PAID_BODY: &str = "The council met the harbour board on Friday.\n\n\
    Both sides signed the lease.\n\n\
    <!--members-only-->\n\n\
    The rent doubles in 2030, the papers show.";
const PAID_SECRET: &str = "The rent doubles in 2030";

/// localstripe plus the recording endpoints, stopped when dropped.
pub(super) struct StripeApi {
    child: Child,
    pub(super) base: String,
}

impl StripeApi {
    pub(super) fn start() -> StripeApi {
        let python = std::env::var("MASTHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stripe_server.py"
        );
        let child = Command::new(&python)
            .arg(script)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {python}: {e}; ./scripts/test.sh installs localstripe and stripe"
                )
            });
        let mut api = StripeApi {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = api.child.try_wait().expect("wait") {
                panic!(
                    "the Stripe-API server exited ({status}); are localstripe and stripe \
                     installed for {python}? ./scripts/test.sh installs them"
                );
            }
            assert!(
                Instant::now() < deadline,
                "the Stripe-API server did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        api
    }

    async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
        let res = client()
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .form(form)
            .send()
            .await
            .expect("Stripe-API request");
        let status = res.status();
        let body: Value = res.json().await.expect("Stripe-API JSON");
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    pub(super) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        self.call(reqwest::Method::POST, path, form).await
    }

    async fn delete(&self, path: &str) -> Value {
        self.call(reqwest::Method::DELETE, path, &[]).await
    }

    pub(super) async fn register_webhook(&self, url: &str) {
        let res = client()
            .post(format!("{}/_config/webhooks/masthead", self.base))
            .form(&[("url", url), ("secret", WHSEC)])
            .send()
            .await
            .expect("register webhook");
        assert!(res.status().is_success(), "register: {}", res.status());
    }

    /// `Stripe-Signature` for `payload`, made by Stripe's own library.
    pub(super) async fn sign(&self, payload: &str, secret: &str, timestamp: Option<i64>) -> String {
        let res: Value = client()
            .post(format!("{}/_config/test/sign", self.base))
            .json(&json!({"payload": payload, "secret": secret, "timestamp": timestamp}))
            .send()
            .await
            .expect("sign")
            .json()
            .await
            .expect("sign JSON");
        res["header"].as_str().expect("header").to_owned()
    }

    /// What Masthead (and the test) asked of the server so far.
    pub(super) async fn seen(&self) -> Value {
        client()
            .get(format!("{}/_config/test/requests", self.base))
            .send()
            .await
            .expect("seen")
            .json()
            .await
            .expect("seen JSON")
    }

    /// A customer who pays by card, and a subscription for them.
    async fn subscribe(&self, email: &str, plan: &str) -> (String, Value) {
        let customer = self
            .post(
                "/v1/customers",
                &[
                    ("email", email),
                    ("payment_method", "pm_card_visa"),
                    ("invoice_settings[default_payment_method]", "pm_card_visa"),
                ],
            )
            .await;
        let cus = customer["id"].as_str().expect("customer id").to_owned();
        let sub = self
            .post(
                "/v1/subscriptions",
                &[("customer", cus.as_str()), ("items[0][plan]", plan)],
            )
            .await;
        (cus, sub)
    }
}

impl Drop for StripeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn stripe_env(api: &StripeApi) -> Vec<(&'static str, String)> {
    vec![
        ("MASTHEAD_STRIPE_SECRET_KEY", KEY.to_owned()),
        ("MASTHEAD_STRIPE_WEBHOOK_SECRET", WHSEC.to_owned()),
        ("MASTHEAD_STRIPE_API_BASE", api.base.clone()),
    ]
}

fn start(dir: &Path, env: &[(&'static str, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(dir, &pairs)
}

pub(super) async fn account(s: &Server, cookie: &str) -> String {
    client()
        .get(s.url("/account/"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("account")
        .text()
        .await
        .expect("account html")
}

/// Waits until the account page says `what` (webhooks arrive about a
/// second after localstripe's change).
async fn account_says(s: &Server, cookie: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let html = account(s, cookie).await;
        if html.contains(what) {
            return html;
        }
        assert!(
            Instant::now() < deadline,
            "the account page never said {what:?}: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("csrf")
        .to_owned()
}

/// Posts a webhook body with this `Stripe-Signature` (if any).
pub(super) async fn deliver(s: &Server, body: &str, signature: Option<&str>) -> (u16, String) {
    let mut req = client()
        .post(s.url("/members/webhooks/stripe/"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(sig) = signature {
        req = req.header("Stripe-Signature", sig);
    }
    let res = req.send().await.expect("webhook");
    let status = res.status().as_u16();
    (status, res.text().await.expect("webhook body"))
}

pub(super) fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "type": kind,
        "api_version": PINNED_VERSION,
        "created": 1_800_000_000,
        "data": {"object": object}
    })
    .to_string()
}

pub(super) fn form_of(session: &Value) -> Vec<(String, String)> {
    session["form"]
        .as_array()
        .expect("form")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("name").to_owned(),
                p[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn subscriptions_in_stripe_drive_members_through_signed_webhooks() {
    let api = StripeApi::start();
    let dir = TempDir::new("stripe-webhooks");
    let s = start(&dir.0, &stripe_env(&api));
    api.register_webhook(&s.url("/members/webhooks/stripe/"))
        .await;

    // Ada is a free member; staff sell her a plan in Stripe directly (as by
    // phone, in Stripe's dashboard): her address links her.
    let ada = join_and_confirm(&s, "ada@example.org").await;
    assert!(account(&s, &ada).await.contains("(free membership)"));
    let product = api.post("/v1/products", &[("name", "Supporter")]).await;
    let plan = api
        .post(
            "/v1/plans",
            &[
                ("product", product["id"].as_str().expect("product")),
                ("amount", "500"),
                ("currency", "usd"),
                ("interval", "month"),
            ],
        )
        .await;
    let plan_id = plan["id"].as_str().expect("plan").to_owned();
    let (ada_customer, sub) = api.subscribe("ada@example.org", &plan_id).await;
    let sub_id = sub["id"].as_str().expect("subscription").to_owned();
    assert_eq!(sub["status"], "active", "{sub}");
    let html = account_says(&s, &ada, "(paid membership)").await;
    assert!(html.contains("5.00 USD a month"), "{html}");
    assert!(html.contains("Next payment on"), "{html}");
    assert!(html.contains("Manage billing"), "{html}");

    // Manage billing: a portal session for her customer, back to the account.
    let res = client()
        .post(s.url("/account/billing"))
        .header(header::COOKIE, &ada)
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .expect("portal");
    assert_eq!(res.status().as_u16(), 303);
    let to = res.headers()[header::LOCATION].to_str().expect("location");
    assert!(
        to.starts_with("https://billing.stripe.com/p/session/"),
        "{to}"
    );
    // Without the session's CSRF token: refused, no session made.
    let res = client()
        .post(s.url("/account/billing"))
        .header(header::COOKIE, &ada)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("forged portal");
    assert_eq!(res.status().as_u16(), 403);
    let seen = api.seen().await;
    let sessions = seen["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "{seen}");
    // Stripe's documented parameters of POST /v1/billing_portal/sessions:
    // customer (required) and return_url.
    assert_eq!(
        form_of(&sessions[0]),
        vec![
            ("customer".to_owned(), ada_customer.clone()),
            ("return_url".to_owned(), s.url("/account/")),
        ]
    );

    // Forged and unsigned events: 400, nothing changes.
    let cancel_forged = event(
        "evt_forged",
        "customer.subscription.deleted",
        json!({"id": sub_id, "object": "subscription", "customer": ada_customer, "status": "canceled"}),
    );
    let t = masthead_store::now_ms() / 1000;
    let (status, _) = deliver(
        &s,
        &cancel_forged,
        Some(&format!("t={t},v1={}", "0".repeat(64))),
    )
    .await;
    assert_eq!(status, 400);
    let wrong_secret = api
        .sign(&cancel_forged, "whsec_somebodyelse0123456789", None)
        .await;
    assert_eq!(
        deliver(&s, &cancel_forged, Some(&wrong_secret)).await.0,
        400
    );
    assert_eq!(deliver(&s, &cancel_forged, None).await.0, 400);
    // A genuine signature over another body does not carry over.
    let genuine = api.sign(&cancel_forged, WHSEC, None).await;
    let tampered = cancel_forged.replace("evt_forged", "evt_forged2");
    assert_eq!(deliver(&s, &tampered, Some(&genuine)).await.0, 400);
    // A replay: a correctly signed event, ten minutes old.
    let old = api.sign(&cancel_forged, WHSEC, Some(t - 600)).await;
    let (status, body) = deliver(&s, &cancel_forged, Some(&old)).await;
    assert_eq!(status, 400, "{body}");
    assert!(account(&s, &ada).await.contains("(paid membership)"));

    // She cancels in Stripe: localstripe's signed deletion frees her.
    api.delete(&format!("/v1/subscriptions/{sub_id}")).await;
    account_says(&s, &ada, "(free membership)").await;

    // Out of order: the creation event (saying "active") arriving after the
    // deletion changes nothing, since Masthead asks Stripe.
    let created_late = event(
        "evt_created_late",
        "customer.subscription.created",
        json!({"id": sub_id, "object": "subscription", "customer": ada_customer, "status": "active"}),
    );
    let sig = api.sign(&created_late, WHSEC, None).await;
    let (status, body) = deliver(&s, &created_late, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("is free"), "{body}");
    // Delivered twice: the repeat is recognised.
    let sig = api.sign(&created_late, WHSEC, None).await;
    let (status, body) = deliver(&s, &created_late, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("duplicate"), "{body}");
    assert!(account(&s, &ada).await.contains("(free membership)"));

    // A reader with no account subscribes through Checkout: Stripe's
    // subscription event comes first (nobody's customer: kept unlinked),
    // then checkout.session.completed makes them a member, paid.
    let (new_customer, new_sub) = api.subscribe("new.reader@example.org", &plan_id).await;
    let new_sub_id = new_sub["id"].as_str().expect("sub").to_owned();
    let completed = event(
        "evt_checkout_new",
        "checkout.session.completed",
        json!({
            "id": "cs_test_new", "object": "checkout.session", "mode": "subscription",
            "status": "complete", "payment_status": "paid",
            "customer": new_customer, "subscription": new_sub_id,
            "customer_details": {"email": "new.reader@example.org", "name": "New Reader"},
            "metadata": {"tier": "supporter"}
        }),
    );
    // Give localstripe's own subscription event its second first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sig = api.sign(&completed, WHSEC, None).await;
    let (status, body) = deliver(&s, &completed, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("is paid"), "{body}");
    let newcomer = join_and_confirm(&s, "new.reader@example.org").await;
    let html = account_says(&s, &newcomer, "(paid membership)").await;
    assert!(html.contains("5.00 USD a month"), "{html}");

    // invoice.paid for a subscription whose customer is nobody's: a clear
    // outcome, no member made, nothing lost (the subscription is kept).
    let (_stranger, stranger_sub) = api.subscribe("stranger@example.org", &plan_id).await;
    let paid = event(
        "evt_invoice_stranger",
        "invoice.paid",
        json!({"id": "in_x", "object": "invoice", "subscription": stranger_sub["id"]}),
    );
    let sig = api.sign(&paid, WHSEC, None).await;
    let (status, body) = deliver(&s, &paid, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("unknown customer"), "{body}");

    // The desk shows Ada's history: linked, started, paid, cancelled, free.
    let (staff, _) = signed_in(&s, "admin@courier.example", "administrator").await;
    let list = client()
        .get(s.url("/admin/members?q=ada%40example.org"))
        .header(header::COOKIE, &staff)
        .send()
        .await
        .expect("members")
        .text()
        .await
        .expect("list");
    let id: String = list
        .split("/admin/members/")
        .filter_map(|x| {
            let d: String = x.chars().take_while(char::is_ascii_digit).collect();
            (!d.is_empty()).then_some(d)
        })
        .next()
        .expect("Ada in the list");
    let page = client()
        .get(s.url(&format!("/admin/members/{id}")))
        .header(header::COOKIE, &staff)
        .send()
        .await
        .expect("member")
        .text()
        .await
        .expect("member page");
    for line in [
        format!("Linked to Stripe customer {ada_customer}"),
        format!("Stripe subscription {sub_id} started: active, 5.00 USD a month"),
        "Status free → paid (from Stripe)".to_owned(),
        format!("Stripe subscription {sub_id} changed: canceled"),
        "Status paid → free (from Stripe)".to_owned(),
    ] {
        assert!(page.contains(&line), "{line} missing: {page}");
    }
    assert!(
        page.contains(&format!("Stripe customer <code>{ada_customer}</code>")),
        "{page}"
    );

    // Every call Masthead made: our key as a bearer token, the pinned API
    // version, an idempotency key on each POST.
    let seen = api.seen().await;
    let ours: Vec<&Value> = seen["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| {
            r["user_agent"]
                .as_str()
                .is_some_and(|u| u.starts_with("Masthead/"))
        })
        .collect();
    assert!(ours.len() >= 5, "{seen}");
    for r in &ours {
        assert_eq!(r["stripe_version"], PINNED_VERSION, "{r}");
        assert_eq!(r["auth_scheme"], "Bearer", "{r}");
        if r["method"] == "POST" {
            assert!(
                r["idempotency_key"].as_str().is_some_and(|k| k.len() >= 16),
                "{r}"
            );
        }
    }
    assert!(
        ours.iter()
            .any(|r| r["path"] == format!("/v1/subscriptions/{sub_id}").as_str()),
        "Masthead fetched the subscription from Stripe: {seen}"
    );
}

#[tokio::test]
async fn stripe_secrets_from_the_desk_are_masked_and_the_environment_wins() {
    let dir = TempDir::new("stripe-settings");
    let s = Server::start_with_env(&dir.0, &[("MASTHEAD_STRIPE_WEBHOOK_SECRET", WHSEC)]);
    let (cookie, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let key = "sk_test_51DeskKeyabcdefghijklmnopWXYZ";
    let save = |form: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let url = s.url("/admin/settings/stripe");
        async move {
            let res = client()
                .post(url)
                .header(header::COOKIE, cookie)
                .form(&form)
                .send()
                .await
                .expect("save");
            let status = res.status().as_u16();
            (status, res.text().await.expect("html"))
        }
    };
    let (status, html) = save(vec![
        ("csrf", csrf.clone()),
        ("secret_key", "pk_test_public".into()),
    ])
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("not a Stripe secret key"), "{html}");
    assert!(
        !html.contains("pk_test_public"),
        "the value typed is not shown back"
    );
    let (status, html) = save(vec![("csrf", csrf.clone()), ("secret_key", key.into())]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("sk_test_…WXYZ"), "{html}");
    assert!(
        !html.contains("DeskKey"),
        "the key is never printed in full"
    );
    // The webhook secret comes from the environment, and the desk says so.
    assert!(html.contains("whsec_…cdef"), "{html}");
    assert!(
        html.contains("Set by the environment (MASTHEAD_STRIPE_WEBHOOK_SECRET)"),
        "{html}"
    );
    assert!(!html.contains(WHSEC));
    // Without the form's CSRF token: refused.
    let (status, _) = save(vec![
        ("csrf", "nope".into()),
        ("clear_secret_key", "1".into()),
    ])
    .await;
    assert_eq!(status, 403);
    // An editor may not change them.
    let (editor, editor_csrf) = signed_in(&s, "ed@courier.example", "editor").await;
    let res = client()
        .post(s.url("/admin/settings/stripe"))
        .header(header::COOKIE, editor)
        .form(&[("csrf", editor_csrf.as_str()), ("clear_secret_key", "1")])
        .send()
        .await
        .expect("editor");
    assert_eq!(res.status().as_u16(), 403);
    // Removed by the administrator.
    let (status, html) = save(vec![("csrf", csrf), ("clear_secret_key", "1".into())]).await;
    assert_eq!(status, 200);
    assert!(!html.contains("sk_test_…"), "{html}");
}

/// The parameters Stripe documents for `POST /v1/checkout/sessions` that
/// Masthead may send (API reference, "Create a Checkout Session"): for
/// memberships a tier's price; for donations (`tests/site/donations.rs`)
/// an inline `price_data` (`currency`, `unit_amount`, `product_data.name`,
/// and `recurring.interval` in subscription mode), `submit_type` (`donate`;
/// in payment mode only, as Stripe allows it with subscriptions only from
/// API version 2024-11-20, newer than ours) and
/// `payment_intent_data.metadata`.
pub(super) fn documented_checkout_parameter(name: &str) -> bool {
    const PLAIN: &[&str] = &[
        "mode",
        "customer",
        "customer_email",
        "client_reference_id",
        "success_url",
        "cancel_url",
        "submit_type",
        "subscription_data[trial_period_days]",
    ];
    if PLAIN.contains(&name) {
        return true;
    }
    let key = |rest: &str| {
        rest.strip_suffix(']')
            .is_some_and(|k| !k.is_empty() && k.len() <= 40 && !k.contains(['[', ']']))
    };
    for prefix in [
        "metadata[",
        "subscription_data[metadata][",
        "payment_intent_data[metadata][",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return key(rest);
        }
    }
    name.strip_prefix("line_items[")
        .and_then(|r| r.split_once("]["))
        .is_some_and(|(n, field)| {
            n.parse::<u32>().is_ok()
                && matches!(
                    field,
                    "price]"
                        | "quantity]"
                        | "price_data][currency]"
                        | "price_data][unit_amount]"
                        | "price_data][product_data][name]"
                        | "price_data][recurring][interval]"
                )
        })
}

#[tokio::test]
async fn subscribing_goes_to_checkout_with_stripes_parameters_and_the_webhook_grants_the_tier() {
    let api = StripeApi::start();
    let dir = TempDir::new("stripe-checkout");
    let s = start(&dir.0, &stripe_env(&api));
    api.register_webhook(&s.url("/members/webhooks/stripe/"))
        .await;
    let (staff, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let res = client()
        .post(s.url("/admin/tiers"))
        .header(header::COOKIE, &staff)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Gold"),
            ("slug", "gold"),
            ("description", "Every story, and our thanks"),
            ("visibility", "public"),
            ("monthly_price", "5.00"),
            ("yearly_price", "50.00"),
            ("trial_days", "14"),
        ])
        .send()
        .await
        .expect("add tier");
    assert_eq!(res.status().as_u16(), 303, "{:?}", res.text().await);

    // The page offers it to anyone.
    let (status, _, html) = get(&s.url("/subscribe/")).await;
    assert_eq!(status, 200);
    for text in [
        "Gold",
        "5.00 USD a month",
        "50.00 USD a year",
        "Free for the first 14 days",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }

    // A reader without an account: off to Checkout, Stripe asks the address.
    let res = client()
        .post(s.url("/subscribe/"))
        .form(&[("tier", "gold"), ("cadence", "year")])
        .send()
        .await
        .expect("subscribe");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()[header::LOCATION],
        "https://checkout.stripe.com/c/pay/cs_test_0001"
    );

    // A member: named, with their address; their form needs its token.
    let ada = join_and_confirm(&s, "ada@example.org").await;
    let page = client()
        .get(s.url("/subscribe/"))
        .header(header::COOKIE, &ada)
        .send()
        .await
        .expect("subscribe page")
        .text()
        .await
        .expect("html");
    let ada_csrf = csrf_of(&page);
    for (form, code) in [
        (
            vec![("tier", "gold"), ("cadence", "month"), ("csrf", "forged")],
            403,
        ),
        (
            vec![
                ("tier", "gold"),
                ("cadence", "week"),
                ("csrf", ada_csrf.as_str()),
            ],
            422,
        ),
        (
            vec![
                ("tier", "lead"),
                ("cadence", "month"),
                ("csrf", ada_csrf.as_str()),
            ],
            422,
        ),
    ] {
        let res = client()
            .post(s.url("/subscribe/"))
            .header(header::COOKIE, &ada)
            .form(&form)
            .send()
            .await
            .expect("refused");
        assert_eq!(res.status().as_u16(), code, "{form:?}");
    }
    let res = client()
        .post(s.url("/subscribe/"))
        .header(header::COOKIE, &ada)
        .form(&[
            ("tier", "gold"),
            ("cadence", "month"),
            ("csrf", ada_csrf.as_str()),
        ])
        .send()
        .await
        .expect("subscribe");
    assert_eq!(res.status().as_u16(), 303);

    let seen = api.seen().await;
    let sessions = seen["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "refused forms make no session: {seen}");
    let stranger = form_of(&sessions[0]);
    let member = form_of(&sessions[1]);
    for form in [&stranger, &member] {
        for (k, _) in form {
            assert!(
                documented_checkout_parameter(k),
                "undocumented parameter {k}"
            );
        }
        let has = |k: &str| form.iter().any(|(n, _)| n == k);
        assert!(
            !(has("customer") && has("customer_email")),
            "customer or customer_email, not both"
        );
    }
    let value = |form: &Vec<(String, String)>, k: &str| {
        form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    for form in [&stranger, &member] {
        assert_eq!(value(form, "mode").as_deref(), Some("subscription"));
        assert_eq!(value(form, "line_items[0][quantity]").as_deref(), Some("1"));
        assert_eq!(
            value(form, "success_url"),
            Some(s.url("/subscribe/?done=1&session_id={CHECKOUT_SESSION_ID}"))
        );
        assert_eq!(
            value(form, "cancel_url"),
            Some(s.url("/subscribe/?canceled=1"))
        );
        assert_eq!(value(form, "metadata[tier]").as_deref(), Some("gold"));
        assert_eq!(
            value(form, "subscription_data[trial_period_days]").as_deref(),
            Some("14")
        );
    }
    assert_eq!(value(&stranger, "customer_email"), None);
    assert_eq!(value(&stranger, "client_reference_id"), None);
    assert_eq!(
        value(&member, "customer_email").as_deref(),
        Some("ada@example.org")
    );
    let member_id = value(&member, "client_reference_id").expect("client_reference_id");
    assert_eq!(
        value(&member, "metadata[member_id]"),
        Some(member_id.clone())
    );

    // The prices are plans made in Stripe from the tier: yearly 50.00,
    // monthly 5.00, one product named after the tier.
    let yearly = value(&stranger, "line_items[0][price]").expect("price");
    let monthly = value(&member, "line_items[0][price]").expect("price");
    assert_ne!(yearly, monthly);
    let plan: Value = client()
        .get(format!("{}/v1/plans/{monthly}", api.base))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("plan")
        .json()
        .await
        .expect("plan JSON");
    assert_eq!(
        (
            plan["amount"].as_i64(),
            plan["currency"].as_str(),
            plan["interval"].as_str()
        ),
        (Some(500), Some("usd"), Some("month")),
        "{plan}"
    );

    // Stripe completes Ada's checkout: her subscription on that price (made
    // in localstripe) and the signed checkout.session.completed give her
    // the tier, whatever order they arrive in.
    let (customer, sub) = api.subscribe("ada@example.org", &monthly).await;
    let completed = event(
        "evt_checkout_ada",
        "checkout.session.completed",
        json!({
            "id": "cs_test_0002", "object": "checkout.session", "mode": "subscription",
            "customer": customer, "subscription": sub["id"],
            "client_reference_id": member_id,
            "customer_details": {"email": "ada@example.org", "name": "Ada"},
            "metadata": {"tier": "gold", "member_id": member_id}
        }),
    );
    // A story for paying members: Ada reads its free part only, for now.
    super::feeds::publish_post(
        &s,
        &staff,
        &csrf,
        "article",
        "Harbour deal",
        &[
            ("slug", "harbour-deal"),
            ("body", PAID_BODY),
            ("visibility", "paid"),
        ],
    )
    .await;
    let story = s.url("/harbour-deal/");
    let read_story = |cookie: String| {
        let story = story.clone();
        async move {
            client()
                .get(story)
                .header(header::COOKIE, cookie)
                .send()
                .await
                .expect("story")
                .text()
                .await
                .expect("story html")
        }
    };
    let html = read_story(ada.clone()).await;
    assert!(
        html.contains("signed the lease.") && !html.contains(PAID_SECRET),
        "{html}"
    );

    let sig = api.sign(&completed, WHSEC, None).await;
    let (status, body) = deliver(&s, &completed, Some(&sig)).await;
    assert_eq!(status, 200, "{body}");
    let html = account_says(&s, &ada, "(paid membership)").await;
    assert!(
        html.contains("<strong>Gold</strong>, 5.00 USD a month"),
        "{html}"
    );
    // Paying, she reads it in full.
    let html = read_story(ada.clone()).await;
    assert!(
        html.contains(PAID_SECRET),
        "a paying member reads in full: {html}"
    );
    // A second Checkout would be a second subscription: she is sent to
    // "Manage billing" instead.
    let res = client()
        .post(s.url("/subscribe/"))
        .header(header::COOKIE, &ada)
        .form(&[
            ("tier", "gold"),
            ("cadence", "year"),
            ("csrf", ada_csrf.as_str()),
        ])
        .send()
        .await
        .expect("subscribe again");
    assert_eq!(res.status().as_u16(), 409);
    assert!(res.text().await.expect("page").contains("Manage billing"));

    // She cancels in Stripe: free again, the teaser again.
    api.delete(&format!(
        "/v1/subscriptions/{}",
        sub["id"].as_str().expect("sub")
    ))
    .await;
    account_says(&s, &ada, "(free membership)").await;
    let html = read_story(ada.clone()).await;
    assert!(
        !html.contains(PAID_SECRET),
        "a lapsed member gets the teaser: {html}"
    );

    // Back from Stripe.
    let (_, _, html) = get(&s.url("/subscribe/?done=1&session_id=cs_test_0002")).await;
    assert!(html.contains("Thank you"), "{html}");
}

#[tokio::test]
async fn an_archived_tier_and_a_foreign_currency_keep_what_was_paid_for() {
    let api = StripeApi::start();
    let dir = TempDir::new("stripe-odd");
    let s = start(&dir.0, &stripe_env(&api));
    api.register_webhook(&s.url("/members/webhooks/stripe/"))
        .await;
    let (staff, csrf) = signed_in(&s, "admin@courier.example", "administrator").await;
    let gold = super::tiers::add_tier(&s, &staff, &csrf, "Gold", "5.00").await;
    super::feeds::publish_post(
        &s,
        &staff,
        &csrf,
        "article",
        "Quay accounts",
        &[
            ("slug", "quay-accounts"),
            ("body", PAID_BODY),
            ("visibility", "paid"),
        ],
    )
    .await;
    let reads_in_full = |cookie: String| {
        let url = s.url("/quay-accounts/");
        async move {
            client()
                .get(url)
                .header(header::COOKIE, cookie)
                .send()
                .await
                .expect("story")
                .text()
                .await
                .expect("story html")
                .contains(PAID_SECRET)
        }
    };
    // Stripe's word on a subscription, signed by Stripe's own library.
    let tell = |id: &'static str, sub: String| {
        let (s, api) = (&s, &api);
        async move {
            let body = event(
                id,
                "customer.subscription.updated",
                json!({"id": sub, "object": "subscription"}),
            );
            let sig = api.sign(&body, WHSEC, None).await;
            deliver(s, &body, Some(&sig)).await
        }
    };

    // Bob pays for Gold (the plan Masthead made in Stripe for his checkout).
    let bob = join_and_confirm(&s, "bob@example.org").await;
    let page = account(&s, &bob).await;
    let res = client()
        .post(s.url("/subscribe/"))
        .header(header::COOKIE, &bob)
        .form(&[
            ("tier", "gold"),
            ("cadence", "month"),
            ("csrf", csrf_of(&page).as_str()),
        ])
        .send()
        .await
        .expect("subscribe");
    assert_eq!(res.status().as_u16(), 303);
    let seen = api.seen().await;
    let plan = form_of(&seen["sessions"][0])
        .into_iter()
        .find(|(k, _)| k == "line_items[0][price]")
        .map(|(_, v)| v)
        .expect("a price");
    let (_, sub) = api.subscribe("bob@example.org", &plan).await;
    let sub_id = sub["id"].as_str().expect("sub").to_owned();
    account_says(&s, &bob, "(paid membership)").await;
    assert!(reads_in_full(bob.clone()).await);

    // Gold is archived: no longer offered, but Bob keeps it, and what Stripe
    // says next about his subscription keeps him on it.
    let res = client()
        .post(s.url(&format!("/admin/tiers/{gold}")))
        .header(header::COOKIE, &staff)
        .form(&[("csrf", csrf.as_str()), ("archive", "1")])
        .send()
        .await
        .expect("archive");
    assert!(res.status().is_success() || res.status().is_redirection());
    let (_, _, offers) = get(&s.url("/subscribe/")).await;
    assert!(
        !offers.contains("Gold"),
        "an archived tier is not offered: {offers}"
    );
    let res = client()
        .post(s.url("/subscribe/"))
        .form(&[("tier", "gold"), ("cadence", "month")])
        .send()
        .await
        .expect("subscribe to an archived tier");
    assert_eq!(res.status().as_u16(), 422);
    let (status, outcome) = tell("evt_bob_after_archive", sub_id).await;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        outcome.contains(&format!("is paid (tier {gold})")),
        "the archived tier stays his: {outcome}"
    );
    assert!(reads_in_full(bob.clone()).await);
    let html = account(&s, &bob).await;
    assert!(html.contains("<strong>Gold</strong>"), "{html}");

    // Cy pays in euros, on a plan staff made in Stripe's dashboard; the site
    // bills in dollars. She reads what she paid for, and the outcome says
    // what is odd about it.
    let product = api
        .post("/v1/products", &[("name", "Euro supporters")])
        .await;
    let eur = api
        .post(
            "/v1/plans",
            &[
                ("amount", "700"),
                ("currency", "eur"),
                ("interval", "month"),
                ("product", product["id"].as_str().expect("product")),
            ],
        )
        .await;
    let cy = join_and_confirm(&s, "cy@example.org").await;
    let (_, eur_sub) = api
        .subscribe("cy@example.org", eur["id"].as_str().expect("plan"))
        .await;
    account_says(&s, &cy, "(paid membership)").await;
    let (status, outcome) = tell(
        "evt_cy_euros",
        eur_sub["id"].as_str().expect("sub").to_owned(),
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        outcome.contains("currency mismatch: billed in eur, the site uses usd; access granted"),
        "{outcome}"
    );
    assert!(reads_in_full(cy.clone()).await);
    assert!(account(&s, &cy).await.contains("7.00 EUR a month"));
}
