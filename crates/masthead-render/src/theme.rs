//! The theme: templates and static assets. The default theme is compiled into
//! the binary; `--theme-dir` may override any template or asset by name, and
//! everything it does not override falls back to the default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use masthead_domain::digest::fnv1a64;
use minijinja::{Environment, Error as TemplateError, ErrorKind};
use serde::Serialize;

static DEFAULT_THEME: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../themes/default");

/// A static file with its content hash in the name, served `immutable`.
#[derive(Debug)]
pub struct Asset {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// Quoted strong ETag.
    pub etag: String,
}

pub struct Theme {
    env: Environment<'static>,
    /// By hashed file name ("site.1a2b3c4d.css").
    assets: HashMap<String, Arc<Asset>>,
    /// Logical name ("site.css") to URL ("/assets/site.1a2b3c4d.css").
    asset_urls: Arc<HashMap<String, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme directory {0} does not exist or is not a directory")]
    MissingDir(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {name} failed: {source:#}")]
    Template { name: String, source: TemplateError },
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let hash = format!("{:016x}", fnv1a64(bytes));
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &hash[..10]),
        None => format!("{name}.{}", &hash[..10]),
    }
}

fn collect_embedded(dir: &Dir<'_>, out: &mut Vec<(String, Vec<u8>)>) {
    for file in dir.files() {
        let rel = file
            .path()
            .strip_prefix("assets")
            .unwrap_or(file.path())
            .to_string_lossy()
            .into_owned();
        out.push((rel, file.contents().to_vec()));
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ThemeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ThemeError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&path).map_err(io(&path))?));
        }
    }
    Ok(())
}

/// minijinja's HTML escaping also escapes '/', which is safe but turns every
/// URL into `&#x2f;` soup; this escapes only what HTML needs. The desk's
/// templates use it too.
pub fn plain_html_escaping(env: &mut minijinja::Environment<'_>) {
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
            && !value.is_safe()
            && let Some(text) = value.as_str()
        {
            return write_escaped(out, text)
                .map_err(|_| TemplateError::new(ErrorKind::WriteFailure, "write failed"));
        }
        minijinja::escape_formatter(out, state, value)
    });
}

fn write_escaped(out: &mut minijinja::Output<'_>, text: &str) -> std::fmt::Result {
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[last..i])?;
        out.write_str(rep)?;
        last = i + 1;
    }
    out.write_str(&text[last..])
}

impl Theme {
    /// The default theme, with `override_dir`'s files (if any) taking precedence.
    pub fn load(override_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if let Some(dir) = override_dir
            && !dir.is_dir()
        {
            return Err(ThemeError::MissingDir(dir.to_owned()));
        }

        // Assets: embedded first, then overrides replace by logical name.
        let mut files = Vec::new();
        if let Some(assets) = DEFAULT_THEME.get_dir("assets") {
            collect_embedded(assets, &mut files);
        }
        if let Some(dir) = override_dir {
            let assets = dir.join("assets");
            if assets.is_dir() {
                collect_dir(&assets, &assets, &mut files)?;
            }
        }
        let mut assets = HashMap::new();
        let mut asset_urls = HashMap::new();
        for (name, bytes) in files {
            let hashed = hashed_name(&name, &bytes);
            let etag = format!("\"{:016x}\"", fnv1a64(&bytes));
            asset_urls.insert(name.clone(), format!("/assets/{hashed}"));
            assets.insert(
                hashed,
                Arc::new(Asset {
                    content_type: content_type(&name),
                    bytes,
                    etag,
                }),
            );
        }
        let asset_urls = Arc::new(asset_urls);

        let mut env = Environment::new();
        let templates_override = override_dir.map(|d| d.join("templates"));
        env.set_loader(move |name: &str| {
            if name.contains("..") || name.starts_with('/') {
                return Ok(None);
            }
            if let Some(dir) = &templates_override {
                let path = dir.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        TemplateError::new(ErrorKind::InvalidOperation, "cannot read template")
                            .with_source(e)
                    });
                }
            }
            Ok(DEFAULT_THEME
                .get_file(format!("templates/{name}"))
                .and_then(|f| f.contents_utf8())
                .map(str::to_owned))
        });
        let urls = asset_urls.clone();
        env.add_function(
            "asset",
            move |name: &str| -> Result<String, TemplateError> {
                urls.get(name).cloned().ok_or_else(|| {
                    TemplateError::new(
                        ErrorKind::InvalidOperation,
                        format!("the theme has no asset named {name:?}"),
                    )
                })
            },
        );
        env.add_filter("thousands", |n: u64| {
            masthead_domain::campaign::group_thousands(n)
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        plain_html_escaping(&mut env);

        let theme = Theme {
            env,
            assets,
            asset_urls,
        };
        // Fail at start-up, not on a reader's request, if a template is broken.
        for name in crate::TEMPLATES {
            theme
                .env
                .get_template(name)
                .map_err(|source| ThemeError::Template {
                    name: (*name).to_owned(),
                    source,
                })?;
        }
        Ok(theme)
    }

    pub fn render(&self, template: &str, ctx: impl Serialize) -> Result<String, ThemeError> {
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|source| ThemeError::Template {
                name: template.to_owned(),
                source,
            })?;
        tmpl.render(minijinja::value::Serde(&ctx))
            .map_err(|source| ThemeError::Template {
                name: template.to_owned(),
                source,
            })
    }

    /// An asset by its hashed file name (the part after `/assets/`).
    pub fn asset(&self, hashed: &str) -> Option<Arc<Asset>> {
        self.assets.get(hashed).cloned()
    }

    /// URL of an asset by logical name.
    pub fn asset_url(&self, name: &str) -> Option<&str> {
        self.asset_urls.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension() {
        let n = hashed_name("site.css", b"body{}");
        assert!(n.starts_with("site.") && n.ends_with(".css") && n.len() == "site..css".len() + 10);
        assert_ne!(n, hashed_name("site.css", b"body{ }"));
    }

    #[test]
    fn overrides_replace_templates_and_assets() {
        let dir = std::env::temp_dir().join(format!("masthead-theme-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("templates")).expect("dir");
        std::fs::create_dir_all(dir.join("assets")).expect("dir");
        std::fs::write(dir.join("templates/error.html"), "custom {{ status }}").expect("write");
        std::fs::write(dir.join("assets/site.css"), "body{color:red}").expect("write");
        let theme = Theme::load(Some(&dir)).expect("theme");
        let out = theme
            .render("error.html", serde_json::json!({"status": 418}))
            .expect("render");
        assert_eq!(out, "custom 418");
        let escaped = theme
            .render(
                "error.html",
                serde_json::json!({"status": "<a href=\"/x\">&'</a>"}),
            )
            .expect("render");
        assert_eq!(
            escaped,
            "custom &lt;a href=&quot;/x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        let url = theme.asset_url("site.css").expect("css");
        let asset = theme
            .asset(url.trim_start_matches("/assets/"))
            .expect("asset");
        assert_eq!(asset.bytes, b"body{color:red}");
        // Not overridden: still the default.
        assert!(theme.asset_url("site.js").is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_override_dir_is_an_error() {
        assert!(matches!(
            Theme::load(Some(Path::new("/nonexistent/theme"))),
            Err(ThemeError::MissingDir(_))
        ));
    }
}
