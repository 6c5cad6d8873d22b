//! Members in the desk (issue 10, items 7 and 8): the list with its search,
//! filters and keyset pages, a member's page (note, labels, newsletters,
//! history, the bouncing flag), members added by hand, Ghost-format CSV
//! export (streamed) and import (with a report of refused rows), and the
//! newsletters. Members' personal data is for administrators and the owner
//! only (`Action::ManageMembers`): contributors, authors and editors are
//! refused every page here.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream;
use masthead_domain::member_csv::{self, ImportHeader, ImportRow};
use masthead_domain::{Action, Email, permits};
use masthead_render::views::Clock;
use masthead_store::{
    DeskMember, MemberAdded, MemberCursor, MemberEdit, MemberFilter, NewDeskMember, Newsletter,
    NewsletterInput, StoreError, now_ms,
};
use serde::{Deserialize, Serialize};

use super::form::DeskForm;
use super::{Link, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

/// Members on one page of the list.
const PAGE: u32 = 50;
/// Members read at a time while exporting.
const EXPORT_BATCH: u32 = 500;
/// Largest CSV file an import takes.
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;

fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Only administrators and the owner see members' details.",
        Some(Link {
            url: "/admin/",
            text: "Back to the desk",
        }),
    )
}

fn may(staff: &Staff) -> bool {
    permits(staff.0.user.role, Action::ManageMembers)
}

fn bad_request(text: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "Bad request", text, None)
}

/// The ids chosen in a repeated field (`newsletter=1&newsletter=2`).
fn ids(f: &DeskForm, key: &str) -> Result<Vec<i64>, Box<Response>> {
    f.all(key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Box::new(bad_request("A newsletter choice could not be read.")))
        })
        .collect()
}

/// Label names typed as one comma-separated field.
fn label_names(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------- list --

/// The list's query string: every filter, and where the page starts.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newsletter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    /// Joined on or after this day (`YYYY-MM-DD`, the site's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    /// Joined on or before this day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// `yes` or `no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bouncing: Option<String>,
    /// `created_ms.id` of the last member on the previous page.
    #[serde(default, skip_serializing)]
    after: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl ListQuery {
    /// The store's filter, or what is wrong with the query.
    fn filter(&self, clock: &Clock) -> Result<MemberFilter, String> {
        let mut f = MemberFilter {
            search: nonempty(&self.q).map(|s| s.chars().take(200).collect()),
            ..MemberFilter::default()
        };
        if let Some(s) = nonempty(&self.status) {
            if !["free", "paid", "comped"].contains(&s) {
                return Err("Unknown status.".into());
            }
            f.status = Some(s.to_owned());
        }
        if let Some(n) = nonempty(&self.newsletter) {
            f.newsletter = Some(n.parse().map_err(|_| "Unknown newsletter.".to_owned())?);
        }
        if let Some(l) = nonempty(&self.label) {
            f.label = Some(l.chars().take(200).collect());
        }
        if let Some(d) = nonempty(&self.from) {
            let (start, _) = clock
                .day_bounds_ms(d)
                .ok_or_else(|| "Dates look like 2026-12-02.".to_owned())?;
            f.joined_from_ms = Some(start);
        }
        if let Some(d) = nonempty(&self.to) {
            let (_, end) = clock
                .day_bounds_ms(d)
                .ok_or_else(|| "Dates look like 2026-12-02.".to_owned())?;
            f.joined_before_ms = Some(end);
        }
        match nonempty(&self.bouncing) {
            None => {}
            Some("yes") => f.bouncing = Some(true),
            Some("no") => f.bouncing = Some(false),
            Some(_) => return Err("Bouncing is yes or no.".into()),
        }
        Ok(f)
    }

    fn cursor(&self) -> Result<Option<MemberCursor>, String> {
        let Some(a) = nonempty(&self.after) else {
            return Ok(None);
        };
        let (t, i) = a.split_once('.').ok_or("The page link is broken.")?;
        match (t.parse(), i.parse()) {
            (Ok(created_ms), Ok(id)) => Ok(Some(MemberCursor { created_ms, id })),
            _ => Err("The page link is broken.".into()),
        }
    }

    /// The filters as a query string (no page), for links.
    fn query_string(&self) -> String {
        let q = self;
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &q.q),
            ("status", &q.status),
            ("newsletter", &q.newsletter),
            ("label", &q.label),
            ("from", &q.from),
            ("to", &q.to),
            ("bouncing", &q.bouncing),
        ] {
            if let Some(v) = nonempty(v) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }
}

