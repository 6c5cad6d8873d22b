//! A post as a newsletter e-mail: a subject, an HTML part built for mail
//! clients (one 600 px table, inline styles, images with width and alt
//! text, nothing that needs images to be read) and a plain-text part.
//!
//! The parts are rendered once per send with [`UNSUBSCRIBE_MARK`] where
//! each recipient's unsubscribe link goes; the sender replaces it per
//! message, so a 100,000-recipient send renders the post once.

use masthead_store::{EditablePost, NamedRef, Newsletter, Post};

/// Stands for the recipient's unsubscribe URL in a rendered e-mail.
pub const UNSUBSCRIBE_MARK: &str = "%%masthead-unsubscribe-url%%";

/// The content width in pixels (the table is 600, less its padding).
const WIDTH: u32 = 552;

/// What an e-mail shows of a post.
#[derive(Debug, Clone)]
pub struct EmailStory {
    pub title: String,
    pub dek: String,
    pub body_html: String,
    pub bylines: Vec<String>,
    pub published_ms: Option<i64>,
    /// The post's address on the site (absolute).
    pub url: String,
    pub image: Option<EmailImage>,
    /// Who may read it in full, when not everyone may (a story for paying
    /// members, or for some tiers).
    pub gate: Option<Gate>,
}

/// A story's gate in an e-mail: the recipients who may not read it in full
/// get its free part and an invitation to read on.
#[derive(Debug, Clone)]
pub struct Gate {
    pub visibility: masthead_domain::Visibility,
    pub open_to: Vec<masthead_domain::access::OpenTo>,
    /// The tiers' names, for the invitation (a `tiers` story).
    pub tier_names: Vec<String>,
}

impl Gate {
    fn of(post: &Post) -> Option<Gate> {
        use masthead_domain::Visibility;
        match post.visibility {
            Visibility::Public | Visibility::Members => None,
            visibility => Some(Gate {
                visibility,
                open_to: post
                    .tiers
                    .iter()
                    .map(|t| masthead_domain::access::OpenTo {
                        tier_id: t.id,
                        free: t.free,
                    })
                    .collect(),
                tier_names: post.tiers.iter().map(|t| t.name.clone()).collect(),
            }),
        }
    }

    /// Whether `reader` may read the story in full.
    pub fn opens_to(&self, reader: masthead_domain::access::Reader) -> bool {
        masthead_domain::access::may_read(self.visibility, &self.open_to, Some(reader))
    }
}

#[derive(Debug, Clone)]
pub struct EmailImage {
    pub src: String,
    pub alt: String,
    pub caption: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl EmailStory {
    /// A published post as stored.
    pub fn from_post(post: &Post, base: &str) -> EmailStory {
        EmailStory {
            title: post.title.clone(),
            dek: post.dek.clone(),
            body_html: post.body_html.clone(),
            bylines: post.authors.iter().map(|a| a.name.clone()).collect(),
            published_ms: post.published_ms,
            url: format!("{base}/{}/", post.slug),
            image: post.image.as_ref().map(|i| EmailImage {
                src: i.src.clone(),
                alt: i.alt.clone(),
                caption: i.caption.clone(),
                width: i.width,
                height: i.height,
            }),
            gate: Gate::of(post),
        }
    }

    /// The story as a recipient who may not read it in full gets it: the
    /// free part (up to the paywall marker, or the first blocks) and a
    /// line inviting them to read on; `None` when everyone may read it.
    pub fn free_version(&self) -> Option<EmailStory> {
        let gate = self.gate.as_ref()?;
        let (free, _) = masthead_domain::html::free_part(&self.body_html);
        let who = match gate.visibility {
            masthead_domain::Visibility::Tiers if !gate.tier_names.is_empty() => {
                format!("members of {}", gate.tier_names.join(", "))
            }
            _ => "paying members".to_owned(),
        };
        let mut story = self.clone();
        story.body_html = format!(
            "{free}\n<p><strong>The rest of this story is for {who}.</strong> \
             <a href=\"{url}\">Read it on our site</a>, where you can join them.</p>",
            who = esc(&who),
            url = esc(&self.url),
        );
        story.gate = None;
        Some(story)
    }

    /// A post as the editor holds it (a draft's preview), its Markdown
    /// rendered as publishing would.
    pub fn from_editable(post: &EditablePost, authors: &[NamedRef], base: &str) -> EmailStory {
        EmailStory {
            title: post.title.clone(),
            dek: post.dek.clone(),
            body_html: masthead_render::render_markdown(&post.body_source, false).html,
            bylines: post
                .author_slugs
                .iter()
                .filter_map(|s| authors.iter().find(|(_, slug, _)| slug == s))
                .map(|(_, _, name)| name.clone())
                .collect(),
            published_ms: post.published_ms,
            url: format!("{base}/{}/", post.slug),
            image: post.feature_image.as_ref().map(|src| EmailImage {
                src: src.clone(),
                alt: post.feature_alt.clone(),
                caption: post.feature_caption.clone(),
                width: None,
                height: None,
            }),
            // A preview shows the whole story; the send gates it.
            gate: None,
        }
    }
}

/// The site around the e-mail.
#[derive(Debug, Clone)]
pub struct EmailSite<'a> {
    pub title: &'a str,
    /// The public address without a trailing slash.
    pub base: &'a str,
    pub accent: &'a str,
    /// The date line, already in the site's time zone.
    pub date: Option<String>,
}

