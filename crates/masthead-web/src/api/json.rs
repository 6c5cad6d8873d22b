//! Rows printed the way Ghost prints them: field names, types, `null`s for
//! what Masthead does not have, ISO dates in the site's time zone.

use masthead_store::{ApiAuthor, ApiPost, ApiTag, Author, format_id};
use serde_json::{Map, Value, json};

/// What a post is printed with.
pub struct PostOptions<'a> {
    pub base: &'a str,
    pub tz: &'a jiff::tz::TimeZone,
    pub tags: bool,
    pub authors: bool,
    /// With `include=tiers`: every tier, to print those the post is open to.
    pub tiers: Option<&'a [masthead_store::Tier]>,
    pub html: bool,
    pub plaintext: bool,
    /// The Admin API also sees status and the Markdown source.
    pub admin: bool,
}

/// Unix milliseconds as Ghost writes dates: `2024-05-01T09:30:00.000+01:00`.
pub fn date(ms: i64, tz: &jiff::tz::TimeZone) -> Value {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => {
            let z = ts.to_zoned_datetime(tz.clone());
            let base = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            let offset = z.strftime("%:z").to_string();
            Value::String(format!("{base}.{:03}{offset}", ms.rem_euclid(1_000)))
        }
        Err(_) => Value::Null,
    }
}

fn opt_date(ms: Option<i64>, tz: &jiff::tz::TimeZone) -> Value {
    ms.map_or(Value::Null, |m| date(m, tz))
}

/// Empty strings are `null` on the Content API, as in Ghost.
fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

fn absolute(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{base}{url}")
    }
}