#[derive(Serialize)]
struct MemberRow<'a> {
    #[serde(flatten)]
    m: &'a DeskMember,
    joined: String,
    joined_iso: String,
    newsletters: Vec<&'a str>,
}

fn rows<'a>(members: &'a [DeskMember], all: &'a [Newsletter], clock: &Clock) -> Vec<MemberRow<'a>> {
    members
        .iter()
        .map(|m| {
            let t = clock.time(m.created_ms);
            MemberRow {
                m,
                joined: t.display,
                joined_iso: t.iso,
                newsletters: all
                    .iter()
                    .filter(|n| m.newsletter_ids.contains(&n.id))
                    .map(|n| n.name.as_str())
                    .collect(),
            }
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if !may(&staff) {
        return forbidden();
    }
    let Ok(Query(q)) = q else {
        return bad_request("The filter could not be read.");
    };
    render_list(&state, &staff, &q, StatusCode::OK, None, None).await
}

async fn render_list(
    state: &AppState,
    staff: &Staff,
    q: &ListQuery,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let clock = state.clock();
    let (filter, after) = match (q.filter(&clock), q.cursor()) {
        (Ok(f), Ok(a)) => (f, a),
        (Err(e), _) | (_, Err(e)) => return bad_request(&e),
    };
    let page_result = state.store.desk_members(filter, after, PAGE, true).await;
    let (list, newsletters, labels) = match (
        page_result,
        state.store.newsletters().await,
        state.store.labels().await,
    ) {
        (Ok(p), Ok(n), Ok(l)) => (p, n, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(e),
    };
    let filters = q.query_string();
    let next = list.next.map(|c| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!(
            "/admin/members?{filters}{sep}after={}.{}",
            c.created_ms, c.id
        )
    });
    let export = if filters.is_empty() {
        "/admin/members/export.csv".to_owned()
    } else {
        format!("/admin/members/export.csv?{filters}")
    };
    page(
        status,
        "members.html",
        serde_json::json!({
            "title": "Members",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "f": q,
            "members": rows(&list.members, &newsletters, &clock),
            "total": list.total,
            "paged": after.is_some(),
            "next": next,
            "export": export,
            "newsletters": newsletters,
            "labels": labels,
            "error": error,
            "notice": notice,
        }),
    )
}

// ------------------------------------------------------------- add one --

/// Adds a member by hand: confirmed at once (the staff member vouches for
/// the address), no mail sent.
pub async fn add(State(state): State<AppState>, staff: Staff, body: Bytes) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may(&staff) {
        return forbidden();
    }
    let again = |error: String| {
        let state = state.clone();
        let staff = &staff;
        async move {
            render_list(
                &state,
                staff,
                &ListQuery::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&error),
                None,
            )
            .await
        }
    };
    let email = match Email::parse(f.get("email")) {
        Ok(e) => e,
        Err(e) => return again(format!("That address does not look right: {e}.")).await,
    };
    let name = f.get("name").trim().to_owned();
    let note = f.get("note").trim().to_owned();
    if name.chars().count() > member_csv::MAX_NAME || note.chars().count() > member_csv::MAX_NOTE {
        return again("The name or the note is too long.".into()).await;
    }
    let newsletters = match ids(&f, "newsletter") {
        Ok(ids) => ids,
        Err(r) => return *r,
    };
    let status = if f.get("comped") == "1" {
        "comped"
    } else {
        "free"
    };
    let new = NewDeskMember {
        email,
        name,
        note,
        status: status.to_owned(),
        labels: label_names(f.get("labels")),
        newsletters,
        source: "admin".into(),
        created_ms: None,
    };
    match state.store.add_desk_members(vec![new]).await {
        Ok(added) => match added.first() {
            Some(MemberAdded::Added(id)) => {
                tracing::info!(member_id = id, "member added from the desk");
                Redirect::to(&format!("/admin/members/{id}")).into_response()
            }
            _ => again("That address is already a member's.".into()).await,
        },
        Err(e) => unavailable(e),
    }
}

// --------------------------------------------------------- member page --