/// A rendered e-mail; both parts hold [`UNSUBSCRIBE_MARK`].
#[derive(Debug, Clone)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl RenderedEmail {
    /// The parts for one recipient.
    pub fn personal(&self, unsubscribe_url: &str) -> (String, String) {
        (
            self.html.replace(UNSUBSCRIBE_MARK, &esc(unsubscribe_url)),
            self.text.replace(UNSUBSCRIBE_MARK, unsubscribe_url),
        )
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A colour fit for an inline style (the site's accent, else a safe default).
fn colour(accent: &str) -> &str {
    let ok = accent.len() == 7
        && accent.starts_with('#')
        && accent[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok { accent } else { "#1a1a1a" }
}

/// Site-relative links and image sources made absolute: mail has no base.
fn absolute(html: &str, base: &str) -> String {
    html.replace("src=\"/", &format!("src=\"{base}/"))
        .replace("href=\"/", &format!("href=\"{base}/"))
}

/// Inline styles on the elements a post's body uses, and a width on every
/// image (mail clients ignore stylesheets; many ignore `max-width`).
fn styled_body(html: &str) -> String {
    const P: &str = "margin:0 0 18px 0;font-size:17px;line-height:1.6;";
    let html = html
        .replace("<p>", &format!("<p style=\"{P}\">"))
        .replace("<h2>", "<h2 style=\"margin:28px 0 12px 0;font-size:22px;line-height:1.3;\">")
        .replace("<h3>", "<h3 style=\"margin:24px 0 10px 0;font-size:19px;line-height:1.3;\">")
        .replace("<blockquote>", "<blockquote style=\"margin:0 0 18px 0;padding:0 0 0 16px;border-left:3px solid #cccccc;color:#444444;\">")
        .replace("<ul>", "<ul style=\"margin:0 0 18px 0;padding:0 0 0 24px;font-size:17px;line-height:1.6;\">")
        .replace("<ol>", "<ol style=\"margin:0 0 18px 0;padding:0 0 0 24px;font-size:17px;line-height:1.6;\">")
        .replace("<figure>", "<figure style=\"margin:0 0 18px 0;\">")
        .replace("<figcaption>", "<figcaption style=\"font-size:13px;color:#666666;padding-top:6px;\">");
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html.as_str();
    while let Some(at) = rest.find("<img") {
        out.push_str(&rest[..at]);
        let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e + 1);
        let tag = &rest[at..tag_end];
        let mut extra = String::new();
        if !tag.contains(" width=") {
            extra.push_str(&format!(" width=\"{WIDTH}\""));
        }
        if !tag.contains(" alt=") {
            extra.push_str(" alt=\"\"");
        }
        extra.push_str(" style=\"display:block;max-width:100%;height:auto;border:0;\"");
        let tag = tag.replacen(" style=\"", " data-style=\"", 1);
        out.push_str("<img");
        out.push_str(&extra);
        out.push_str(&tag[4..]);
        rest = &rest[tag_end..];
    }
    out.push_str(rest);
    out
}

/// Renders the e-mail for `story` in `newsletter`.
pub fn render(story: &EmailStory, newsletter: &Newsletter, site: &EmailSite<'_>) -> RenderedEmail {
    let base = site.base;
    let accent = colour(site.accent);
    let font = "font-family:Georgia,'Times New Roman',serif;color:#1a1a1a;";
    let sans = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;";
    let byline = if story.bylines.is_empty() {
        String::new()
    } else {
        format!("By {}", story.bylines.join(", "))
    };
    let meta: Vec<&str> = [byline.as_str(), site.date.as_deref().unwrap_or("")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let meta = meta.join(" · ");
    let mut h = String::with_capacity(story.body_html.len() * 2 + 4096);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!("<title>{}</title>\n</head>\n", esc(&story.title)));
    h.push_str(&format!(
        "<body style=\"margin:0;padding:0;background-color:#f4f4f1;{font}\">\n"
    ));
    h.push_str(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background-color:#f4f4f1;\">\n<tr>\n<td align=\"center\" style=\"padding:16px 8px;\">\n",
    );
    h.push_str(
        "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"width:100%;max-width:600px;background-color:#ffffff;\">\n",
    );
    // View in browser.
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:12px 24px;{sans}font-size:12px;color:#666666;text-align:right;\"><a href=\"{url}\" style=\"color:#666666;\">View in browser</a></td>\n</tr>\n",
        url = esc(&story.url)
    ));
    // Masthead: the site and newsletter names as text, so it reads with images off.
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:8px 24px 16px 24px;border-bottom:3px solid {accent};{sans}\"><a href=\"{base}/\" style=\"color:#1a1a1a;text-decoration:none;font-size:22px;font-weight:bold;\">{site}</a><br><span style=\"font-size:13px;color:#666666;\">{name}</span></td>\n</tr>\n",
        base = esc(base),
        site = esc(site.title),
        name = esc(&newsletter.name)
    ));
    // Headline, dek, byline and date.
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:24px 24px 8px 24px;\"><h1 style=\"margin:0;{font}font-size:30px;line-height:1.2;\"><a href=\"{url}\" style=\"color:#1a1a1a;text-decoration:none;\">{title}</a></h1></td>\n</tr>\n",
        url = esc(&story.url),
        title = esc(&story.title)
    ));
    if !story.dek.is_empty() {
        h.push_str(&format!(
            "<tr>\n<td style=\"padding:4px 24px 8px 24px;{font}font-size:19px;line-height:1.4;color:#444444;\">{}</td>\n</tr>\n",
            esc(&story.dek)
        ));
    }
    if !meta.is_empty() {
        h.push_str(&format!(
            "<tr>\n<td style=\"padding:4px 24px 16px 24px;{sans}font-size:13px;color:#666666;\">{}</td>\n</tr>\n",
            esc(&meta)
        ));
    }
    if let Some(img) = &story.image {
        let src = if img.src.starts_with('/') {
            format!("{base}{}", img.src)
        } else {
            img.src.clone()
        };
        let height = match (img.width, img.height) {
            (Some(w), Some(hgt)) if w > 0 => {
                format!(
                    " height=\"{}\"",
                    u64::from(hgt) * u64::from(WIDTH) / u64::from(w)
                )
            }
            _ => String::new(),
        };
        h.push_str(&format!(
            "<tr>\n<td style=\"padding:0 24px 8px 24px;\"><img src=\"{src}\" width=\"{WIDTH}\"{height} alt=\"{alt}\" style=\"display:block;width:100%;max-width:{WIDTH}px;height:auto;border:0;\"></td>\n</tr>\n",
            src = esc(&src),
            alt = esc(&img.alt)
        ));
        if !img.caption.is_empty() {
            h.push_str(&format!(
                "<tr>\n<td style=\"padding:0 24px 16px 24px;{sans}font-size:13px;color:#666666;\">{}</td>\n</tr>\n",
                esc(&img.caption)
            ));
        }
    }
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:8px 24px 16px 24px;{font}font-size:17px;line-height:1.6;\">\n{}\n</td>\n</tr>\n",
        styled_body(&absolute(&story.body_html, base))
    ));
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:8px 24px 24px 24px;{sans}font-size:15px;\"><a href=\"{url}\" style=\"color:{accent};font-weight:bold;\">Read it on {site}</a></td>\n</tr>\n",
        url = esc(&story.url),
        site = esc(site.title)
    ));
    // Footer: why you get this, and the way out, visible and plain.
    h.push_str(&format!(
        "<tr>\n<td style=\"padding:16px 24px 24px 24px;border-top:1px solid #dddddd;{sans}font-size:12px;line-height:1.5;color:#666666;\">You receive <strong>{name}</strong> from {site} because you subscribed to it.<br><a href=\"{mark}\" style=\"color:#666666;text-decoration:underline;\">Unsubscribe from {name}</a> · <a href=\"{base}/account/\" style=\"color:#666666;\">Manage your newsletters</a></td>\n</tr>\n",
        name = esc(&newsletter.name),
        site = esc(site.title),
        mark = UNSUBSCRIBE_MARK,
        base = esc(base)
    ));
    h.push_str("</table>\n</td>\n</tr>\n</table>\n</body>\n</html>\n");

    let mut t = String::with_capacity(story.body_html.len() + 1024);
    t.push_str(&format!("{} — {}\n\n", site.title, newsletter.name));
    t.push_str(&story.title);
    t.push('\n');
    t.push_str(&"=".repeat(story.title.chars().count().clamp(3, 72)));
    t.push_str("\n\n");
    if !story.dek.is_empty() {
        t.push_str(&story.dek);
        t.push_str("\n\n");
    }
    if !meta.is_empty() {
        t.push_str(&meta);
        t.push_str("\n\n");
    }
    t.push_str(&format!("View in browser: {}\n\n", story.url));
    t.push_str(html_to_text(&absolute(&story.body_html, base)).trim());
    t.push_str(&format!(
        "\n\n---\nYou receive {name} from {site} because you subscribed to it.\nUnsubscribe: {mark}\nManage your newsletters: {base}/account/\n",
        name = newsletter.name,
        site = site.title,
        mark = UNSUBSCRIBE_MARK,
    ));
    RenderedEmail {
        subject: story.title.clone(),
        html: h,
        text: t,
    }
}

