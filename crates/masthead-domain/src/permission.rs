//! Who may do what in the newsroom: the one place permissions are decided.
//! `docs/permissions.md` prints this matrix, and a test keeps the two equal.

use serde::Serialize;

use crate::DomainError;

/// Staff roles, least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Contributor,
    Author,
    Editor,
    Administrator,
    Owner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Contributor,
        Role::Author,
        Role::Editor,
        Role::Administrator,
        Role::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contributor => "contributor",
            Role::Author => "author",
            Role::Editor => "editor",
            Role::Administrator => "administrator",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Result<Role, DomainError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::UnknownValue {
                what: "role",
                value: s.chars().take(32).collect(),
            })
    }
}

/// Whose post an action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Whose {
    Own,
    Others,
}

/// Everything a staff member can ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Start a draft (any kind).
    CreatePost,
    /// See a post, whatever its status, in the desk's lists and through the
    /// Admin API (browse and read).
    ReadPost {
        whose: Whose,
    },
    /// Change a post's content; `published` is whether it is published or
    /// scheduled (scheduled counts as published: it is approved to go out).
    EditPost {
        whose: Whose,
        published: bool,
    },
    /// Publish, schedule or unpublish.
    PublishPost {
        whose: Whose,
    },
    /// Add or remove bylines on a post ("own" judged before and after).
    ChangeBylines {
        whose: Whose,
    },
    /// `published` as for `EditPost`.
    DeletePost {
        whose: Whose,
        published: bool,
    },
    /// Add, edit, pin and delete entries of a live post.
    PostLiveEntries {
        whose: Whose,
    },
    /// See the review queue, comment, approve or send back submissions.
    ReviewSubmissions,
    UploadMedia,
    /// Change the alt text, caption and credit of a library image.
    EditMediaDetails {
        whose: Whose,
    },
    ManageTags,
    /// Bylines (people who write, with or without a login).
    ManageAuthors,
    ManageCampaign,
    /// Invite, change or remove staff whose role is `target`.
    ManageStaff {
        target: Role,
    },
    ManageMembers,
    ManageSettings,
    ManageApiKeys,
}

impl Action {
    /// Every distinct action, for exhaustive tests and the printed matrix.
    pub fn all() -> Vec<Action> {
        let mut v = vec![Action::CreatePost];
        for whose in [Whose::Own, Whose::Others] {
            v.push(Action::ReadPost { whose });
            for published in [false, true] {
                v.push(Action::EditPost { whose, published });
            }
            v.push(Action::PublishPost { whose });
            v.push(Action::ChangeBylines { whose });
            for published in [false, true] {
                v.push(Action::DeletePost { whose, published });
            }
            v.push(Action::PostLiveEntries { whose });
        }
        v.extend([
            Action::ReviewSubmissions,
            Action::UploadMedia,
            Action::EditMediaDetails { whose: Whose::Own },
            Action::EditMediaDetails {
                whose: Whose::Others,
            },
            Action::ManageTags,
            Action::ManageAuthors,
            Action::ManageCampaign,
        ]);
        v.extend(
            Role::ALL
                .into_iter()
                .map(|target| Action::ManageStaff { target }),
        );
        v.extend([
            Action::ManageMembers,
            Action::ManageSettings,
            Action::ManageApiKeys,
        ]);
        v
    }

    /// How the matrix in `docs/permissions.md` names the action.
    pub fn describe(self) -> String {
        let whose = |w: Whose| match w {
            Whose::Own => "own",
            Whose::Others => "others'",
        };
        let state = |p: bool| {
            if p {
                "published or scheduled post"
            } else {
                "draft"
            }
        };
        match self {
            Action::CreatePost => "create a draft".into(),
            Action::ReadPost { whose: w } => {
                format!("see {} posts, drafts and scheduled ones too", whose(w))
            }
            Action::EditPost {
                whose: w,
                published,
            } => format!("edit {} {}", whose(w), state(published)),
            Action::PublishPost { whose: w } => {
                format!("publish, schedule or unpublish {} post", whose(w))
            }
            Action::ChangeBylines { whose: w } => {
                format!("change the bylines of {} post", whose(w))
            }
            Action::DeletePost {
                whose: w,
                published,
            } => format!("delete {} {}", whose(w), state(published)),
            Action::PostLiveEntries { whose: w } => {
                format!("post entries to {} live post", whose(w))
            }
            Action::ReviewSubmissions => "review submissions".into(),
            Action::UploadMedia => "upload media".into(),
            Action::EditMediaDetails { whose: w } => {
                format!("edit alt text and credits of {} uploads", whose(w))
            }
            Action::ManageTags => "manage tags".into(),
            Action::ManageAuthors => "manage bylines".into(),
            Action::ManageCampaign => "manage the campaign".into(),
            Action::ManageStaff { target } => format!("manage {} accounts", target.as_str()),
            Action::ManageMembers => "manage members".into(),
            Action::ManageSettings => "manage site settings".into(),
            Action::ManageApiKeys => "manage API keys".into(),
        }
    }
}