async fn render_member(
    state: &AppState,
    staff: &Staff,
    id: i64,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let (member, newsletters, emails, tiers, events, billing) = match tokio::try_join!(
        state.store.desk_member(id),
        state.store.newsletters(),
        state.store.member_emails(id, 50),
        state.store.tiers(),
        state.store.member_events(id),
        state.store.member_billing(id)
    ) {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let Some(member) = member else {
        return message(
            StatusCode::NOT_FOUND,
            "No such member",
            "That member does not exist, or has deleted their account.",
            Some(Link {
                url: "/admin/members",
                text: "All members",
            }),
        );
    };
    let clock = state.clock();
    let joined = clock.time(member.created_ms);
    let choices: Vec<serde_json::Value> = newsletters
        .iter()
        .filter(|n| n.status == "active" || member.newsletter_ids.contains(&n.id))
        .map(|n| {
            serde_json::json!({
                "id": n.id, "name": n.name, "archived": n.status == "archived",
                "checked": member.newsletter_ids.contains(&n.id),
            })
        })
        .collect();
    let labels = member
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    page(
        status,
        "member.html",
        serde_json::json!({
            "title": if member.name.is_empty() { member.email.clone() } else { member.name.clone() },
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "m": member,
            "labels": labels,
            "newsletters": choices,
            "joined": joined.display,
            "joined_iso": joined.iso,
            // Members exist only once their address is confirmed: joining
            // and confirming are one moment.
            "confirmed": joined.display,
            // The newest 50 newsletter e-mails, from the send records.
            "emails_received": emails
                .iter()
                .map(|e| serde_json::json!({
                    "subject": e.subject,
                    "status": e.status,
                    "send": e.send_id,
                    "when": clock.time(e.at_ms).display,
                }))
                .collect::<Vec<_>>(),
            // Complimentary access (issue 11): what they have, what can be
            // given, and the history of it.
            "tier": member.tier_id.and_then(|t| tiers.iter().find(|x| x.id == t)).map(|t| &t.name),
            "comp_until": member.comp_expires_ms.map(|ms| clock.time(ms).display),
            // A grant in force: the comped member's, or one waiting behind
            // a paying member's subscription.
            "has_comp": member.has_comp(clock.now_ms()),
            "comp_tier": member.comp_tier_id.or(member.tier_id).and_then(|t| tiers.iter().find(|x| x.id == t)).map(|t| &t.name),
            "paid_tiers": tiers.iter().filter(|t| t.active && !t.is_free()).collect::<Vec<_>>(),
            "history": events
                .iter()
                .map(|e| serde_json::json!({
                    "text": super::tiers::event_line(e, &clock),
                    "when": clock.time(e.created_ms).display,
                    "iso": clock.time(e.created_ms).iso,
                }))
                .collect::<Vec<_>>(),
            "stripe_customer": billing.customer_id,
            "subscriptions": billing.subscriptions
                .iter()
                .map(|s| serde_json::json!({
                    "id": s.subscription_id,
                    "status": s.status,
                    "price": format!("{} a {}", masthead_store::format_amount(s.amount, &s.currency), if s.cadence.is_empty() { "period" } else { &s.cadence }),
                    "ends": s.cancel_at_period_end,
                    "period_end": s.current_period_end_ms.map(|ms| clock.time(ms).display),
                }))
                .collect::<Vec<_>>(),
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    if !may(&staff) {
        return forbidden();
    }
    // After a comp form: what happened, as the form's handler said.
    let outcome = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "comp")
            .and_then(|(_, v)| super::tiers::comp_outcome(&v))
    });
    let (error, notice) = match outcome {
        Some((true, text)) => (Some(text), None),
        Some((false, text)) => (None, Some(text)),
        None => (None, None),
    };
    render_member(&state, &staff, id, StatusCode::OK, error, notice).await
}

/// Saves a member's page: name, e-mail, note, labels, newsletters, and the
/// bouncing flag cleared (`clear_bouncing`).
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may(&staff) {
        return forbidden();
    }
    let mut edit = MemberEdit {
        clear_bouncing: f.has("clear_bouncing"),
        ..MemberEdit::default()
    };
    if f.has("clear_bouncing") && !f.has("email") {
        // The flag's own button: nothing else changes.
    } else {
        let email = match Email::parse(f.get("email")) {
            Ok(e) => e,
            Err(e) => {
                return render_member(
                    &state,
                    &staff,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&format!("That address does not look right: {e}.")),
                    None,
                )
                .await;
            }
        };
        let name = f.get("name").trim().to_owned();
        let note = f.get("note").trim().to_owned();
        if name.chars().count() > member_csv::MAX_NAME
            || note.chars().count() > member_csv::MAX_NOTE
        {
            return render_member(
                &state,
                &staff,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("The name or the note is too long."),
                None,
            )
            .await;
        }
        edit.email = Some(email);
        edit.name = Some(name);
        edit.note = Some(note);
        edit.labels = Some(label_names(f.get("labels")));
        edit.newsletters = Some(match ids(&f, "newsletter") {
            Ok(ids) => ids,
            Err(r) => return *r,
        });
    }
    match state.store.edit_member(id, edit).await {
        Ok(()) => render_member(&state, &staff, id, StatusCode::OK, None, Some("Saved.")).await,
        Err(StoreError::NotFound) => {
            render_member(&state, &staff, id, StatusCode::NOT_FOUND, None, None).await
        }
        Err(StoreError::Conflict(m)) => {
            render_member(&state, &staff, id, StatusCode::CONFLICT, Some(&m), None).await
        }
        Err(e) => unavailable(e),
    }
}

