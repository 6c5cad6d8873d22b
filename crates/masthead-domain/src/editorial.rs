//! The editorial rules every surface applies to posts: who may read, create,
//! edit, publish, re-byline and delete a post, and what a title, a slug, a
//! feature image and a live entry need. The desk, the Admin API, the CLI and
//! the Ghost importer call these functions; none keeps its own copy.
//!
//! Two decisions live here and nowhere else:
//! - a post is the actor's **own** when their byline is on it, judged on the
//!   byline list before *and* after a change: nobody edits their way out of
//!   the permission they need by handing the post to someone else;
//! - a **scheduled** post counts as published for editing rights: it has been
//!   approved to go out, so those who may not change published work may not
//!   change it either.

use thiserror::Error;

use crate::permission::{Action, Role, Whose, permits};
use crate::post::PostStatus;
use crate::slug::{Slug, slugify};

/// Who is acting: a staff member (with their byline, if they have one) or
/// an integration using an admin key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The byline (author id) that makes a post theirs.
    pub byline: Option<i64>,
}

impl Actor {
    pub fn staff(role: Role, byline: Option<i64>) -> Actor {
        Actor { role, byline }
    }

    /// An integration authenticated with an admin API key. As in Ghost, it
    /// acts with an administrator's rights and has no byline of its own.
    pub fn integration() -> Actor {
        Actor {
            role: Role::Administrator,
            byline: None,
        }
    }

    /// Whether a post with these bylines is this actor's own.
    pub fn whose(&self, bylines: &[i64]) -> Whose {
        match self.byline {
            Some(b) if bylines.contains(&b) => Whose::Own,
            _ => Whose::Others,
        }
    }

    fn may(&self, action: Action) -> Result<(), Refused> {
        if permits(self.role, action) {
            Ok(())
        } else {
            Err(Refused(action))
        }
    }
}

/// A permission the actor lacks: the action that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("your role does not allow you to {}", .0.describe())]
pub struct Refused(pub Action);

/// Whether a status counts as published for editing and deleting rights:
/// published and scheduled posts both do.
pub fn counts_as_published(status: PostStatus) -> bool {
    status != PostStatus::Draft
}

/// Which posts an actor sees in lists (the desk's posts list, the Admin
/// API's browse) and may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Every post.
    All,
    /// Only posts carrying this byline (`None`: a login without a byline
    /// sees none).
    Byline(Option<i64>),
}

pub fn sight(actor: &Actor) -> Sight {
    if permits(
        actor.role,
        Action::ReadPost {
            whose: Whose::Others,
        },
    ) {
        Sight::All
    } else {
        Sight::Byline(actor.byline)
    }
}

/// May the actor open a post with these bylines?
pub fn may_read(actor: &Actor, bylines: &[i64]) -> Result<(), Refused> {
    actor.may(Action::ReadPost {
        whose: actor.whose(bylines),
    })
}

/// A post's state as far as permissions go: before or after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostState<'a> {
    pub status: PostStatus,
    /// The publication time (set for published and scheduled posts).
    pub published_ms: Option<i64>,
    /// Byline ids, the lead first.
    pub bylines: &'a [i64],
}

/// "Own" for a change: the actor's byline is on the post before and after.
fn whose_across(actor: &Actor, before: &[i64], after: &[i64]) -> Whose {
    match (actor.whose(before), actor.whose(after)) {
        (Whose::Own, Whose::Own) => Whose::Own,
        _ => Whose::Others,
    }
}

/// May the actor create this post? A new post is its creator's before it
/// has bylines; naming anyone but oneself as the byline is a re-byline, and
/// any status but draft is publishing.
pub fn may_create(actor: &Actor, new: &PostState) -> Result<(), Refused> {
    actor.may(Action::CreatePost)?;
    let own_byline: &[i64] = match &actor.byline {
        Some(b) => std::slice::from_ref(b),
        None => &[],
    };
    let whose = match actor.byline {
        Some(_) => actor.whose(new.bylines),
        None => Whose::Others,
    };
    if new.bylines != own_byline {
        actor.may(Action::ChangeBylines { whose })?;
    }
    if counts_as_published(new.status) {
        actor.may(Action::PublishPost { whose })?;
    }
    Ok(())
}

/// May the actor save this change? Editing rights follow the post's state
/// before the change (scheduled counts as published); re-bylining and
/// publishing are judged on "own" before and after.
pub fn may_edit(actor: &Actor, before: &PostState, after: &PostState) -> Result<(), Refused> {
    actor.may(Action::EditPost {
        whose: actor.whose(before.bylines),
        published: counts_as_published(before.status),
    })?;
    let whose = whose_across(actor, before.bylines, after.bylines);
    if before.bylines != after.bylines {
        actor.may(Action::ChangeBylines { whose })?;
    }
    if before.status != after.status || before.published_ms != after.published_ms {
        actor.may(Action::PublishPost { whose })?;
    }
    Ok(())
}

/// May the actor open the post in the editor (or its history)?
pub fn may_open_for_editing(actor: &Actor, post: &PostState) -> Result<(), Refused> {
    actor.may(Action::EditPost {
        whose: actor.whose(post.bylines),
        published: counts_as_published(post.status),
    })
}

