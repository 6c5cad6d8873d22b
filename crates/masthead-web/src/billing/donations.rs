//! Donations (issue 11, item 5): one-off and monthly gifts through Stripe
//! Checkout, from `/support/` and from the support box an editor puts in a
//! story (`<!--support-->`).
//!
//! `/support/` offers the site's suggested amounts (a setting administrators
//! edit on the desk's settings page; 5, 10 and 25 of the currency until
//! then) and a custom amount, once or every month. Choosing creates a
//! Checkout Session: `mode=payment` with `submit_type=donate` for a one-off
//! gift, `mode=subscription` with a monthly `price_data` for a monthly one;
//! both carry `metadata[kind]=donation`, and a monthly one also
//! `subscription_data[metadata][kind]=donation`, which is how the webhook
//! tells a gift's subscription from a membership's: a gift never makes
//! anyone a paying member.
//!
//! Nothing is recorded here. The webhook records each payment Stripe
//! confirms (`checkout.session.completed` for a one-off gift, `invoice.paid`
//! for each month of a monthly one), once, and the site thanks the giver by
//! e-mail; `/support/thanks/` thanks them on the page, with the amount once
//! Masthead knows the session.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use masthead_domain::donation::{check_amount, decode_suggested, parse_gift, suggested_text};
use masthead_store::{Donation, StoreResult, format_amount, now_ms};
use serde::{Deserialize, Serialize};

use super::checkout::{read_payment_form, redirect_to, stripe_failed};
use super::stripe::{StripeError, fresh_idempotency_key};
use crate::mail::Letter;
use crate::site::members::{MemberPage, member_message, render_member_page, viewer};
use crate::state::AppState;

/// The settings key of the suggested amounts (minor units, "500,1000").
pub const SUGGESTED_SETTING: &str = "donation_amounts";

/// The suggested amounts in minor units of the site's currency.
pub async fn suggested(state: &AppState) -> StoreResult<Vec<i64>> {
    let stored = state.store.site_settings_raw(SUGGESTED_SETTING).await?;
    Ok(decode_suggested(stored.as_deref(), &state.site().currency))
}

/// The settings form's text for the suggested amounts ("5.00 10.00").
pub async fn suggested_for_desk(state: &AppState) -> String {
    let amounts = suggested(state).await.unwrap_or_default();
    suggested_text(&amounts, &state.site().currency)
}

/// One suggested amount as the page offers it.
#[derive(Debug, Clone, Serialize)]
pub struct AmountChoice {
    /// Minor units, the form's value.
    pub value: i64,
    /// "5.00 USD"
    pub label: String,
    pub chosen: bool,
}

/// What the support page shows and keeps of a refused form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SupportView {
    pub amounts: Vec<AmountChoice>,
    /// "USD"
    pub currency: String,
    /// The custom amount as typed.
    pub custom: String,
    /// one_off | monthly
    pub frequency: String,
    /// "1.00 USD" and "10000.00 USD"
    pub minimum: String,
    pub maximum: String,
    /// The thank-you page's amount, when known ("5.00 USD").
    pub given: String,
    pub monthly: bool,
}

fn unavailable(state: &AppState) -> Response {
    member_message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Donations are unavailable",
        "Please try again in a minute.",
    )
}

#[derive(Deserialize, Default)]
pub struct SupportQuery {
    canceled: Option<String>,
    /// A suggested amount chosen in a story's support box (minor units).
    amount: Option<String>,
}

/// `GET /support/`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SupportQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    let chosen = q.amount.as_deref().and_then(|a| a.parse::<i64>().ok());
    let message = if q.canceled.is_some() {
        "You left the payment page: nothing was charged."
    } else {
        ""
    };
    support_page(
        &state,
        &headers,
        StatusCode::OK,
        message,
        None,
        SupportForm {
            amount: chosen.map(|a| a.to_string()).unwrap_or_default(),
            frequency: "one_off".into(),
            ..SupportForm::default()
        },
    )
    .await
}