// -------------------------------------------------------------- export --

/// One member as a row of Ghost's CSV.
fn csv_row(m: &DeskMember) -> String {
    let id = m.id.to_string();
    let created = member_csv::format_time(m.created_ms);
    let labels = m
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let subscribed = if m.newsletter_ids.is_empty() {
        "false"
    } else {
        "true"
    };
    let comped = if m.status == "comped" {
        "true"
    } else {
        "false"
    };
    member_csv::line(&[
        &id, &m.email, &m.name, &m.note, subscribed, comped, "", &created, "", &labels, "",
    ])
}

/// The (filtered) list as Ghost's member CSV, read and sent a batch at a
/// time so a large list never sits in memory.
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if !may(&staff) {
        return forbidden();
    }
    let Ok(Query(q)) = q else {
        return bad_request("The filter could not be read.");
    };
    let filter = match q.filter(&state.clock()) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    tracing::info!(staff_id = staff.0.user.id, "members exported");
    let header = member_csv::line(&member_csv::EXPORT_COLUMNS);
    let store = state.store.clone();
    // State: the cursor to read after; `None` once the last batch is sent.
    let body = stream::unfold(Some((None::<MemberCursor>, Some(header))), move |st| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let (after, header) = st?;
            if let Some(h) = header {
                return Some((Ok::<_, std::io::Error>(Bytes::from(h)), Some((after, None))));
            }
            match store.desk_members(filter, after, EXPORT_BATCH, false).await {
                Ok(page) => {
                    let chunk: String = page.members.iter().map(csv_row).collect();
                    let next = page.next.map(|c| (Some(c), None));
                    if chunk.is_empty() {
                        return None;
                    }
                    Some((Ok(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "member export failed part way");
                    Some((Err(std::io::Error::other("the export stopped")), None))
                }
            }
        }
    });
    let mut res = Body::from_stream(body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"members.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// -------------------------------------------------------------- import --

/// A row the import refused, and why.
#[derive(Debug, Serialize)]
struct Refused {
    line: usize,
    reason: String,
}

/// Reads a CSV file (multipart field `file`, with `csrf`) and adds its
/// members, confirmed and sent nothing. Rows that cannot be read, bad
/// addresses or dates, and addresses already members' (or earlier in the
/// file) are refused and listed with their line; the others are written in
/// one transaction, each whole (member, labels, newsletters) or not at all.
pub async fn import(State(state): State<AppState>, staff: Staff, mut form: Multipart) -> Response {
    let mut csrf = String::new();
    let mut file: Option<Bytes> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let data = match field.bytes().await {
                    Ok(d) => d,
                    Err(_) => return bad_request("The upload could not be read."),
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&data).into_owned(),
                    "file" => file = Some(data),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return bad_request("The upload could not be read."),
        }
    }
    if let Err(r) = staff.check_csrf(&csrf) {
        return *r;
    }
    if !may(&staff) {
        return forbidden();
    }
    let refuse_file = |why: &str| {
        message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Nothing was imported",
            why,
            Some(Link {
                url: "/admin/members",
                text: "Back to members",
            }),
        )
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return refuse_file("Choose a CSV file to import.");
    };
    let Ok(text) = std::str::from_utf8(&file) else {
        return refuse_file(
            "The file is not UTF-8 text. Save it from your spreadsheet as \"CSV UTF-8\".",
        );
    };
    let records = member_csv::read_records(text);
    let Some((head, rows)) = records.split_first() else {
        return refuse_file("The file is empty.");
    };
    let header = match head
        .fields
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|h| ImportHeader::parse(h))
    {
        Ok(h) => h,
        Err(e) => return refuse_file(&format!("Line {}: {e}.", head.line)),
    };
    if rows.len() > member_csv::MAX_IMPORT_ROWS {
        return refuse_file(&format!(
            "The file has {} rows; import at most {} at a time.",
            rows.len(),
            member_csv::MAX_IMPORT_ROWS
        ));
    }
    let newsletters = match state.store.newsletters().await {
        Ok(n) => n,
        Err(e) => return unavailable(e),
    };
    let defaults: Vec<i64> = newsletters
        .iter()
        .filter(|n| n.status == "active" && n.subscribe_on_signup)
        .map(|n| n.id)
        .collect();
    let now = now_ms();
    let mut refused: Vec<Refused> = Vec::new();
    let mut batch: Vec<NewDeskMember> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for rec in rows {
        let parsed = rec
            .fields
            .as_ref()
            .map_err(|e| format!("broken quoting: {e}"))
            .and_then(|f| ImportRow::parse(&header, f));
        let row = match parsed {
            Ok(r) => r,
            Err(reason) => {
                refused.push(Refused {
                    line: rec.line,
                    reason,
                });
                continue;
            }
        };
        if let Some(first) = seen.get(row.email.key()) {
            refused.push(Refused {
                line: rec.line,
                reason: format!("duplicate: the same address as line {first}"),
            });
            continue;
        }
        seen.insert(row.email.key().to_owned(), rec.line);
        lines.push(rec.line);
        batch.push(NewDeskMember {
            email: row.email,
            name: row.name,
            note: row.note,
            status: if row.comped { "comped" } else { "free" }.to_owned(),
            labels: row.labels,
            newsletters: if row.subscribed {
                defaults.clone()
            } else {
                Vec::new()
            },
            source: "import".into(),
            // Ghost's rule: a join in the future is a join now.
            created_ms: row.created_ms.map(|t| t.min(now)),
        });
    }
    let outcome = match state.store.add_desk_members(batch).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let mut added = 0usize;
    for (line, o) in lines.iter().zip(&outcome) {
        match o {
            MemberAdded::Added(_) => added += 1,
            MemberAdded::Duplicate => refused.push(Refused {
                line: *line,
                reason: "duplicate: already a member".into(),
            }),
        }
    }
    refused.sort_by_key(|r| r.line);
    tracing::info!(added, refused = refused.len(), "members imported");
    page(
        if refused.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        "members_import.html",
        serde_json::json!({
            "title": "Import report",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "added": added,
            "refused": refused,
        }),
    )
}