/// Decodes the few entities a rendered body holds.
fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')? + at;
    Some(decode(&tag[at..end]))
}

/// A rendered body as readable plain text: paragraphs apart, list items
/// marked, links followed by their address, images by their alt text.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut links: Vec<Option<String>> = Vec::new();
    let mut rest = html;
    let mut skip = 0u32;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skip == 0 {
                push_text(&mut out, &decode(rest));
            }
            break;
        };
        if skip == 0 {
            push_text(&mut out, &decode(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>').map(|g| lt + g) else {
            break;
        };
        let tag = &rest[lt + 1..gt];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("script" | "style", false) => skip += 1,
            ("script" | "style", true) => skip = skip.saturating_sub(1),
            (
                "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "ul" | "ol"
                | "figure" | "table" | "pre",
                _,
            ) => {
                ensure_blank_line(&mut out);
                if !closing && name.starts_with('h') {
                    out.push_str("## ");
                }
            }
            ("br", _) => out.push('\n'),
            ("li", false) => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                out.push_str("- ");
            }
            ("tr", true) => out.push('\n'),
            ("a", false) => links.push(attr(tag, "href")),
            ("a", true) => {
                if let Some(Some(href)) = links.pop()
                    && !href.starts_with('#')
                    && !out.ends_with(&href)
                {
                    out.push_str(&format!(" ({href})"));
                }
            }
            ("img", _) => {
                if let Some(alt) = attr(tag, "alt").filter(|a| !a.is_empty()) {
                    out.push_str(&format!("[{alt}]"));
                }
            }
            ("iframe", false) => {
                if let Some(src) = attr(tag, "src") {
                    out.push_str(&format!("[Video: {src}]"));
                }
            }
            _ => {}
        }
        rest = &rest[gt + 1..];
    }
    let mut tidy = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank == 1 {
                tidy.push('\n');
            }
        } else {
            blank = 0;
            tidy.push_str(line);
            tidy.push('\n');
        }
    }
    tidy
}