async fn support_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    message: &str,
    error: Option<String>,
    form: SupportForm,
) -> Response {
    let amounts = match suggested(state).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "reading the suggested amounts failed");
            return unavailable(state);
        }
    };
    let currency = state.site().currency.clone();
    // The amount asked for, else (a fresh page) the first one offered.
    let chosen = form.amount.parse::<i64>().ok().or_else(|| {
        (error.is_none() && form.custom.is_empty())
            .then(|| amounts.first().copied())
            .flatten()
    });
    let session = viewer(state, headers).await.0;
    let view = SupportView {
        amounts: amounts
            .iter()
            .map(|a| AmountChoice {
                value: *a,
                label: format_amount(*a, &currency),
                chosen: chosen == Some(*a) && form.custom.trim().is_empty(),
            })
            .collect(),
        currency: currency.to_uppercase(),
        custom: form.custom.chars().take(20).collect(),
        monthly: form.frequency == "monthly",
        frequency: form.frequency,
        minimum: format_amount(masthead_domain::donation::minimum(&currency), &currency),
        maximum: format_amount(masthead_domain::donation::maximum(&currency), &currency),
        given: String::new(),
    };
    render_member_page(
        state,
        status,
        "/support/",
        &MemberPage {
            view: "support",
            title: format!("Support {}", state.site().settings.title),
            message: message.into(),
            error,
            email: session
                .as_ref()
                .map(|s| s.member.email.clone())
                .unwrap_or_default(),
            csrf: session
                .as_ref()
                .map(|s| s.csrf_token.clone())
                .unwrap_or_default(),
            support: Some(view),
            ..Default::default()
        },
    )
}

#[derive(Deserialize, Default, Clone)]
pub struct SupportForm {
    /// A suggested amount (minor units), or `custom`.
    #[serde(default)]
    amount: String,
    /// The reader's own amount, in major units ("12.50"); wins when typed.
    #[serde(default)]
    custom: String,
    /// one_off | monthly
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    csrf: String,
}

impl SupportForm {
    /// The amount chosen, in minor units, or why it cannot be taken.
    fn amount(&self, currency: &str) -> Result<i64, String> {
        if !self.custom.trim().is_empty() {
            return parse_gift(&self.custom, currency);
        }
        match self.amount.trim() {
            "" | "custom" => Err("Choose an amount, or type your own.".into()),
            a => match a.parse::<i64>() {
                Ok(minor) => check_amount(minor, currency),
                Err(_) => Err("Choose an amount, or type your own.".into()),
            },
        }
    }
}

/// A gift's frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    OneOff,
    Monthly,
}

/// The Checkout Session's parameters for a gift (Stripe's documented
/// names): `member` is a signed-in member (id, address, Stripe customer).
pub fn donation_params(
    public_url: &str,
    site_title: &str,
    currency: &str,
    amount: i64,
    frequency: Frequency,
    member: Option<(i64, &str, Option<&str>)>,
) -> Vec<(String, String)> {
    let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let mut form = vec![
        p(
            "mode",
            match frequency {
                Frequency::OneOff => "payment",
                Frequency::Monthly => "subscription",
            },
        ),
        p("line_items[0][price_data][currency]", currency),
        p(
            "line_items[0][price_data][unit_amount]",
            &amount.to_string(),
        ),
        p(
            "line_items[0][price_data][product_data][name]",
            &match frequency {
                Frequency::OneOff => format!("Donation to {site_title}"),
                Frequency::Monthly => format!("Monthly donation to {site_title}"),
            },
        ),
        p("line_items[0][quantity]", "1"),
        p(
            "success_url",
            &format!("{public_url}/support/thanks/?session_id={{CHECKOUT_SESSION_ID}}"),
        ),
        p("cancel_url", &format!("{public_url}/support/?canceled=1")),
        p("metadata[kind]", "donation"),
    ];
    match frequency {
        Frequency::OneOff => {
            form.push(p("submit_type", "donate"));
            form.push(p("payment_intent_data[metadata][kind]", "donation"));
        }
        Frequency::Monthly => {
            form.push(p("line_items[0][price_data][recurring][interval]", "month"));
            form.push(p("subscription_data[metadata][kind]", "donation"));
        }
    }
    if let Some((id, email, customer)) = member {
        match customer {
            Some(c) => form.push(p("customer", c)),
            None => form.push(p("customer_email", email)),
        }
        form.push(p("client_reference_id", &id.to_string()));
        form.push(p("metadata[member_id]", &id.to_string()));
        if frequency == Frequency::Monthly {
            form.push(p("subscription_data[metadata][member_id]", &id.to_string()));
        }
    }
    form
}