// --------------------------------------------------------- newsletters --

#[derive(Serialize)]
struct NewsletterForm {
    name: String,
    description: String,
    sender_name: String,
    sender_reply_to: String,
    subscribe_on_signup: bool,
    archived: bool,
}

impl NewsletterForm {
    fn of(n: &Newsletter) -> NewsletterForm {
        NewsletterForm {
            name: n.name.clone(),
            description: n.description.clone(),
            sender_name: n.sender_name.clone().unwrap_or_default(),
            sender_reply_to: n.sender_reply_to.clone(),
            subscribe_on_signup: n.subscribe_on_signup,
            archived: n.status == "archived",
        }
    }

    fn read(f: &DeskForm) -> NewsletterForm {
        NewsletterForm {
            name: f.get("name").trim().to_owned(),
            description: f.get("description").trim().to_owned(),
            sender_name: f.get("sender_name").trim().to_owned(),
            sender_reply_to: f.get("sender_reply_to").trim().to_owned(),
            subscribe_on_signup: f.has("subscribe_on_signup"),
            archived: f.has("archived"),
        }
    }

    /// The store's input, or what is wrong.
    fn input(&self) -> Result<NewsletterInput, String> {
        newsletter_input(
            &self.name,
            &self.description,
            &self.sender_name,
            &self.sender_reply_to,
            self.subscribe_on_signup,
            if self.archived { "archived" } else { "active" },
        )
    }
}

