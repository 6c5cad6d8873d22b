//! Ghost's stored body formats, Lexical (Ghost 5) and Mobiledoc (Ghost 2–4),
//! to HTML, for imports. Unknown nodes and cards are skipped and counted so
//! the importer can say what it left out; everything is sanitised afterwards
//! like any other body.

use serde_json::Value;

use crate::markdown::{render_markdown, sanitize_html};

/// HTML and the names of what could not be converted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Converted {
    pub html: String,
    pub skipped: Vec<String>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Deepest nesting followed; deeper parts are skipped (no stack overflow on
/// hostile files).
const MAX_DEPTH: usize = 64;

// --------------------------------------------------------------- Lexical --

/// Converts a Lexical document (the JSON string Ghost stores in `lexical`).
pub fn lexical_to_html(source: &str) -> Result<Converted, String> {
    let doc: Value =
        serde_json::from_str(source).map_err(|e| format!("its lexical body is not JSON ({e})"))?;
    let root = doc.get("root").ok_or("its lexical body has no root node")?;
    let mut out = Converted::default();
    let mut html = String::new();
    lexical_children(root, &mut html, &mut out.skipped, 0);
    out.html = sanitize_html(&html);
    Ok(out)
}

fn lexical_children(node: &Value, html: &mut String, skipped: &mut Vec<String>, depth: usize) {
    if let Some(children) = node.get("children").and_then(Value::as_array) {
        for c in children {
            lexical_node(c, html, skipped, depth + 1);
        }
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn lexical_node(n: &Value, html: &mut String, skipped: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        skipped.push("deeply nested content".into());
        return;
    }
    let kind = s(n, "type");
    match kind {
        "text" | "extended-text" => {
            let format = n.get("format").and_then(Value::as_u64).unwrap_or(0);
            let mut open = String::new();
            let mut close = Vec::new();
            for (bit, tag) in [
                (1, "strong"),
                (2, "em"),
                (4, "s"),
                (8, "u"),
                (16, "code"),
                (32, "sub"),
                (64, "sup"),
            ] {
                if format & bit != 0 {
                    open.push_str(&format!("<{tag}>"));
                    close.push(format!("</{tag}>"));
                }
            }
            html.push_str(&open);
            html.push_str(&esc(s(n, "text")));
            for c in close.iter().rev() {
                html.push_str(c);
            }
        }
        "linebreak" => html.push_str("<br>"),
        "paragraph" | "extended-paragraph" => {
            html.push_str("<p>");
            lexical_children(n, html, skipped, depth);
            html.push_str("</p>\n");
        }
        "heading" | "extended-heading" => {
            let tag = match s(n, "tag") {
                t @ ("h1" | "h2" | "h3" | "h4" | "h5" | "h6") => t,
                _ => "h2",
            };
            html.push_str(&format!("<{tag}>"));
            lexical_children(n, html, skipped, depth);
            html.push_str(&format!("</{tag}>\n"));
        }
        "quote" | "aside" => {
            html.push_str("<blockquote><p>");
            lexical_children(n, html, skipped, depth);
            html.push_str("</p></blockquote>\n");
        }
        "list" => {
            let tag = if s(n, "listType") == "number" {
                "ol"
            } else {
                "ul"
            };
            html.push_str(&format!("<{tag}>"));
            lexical_children(n, html, skipped, depth);
            html.push_str(&format!("</{tag}>\n"));
        }
        "listitem" => {
            html.push_str("<li>");
            lexical_children(n, html, skipped, depth);
            html.push_str("</li>");
        }
        "link" | "autolink" => {
            html.push_str(&format!("<a href=\"{}\">", esc(s(n, "url"))));
            lexical_children(n, html, skipped, depth);
            html.push_str("</a>");
        }
        "horizontalrule" => html.push_str("<hr>\n"),
        "image" => {
            html.push_str(&format!(
                "<figure><img src=\"{}\" alt=\"{}\">",
                esc(s(n, "src")),
                esc(if s(n, "alt").is_empty() {
                    s(n, "altText")
                } else {
                    s(n, "alt")
                })
            ));
            if !s(n, "caption").is_empty() {
                html.push_str(&format!("<figcaption>{}</figcaption>", s(n, "caption")));
            }
            html.push_str("</figure>\n");
        }
        "codeblock" => html.push_str(&format!("<pre><code>{}</code></pre>\n", esc(s(n, "code")))),
        "html" => {
            html.push_str(s(n, "html"));
            html.push('\n');
        }
        "markdown" => {
            html.push_str(&render_markdown(s(n, "markdown"), false).html);
        }
        "embed" | "bookmark" => {
            let url = s(n, "url");
            if url.is_empty() {
                skipped.push(kind.to_owned());
            } else {
                html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>\n", esc(url)));
            }
        }
        "root" => lexical_children(n, html, skipped, depth),
        other => {
            // Unknown containers may still hold text worth keeping.
            if n.get("children").is_some() {
                lexical_children(n, html, skipped, depth);
            } else {
                skipped.push(if other.is_empty() {
                    "untyped node".into()
                } else {
                    other.to_owned()
                });
            }
        }
    }
}

// ------------------------------------------------------------- Mobiledoc --

/// Converts a Mobiledoc document (the JSON string Ghost stored in `mobiledoc`).
pub fn mobiledoc_to_html(source: &str) -> Result<Converted, String> {
    let doc: Value = serde_json::from_str(source)
        .map_err(|e| format!("its mobiledoc body is not JSON ({e})"))?;
    let empty = Vec::new();
    let markups = doc
        .get("markups")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let cards = doc.get("cards").and_then(Value::as_array).unwrap_or(&empty);
    let atoms = doc.get("atoms").and_then(Value::as_array).unwrap_or(&empty);
    let sections = doc
        .get("sections")
        .and_then(Value::as_array)
        .ok_or("its mobiledoc body has no sections")?;
    let mut out = Converted::default();
    let mut html = String::new();
    for section in sections {
        let Some(sec) = section.as_array() else {
            continue;
        };
        match sec.first().and_then(Value::as_u64) {
            // Markup section: [1, tagName, markers].
            Some(1) => {
                let tag = match sec
                    .get(1)
                    .and_then(Value::as_str)
                    .unwrap_or("p")
                    .to_ascii_lowercase()
                    .as_str()
                {
                    t @ ("p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote") => {
                        t.to_owned()
                    }
                    "aside" | "pull-quote" => "blockquote".to_owned(),
                    _ => "p".to_owned(),
                };
                html.push_str(&format!("<{tag}>"));
                markers(sec.get(2), markups, atoms, &mut html, &mut out.skipped);
                html.push_str(&format!("</{tag}>\n"));
            }
            // Image section: [2, src].
            Some(2) => {
                html.push_str(&format!(
                    "<figure><img src=\"{}\" alt=\"\"></figure>\n",
                    esc(sec.get(1).and_then(Value::as_str).unwrap_or(""))
                ));
            }
            // List section: [3, 'ul'|'ol', [markers per item]].
            Some(3) => {
                let tag = if sec.get(1).and_then(Value::as_str) == Some("ol") {
                    "ol"
                } else {
                    "ul"
                };
                html.push_str(&format!("<{tag}>"));
                for item in sec.get(2).and_then(Value::as_array).unwrap_or(&empty) {
                    html.push_str("<li>");
                    markers(Some(item), markups, atoms, &mut html, &mut out.skipped);
                    html.push_str("</li>");
                }
                html.push_str(&format!("</{tag}>\n"));
            }
            // Card section: [10, cardIndex].
            Some(10) => {
                let card = sec
                    .get(1)
                    .and_then(Value::as_u64)
                    .and_then(|i| cards.get(usize::try_from(i).ok()?))
                    .and_then(Value::as_array);
                let Some(card) = card else {
                    out.skipped.push("missing card".into());
                    continue;
                };
                let name = card.first().and_then(Value::as_str).unwrap_or("");
                let payload = card.get(1).cloned().unwrap_or(Value::Null);
                match name {
                    "html" => {
                        html.push_str(s(&payload, "html"));
                        html.push('\n');
                    }
                    "markdown" | "card-markdown" => {
                        let md = if s(&payload, "markdown").is_empty() {
                            s(&payload, "cardMarkdown")
                        } else {
                            s(&payload, "markdown")
                        };
                        html.push_str(&render_markdown(md, false).html);
                    }
                    "image" => {
                        html.push_str(&format!(
                            "<figure><img src=\"{}\" alt=\"{}\">",
                            esc(s(&payload, "src")),
                            esc(s(&payload, "alt"))
                        ));
                        if !s(&payload, "caption").is_empty() {
                            html.push_str(&format!(
                                "<figcaption>{}</figcaption>",
                                s(&payload, "caption")
                            ));
                        }
                        html.push_str("</figure>\n");
                    }
                    "hr" => html.push_str("<hr>\n"),
                    "code" => html.push_str(&format!(
                        "<pre><code>{}</code></pre>\n",
                        esc(s(&payload, "code"))
                    )),
                    "embed" | "bookmark" => {
                        let url = s(&payload, "url");
                        if url.is_empty() {
                            out.skipped.push(name.to_owned());
                        } else {
                            html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>\n", esc(url)));
                        }
                    }
                    other => out.skipped.push(format!("{other} card")),
                }
            }
            _ => out.skipped.push("unknown section".into()),
        }
    }
    out.html = sanitize_html(&html);
    Ok(out)
}

/// Markers: `[type, openMarkups, closeCount, value]`; type 0 is text, 1 an atom.
fn markers(
    list: Option<&Value>,
    markups: &[Value],
    atoms: &[Value],
    html: &mut String,
    skipped: &mut Vec<String>,
) {
    let Some(list) = list.and_then(Value::as_array) else {
        return;
    };
    let mut open: Vec<String> = Vec::new();
    for m in list {
        let Some(m) = m.as_array() else { continue };
        for idx in m.get(1).and_then(Value::as_array).into_iter().flatten() {
            let Some(markup) = idx
                .as_u64()
                .and_then(|i| markups.get(usize::try_from(i).ok()?))
                .and_then(Value::as_array)
            else {
                continue;
            };
            let tag = match markup
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase()
                .as_str()
            {
                t @ ("a" | "strong" | "b" | "em" | "i" | "u" | "s" | "code" | "sub" | "sup") => {
                    t.to_owned()
                }
                _ => "span".to_owned(),
            };
            if tag == "a" {
                let attrs = markup.get(1).and_then(Value::as_array);
                let href = attrs
                    .and_then(|a| {
                        a.chunks(2)
                            .find(|kv| kv.first().and_then(Value::as_str) == Some("href"))
                    })
                    .and_then(|kv| kv.get(1))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                html.push_str(&format!("<a href=\"{}\">", esc(href)));
            } else {
                html.push_str(&format!("<{tag}>"));
            }
            open.push(tag);
        }
        match m.first().and_then(Value::as_u64) {
            Some(0) => html.push_str(&esc(m.get(3).and_then(Value::as_str).unwrap_or(""))),
            Some(1) => {
                let atom = m
                    .get(3)
                    .and_then(Value::as_u64)
                    .and_then(|i| atoms.get(usize::try_from(i).ok()?))
                    .and_then(Value::as_array);
                match atom.and_then(|a| a.first()).and_then(Value::as_str) {
                    Some("soft-return") => html.push_str("<br>"),
                    Some(_) => html.push_str(&esc(atom
                        .and_then(|a| a.get(1))
                        .and_then(Value::as_str)
                        .unwrap_or(""))),
                    None => skipped.push("missing atom".into()),
                }
            }
            _ => {}
        }
        let close = m.get(2).and_then(Value::as_u64).unwrap_or(0);
        for _ in 0..close {
            if let Some(tag) = open.pop() {
                html.push_str(&format!("</{tag}>"));
            }
        }
    }
    while let Some(tag) = open.pop() {
        html.push_str(&format!("</{tag}>"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lexical_documents_become_html() {
        let doc = serde_json::json!({ "root": { "type": "root", "children": [
            { "type": "heading", "tag": "h2", "children": [{ "type": "text", "text": "Tides", "format": 0 }] },
            { "type": "paragraph", "children": [
                { "type": "text", "text": "High ", "format": 0 },
                { "type": "text", "text": "water", "format": 1 },
                { "type": "linebreak" },
                { "type": "link", "url": "https://example.org/t", "children": [{ "type": "text", "text": "table", "format": 2 }] }
            ]},
            { "type": "quote", "children": [{ "type": "text", "text": "Keep off the wall", "format": 0 }] },
            { "type": "list", "listType": "number", "children": [
                { "type": "listitem", "children": [{ "type": "text", "text": "one", "format": 0 }] }
            ]},
            { "type": "image", "src": "https://example.org/a.jpg", "altText": "A wave", "caption": "Spray" },
            { "type": "markdown", "markdown": "**bold** move" },
            { "type": "html", "html": "<p>raw <script>x</script></p>" },
            { "type": "paywall" }
        ]}});
        let c = lexical_to_html(&doc.to_string()).expect("converts");
        for want in [
            "<h2>Tides</h2>",
            "<p>High <strong>water</strong><br><a href=\"https://example.org/t\" rel=\"noopener\"><em>table</em></a></p>",
            "<blockquote><p>Keep off the wall</p></blockquote>",
            "<ol><li>one</li></ol>",
            "<img src=\"https://example.org/a.jpg\" alt=\"A wave\">",
            "<figcaption>Spray</figcaption>",
            "<strong>bold</strong> move",
            "<p>raw </p>",
        ] {
            assert!(c.html.contains(want), "{want} in {}", c.html);
        }
        assert!(!c.html.contains("<script"));
        assert_eq!(c.skipped, vec!["paywall".to_owned()]);
        assert!(lexical_to_html("{").is_err());
        assert!(lexical_to_html("{}").is_err());
    }

    #[test]
    fn mobiledoc_documents_become_html() {
        let doc = serde_json::json!({
            "version": "0.3.1",
            "atoms": [["soft-return", "", {}]],
            "markups": [["strong"], ["a", ["href", "https://example.org"]]],
            "cards": [["hr", {}], ["html", { "html": "<p>card</p>" }], ["gallery", {}]],
            "sections": [
                [1, "h2", [[0, [], 0, "Title"]]],
                [1, "p", [[0, [0], 1, "Bold"], [0, [], 0, " and "], [1, [], 0, 0], [0, [1], 1, "link"]]],
                [3, "ul", [[[0, [], 0, "item"]]]],
                [10, 0], [10, 1], [10, 2]
            ]
        });
        let c = mobiledoc_to_html(&doc.to_string()).expect("converts");
        for want in [
            "<h2>Title</h2>",
            "<p><strong>Bold</strong> and <br><a href=\"https://example.org\" rel=\"noopener\">link</a></p>",
            "<ul><li>item</li></ul>",
            "<hr>",
            "<p>card</p>",
        ] {
            assert!(c.html.contains(want), "{want} in {}", c.html);
        }
        assert_eq!(c.skipped, vec!["gallery card".to_owned()]);
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(s in ".{0,400}") {
            let _ = lexical_to_html(&s);
            let _ = mobiledoc_to_html(&s);
        }

        #[test]
        fn deep_nesting_is_bounded(depth in 1usize..400) {
            let mut node = serde_json::json!({ "type": "text", "text": "x" });
            for _ in 0..depth {
                node = serde_json::json!({ "type": "paragraph", "children": [node] });
            }
            let doc = serde_json::json!({ "root": { "type": "root", "children": [node] } });
            // Very deep files are refused by the JSON parser or cut by MAX_DEPTH;
            // either way, no stack overflow.
            let c = lexical_to_html(&doc.to_string());
            if depth < 50 {
                prop_assert!(c.expect("shallow documents convert").html.contains('x'));
            }
        }
    }
}