fn push_text(out: &mut String, text: &str) {
    let mut last_space = out.ends_with(' ') || out.ends_with('\n') || out.is_empty();
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

fn ensure_blank_line(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() {
        return;
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newsletter() -> Newsletter {
        Newsletter {
            id: 1,
            uuid: "u".into(),
            name: "The <briefing>".into(),
            slug: "default-newsletter".into(),
            description: String::new(),
            sender_name: None,
            sender_reply_to: "newsletter".into(),
            status: "active".into(),
            subscribe_on_signup: true,
            sort_order: 0,
            visibility: "members".into(),
        }
    }

    fn story() -> EmailStory {
        EmailStory {
            title: "Harbour \"wall\" & sea".into(),
            dek: "A dek".into(),
            body_html: "<p>One <a href=\"/other/\">link</a>.</p>\n<ul>\n<li>first</li>\n<li>second</li>\n</ul>\n<p><img src=\"/media/a/1.jpg\" alt=\"A boat\"></p>".into(),
            bylines: vec!["Ada".into(), "Bo".into()],
            published_ms: Some(0),
            url: "https://news.example/harbour/".into(),
            image: Some(EmailImage {
                src: "/media/f/1024.jpg".into(),
                alt: "The harbour at dawn".into(),
                caption: String::new(),
                width: Some(1024),
                height: Some(512),
            }),
            gate: None,
        }
    }

    #[test]
    fn a_story_for_paying_members_has_a_free_version_for_the_others() {
        use masthead_domain::Visibility;
        use masthead_domain::access::{COMPED, FREE, PAID, Reader};
        let mut s = story();
        assert!(s.free_version().is_none(), "open to everyone");
        s.body_html = "<p>Free part.</p>\n<!--members-only-->\n<p>Paid part.</p>".into();
        s.gate = Some(Gate {
            visibility: Visibility::Paid,
            open_to: Vec::new(),
            tier_names: Vec::new(),
        });
        let gate = s.gate.clone().expect("gate");
        assert!(gate.opens_to(Reader::new(PAID, Some(3))));
        assert!(gate.opens_to(Reader::new(COMPED, Some(3))));
        assert!(!gate.opens_to(Reader::new(FREE, None)));
        let free = s.free_version().expect("a free version");
        assert!(free.body_html.contains("Free part."));
        assert!(!free.body_html.contains("Paid part."), "{}", free.body_html);
        assert!(free.body_html.contains("for paying members"));
        assert!(free.body_html.contains("https://news.example/harbour/"));
        let site = EmailSite {
            title: "The Gazette",
            base: "https://news.example",
            accent: "#aa0000",
            date: None,
        };
        let rendered = render(&free, &newsletter(), &site);
        assert!(!rendered.html.contains("Paid part.") && !rendered.text.contains("Paid part."));
        // A tiers story names its tiers.
        s.gate = Some(Gate {
            visibility: Visibility::Tiers,
            open_to: vec![masthead_domain::access::OpenTo {
                tier_id: 3,
                free: false,
            }],
            tier_names: vec!["Gold".into()],
        });
        assert!(
            s.free_version()
                .expect("tiers")
                .body_html
                .contains("members of Gold")
        );
        assert!(
            !s.gate
                .as_ref()
                .expect("gate")
                .opens_to(Reader::new(PAID, Some(4)))
        );
    }

    #[test]
    fn both_parts_hold_the_story_links_and_the_way_out() {
        let site = EmailSite {
            title: "The Gazette",
            base: "https://news.example",
            accent: "#aa0000",
            date: Some("2 Dec 2026".into()),
        };
        let e = render(&story(), &newsletter(), &site);
        assert_eq!(e.subject, "Harbour \"wall\" & sea");
        let (html, text) = e.personal("https://news.example/unsubscribe/?t=a&b");
        assert!(
            html.contains("Harbour &quot;wall&quot; &amp; sea"),
            "{html}"
        );
        assert!(html.contains("href=\"https://news.example/unsubscribe/?t=a&amp;b\""));
        assert!(html.contains("src=\"https://news.example/media/f/1024.jpg\" width=\"552\" height=\"276\" alt=\"The harbour at dawn\""));
        assert!(
            html.contains("<img width=\"552\" style="),
            "body images get a width: {html}"
        );
        assert!(html.contains("href=\"https://news.example/other/\""));
        assert!(html.contains("View in browser") && html.contains("The &lt;briefing&gt;"));
        assert!(html.contains("max-width:600px"));
        assert!(!html.contains(UNSUBSCRIBE_MARK) && !text.contains(UNSUBSCRIBE_MARK));
        assert!(
            text.contains("One link (https://news.example/other/)."),
            "{text}"
        );
        assert!(text.contains("- first\n- second"), "{text}");
        assert!(text.contains("[A boat]"));
        assert!(text.contains("Unsubscribe: https://news.example/unsubscribe/?t=a&b"));
        assert!(text.contains("By Ada, Bo · 2 Dec 2026"));
    }

    #[test]
    fn a_bad_accent_never_reaches_a_style() {
        assert_eq!(colour("red;background:url(x)"), "#1a1a1a");
        assert_eq!(colour("#12ab9F"), "#12ab9F");
    }
}
