//! The desk's front page (`/admin/`): what the newsroom is working on. The
//! signed-in person's drafts, what waits for review, what is scheduled (with
//! its time in the site's zone), what was published last, the live
//! roundups with a quick "add entry" box, and, for those who manage
//! members, the member count with its recent growth.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::editorial::{self, Actor, Sight};
use masthead_domain::{Action, Role, Whose, permits};
use masthead_render::views::Clock;
use masthead_store::{DeskPost, FrontViewer};
use serde::{Deserialize, Serialize};

use super::{Staff, StaffView, members, page, revenue, unavailable};
use crate::state::AppState;

/// How many posts each list shows.
const FRONT_LIMIT: u32 = 8;

/// The front page's query: how many days the members chart covers.
#[derive(Deserialize, Default)]
pub struct FrontQuery {
    #[serde(default)]
    days: Option<String>,
    /// A live post a quick entry was just added to (from the front page).
    #[serde(default)]
    added: Option<String>,
}

/// A post in one of the front page's lists, its times in the site's zone.
#[derive(Serialize)]
struct PostLine {
    #[serde(flatten)]
    post: DeskPost,
    updated: String,
    updated_iso: String,
    /// Publication time (scheduled or published), if it has one.
    when: Option<String>,
    when_iso: Option<String>,
}

impl PostLine {
    fn new(post: DeskPost, clock: &Clock) -> PostLine {
        let updated = clock.time(post.updated_ms);
        let when = post.published_ms.map(|ms| clock.time(ms));
        PostLine {
            updated: updated.display,
            updated_iso: updated.iso,
            when_iso: when.as_ref().map(|t| t.iso.clone()),
            when: when.map(|t| t.display),
            post,
        }
    }
}

/// A live roundup with its latest update, and whether this person may add
/// an entry from the front page.
#[derive(Serialize)]
struct LiveLine {
    #[serde(flatten)]
    line: PostLine,
    entries: u64,
    last: Option<String>,
    last_iso: Option<String>,
    can_post: bool,
}

/// The member count and its growth over the chart's days.
#[derive(Serialize)]
struct MembersView {
    total: String,
    chart: members::GrowthChart,
    /// How many joined in the as many days before the chart's.
    before: u64,
}

/// Members who joined in the `days` days before the last `days` (the
/// chart's window), for the trend.
async fn joined_before(state: &AppState, days: u32) -> Result<u64, masthead_store::StoreError> {
    let clock = state.clock();
    let offset = clock.utc_offset_ms();
    let today = (clock.now_ms() + offset).div_euclid(86_400_000);
    let first = today - i64::from(days) + 1;
    let earlier = first - i64::from(days);
    let counts = state
        .store
        .joins_by_day(earlier * 86_400_000 - offset, offset)
        .await?;
    Ok(counts
        .iter()
        .filter(|c| c.day >= earlier && c.day < first)
        .map(|c| c.count)
        .sum())
}

#[derive(Serialize)]
struct FrontPage<'a> {
    title: &'static str,
    staff: StaffView<'a>,
    csrf: &'a str,
    has_byline: bool,
    can_review: bool,
    can_manage_staff: bool,
    drafts: Vec<PostLine>,
    in_review: Vec<PostLine>,
    scheduled: Vec<PostLine>,
    published: Vec<PostLine>,
    live: Vec<LiveLine>,
    members: Option<MembersView>,
    /// Paying members and recurring revenue, beside the member trend.
    revenue: Option<revenue::Figures>,
    timezone: String,
    /// "Entry added to …", after a quick entry.
    notice: Option<String>,
}

/// 1234567 as "1,234,567".
pub(super) fn grouped(n: u64) -> String {
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

pub async fn dashboard(
    State(state): State<AppState>,
    Staff(session): Staff,
    q: Result<Query<FrontQuery>, QueryRejection>,
) -> Response {
    let role = session.user.role;
    let actor = Actor::staff(role, session.user.author_id);
    // Those who may not see others' work see only their own here too (as
    // in the posts list).
    let only = match editorial::sight(&actor) {
        Sight::All => None,
        Sight::Byline(own) => Some(own.unwrap_or(-1)),
    };
    let viewer = FrontViewer {
        byline: session.user.author_id,
        only,
    };
    let front = match state.store.desk_front(viewer, FRONT_LIMIT).await {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let q = q.map(|q| q.0).unwrap_or_default();
    let added: Option<i64> = q.added.as_deref().and_then(|a| a.parse().ok());
    let (members, revenue) = if permits(role, Action::ManageMembers) {
        let days = match q.days.as_deref() {
            Some("90") => 90,
            _ => 30,
        };
        let counted = tokio::try_join!(
            state.store.member_count("members".to_owned()),
            members::growth_chart(&state, days),
            joined_before(&state, days),
            revenue::figures(&state, days)
        );
        match counted {
            Ok((total, chart, before, figures)) => (
                Some(MembersView {
                    total: grouped(total),
                    chart,
                    before,
                }),
                Some(figures),
            ),
            Err(e) => return unavailable(e),
        }
    } else {
        (None, None)
    };
    // Everything listed is the person's own when they see only their own.
    let whose = if only.is_some() {
        Whose::Own
    } else {
        Whose::Others
    };
    let can_post = permits(role, Action::PostLiveEntries { whose });
    let clock = state.clock();
    let lines = |list: Vec<DeskPost>| -> Vec<PostLine> {
        list.into_iter().map(|p| PostLine::new(p, &clock)).collect()
    };
    let notice = added
        .and_then(|id| front.live.iter().find(|l| l.post.id == id))
        .map(|l| format!("Entry published on “{}”.", l.post.title));
    let live = front
        .live
        .into_iter()
        .map(|l| {
            let last = l.last_entry_ms.map(|ms| clock.time(ms));
            LiveLine {
                line: PostLine::new(l.post, &clock),
                entries: l.entries,
                last_iso: last.as_ref().map(|t| t.iso.clone()),
                last: last.map(|t| t.relative.unwrap_or(t.display)),
                can_post,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        "dashboard.html",
        FrontPage {
            title: "Desk",
            staff: StaffView::from(&session.user),
            csrf: &session.csrf_token,
            has_byline: session.user.author_id.is_some(),
            can_review: permits(role, Action::ReviewSubmissions),
            can_manage_staff: permits(
                role,
                Action::ManageStaff {
                    target: Role::Contributor,
                },
            ),
            drafts: lines(front.drafts),
            in_review: lines(front.in_review),
            scheduled: lines(front.scheduled),
            published: lines(front.published),
            live,
            members,
            revenue,
            timezone: state.site().settings.timezone.clone(),
            notice,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
