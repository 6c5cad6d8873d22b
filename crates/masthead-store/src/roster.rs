//! The desk's members list, worked out once for both dialects: the WHERE
//! clause a [`MemberFilter`] and a [`MemberCursor`] make, with numbered
//! placeholders (`?1` on SQLite, `$1` on PostgreSQL) and the values to bind.
//! The list runs newest first and pages by keyset on `(created_at, id)`
//! (index `members_created`), never by OFFSET.

use masthead_model::members::{MemberCursor, MemberFilter};

/// A value to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A WHERE clause over `members m` and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Where {
    pub clause: String,
    pub args: Vec<Arg>,
}

/// The columns every list query reads, in `DeskMember` order (labels and
/// newsletters are read apart).
pub(crate) const LIST_COLUMNS: &str = "m.id, m.email, m.name, m.status, m.source, m.note, \
     m.email_disabled, m.created_at, m.tier_id, m.comp_expires_at, m.comp_tier_id";

/// Most members one page may hold.
pub(crate) const MAX_PAGE: u32 = 500;

/// The WHERE clause for `filter` (and `after`, if paging on). `mark` is the
/// placeholder sigil: `'?'` or `'$'`.
pub(crate) fn where_clause(
    filter: &MemberFilter,
    after: Option<MemberCursor>,
    mark: char,
) -> Where {
    let mut parts: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let bind = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("{mark}{}", args.len())
    };
    if let Some(s) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // `email_key` is the lowercased address; names are lowercased here
        // (ASCII on SQLite, all of Unicode on PostgreSQL).
        let p = bind(&mut args, Arg::Text(s.to_lowercase()));
        let fun = if mark == '$' { "strpos" } else { "instr" };
        parts.push(format!(
            "({fun}(m.email_key, {p}) > 0 OR {fun}(lower(m.name), {p}) > 0)"
        ));
    }
    if let Some(s) = &filter.status {
        let p = bind(&mut args, Arg::Text(s.clone()));
        parts.push(format!("m.status = {p}"));
    }
    if let Some(n) = filter.newsletter {
        let p = bind(&mut args, Arg::Int(n));
        parts.push(format!(
            "EXISTS (SELECT 1 FROM member_newsletters mn WHERE mn.member_id = m.id AND mn.newsletter_id = {p})"
        ));
    }
    if let Some(l) = &filter.label {
        let p = bind(&mut args, Arg::Text(l.clone()));
        parts.push(format!(
            "EXISTS (SELECT 1 FROM member_labels ml JOIN labels l ON l.id = ml.label_id \
             WHERE ml.member_id = m.id AND l.slug = {p})"
        ));
    }
    if let Some(t) = filter.joined_from_ms {
        let p = bind(&mut args, Arg::Int(t));
        parts.push(format!("m.created_at >= {p}"));
    }
    if let Some(t) = filter.joined_before_ms {
        let p = bind(&mut args, Arg::Int(t));
        parts.push(format!("m.created_at < {p}"));
    }
    if let Some(b) = filter.bouncing {
        // TRUE and FALSE are 1 and 0 on SQLite, booleans on PostgreSQL.
        parts.push(format!(
            "m.email_disabled = {}",
            if b { "TRUE" } else { "FALSE" }
        ));
    }
    if let Some(c) = after {
        let t = bind(&mut args, Arg::Int(c.created_ms));
        let i = bind(&mut args, Arg::Int(c.id));
        parts.push(format!("(m.created_at, m.id) < ({t}, {i})"));
    }
    Where {
        clause: if parts.is_empty() {
            "TRUE".to_owned()
        } else {
            parts.join(" AND ")
        },
        args,
    }
}

/// Label names as given: trimmed, empty ones dropped, duplicates (any case)
/// kept once.
pub(crate) fn clean_label_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n: String = n.trim().chars().take(191).collect();
        if !n.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
            out.push(n);
        }
    }
    out
}

/// The first free slug for a label named `name` (made from its letters and
/// digits, or "label" when it has none), given the slugs already taken that
/// start with its base.
pub(crate) fn free_label_slug(name: &str, taken: &[String]) -> String {
    let base =
        masthead_domain::slug::slugify(name).or_else(|| masthead_domain::Slug::parse("label").ok());
    match base {
        Some(base) => masthead_domain::slug::unique_slug(&base, |s| taken.iter().any(|t| t == s))
            .into_string(),
        None => "label".to_owned(),
    }
}

/// The base slug for `name`, for looking up the taken ones.
pub(crate) fn label_slug_base(name: &str) -> String {
    free_label_slug(name, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_filter_matches_everything() {
        let w = where_clause(&MemberFilter::default(), None, '?');
        assert_eq!(w.clause, "TRUE");
        assert!(w.args.is_empty());
    }

    #[test]
    fn every_filter_binds_its_values_in_order() {
        let f = MemberFilter {
            search: Some(" Ada ".into()),
            status: Some("free".into()),
            newsletter: Some(3),
            label: Some("vip".into()),
            joined_from_ms: Some(10),
            joined_before_ms: Some(20),
            bouncing: Some(true),
        };
        let w = where_clause(
            &f,
            Some(MemberCursor {
                created_ms: 15,
                id: 7,
            }),
            '$',
        );
        assert!(w.clause.contains("strpos(m.email_key, $1)"), "{}", w.clause);
        assert!(
            w.clause.contains("(m.created_at, m.id) < ($7, $8)"),
            "{}",
            w.clause
        );
        assert!(w.clause.contains("m.email_disabled = TRUE"));
        assert_eq!(
            w.args,
            vec![
                Arg::Text("ada".into()),
                Arg::Text("free".into()),
                Arg::Int(3),
                Arg::Text("vip".into()),
                Arg::Int(10),
                Arg::Int(20),
                Arg::Int(15),
                Arg::Int(7),
            ]
        );
    }

    #[test]
    fn label_names_are_trimmed_and_kept_once() {
        let names = vec![" VIP ".into(), "vip".into(), "".into(), "Press".into()];
        assert_eq!(clean_label_names(&names), vec!["VIP", "Press"]);
        assert_eq!(free_label_slug("Early readers!", &[]), "early-readers");
        assert_eq!(free_label_slug("!!!", &[]), "label");
        assert_eq!(free_label_slug("VIP", &["vip".into()]), "vip-2");
    }
}