/// The permission matrix. Contributors write drafts for review; authors
/// publish their own work; editors run the desk; administrators run the site;
/// only the owner manages administrators and other owners.
pub fn permits(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::CreatePost
        | Action::ReadPost { whose: Whose::Own }
        | Action::UploadMedia
        | Action::EditMediaDetails { whose: Whose::Own } => true,
        Action::EditMediaDetails {
            whose: Whose::Others,
        } => role >= Editor,
        Action::EditPost {
            whose: Whose::Own,
            published,
        } => !published || role >= Author,
        Action::EditPost {
            whose: Whose::Others,
            ..
        } => role >= Editor,
        Action::ReadPost {
            whose: Whose::Others,
        } => role >= Editor,
        Action::PublishPost { whose: Whose::Own } => role >= Author,
        Action::ChangeBylines { whose: Whose::Own } => role >= Author,
        Action::ChangeBylines {
            whose: Whose::Others,
        } => role >= Editor,
        Action::PublishPost {
            whose: Whose::Others,
        } => role >= Editor,
        Action::DeletePost {
            whose: Whose::Own,
            published,
        } => !published || role >= Author,
        Action::DeletePost {
            whose: Whose::Others,
            ..
        } => role >= Editor,
        Action::PostLiveEntries { whose: Whose::Own } => role >= Author,
        Action::PostLiveEntries {
            whose: Whose::Others,
        } => role >= Editor,
        Action::ReviewSubmissions | Action::ManageTags | Action::ManageAuthors => role >= Editor,
        Action::ManageCampaign => role >= Editor,
        Action::ManageStaff { target } => match role {
            Contributor | Author => false,
            Editor => target <= Author,
            Administrator => target <= Administrator,
            Owner => true,
        },
        Action::ManageMembers | Action::ManageSettings | Action::ManageApiKeys => {
            role >= Administrator
        }
    }
}

/// The matrix as a Markdown table (what `docs/permissions.md` contains).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| Action |");
    for r in Role::ALL {
        out.push_str(&format!(" {} |", r.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":---:|");
    }
    out.push('\n');
    for a in Action::all() {
        out.push_str(&format!("| {} |", a.describe()));
        for r in Role::ALL {
            out.push_str(if permits(r, a) { " yes |" } else { " no |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification, written out independently of `permits`: one row per
    /// action, one letter per role (c a e A o), Y = allowed.
    const SPEC: &[(&str, &str)] = &[
        ("create a draft", "YYYYY"),
        ("see own posts, drafts and scheduled ones too", "YYYYY"),
        ("edit own draft", "YYYYY"),
        ("edit own published or scheduled post", "-YYYY"),
        ("publish, schedule or unpublish own post", "-YYYY"),
        ("change the bylines of own post", "-YYYY"),
        ("delete own draft", "YYYYY"),
        ("delete own published or scheduled post", "-YYYY"),
        ("post entries to own live post", "-YYYY"),
        ("see others' posts, drafts and scheduled ones too", "--YYY"),
        ("edit others' draft", "--YYY"),
        ("edit others' published or scheduled post", "--YYY"),
        ("publish, schedule or unpublish others' post", "--YYY"),
        ("change the bylines of others' post", "--YYY"),
        ("delete others' draft", "--YYY"),
        ("delete others' published or scheduled post", "--YYY"),
        ("post entries to others' live post", "--YYY"),
        ("review submissions", "--YYY"),
        ("upload media", "YYYYY"),
        ("edit alt text and credits of own uploads", "YYYYY"),
        ("edit alt text and credits of others' uploads", "--YYY"),
        ("manage tags", "--YYY"),
        ("manage bylines", "--YYY"),
        ("manage the campaign", "--YYY"),
        ("manage contributor accounts", "--YYY"),
        ("manage author accounts", "--YYY"),
        ("manage editor accounts", "---YY"),
        ("manage administrator accounts", "---YY"),
        ("manage owner accounts", "----Y"),
        ("manage members", "---YY"),
        ("manage site settings", "---YY"),
        ("manage API keys", "---YY"),
    ];

    #[test]
    fn every_role_and_action_matches_the_specification() {
        let actions = Action::all();
        assert_eq!(actions.len(), SPEC.len(), "every action is specified");
        let mut checked = 0;
        for action in actions {
            let name = action.describe();
            let (_, row) = SPEC
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is not in the specification"));
            for (role, expected) in Role::ALL.into_iter().zip(row.chars()) {
                assert_eq!(
                    permits(role, action),
                    expected == 'Y',
                    "{} may {}: expected {}",
                    role.as_str(),
                    name,
                    expected == 'Y'
                );
                checked += 1;
            }
        }
        assert_eq!(checked, SPEC.len() * 5);
    }

    /// The file must end with exactly the generated table, so nothing can
    /// trail it. The table used to be regenerated by pasting this test's
    /// failure output, which carried a panic backtrace into the file; now
    /// `MASTHEAD_WRITE_PERMISSIONS=1 cargo test -p masthead-domain permission`
    /// rewrites the table itself, and the failure message says so instead
    /// of printing a table to copy.
    #[test]
    fn the_documented_matrix_is_the_enforced_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md");
        let doc = std::fs::read_to_string(path).expect("docs/permissions.md is readable");
        let start = doc
            .find("| Action |")
            .expect("docs/permissions.md has the table");
        let (prose, table) = doc.split_at(start);
        let expected = matrix_markdown();
        if table == expected {
            return;
        }
        if std::env::var_os("MASTHEAD_WRITE_PERMISSIONS").is_some() {
            std::fs::write(path, format!("{prose}{expected}"))
                .expect("docs/permissions.md is writable");
            return;
        }
        panic!(
            "docs/permissions.md does not end with the enforced matrix; rewrite it with \
             `MASTHEAD_WRITE_PERMISSIONS=1 cargo test -p masthead-domain permission`"
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }
}