/// May the actor publish, schedule or unpublish this post (as it stands)?
pub fn may_publish(actor: &Actor, post: &PostState) -> bool {
    permits(
        actor.role,
        Action::PublishPost {
            whose: actor.whose(post.bylines),
        },
    )
}

pub fn may_delete(actor: &Actor, post: &PostState) -> Result<(), Refused> {
    actor.may(Action::DeletePost {
        whose: actor.whose(post.bylines),
        published: counts_as_published(post.status),
    })
}

/// May the actor bring new tags into being (in the tag list or by naming an
/// unknown tag on a post)?
pub fn may_create_tags(actor: &Actor) -> Result<(), Refused> {
    actor.may(Action::ManageTags)
}

/// A content rule a post, entry or account broke. The messages are whole
/// sentences, for the desk's pages, the API's errors and the CLI alike.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditorialError {
    #[error("A title is required.")]
    TitleMissing,
    #[error("The title is longer than {MAX_TITLE_CHARS} characters.")]
    TitleTooLong,
    #[error("The slug is not valid: {0}.")]
    BadSlug(&'static str),
    #[error(
        "Describe the feature image in its alt text before the post goes out: readers who cannot see it rely on that."
    )]
    AltTextMissing,
    #[error("A live entry needs a headline.")]
    EntryTitleMissing,
    #[error(
        "Live entry headlines are at most {MAX_ENTRY_TITLE_CHARS} characters and entries at most {MAX_ENTRY_BODY_CHARS}."
    )]
    EntryTooLong,
    #[error("A name of 1 to {MAX_NAME_CHARS} characters is required.")]
    BadName,
    #[error("A tag's name needs some Latin letters or digits to make its address.")]
    UnusableTagName,
}

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_ENTRY_TITLE_CHARS: usize = 300;
pub const MAX_ENTRY_BODY_CHARS: usize = 20_000;
/// Longest staff name (it prints on their byline).
pub const MAX_NAME_CHARS: usize = 120;

/// A post's title, trimmed: required, at most 300 characters.
pub fn title(raw: &str) -> Result<&str, EditorialError> {
    let t = raw.trim();
    if t.is_empty() {
        Err(EditorialError::TitleMissing)
    } else if t.chars().count() > MAX_TITLE_CHARS {
        Err(EditorialError::TitleTooLong)
    } else {
        Ok(t)
    }
}

/// The slug a post asks for: the one given (trimmed, which must be valid),
/// else one made from the title, else `untitled`. Making it unique among
/// existing posts is [`crate::slug::unique_slug`]'s job, at insert time.
pub fn post_slug(given: Option<&str>, title: &str) -> Result<Slug, EditorialError> {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => parse_slug(s),
        None => Ok(slugify(title).unwrap_or_else(untitled)),
    }
}

/// The slug a tag asks for: the one given (which must be valid), else one
/// made from its name.
pub fn tag_slug(given: Option<&str>, name: &str) -> Result<Slug, EditorialError> {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => parse_slug(s),
        None => slugify(name).ok_or(EditorialError::UnusableTagName),
    }
}

fn parse_slug(s: &str) -> Result<Slug, EditorialError> {
    Slug::parse(s).map_err(|e| match e {
        crate::DomainError::BadSlug(why) => EditorialError::BadSlug(why),
        _ => EditorialError::BadSlug("it is not a slug"),
    })
}

fn untitled() -> Slug {
    // A constant that is a valid slug.
    Slug::parse("untitled").unwrap_or_else(|_| unreachable!("\"untitled\" is a valid slug"))
}

/// A post that is or will be out (published or scheduled) with a feature
/// image needs that image's alt text.
pub fn feature_alt(status: PostStatus, has_image: bool, alt: &str) -> Result<(), EditorialError> {
    if counts_as_published(status) && has_image && alt.trim().is_empty() {
        Err(EditorialError::AltTextMissing)
    } else {
        Ok(())
    }
}

/// A live entry: a headline, and limits on both parts.
pub fn live_entry(title: &str, body: &str) -> Result<(), EditorialError> {
    let t = title.trim();
    if t.is_empty() {
        return Err(EditorialError::EntryTitleMissing);
    }
    // Byte lengths bound the character counts from above: count only when needed.
    let too_long = |s: &str, max: usize| s.len() > max && s.chars().count() > max;
    if too_long(t, MAX_ENTRY_TITLE_CHARS) || too_long(body, MAX_ENTRY_BODY_CHARS) {
        return Err(EditorialError::EntryTooLong);
    }
    Ok(())
}