/// A random (version 4) UUID, for error ids.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        return "00000000-0000-4000-8000-000000000000".to_owned();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Sanitised HTML to plain text: tags dropped, blocks on their own lines,
/// the entities the sanitiser writes decoded.
pub fn plaintext(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if matches!(
            name.as_str(),
            "p" | "br"
                | "li"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
                | "tr"
                | "figcaption"
        ) && tag.starts_with('/')
            || name == "br"
        {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    if !rest.contains('<') {
        out.push_str(rest);
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

fn excerpt_of(p: &ApiPost, text: &str) -> String {
    if !p.dek.is_empty() {
        return p.dek.clone();
    }
    let mut cut: String = text.chars().take(500).collect();
    if cut.len() < text.len()
        && let Some(space) = cut.rfind(char::is_whitespace)
    {
        cut.truncate(space);
    }
    cut.replace('\n', " ")
}

pub fn tag(t: &ApiTag, base: &str, count: bool) -> Value {
    let mut v = json!({
        "id": format_id(t.id),
        "name": t.name,
        "slug": t.slug,
        "description": text_or_null(&t.description),
        "feature_image": null,
        "visibility": "public",
        "og_image": null, "og_title": null, "og_description": null,
        "twitter_image": null, "twitter_title": null, "twitter_description": null,
        "meta_title": null, "meta_description": null,
        "codeinjection_head": null, "codeinjection_foot": null,
        "canonical_url": null, "accent_color": null,
        "url": format!("{base}/tag/{}/", t.slug),
    });
    if count && let Some(m) = v.as_object_mut() {
        m.insert("count".into(), json!({ "posts": t.count_posts }));
    }
    v
}

pub fn author(a: &Author, base: &str, count: Option<u64>) -> Value {
    let mut v = json!({
        "id": format_id(a.id),
        "name": a.name,
        "slug": a.slug,
        "profile_image": a.avatar.as_deref().map(|u| absolute(base, u)),
        "cover_image": null,
        "bio": text_or_null(&a.bio),
        "website": null,
        "location": text_or_null(&a.location),
        "facebook": null, "twitter": null,
        "meta_title": null, "meta_description": null,
        "url": format!("{base}/author/{}/", a.slug),
    });
    if let (Some(n), Some(m)) = (count, v.as_object_mut()) {
        m.insert("count".into(), json!({ "posts": n }));
    }
    v
}

pub fn api_author(a: &ApiAuthor, base: &str, count: bool) -> Value {
    author(&a.author, base, count.then_some(a.count_posts))
}

pub fn post(p: &ApiPost, o: &PostOptions<'_>) -> Value {
    // Gated stories: the Content API has no member, so (as Ghost does for
    // readers without access) the body stops at the paywall marker, or is
    // withheld when the story has none.
    let access = o.admin || p.visibility == "public";
    let shown: &str = if access {
        &p.body_html
    } else {
        masthead_domain::html::marker_at(&p.body_html).map_or("", |at| p.body_html[..at].trim_end())
    };
    let text = plaintext(shown);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("id", Value::String(format_id(p.id)));
    put("uuid", Value::String(p.uuid.clone()));
    put("title", Value::String(p.title.clone()));
    put("slug", Value::String(p.slug.clone()));
    if o.html {
        put("html", Value::String(shown.to_owned()));
    }
    if o.plaintext {
        put("plaintext", Value::String(text.clone()));
    }
    put("comment_id", Value::String(format_id(p.id)));
    put(
        "feature_image",
        p.feature_image
            .as_deref()
            .map_or(Value::Null, |u| Value::String(absolute(o.base, u))),
    );
    put("feature_image_alt", text_or_null(&p.feature_image_alt));
    let caption = match (
        p.feature_image_caption.as_str(),
        p.feature_image_credit.as_str(),
    ) {
        ("", "") => String::new(),
        (c, "") => c.to_owned(),
        ("", cr) => cr.to_owned(),
        (c, cr) => format!("{c} {cr}"),
    };
    put("feature_image_caption", text_or_null(&caption));
    put("featured", Value::Bool(p.featured));
    put("visibility", Value::String(p.visibility.clone()));
    put("created_at", date(p.created_ms, o.tz));
    put("updated_at", date(p.updated_ms, o.tz));
    put("published_at", opt_date(p.published_ms, o.tz));
    put("custom_excerpt", text_or_null(&p.dek));
    put("codeinjection_head", Value::Null);
    put("codeinjection_foot", Value::Null);
    put("custom_template", Value::Null);
    put(
        "canonical_url",
        p.canonical_url.clone().map_or(Value::Null, Value::String),
    );
    put("url", Value::String(format!("{}/{}/", o.base, p.slug)));
    put("excerpt", Value::String(excerpt_of(p, &text)));
    put("reading_time", json!(p.reading_minutes));
    put("access", Value::Bool(access));
    put("comments", Value::Bool(false));
    for k in [
        "og_image",
        "og_title",
        "og_description",
        "twitter_image",
        "twitter_title",
        "twitter_description",
    ] {
        put(k, Value::Null);
    }
    put(
        "meta_title",
        p.meta_title.clone().map_or(Value::Null, Value::String),
    );
    put(
        "meta_description",
        p.meta_description
            .clone()
            .map_or(Value::Null, Value::String),
    );
    put("email_subject", Value::Null);
    put("frontmatter", Value::Null);
    if p.kind == "page" {
        put("show_title_and_feature_image", Value::Bool(true));
    }
    if o.admin {
        put("status", Value::String(p.status.clone()));
        put(
            "type",
            Value::String(if p.kind == "page" { "page" } else { "post" }.into()),
        );
    }
    if o.tags {
        let tags: Vec<Value> = p.tags.iter().map(|t| tag(t, o.base, false)).collect();
        put("primary_tag", tags.first().cloned().unwrap_or(Value::Null));
        put("tags", Value::Array(tags));
    }
    if o.authors {
        let authors: Vec<Value> = p.authors.iter().map(|a| author(a, o.base, None)).collect();
        put(
            "primary_author",
            authors.first().cloned().unwrap_or(Value::Null),
        );
        put("authors", Value::Array(authors));
    }
    if let Some(all) = o.tiers {
        // As Ghost lists them: the tiers whose members may read the post.
        let open: Vec<Value> = all
            .iter()
            .filter(|t| match p.visibility.as_str() {
                "tiers" => p.tier_ids.contains(&t.id),
                "paid" => t.active && !t.is_free(),
                _ => t.active,
            })
            .map(|t| tier(t, o.tz, TierIncludes::default()))
            .collect();
        put("tiers", Value::Array(open));
    }
    Value::Object(m)
}

/// What a tier shows besides its own fields (`include=` in Ghost's APIs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TierIncludes {
    pub prices: bool,
    pub benefits: bool,
}

/// A tier as Ghost's Content and Admin APIs print it; prices in minor units.
pub fn tier(t: &masthead_store::Tier, tz: &jiff::tz::TimeZone, inc: TierIncludes) -> Value {
    let mut v = json!({
        "id": format_id(t.id),
        "name": t.name,
        "description": text_or_null(&t.description),
        "slug": t.slug,
        "active": t.active,
        "type": t.kind,
        "welcome_page_url": t.welcome_page_url,
        "visibility": t.visibility,
        "trial_days": t.trial_days,
        "currency": t.currency,
        "created_at": date(t.created_ms, tz),
        "updated_at": date(t.updated_ms, tz),
    });
    if let Some(m) = v.as_object_mut() {
        if inc.prices {
            m.insert("monthly_price".into(), json!(t.monthly_price));
            m.insert("yearly_price".into(), json!(t.yearly_price));
        }
        if inc.benefits {
            m.insert("benefits".into(), json!(t.benefits));
        }
    }
    v
}

/// Keeps only the keys asked for with `fields=`.
pub fn only_fields(v: Value, fields: Option<&[String]>) -> Value {
    match (v, fields) {
        (Value::Object(m), Some(keep)) => {
            Value::Object(m.into_iter().filter(|(k, _)| keep.contains(k)).collect())
        }
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_keeps_words_and_lines() {
        assert_eq!(
            plaintext("<h2>Title</h2>\n<p>One &amp; <em>two</em>.</p><p>Three<br>four</p>"),
            "Title\nOne & two.\nThree\nfour"
        );
        assert_eq!(plaintext(""), "");
        assert_eq!(plaintext("no tags"), "no tags");
    }

    #[test]
    fn dates_are_iso_with_millis_in_the_site_zone() {
        let tz = jiff::tz::TimeZone::get("Europe/London").expect("tz");
        assert_eq!(
            date(1_714_552_200_123, &tz),
            Value::String("2024-05-01T09:30:00.123+01:00".into())
        );
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(
            date(0, &utc),
            Value::String("1970-01-01T00:00:00.000+00:00".into())
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