/// `POST /support/`: an amount and a frequency chosen; off to Checkout.
pub async fn give(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SupportForm>, FormRejection>,
) -> Response {
    let (form, session) = match read_payment_form(&state, &headers, form, |f| &f.csrf).await {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let frequency = match form.frequency.as_str() {
        "one_off" => Frequency::OneOff,
        "monthly" => Frequency::Monthly,
        _ => {
            return support_page(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                "",
                Some("Choose whether to give once or every month.".into()),
                SupportForm {
                    frequency: "one_off".into(),
                    ..form
                },
            )
            .await;
        }
    };
    let currency = state.site().currency.clone();
    let amount = match form.amount(&currency) {
        Ok(a) => a,
        Err(e) => {
            return support_page(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                "",
                Some(e),
                form,
            )
            .await;
        }
    };
    let client = match super::client(&state).await {
        Ok(c) => c,
        Err(e) => return stripe_failed(&state, &e),
    };
    let customer = match &session {
        Some(s) => match state.store.member_billing(s.member.id).await {
            Ok(b) => b.customer_id,
            Err(e) => {
                tracing::warn!(error = %e, "reading a member's billing failed");
                return unavailable(&state);
            }
        },
        None => None,
    };
    let params = donation_params(
        state.public_url(),
        &state.site().settings.title,
        &currency,
        amount,
        frequency,
        session
            .as_ref()
            .map(|s| (s.member.id, s.member.email.as_str(), customer.as_deref())),
    );
    match client
        .post("checkout/sessions", &params, &fresh_idempotency_key())
        .await
    {
        Ok(answer) => redirect_to(&answer, &state.config.stripe.api_base).unwrap_or_else(|| {
            stripe_failed(
                &state,
                &StripeError::Unreadable("a Checkout Session without a url".into()),
            )
        }),
        Err(e) => stripe_failed(&state, &e),
    }
}

#[derive(Deserialize, Default)]
pub struct ThanksQuery {
    session_id: Option<String>,
}

/// `GET /support/thanks/`: back from Checkout. The session id is used only
/// to look the gift up; the amount shown is what Stripe's signed event said.
pub async fn thanks(
    State(state): State<AppState>,
    q: Result<Query<ThanksQuery>, QueryRejection>,
) -> Response {
    let session_id = q
        .ok()
        .and_then(|q| q.0.session_id)
        .filter(|s| s.starts_with("cs_") && s.len() <= 255);
    let donation: Option<Donation> = match session_id {
        Some(id) => state
            .store
            .donation_by_session(id)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "looking up a donation failed");
                None
            }),
        None => None,
    };
    let (message, given, monthly) = match &donation {
        Some(d) => (
            String::new(),
            format_amount(d.amount, &d.currency),
            d.kind == "monthly",
        ),
        None => (
            "Stripe is confirming your payment; a thank-you e-mail follows within a few minutes."
                .to_owned(),
            String::new(),
            false,
        ),
    };
    render_member_page(
        &state,
        StatusCode::OK,
        "/support/thanks/",
        &MemberPage {
            view: "thanks",
            title: "Thank you".into(),
            message,
            support: Some(SupportView {
                given,
                monthly,
                ..SupportView::default()
            }),
            ..Default::default()
        },
    )
}

/// The thank-you e-mail for a donation, from the site.
pub fn thank_you_letter(state: &AppState, d: &Donation) -> Option<Letter> {
    if d.email.is_empty() {
        return None;
    }
    let site = state.site().settings.title.clone();
    let amount = format_amount(d.amount, &d.currency);
    let greeting = if d.name.trim().is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Dear {},", d.name.trim())
    };
    let body = if d.kind == "monthly" {
        format!(
            "Thank you for this month's gift of {amount} to {site}. Monthly support like yours \
             lets us plan our reporting ahead. Stripe sends the receipt; to change or stop your \
             monthly gift, write to us."
        )
    } else {
        format!(
            "Thank you for your gift of {amount} to {site}. It goes straight into our \
             reporting. Stripe sends the receipt."
        )
    };
    let url = format!("{}/", state.public_url());
    let text = format!("{greeting}\n\n{body}\n\n{site}\n{url}\n");
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let subject = format!("Thank you for supporting {site}");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
         <body style=\"margin:0;padding:24px;font-family:Georgia,serif;color:#111;background:#fff\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td>\
         <p style=\"font-size:17px\">{greeting}</p><p style=\"font-size:17px\">{body}</p>\
         <p style=\"font-size:14px;color:#555\"><a href=\"{url}\">{site}</a></p>\
         </td></tr></table></body></html>",
        subject = esc(&subject),
        greeting = esc(&greeting),
        body = esc(&body),
        url = esc(&url),
        site = esc(&site),
    );
    Some(Letter {
        to: d.email.clone(),
        subject,
        text,
        html,
    })
}