/// Checks a newsletter's fields (the desk's form and the Admin API share it).
pub fn newsletter_input(
    name: &str,
    description: &str,
    sender_name: &str,
    sender_reply_to: &str,
    subscribe_on_signup: bool,
    status: &str,
) -> Result<NewsletterInput, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 191 {
        return Err("A newsletter needs a name of at most 191 characters.".into());
    }
    if description.chars().count() > 2000 {
        return Err("The description is at most 2,000 characters.".into());
    }
    if sender_name.chars().count() > 191 {
        return Err("The sender name is at most 191 characters.".into());
    }
    let reply = if sender_reply_to.is_empty() {
        "newsletter"
    } else {
        sender_reply_to
    };
    if reply != "newsletter" && reply != "support" {
        return Err("Replies go to \"newsletter\" or \"support\".".into());
    }
    if status != "active" && status != "archived" {
        return Err("The status is \"active\" or \"archived\".".into());
    }
    Ok(NewsletterInput {
        name: name.to_owned(),
        description: description.trim().to_owned(),
        sender_name: Some(sender_name.trim().to_owned()).filter(|s| !s.is_empty()),
        sender_reply_to: reply.to_owned(),
        subscribe_on_signup,
        status: status.to_owned(),
    })
}

async fn render_newsletters(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: Option<&NewsletterForm>,
    error: Option<&str>,
) -> Response {
    let all = match state.store.newsletters().await {
        Ok(n) => n,
        Err(e) => return unavailable(e),
    };
    page(
        status,
        "newsletters.html",
        serde_json::json!({
            "title": "Newsletters",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "newsletters": all,
            "form": form,
            "error": error,
        }),
    )
}

pub async fn newsletters(State(state): State<AppState>, staff: Staff) -> Response {
    if !may(&staff) {
        return forbidden();
    }
    render_newsletters(&state, &staff, StatusCode::OK, None, None).await
}

pub async fn add_newsletter(State(state): State<AppState>, staff: Staff, body: Bytes) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may(&staff) {
        return forbidden();
    }
    let form = NewsletterForm::read(&f);
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => {
            return render_newsletters(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&form),
                Some(&e),
            )
            .await;
        }
    };
    match state.store.add_newsletter(input).await {
        Ok(id) => Redirect::to(&format!("/admin/newsletters/{id}")).into_response(),
        Err(StoreError::Conflict(m)) => {
            render_newsletters(&state, &staff, StatusCode::CONFLICT, Some(&form), Some(&m)).await
        }
        Err(e) => unavailable(e),
    }
}