/// A staff member's name, trimmed: required, at most 120 characters.
pub fn staff_name(raw: &str) -> Result<&str, EditorialError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
        Err(EditorialError::BadName)
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: i64 = 7;
    const HER: i64 = 9;

    fn state(status: PostStatus, bylines: &[i64]) -> PostState<'_> {
        PostState {
            status,
            published_ms: (status != PostStatus::Draft).then_some(1),
            bylines,
        }
    }

    #[test]
    fn scheduled_counts_as_published_for_editing() {
        let contributor = Actor::staff(Role::Contributor, Some(ME));
        let mine = [ME];
        let scheduled = state(PostStatus::Scheduled, &mine);
        assert_eq!(
            may_edit(&contributor, &scheduled, &scheduled),
            Err(Refused(Action::EditPost {
                whose: Whose::Own,
                published: true
            }))
        );
        assert!(may_delete(&contributor, &scheduled).is_err());
        let draft = state(PostStatus::Draft, &mine);
        assert_eq!(may_edit(&contributor, &draft, &draft), Ok(()));
        assert_eq!(may_delete(&contributor, &draft), Ok(()));
    }

    #[test]
    fn own_is_judged_before_and_after_the_byline_change() {
        let author = Actor::staff(Role::Author, Some(ME));
        let (mine, hers, both) = ([ME], [HER], [ME, HER]);
        let before = state(PostStatus::Draft, &mine);
        // Handing one's post to someone else and publishing it: refused.
        let handed = state(PostStatus::Published, &hers);
        assert_eq!(
            may_edit(&author, &before, &handed),
            Err(Refused(Action::ChangeBylines {
                whose: Whose::Others
            }))
        );
        // Creating a post under someone else's byline: refused.
        assert!(may_create(&author, &state(PostStatus::Published, &hers)).is_err());
        assert!(may_create(&author, &state(PostStatus::Draft, &hers)).is_err());
        // Sharing one's own post with a co-writer and publishing: allowed.
        assert_eq!(
            may_edit(&author, &before, &state(PostStatus::Published, &both)),
            Ok(())
        );
        // Editors may re-byline anything.
        let editor = Actor::staff(Role::Editor, Some(ME));
        assert_eq!(may_edit(&editor, &before, &handed), Ok(()));
        // Contributors may not re-byline even their own drafts.
        let contributor = Actor::staff(Role::Contributor, Some(ME));
        assert!(may_edit(&contributor, &before, &state(PostStatus::Draft, &both)).is_err());
        assert_eq!(
            may_create(&contributor, &state(PostStatus::Draft, &mine)),
            Ok(())
        );
    }

    #[test]
    fn integrations_do_everything_on_posts() {
        let key = Actor::integration();
        let (hers, none) = ([HER], []);
        let draft = state(PostStatus::Draft, &hers);
        let out = state(PostStatus::Published, &none);
        assert_eq!(may_create(&key, &out), Ok(()));
        assert_eq!(may_edit(&key, &draft, &out), Ok(()));
        assert_eq!(may_delete(&key, &out), Ok(()));
        assert_eq!(sight(&key), Sight::All);
    }

    #[test]
    fn contributors_and_authors_see_only_their_own() {
        for role in Role::ALL {
            let a = Actor::staff(role, Some(ME));
            let expected = if role >= Role::Editor {
                Sight::All
            } else {
                Sight::Byline(Some(ME))
            };
            assert_eq!(sight(&a), expected);
            assert_eq!(may_read(&a, &[HER]).is_ok(), role >= Role::Editor);
            assert_eq!(may_read(&a, &[ME]), Ok(()));
        }
    }

    #[test]
    fn content_rules() {
        assert_eq!(title("  Storm  "), Ok("Storm"));
        assert_eq!(title(" "), Err(EditorialError::TitleMissing));
        assert_eq!(title(&"é".repeat(300)).map(str::len), Ok(600));
        assert_eq!(title(&"é".repeat(301)), Err(EditorialError::TitleTooLong));
        assert_eq!(
            post_slug(None, "Storm Eamon").map(Slug::into_string),
            Ok("storm-eamon".into())
        );
        assert_eq!(
            post_slug(Some(""), "!!!").map(Slug::into_string),
            Ok("untitled".into())
        );
        assert!(matches!(
            post_slug(Some("Not A Slug"), "x"),
            Err(EditorialError::BadSlug(_))
        ));
        assert_eq!(
            tag_slug(None, "Harbour & Port").map(Slug::into_string),
            Ok("harbour-port".into())
        );
        assert_eq!(
            tag_slug(Some(""), "!!"),
            Err(EditorialError::UnusableTagName)
        );
        assert!(matches!(
            tag_slug(Some("Not Valid"), "x"),
            Err(EditorialError::BadSlug(_))
        ));
        assert_eq!(
            feature_alt(PostStatus::Scheduled, true, " "),
            Err(EditorialError::AltTextMissing)
        );
        assert_eq!(feature_alt(PostStatus::Draft, true, ""), Ok(()));
        assert_eq!(feature_alt(PostStatus::Published, false, ""), Ok(()));
        assert_eq!(live_entry(" ", ""), Err(EditorialError::EntryTitleMissing));
        assert_eq!(
            live_entry("t", &"x".repeat(20_001)),
            Err(EditorialError::EntryTooLong)
        );
        assert_eq!(live_entry("t", &"é".repeat(20_000)), Ok(()));
        assert_eq!(staff_name(&"n".repeat(121)), Err(EditorialError::BadName));
    }
}