/// Sends a newly recorded donation's thank-you e-mail in the background,
/// and notes it once sent (a failure is logged; the payment stands).
pub fn send_thanks(state: &AppState, donation_id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        let d = match state.store.donation(donation_id).await {
            Ok(Some(d)) if !d.thanked => d,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(donation_id, error = %e, "reading a donation to thank failed");
                return;
            }
        };
        let Some(letter) = thank_you_letter(&state, &d) else {
            return;
        };
        if let Err(e) = state.config.postbox.send(&letter).await {
            tracing::warn!(donation_id, error = %e, "a donation's thank-you e-mail could not be sent");
            return;
        }
        if let Err(e) = state
            .store
            .mark_donation_thanked(donation_id, now_ms())
            .await
        {
            tracing::warn!(donation_id, error = %e, "noting a donation's thanks failed");
        }
    });
}

/// The support box a story's `<!--support-->` marker stands for: the
/// site's suggested amounts as links to `/support/`, and another amount.
pub fn support_box(site_title: &str, currency: &str, amounts: &[i64]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let links: String = amounts
        .iter()
        .map(|a| {
            format!(
                "<a class=\"button support-box__amount\" href=\"/support/?amount={a}\">{}</a> ",
                esc(&format_amount(*a, currency))
            )
        })
        .collect();
    format!(
        "<aside class=\"support-box\" aria-label=\"Support {title}\">\
         <p class=\"support-box__lead\"><strong>Support {title}.</strong> Our reporting is \
         paid for by readers. Give once or every month:</p>\
         <p class=\"support-box__amounts\">{links}<a href=\"/support/\">Another amount</a></p>\
         </aside>",
        title = esc(site_title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_off_gift_is_a_payment_and_a_monthly_one_a_subscription() {
        let one = donation_params(
            "https://news.example",
            "Courier",
            "usd",
            1250,
            Frequency::OneOff,
            None,
        );
        let get = |p: &[(String, String)], k: &str| {
            p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&one, "mode").as_deref(), Some("payment"));
        assert_eq!(get(&one, "submit_type").as_deref(), Some("donate"));
        assert_eq!(
            get(&one, "line_items[0][price_data][unit_amount]").as_deref(),
            Some("1250")
        );
        assert_eq!(
            get(&one, "line_items[0][price_data][recurring][interval]"),
            None
        );
        assert_eq!(get(&one, "subscription_data[metadata][kind]"), None);
        assert_eq!(get(&one, "customer_email"), None);
        let monthly = donation_params(
            "https://news.example",
            "Courier",
            "usd",
            500,
            Frequency::Monthly,
            Some((4, "a@example.org", Some("cus_1"))),
        );
        assert_eq!(get(&monthly, "mode").as_deref(), Some("subscription"));
        assert_eq!(get(&monthly, "submit_type"), None);
        assert_eq!(
            get(&monthly, "line_items[0][price_data][recurring][interval]").as_deref(),
            Some("month")
        );
        assert_eq!(
            get(&monthly, "subscription_data[metadata][kind]").as_deref(),
            Some("donation")
        );
        assert_eq!(get(&monthly, "customer").as_deref(), Some("cus_1"));
        assert_eq!(get(&monthly, "customer_email"), None);
        assert_eq!(get(&monthly, "metadata[member_id]").as_deref(), Some("4"));
    }

    #[test]
    fn the_support_box_escapes_and_links_each_amount() {
        let html = support_box("A & B <News>", "usd", &[500, 2500]);
        assert!(html.contains("Support A &amp; B &lt;News&gt;"), "{html}");
        assert!(
            html.contains("href=\"/support/?amount=500\">5.00 USD</a>"),
            "{html}"
        );
        assert!(
            html.contains("href=\"/support/?amount=2500\">25.00 USD</a>"),
            "{html}"
        );
    }

    #[test]
    fn a_typed_amount_wins_and_a_bad_one_is_explained() {
        let f = |amount: &str, custom: &str| SupportForm {
            amount: amount.into(),
            custom: custom.into(),
            ..SupportForm::default()
        };
        assert_eq!(f("500", "").amount("usd"), Ok(500));
        assert_eq!(f("500", "12.5").amount("usd"), Ok(1250));
        assert!(f("custom", "").amount("usd").is_err());
        assert!(f("", "-3").amount("usd").is_err());
        assert!(f("99999999", "").amount("usd").is_err());
        assert!(
            f("", "abc")
                .amount("usd")
                .expect_err("refused")
                .contains("not an amount")
        );
    }
}