async fn render_newsletter(
    state: &AppState,
    staff: &Staff,
    id: i64,
    status: StatusCode,
    form: Option<&NewsletterForm>,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let n = match state.store.newsletter(id).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such newsletter",
                "That newsletter does not exist.",
                Some(Link {
                    url: "/admin/newsletters",
                    text: "All newsletters",
                }),
            );
        }
        Err(e) => return unavailable(e),
    };
    let current = NewsletterForm::of(&n);
    page(
        status,
        "newsletter.html",
        serde_json::json!({
            "title": n.name,
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "n": n,
            "form": form.unwrap_or(&current),
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn newsletter(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    if !may(&staff) {
        return forbidden();
    }
    render_newsletter(&state, &staff, id, StatusCode::OK, None, None, None).await
}

pub async fn save_newsletter(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let f = match DeskForm::read(&staff, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !may(&staff) {
        return forbidden();
    }
    let form = NewsletterForm::read(&f);
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => {
            return render_newsletter(
                &state,
                &staff,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&form),
                Some(&e),
                None,
            )
            .await;
        }
    };
    match state.store.edit_newsletter(id, input).await {
        Ok(()) => {
            render_newsletter(
                &state,
                &staff,
                id,
                StatusCode::OK,
                None,
                None,
                Some("Saved."),
            )
            .await
        }
        Err(StoreError::NotFound) => {
            render_newsletter(&state, &staff, id, StatusCode::NOT_FOUND, None, None, None).await
        }
        Err(StoreError::Conflict(m)) => {
            render_newsletter(
                &state,
                &staff,
                id,
                StatusCode::CONFLICT,
                Some(&form),
                Some(&m),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

// ---------------------------------------------------------- the chart --

/// Members who joined per day over the last `days` days, drawn as an inline
/// SVG bar chart with a table as its text alternative.
#[derive(Debug, Serialize)]
pub struct GrowthChart {
    pub days: u32,
    pub total: u64,
    pub svg: String,
    /// (day label, count), oldest first: the chart's text alternative.
    pub table: Vec<(String, u64)>,
}

pub async fn growth_chart(state: &AppState, days: u32) -> Result<GrowthChart, StoreError> {
    let clock = state.clock();
    let offset = clock.utc_offset_ms();
    let today = (clock.now_ms() + offset).div_euclid(86_400_000);
    let first = today - i64::from(days) + 1;
    let from_ms = first * 86_400_000 - offset;
    let counts = state.store.joins_by_day(from_ms, offset).await?;
    let series: Vec<(i64, u64)> = (first..=today)
        .map(|d| {
            let n = counts.iter().find(|c| c.day == d).map_or(0, |c| c.count);
            (d, n)
        })
        .collect();
    Ok(GrowthChart {
        days,
        total: series.iter().map(|(_, n)| n).sum(),
        svg: chart_svg(&series),
        table: series
            .iter()
            .map(|(d, n)| (Clock::day_label(*d), *n))
            .collect(),
    })
}

/// The bars as SVG (no script, no library); `role="img"` with a title the
/// screen reader says, the table beside it carrying the numbers.
fn chart_svg(series: &[(i64, u64)]) -> String {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const TOP: f64 = 16.0;
    let max = series.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = W / series.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let total: u64 = series.iter().map(|(_, n)| n).sum();
    let mut svg = format!(
        "<svg class=\"growth\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-labelledby=\"growth-title\" \
         preserveAspectRatio=\"none\" width=\"100%\" height=\"{H}\">\
         <title id=\"growth-title\">Members who joined each day: {total} in {} days, at most {max} in a day</title>",
        H + 1.0,
        series.len()
    );
    for (i, (day, n)) in series.iter().enumerate() {
        let h = (H - TOP) * (*n as f64) / (max as f64);
        let x = i as f64 * slot + (slot - bar) / 2.0;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"><title>{}: {n}</title></rect>",
            H - h,
            Clock::day_label(*day)
        ));
    }
    svg.push_str(&format!(
        "<line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" class=\"axis\"/></svg>"
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_draws_one_bar_a_day_scaled_to_the_busiest() {
        let svg = chart_svg(&[(20_000, 0), (20_001, 4), (20_002, 2)]);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("6 in 3 days, at most 4 in a day"));
        assert!(
            svg.contains("height=\"144.0\""),
            "the busiest day fills the height: {svg}"
        );
        assert!(svg.contains("height=\"72.0\""));
    }

    #[test]
    fn list_queries_read_their_filters() {
        let clock = Clock::new("UTC", 0);
        let q = ListQuery {
            q: Some(" ada ".into()),
            status: Some("comped".into()),
            from: Some("1970-01-02".into()),
            to: Some("1970-01-02".into()),
            bouncing: Some("yes".into()),
            after: Some("5.7".into()),
            ..ListQuery::default()
        };
        let f = q.filter(&clock).expect("filter");
        assert_eq!(f.search.as_deref(), Some("ada"));
        assert_eq!(
            (f.joined_from_ms, f.joined_before_ms),
            (Some(86_400_000), Some(172_800_000))
        );
        assert_eq!(f.bouncing, Some(true));
        assert_eq!(
            q.cursor(),
            Ok(Some(MemberCursor {
                created_ms: 5,
                id: 7
            }))
        );
        assert_eq!(
            q.query_string(),
            "q=ada&status=comped&from=1970-01-02&to=1970-01-02&bouncing=yes"
        );
        let bad = ListQuery {
            status: Some("gold".into()),
            after: Some("x".into()),
            ..ListQuery::default()
        };
        assert!(bad.filter(&clock).is_err());
        assert!(bad.cursor().is_err());
    }
}
