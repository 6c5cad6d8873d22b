//! Video provider embeds, by allow-list. A post stores the provider's page URL
//! as an editor pasted it; only URLs we recognise become an iframe, and the
//! iframe's address is rebuilt from the parsed id, never copied.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Embed {
    pub provider: &'static str,
    /// The iframe `src`, built by us from a validated id.
    pub iframe_src: String,
    /// The provider page, for readers without JS or who prefer to leave.
    pub watch_url: String,
}

fn valid_id(id: &str, min: usize, max: usize, extra: &[u8]) -> bool {
    (min..=max).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Recognises YouTube and Vimeo page URLs.
pub fn parse_embed(url: &str) -> Option<Embed> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let youtube = |id: &str| {
        valid_id(id, 11, 11, b"-_").then(|| Embed {
            provider: "YouTube",
            iframe_src: format!("https://www.youtube-nocookie.com/embed/{id}"),
            watch_url: format!("https://www.youtube.com/watch?v={id}"),
        })
    };
    match host {
        "youtube.com" | "m.youtube.com" => {
            if path == "watch" {
                let id = query.split('&').find_map(|kv| kv.strip_prefix("v="))?;
                youtube(id)
            } else if let Some(id) = path
                .strip_prefix("embed/")
                .or_else(|| path.strip_prefix("shorts/"))
            {
                youtube(id.trim_end_matches('/'))
            } else {
                None
            }
        }
        "youtu.be" => youtube(path.trim_end_matches('/')),
        "vimeo.com" | "player.vimeo.com" => {
            let id = path
                .strip_prefix("video/")
                .unwrap_or(path)
                .trim_end_matches('/');
            valid_id(id, 1, 12, b"")
                .then(|| id.bytes().all(|b| b.is_ascii_digit()))
                .filter(|digits| *digits)
                .map(|_| Embed {
                    provider: "Vimeo",
                    iframe_src: format!("https://player.vimeo.com/video/{id}"),
                    watch_url: format!("https://vimeo.com/{id}"),
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recognises_providers() {
        let yt = parse_embed("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10").expect("youtube");
        assert_eq!(
            yt.iframe_src,
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
        );
        assert!(parse_embed("https://youtu.be/dQw4w9WgXcQ").is_some());
        let v = parse_embed("https://vimeo.com/76979871").expect("vimeo");
        assert_eq!(v.iframe_src, "https://player.vimeo.com/video/76979871");
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "https://evil.example/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=short",
            "https://www.youtube.com/watch?v=dQw4w9WgXc\"",
            "javascript:alert(1)",
            "https://vimeo.com/abc",
            "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
            "",
        ] {
            assert_eq!(parse_embed(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn iframe_src_is_always_on_an_allowed_host(s in "\\PC{0,120}") {
            if let Some(e) = parse_embed(&s) {
                prop_assert!(e.iframe_src.starts_with("https://www.youtube-nocookie.com/embed/")
                    || e.iframe_src.starts_with("https://player.vimeo.com/video/"));
                prop_assert!(!e.iframe_src.contains(['"', '<', '>', ' ', '\'']));
            }
        }
    }
}
