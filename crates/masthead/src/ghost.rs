//! `masthead import ghost FILE` and `masthead export`: Ghost's JSON export
//! format (`{"db": [{"meta": …, "data": {"posts": […], …}}]}`).
//!
//! Imports run in one transaction: a file that cannot be read changes
//! nothing, and records that cannot be used are skipped with a reason in the
//! report. Re-running an import adds nothing new (posts match by slug, tags
//! and bylines by slug, members by address).
//!
//! Exports are Ghost-compatible (Ghost reads `html` and `lexical`), and carry
//! what Ghost has no field for (story kind, structured photo credits, video,
//! corrections, live entries, sections) in an extra `masthead` object on each
//! record, which Ghost ignores and Masthead reads back: an export imported
//! into an empty Masthead gives the same site.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use masthead_domain::editorial::{self, EditorialError, MAX_TITLE_CHARS};
use masthead_domain::slug::slugify;
use masthead_domain::{Email, PostKind, PostStatus, ReadingTime, Slug, Visibility};
use masthead_render::ghost_body::{lexical_to_html, mobiledoc_to_html};
use masthead_render::{render_markdown, sanitize_html};
use masthead_store::billing::{
    ImportBilling, ImportComp, ImportCustomer, ImportStripePrice, ImportStripeProduct,
    ImportSubscription, ImportTier, StripePrice, SubscriptionState,
};
use masthead_store::tiers::TierInput;
use masthead_store::{
    EntryDraft, Image, ImportAuthor, ImportFields, ImportMember, ImportPost, ImportTag, NewAuthor,
    NewPost, NewTag, SiteImport, Store, Video, format_id,
};
use serde_json::{Value, json};

/// Largest export read (a large archive with members is tens of MB).
const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// What an import did and did not do.
#[derive(Debug, Default)]
pub struct Report {
    pub posts_added: usize,
    pub pages_added: usize,
    pub tags_added: usize,
    pub tags_present: usize,
    pub internal_tags: usize,
    pub bylines_added: usize,
    pub bylines_present: usize,
    pub members_added: usize,
    pub members_present: usize,
    pub newsletters_added: usize,
    pub newsletters_present: usize,
    pub tiers_added: usize,
    pub tiers_present: usize,
    pub customers_linked: usize,
    pub subscriptions_written: usize,
    pub comps_set: usize,
    /// Site settings taken from the file.
    pub settings: Vec<String>,
    /// `(what, why)`.
    pub skipped: Vec<(String, String)>,
}

impl Report {
    pub fn print(&self, file: &str) {
        println!("Imported from {file}:");
        println!(
            "  posts:   {} added; pages: {} added",
            self.posts_added, self.pages_added
        );
        println!(
            "  tags:    {} added, {} already present, {} internal tags left out",
            self.tags_added, self.tags_present, self.internal_tags
        );
        println!(
            "  bylines: {} added, {} already present (staff accounts are not created: invite people from the desk)",
            self.bylines_added, self.bylines_present
        );
        println!(
            "  members: {} added, {} already members",
            self.members_added, self.members_present
        );
        println!(
            "  newsletters: {} added, {} already present",
            self.newsletters_added, self.newsletters_present
        );
        println!(
            "  tiers: {} added, {} already present",
            self.tiers_added, self.tiers_present
        );
        println!(
            "  paid memberships: {} Stripe customers linked, {} subscriptions written, {} comps",
            self.customers_linked, self.subscriptions_written, self.comps_set
        );
        if !self.settings.is_empty() {
            println!("  settings: {}", self.settings.join(", "));
        }
        if self.skipped.is_empty() {
            println!("Nothing was skipped.");
        } else {
            println!("Skipped or changed ({}):", self.skipped.len());
            for (what, why) in &self.skipped {
                println!("  {what}: {why}");
            }
        }
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn opt_text(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// An id as it appears in the file (24 hex, or a number in old exports).
fn id_of(v: &Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Ghost dates: ISO 8601, `2024-05-01 09:30:00` (UTC), or Unix milliseconds.
fn date_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() => {
            if let Ok(t) = s.parse::<jiff::Timestamp>() {
                return Some(t.as_millisecond());
            }
            let dt: jiff::civil::DateTime = s.replace(' ', "T").parse().ok()?;
            Some(
                dt.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .ok()?
                    .timestamp()
                    .as_millisecond(),
            )
        }
        _ => None,
    }
}

fn iso(ms: i64) -> Value {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => Value::String(t.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()),
        Err(_) => Value::Null,
    }
}

/// The `data` object of an export, whichever of Ghost's two shapes it has.
fn data_of(doc: &Value) -> anyhow::Result<&Value> {
    let data = doc
        .get("db")
        .and_then(Value::as_array)
        .and_then(|db| db.first())
        .and_then(|d| d.get("data"))
        .or_else(|| doc.get("data"))
        .context("this is not a Ghost export: there is no db[0].data (or data) object")?;
    if !data.is_object() {
        bail!("this is not a Ghost export: data is not an object");
    }
    for key in [
        "posts",
        "tags",
        "users",
        "posts_tags",
        "posts_authors",
        "posts_meta",
        "members",
        "labels",
        "members_labels",
        "newsletters",
        "members_newsletters",
        "settings",
        "products",
        "benefits",
        "products_benefits",
        "stripe_products",
        "stripe_prices",
        "members_stripe_customers",
        "members_stripe_customers_subscriptions",
        "members_products",
    ] {
        if let Some(v) = data.get(key)
            && !v.is_array()
            && !v.is_null()
        {
            bail!("this Ghost export is damaged: data.{key} should be a list");
        }
    }
    Ok(data)
}

fn list<'a>(data: &'a Value, key: &str) -> &'a [Value] {
    data.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A flag as Ghost writes it: `true`/`false`, or 1/0 from SQLite.
fn flag(v: &Value, k: &str) -> Option<bool> {
    match v.get(k) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

fn lower(v: &Value, k: &str) -> String {
    text(v, k).trim().to_ascii_lowercase()
}

/// Tiers (`products`), Stripe products and prices, members' customers,
/// subscriptions and comps. `members` maps the file's member ids to their
/// addresses and Ghost status.
fn plan_billing(
    data: &Value,
    members: &HashMap<String, (Email, String)>,
    skipped: &mut Vec<(String, String)>,
) -> ImportBilling {
    let mut out = ImportBilling::default();
    let benefit_names: HashMap<String, String> = list(data, "benefits")
        .iter()
        .filter_map(|b| Some((id_of(b, "id")?, text(b, "name").trim().to_owned())))
        .filter(|(_, n)| !n.is_empty())
        .collect();
    let mut benefits_of: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for row in list(data, "products_benefits") {
        if let (Some(p), Some(b)) = (id_of(row, "product_id"), id_of(row, "benefit_id"))
            && let Some(name) = benefit_names.get(&b)
        {
            let order = row.get("sort_order").and_then(Value::as_i64).unwrap_or(0);
            benefits_of
                .entry(p)
                .or_default()
                .push((order, name.clone()));
        }
    }
    for p in list(data, "products") {
        let name = text(p, "name").trim().to_owned();
        let Some(key) = id_of(p, "id") else {
            skipped.push((format!("tier {name:?}"), "it has no id".into()));
            continue;
        };
        let kind = if text(p, "type") == "free" {
            "free"
        } else {
            "paid"
        };
        let Some(slug) = Slug::parse(&text(p, "slug"))
            .ok()
            .or_else(|| slugify(&name))
        else {
            skipped.push((
                format!("tier {name:?}"),
                "it has no usable slug or name".into(),
            ));
            continue;
        };
        let price = |k: &str| p.get(k).and_then(Value::as_i64).filter(|n| *n > 0);
        let mut benefits = benefits_of.remove(&key).unwrap_or_default();
        benefits.sort_by_key(|(order, _)| *order);
        out.tiers.push(ImportTier {
            key,
            tier: TierInput {
                name,
                slug: slug.into_string(),
                description: text(p, "description"),
                kind: kind.into(),
                active: flag(p, "active").unwrap_or(true),
                visibility: if text(p, "visibility") == "none" {
                    "none".into()
                } else {
                    "public".into()
                },
                currency: opt_text(p, "currency").map(|c| c.to_ascii_lowercase()),
                monthly_price: price("monthly_price"),
                yearly_price: price("yearly_price"),
                trial_days: p
                    .get("trial_days")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok())
                    .unwrap_or(0),
                welcome_page_url: opt_text(p, "welcome_page_url"),
                benefits: benefits.into_iter().map(|(_, b)| b).collect(),
            },
        });
    }
    // Stripe product id -> the file's tier id.
    let mut tier_of_product: HashMap<String, String> = HashMap::new();
    for sp in list(data, "stripe_products") {
        let (Some(product_id), Some(tier_key)) =
            (opt_text(sp, "stripe_product_id"), id_of(sp, "product_id"))
        else {
            skipped.push((
                "a Stripe product".into(),
                "it has no product or tier id".into(),
            ));
            continue;
        };
        tier_of_product.insert(product_id.clone(), tier_key.clone());
        out.products.push(ImportStripeProduct {
            product_id,
            tier_key,
            created_ms: sp.get("created_at").and_then(date_ms).unwrap_or(0),
        });
    }
    let mut product_of_price: HashMap<String, String> = HashMap::new();
    for sp in list(data, "stripe_prices") {
        let id = text(sp, "stripe_price_id");
        let what = format!("Stripe price {id}");
        let product_id = text(sp, "stripe_product_id");
        let Some(tier_key) = tier_of_product.get(&product_id) else {
            skipped.push((what, "its Stripe product is not in the file".into()));
            continue;
        };
        product_of_price.insert(id.clone(), product_id.clone());
        let cadence = lower(sp, "interval");
        let amount = sp.get("amount").and_then(Value::as_i64);
        let currency = lower(sp, "currency");
        let why = if id.is_empty() {
            Some("it has no id")
        } else if text(sp, "type") == "one_time" {
            Some("a one-time price is not a membership price")
        } else if !matches!(cadence.as_str(), "month" | "year") {
            Some("its interval is neither month nor year")
        } else if amount.is_none_or(|a| a < 0) {
            Some("it has no usable amount")
        } else if currency.len() != 3 {
            Some("it has no usable currency")
        } else {
            None
        };
        if let Some(why) = why {
            skipped.push((what, why.into()));
            continue;
        }
        out.prices.push(ImportStripePrice {
            price: StripePrice {
                price_id: id,
                product_id,
                tier_id: 0,
                amount: amount.unwrap_or(0),
                currency,
                cadence,
                active: flag(sp, "active").unwrap_or(true),
            },
            tier_key: tier_key.clone(),
            created_ms: sp.get("created_at").and_then(date_ms).unwrap_or(0),
        });
    }
    for c in list(data, "members_stripe_customers") {
        let id = text(c, "customer_id");
        match id_of(c, "member_id").and_then(|m| members.get(&m)) {
            Some((email, _)) if !id.is_empty() => out.customers.push(ImportCustomer {
                customer_id: id,
                member: email.clone(),
                created_ms: c.get("created_at").and_then(date_ms).unwrap_or(0),
            }),
            _ => skipped.push((
                format!("Stripe customer {id:?}"),
                "its member is not in the file".into(),
            )),
        }
    }
    for s in list(data, "members_stripe_customers_subscriptions") {
        let id = text(s, "subscription_id");
        let customer = text(s, "customer_id");
        let status = text(s, "status");
        if id.is_empty() || customer.is_empty() || status.is_empty() {
            skipped.push((
                format!("subscription {id:?}"),
                "it lacks its id, customer or status".into(),
            ));
            continue;
        }
        let price_id = opt_text(s, "stripe_price_id")
            .or_else(|| opt_text(s, "plan_id"))
            .unwrap_or_default();
        let ext = s.get("masthead");
        out.subscriptions.push(ImportSubscription {
            state: SubscriptionState {
                subscription_id: id,
                customer_id: customer,
                product_id: product_of_price.get(&price_id).cloned().unwrap_or_default(),
                price_id,
                status,
                cancel_at_period_end: flag(s, "cancel_at_period_end").unwrap_or(false),
                current_period_start_ms: ext
                    .and_then(|e| e.get("current_period_start"))
                    .and_then(date_ms),
                current_period_end_ms: s.get("current_period_end").and_then(date_ms),
                trial_end_ms: s.get("trial_end_at").and_then(date_ms),
                amount: s.get("plan_amount").and_then(Value::as_i64).unwrap_or(0),
                currency: lower(s, "plan_currency"),
                cadence: lower(s, "plan_interval"),
            },
            created_ms: s
                .get("created_at")
                .and_then(date_ms)
                .or_else(|| s.get("start_date").and_then(date_ms))
                .unwrap_or(0),
        });
    }
    // Ghost keeps a comped member's tier (and its end) in members_products.
    for mp in list(data, "members_products") {
        let (Some(m), Some(tier_key)) = (id_of(mp, "member_id"), id_of(mp, "product_id")) else {
            continue;
        };
        if let Some((email, status)) = members.get(&m)
            && status == "comped"
            && !out.comps.iter().any(|c| c.member == *email)
        {
            out.comps.push(ImportComp {
                member: email.clone(),
                tier_key,
                until_ms: mp.get("expiry_at").and_then(date_ms),
            });
        }
    }
    out
}

/// A post ready to write, converted outside the transaction.
struct PlannedPost {
    ghost_id: String,
    what: String,
    post: NewPost,
    fields: ImportFields,
    tag_refs: Vec<String>,
    /// From `posts_authors`, in order.
    author_refs: Vec<String>,
    /// The single `author_id` of older exports, used when there are no links.
    author_id: Option<String>,
    notes: Vec<(String, i64, String)>,
    live: Vec<(String, String, bool, i64)>,
}

fn plan_post(
    p: &Value,
    meta: Option<&Value>,
    skipped: &mut Vec<(String, String)>,
    now: i64,
) -> Option<PlannedPost> {
    let title = text(p, "title").trim().to_owned();
    let raw_slug = text(p, "slug");
    let what = format!(
        "{} {:?}",
        if text(p, "type") == "page" {
            "page"
        } else {
            "post"
        },
        if raw_slug.is_empty() {
            &title
        } else {
            &raw_slug
        }
    );
    let Some(ghost_id) = id_of(p, "id") else {
        skipped.push((what, "it has no id".into()));
        return None;
    };
    // The same title and slug rules as the desk and the Admin API; an
    // import repairs what it can and says so.
    let title = match editorial::title(&title) {
        Ok(t) => t.to_owned(),
        Err(EditorialError::TitleTooLong) => {
            skipped.push((
                what.clone(),
                format!("its title was cut to {MAX_TITLE_CHARS} characters"),
            ));
            title.chars().take(MAX_TITLE_CHARS).collect()
        }
        Err(_) => {
            skipped.push((what, "it has no title".into()));
            return None;
        }
    };
    let slug = match editorial::post_slug(Some(&raw_slug), &title) {
        Ok(s) => s.into_string(),
        Err(_) => {
            let s =
                editorial::post_slug(slugify(&raw_slug).as_ref().map(Slug::as_str), &title).ok()?;
            skipped.push((
                what.clone(),
                format!("its slug was not usable; it became {:?}", s.as_str()),
            ));
            s.into_string()
        }
    };
    let ext = p.get("masthead");
    let kind = ext
        .and_then(|e| e.get("kind"))
        .and_then(Value::as_str)
        .and_then(|k| PostKind::parse(k).ok())
        .unwrap_or(if text(p, "type") == "page" {
            PostKind::Page
        } else {
            PostKind::Article
        });
    let published_ms = p.get("published_at").and_then(date_ms);
    let status = match text(p, "status").as_str() {
        "published" | "sent" => PostStatus::Published,
        "scheduled" if published_ms.is_some_and(|t| t > now) => PostStatus::Scheduled,
        "scheduled" => PostStatus::Published,
        _ => PostStatus::Draft,
    };
    let published_ms = match status {
        PostStatus::Draft => None,
        _ => Some(published_ms.unwrap_or(now)),
    };
    let visibility = match text(p, "visibility").as_str() {
        "members" => Visibility::Members,
        "paid" | "tiers" => Visibility::Paid,
        _ => Visibility::Public,
    };
    let feature_image = opt_text(p, "feature_image");
    // The body: Masthead's own Markdown if it exported it, else Ghost's
    // HTML, else its Lexical or Mobiledoc converted.
    let (source, html) = if let Some(md) = ext
        .and_then(|e| e.get("body_markdown"))
        .and_then(Value::as_str)
    {
        (
            md.to_owned(),
            render_markdown(md, feature_image.is_some()).html,
        )
    } else if let Some(h) = opt_text(p, "html") {
        let clean = sanitize_html(&h);
        (clean.clone(), clean)
    } else {
        let converted = if let Some(l) = opt_text(p, "lexical") {
            Some(lexical_to_html(&l))
        } else {
            opt_text(p, "mobiledoc").map(|m| mobiledoc_to_html(&m))
        };
        match converted {
            Some(Ok(c)) => {
                if !c.skipped.is_empty() {
                    let mut counts: Vec<(String, usize)> = Vec::new();
                    for s in c.skipped {
                        match counts.iter_mut().find(|(k, _)| *k == s) {
                            Some((_, n)) => *n += 1,
                            None => counts.push((s, 1)),
                        }
                    }
                    let list = counts
                        .iter()
                        .map(|(k, n)| {
                            if *n > 1 {
                                format!("{k} ({n})")
                            } else {
                                k.clone()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    skipped.push((
                        what.clone(),
                        format!("parts of its body could not be converted: {list}"),
                    ));
                }
                (c.html.clone(), c.html)
            }
            Some(Err(e)) => {
                skipped.push((what, e));
                return None;
            }
            None => (String::new(), String::new()),
        }
    };
    let reading = ReadingTime::of_html(&html, feature_image.is_some());
    let meta_text = |k: &str| meta.and_then(|m| opt_text(m, k)).or_else(|| opt_text(p, k));
    let ext_text = |k: &str| ext.and_then(|e| opt_text(e, k));
    let video = match (ext_text("video_src"), ext_text("video_embed")) {
        (None, None) => None,
        (src, embed) => Some(Video {
            src,
            embed,
            duration_s: ext
                .and_then(|e| e.get("video_duration_s"))
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok()),
        }),
    };
    let created_ms = p.get("created_at").and_then(date_ms).unwrap_or(now);
    let updated_ms = p.get("updated_at").and_then(date_ms).unwrap_or(created_ms);
    let notes = ext
        .and_then(|e| e.get("notes"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| {
                    Some((
                        text(n, "kind"),
                        n.get("noted_at").and_then(date_ms)?,
                        text(n, "note"),
                    ))
                })
                .filter(|(k, _, t)| (k == "correction" || k == "update") && !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let live = ext
        .and_then(|e| e.get("live_entries"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| {
                    Some((
                        text(n, "title"),
                        text(n, "body_markdown"),
                        n.get("pinned").and_then(Value::as_bool).unwrap_or(false),
                        n.get("created_at").and_then(date_ms)?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(PlannedPost {
        ghost_id,
        what,
        post: NewPost {
            kind,
            slug,
            title,
            dek: text(p, "custom_excerpt"),
            body_source: source,
            body_html: html,
            word_count: reading.words,
            reading_minutes: reading.minutes,
            status,
            visibility,
            image: feature_image.map(|src| Image {
                src,
                ..Image::default()
            }),
            video,
            published_ms,
            updated_ms,
            tag_ids: Vec::new(),
            author_ids: Vec::new(),
        },
        fields: ImportFields {
            uuid: opt_text(p, "uuid").filter(|u| u.len() == 36),
            created_ms,
            updated_ms,
            featured: p
                .get("featured")
                .is_some_and(|f| f.as_bool() == Some(true) || f.as_i64() == Some(1)),
            canonical_url: opt_text(p, "canonical_url"),
            meta_title: meta_text("meta_title"),
            meta_description: meta_text("meta_description"),
            feature_image_alt: meta_text("feature_image_alt").unwrap_or_default(),
            feature_image_caption: ext_text("caption")
                .or_else(|| meta_text("feature_image_caption"))
                .unwrap_or_default(),
            photographer: ext_text("photographer").unwrap_or_default(),
            agency: ext_text("agency").unwrap_or_default(),
        },
        tag_refs: Vec::new(),
        author_refs: Vec::new(),
        author_id: id_of(p, "author_id"),
        notes,
        live,
    })
}

/// Reads, checks and converts a Ghost export, then writes it in one transaction.
pub async fn import(store: &Store, path: &Path) -> anyhow::Result<Report> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!("{} is over 1 GB; split the export first", path.display());
    }
    eprintln!(
        "Reading {} ({:.1} MB)...",
        path.display(),
        size as f64 / 1_048_576.0
    );
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not valid JSON (line {}, column {}: {e}); nothing was imported",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let data = data_of(&doc).context("nothing was imported")?;
    let now = masthead_store::now_ms();
    let mut report = Report::default();

    let metas: HashMap<String, &Value> = list(data, "posts_meta")
        .iter()
        .filter_map(|m| Some((id_of(m, "post_id")?, m)))
        .collect();
    let ghost_posts = list(data, "posts");
    eprintln!("Converting {} posts and pages...", ghost_posts.len());
    let mut planned: Vec<PlannedPost> = Vec::with_capacity(ghost_posts.len());
    for (i, p) in ghost_posts.iter().enumerate() {
        if !p.is_object() {
            report
                .skipped
                .push((format!("posts[{i}]"), "it is not an object".into()));
            continue;
        }
        let meta = id_of(p, "id").and_then(|id| metas.get(&id).copied());
        if let Some(pp) = plan_post(p, meta, &mut report.skipped, now) {
            planned.push(pp);
        }
        if (i + 1) % 1_000 == 0 {
            eprintln!("  converted {} of {}", i + 1, ghost_posts.len());
        }
    }
    let by_ghost_id: HashMap<String, usize> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| (p.ghost_id.clone(), i))
        .collect();
    // Ordered links.
    for (key, tag) in [("posts_tags", true), ("posts_authors", false)] {
        let mut links: Vec<(&Value, i64)> = list(data, key)
            .iter()
            .map(|l| (l, l.get("sort_order").and_then(Value::as_i64).unwrap_or(0)))
            .collect();
        links.sort_by_key(|(_, order)| *order);
        for (l, _) in links {
            let (Some(post), Some(other)) = (
                id_of(l, "post_id"),
                id_of(l, if tag { "tag_id" } else { "author_id" }),
            ) else {
                continue;
            };
            if let Some(&i) = by_ghost_id.get(&post) {
                let refs = if tag {
                    &mut planned[i].tag_refs
                } else {
                    &mut planned[i].author_refs
                };
                if !refs.contains(&other) {
                    refs.push(other);
                }
            }
        }
    }
    for p in &mut planned {
        if p.author_refs.is_empty()
            && let Some(a) = p.author_id.take()
        {
            p.author_refs.push(a);
        }
    }

    let tags: Vec<Value> = list(data, "tags").to_vec();
    let users: Vec<Value> = list(data, "users").to_vec();
    let members: Vec<Value> = list(data, "members").to_vec();
    // Settings both platforms have: Ghost key, Masthead key, check.
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    for row in list(data, "settings") {
        let (key, value) = (text(row, "key"), text(row, "value"));
        let ours = match key.as_str() {
            "title" if !value.trim().is_empty() && value.len() <= 120 => "title",
            "description" if value.len() <= 300 => "description",
            "accent_color"
                if value.len() == 7
                    && value.starts_with('#')
                    && value[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                "accent"
            }
            "timezone" if jiff::tz::TimeZone::get(&value).is_ok() => "timezone",
            "locale" if !value.is_empty() && value.len() <= 35 => "locale",
            _ => continue,
        };
        settings.push((ours, value));
    }
    eprintln!(
        "Writing {} posts, {} tags, {} bylines and {} members in one transaction...",
        planned.len(),
        tags.len(),
        users.len(),
        members.len()
    );
    // Tags, bylines and members are checked here; the store matches them
    // with what the site has, in the same transaction as the posts.
    let mut import = SiteImport {
        progress: Some(|written, total| eprintln!("  wrote {written} of {total} posts")),
        ..SiteImport::default()
    };
    for t in &tags {
        let name = text(t, "name");
        let Some(id) = id_of(t, "id") else { continue };
        if name.starts_with('#') || text(t, "visibility") == "internal" {
            report.internal_tags += 1;
            continue;
        }
        // The API's tag slug rule, falling back to the name when the
        // file's slug is unusable.
        let Some(slug) = editorial::tag_slug(Some(&text(t, "slug")), &name)
            .or_else(|_| editorial::tag_slug(None, &name))
            .ok()
        else {
            report.skipped.push((
                format!("tag {name:?}"),
                "it has no usable slug or name".into(),
            ));
            continue;
        };
        let ext = t.get("masthead");
        import.tags.push(ImportTag {
            key: id,
            tag: NewTag {
                slug: slug.into_string(),
                name: if name.is_empty() {
                    text(t, "slug")
                } else {
                    name
                },
                description: text(t, "description"),
                is_section: ext
                    .and_then(|e| e.get("is_section"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                position: ext
                    .and_then(|e| e.get("position"))
                    .and_then(Value::as_i64)
                    .unwrap_or(100),
            },
        });
    }
    for u in &users {
        let Some(id) = id_of(u, "id") else { continue };
        let name = text(u, "name").trim().to_owned();
        let Some(slug) = Slug::parse(&text(u, "slug"))
            .ok()
            .or_else(|| slugify(&name))
        else {
            report.skipped.push((
                format!("user {name:?}"),
                "it has no usable slug or name".into(),
            ));
            continue;
        };
        import.authors.push(ImportAuthor {
            key: id,
            author: NewAuthor {
                slug: slug.into_string(),
                name: if name.is_empty() {
                    text(u, "slug")
                } else {
                    name
                },
                bio: text(u, "bio"),
                location: text(u, "location"),
            },
            avatar: opt_text(u, "profile_image"),
        });
    }
    import.posts = planned
        .into_iter()
        .map(|p| ImportPost {
            what: p.what,
            post: p.post,
            fields: p.fields,
            tag_refs: p.tag_refs,
            author_refs: p.author_refs,
            notes: p.notes,
            entries: p
                .live
                .into_iter()
                .map(|(title, body, pinned, created_ms)| EntryDraft {
                    title,
                    body_html: render_markdown(&body, false).html,
                    body_source: body,
                    pinned,
                    created_ms,
                })
                .collect(),
        })
        .collect();
    // Labels and newsletters, and who has which (Ghost's join tables).
    let label_names: HashMap<String, String> = list(data, "labels")
        .iter()
        .filter_map(|l| Some((id_of(l, "id")?, text(l, "name").trim().to_owned())))
        .filter(|(_, n)| !n.is_empty() && n.chars().count() <= 191)
        .collect();
    let mut labels_of: HashMap<String, Vec<String>> = HashMap::new();
    for row in list(data, "members_labels") {
        if let (Some(m), Some(l)) = (id_of(row, "member_id"), id_of(row, "label_id"))
            && let Some(name) = label_names.get(&l)
        {
            labels_of.entry(m).or_default().push(name.clone());
        }
    }
    let mut newsletter_slugs: HashMap<String, String> = HashMap::new();
    let mut newsletter_skips = Vec::new();
    for n in list(data, "newsletters") {
        let name = text(n, "name");
        let slug = opt_text(n, "slug")
            .or_else(|| slugify(&name).map(Slug::into_string))
            .unwrap_or_default();
        let reply = opt_text(n, "sender_reply_to").unwrap_or_else(|| "newsletter".into());
        let status = opt_text(n, "status").unwrap_or_else(|| "active".into());
        let input = masthead_web::admin::members::newsletter_input(
            &name,
            &text(n, "description"),
            &text(n, "sender_name"),
            // Ghost also allows an address here; replies then go to the newsletter's.
            if reply == "support" {
                "support"
            } else {
                "newsletter"
            },
            n.get("subscribe_on_signup")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            &status,
        );
        match (input, Slug::parse(&slug)) {
            (Ok(fields), Ok(_)) => {
                if let Some(id) = id_of(n, "id") {
                    newsletter_slugs.insert(id, slug.clone());
                }
                import.newsletters.push(masthead_store::ImportNewsletter {
                    slug,
                    fields,
                    sort_order: n.get("sort_order").and_then(Value::as_i64).unwrap_or(0),
                });
            }
            (Err(why), _) => newsletter_skips.push((format!("newsletter {name:?}"), why)),
            (_, Err(_)) => newsletter_skips.push((
                format!("newsletter {name:?}"),
                "its slug is not a valid address".into(),
            )),
        }
    }
    let mut newsletters_of: HashMap<String, Vec<String>> = HashMap::new();
    for row in list(data, "members_newsletters") {
        if let (Some(m), Some(n)) = (id_of(row, "member_id"), id_of(row, "newsletter_id"))
            && let Some(slug) = newsletter_slugs.get(&n)
        {
            newsletters_of.entry(m).or_default().push(slug.clone());
        }
    }
    let mut member_skips = Vec::new();
    let mut member_refs: HashMap<String, (Email, String)> = HashMap::new();
    for m in &members {
        let raw = text(m, "email");
        let Ok(email) = Email::parse(&raw) else {
            member_skips.push((
                format!("member {raw:?}"),
                "not a valid e-mail address".into(),
            ));
            continue;
        };
        let status = match text(m, "status").as_str() {
            "paid" => "paid",
            "comped" => "comped",
            _ => "free",
        };
        let ghost_id = id_of(m, "id").unwrap_or_default();
        member_refs.insert(ghost_id.clone(), (email.clone(), status.to_owned()));
        import.members.push(ImportMember {
            email,
            status,
            created_ms: m.get("created_at").and_then(date_ms).unwrap_or(now),
            name: text(m, "name"),
            note: text(m, "note").chars().take(2000).collect(),
            labels: labels_of.remove(&ghost_id).unwrap_or_default(),
            newsletters: newsletters_of.remove(&ghost_id).unwrap_or_default(),
        });
    }
    import.billing = plan_billing(data, &member_refs, &mut member_skips);
    import.settings = settings;
    let done = store
        .import_site(import)
        .await
        .context("the import failed and nothing was written")?;
    report.posts_added = done.posts_added;
    report.pages_added = done.pages_added;
    report.tags_added = done.tags_added;
    report.tags_present = done.tags_present;
    report.bylines_added = done.bylines_added;
    report.bylines_present = done.bylines_present;
    report.members_added = done.members_added;
    report.members_present = done.members_present;
    report.newsletters_added = done.newsletters_added;
    report.newsletters_present = done.newsletters_present;
    report.tiers_added = done.tiers_added;
    report.tiers_present = done.tiers_present;
    report.customers_linked = done.customers_linked;
    report.subscriptions_written = done.subscriptions_written;
    report.comps_set = done.comps_set;
    report.settings = done.settings;
    report.skipped.extend(done.skipped);
    report.skipped.extend(member_skips);
    report.skipped.extend(newsletter_skips);
    Ok(report)
}

/// The whole site as a Ghost export.
pub async fn export(store: &Store) -> anyhow::Result<Value> {
    let all = store.everything().await?;
    let staff = store.staff_users().await?;
    let site = store.site_settings().await?;
    let email_of: HashMap<i64, String> = staff
        .iter()
        .filter_map(|u| Some((u.author_id?, u.email.clone())))
        .collect();
    let mut posts = Vec::with_capacity(all.posts.len());
    let mut posts_meta = Vec::new();
    let mut posts_tags = Vec::new();
    let mut posts_authors = Vec::new();
    let mut link = 0i64;
    for p in &all.posts {
        let id = format_id(p.id);
        let lexical = json!({ "root": { "children": [{ "type": "html", "version": 1, "html": p.body_html }],
            "direction": null, "format": "", "indent": 0, "type": "root", "version": 1 } });
        posts.push(json!({
            "id": id,
            "uuid": p.uuid,
            "title": p.title,
            "slug": p.slug,
            "mobiledoc": null,
            "lexical": lexical.to_string(),
            "html": p.body_html,
            "feature_image": p.feature_image,
            "featured": p.featured,
            "type": if p.kind == "page" { "page" } else { "post" },
            "status": p.status,
            "locale": null,
            "visibility": p.visibility,
            "email_recipient_filter": "none",
            "created_at": iso(p.created_ms),
            "updated_at": iso(p.updated_ms),
            "published_at": p.published_ms.map_or(Value::Null, iso),
            "custom_excerpt": if p.dek.is_empty() { Value::Null } else { Value::String(p.dek.clone()) },
            "codeinjection_head": null,
            "codeinjection_foot": null,
            "custom_template": null,
            "canonical_url": p.canonical_url,
            "masthead": {
                "kind": p.kind,
                "body_markdown": p.body_source,
                "caption": p.feature_image_caption,
                "photographer": p.photographer,
                "agency": p.agency,
                "video_src": p.video_src,
                "video_embed": p.video_embed,
                "video_duration_s": p.video_duration_s,
                "notes": p.notes.iter().map(|(k, at, n)| json!({ "kind": k, "noted_at": iso(*at), "note": n })).collect::<Vec<_>>(),
                "live_entries": p.live_entries.iter().map(|(t, b, pin, at)| json!({ "title": t, "body_markdown": b, "pinned": pin, "created_at": iso(*at) })).collect::<Vec<_>>(),
            },
        }));
        let credit = match (p.photographer.as_str(), p.agency.as_str()) {
            ("", "") => String::new(),
            (ph, "") => ph.to_owned(),
            ("", a) => a.to_owned(),
            (ph, a) => format!("{ph} / {a}"),
        };
        let caption = [p.feature_image_caption.as_str(), credit.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        posts_meta.push(json!({
            "id": format_id(p.id),
            "post_id": id,
            "meta_title": p.meta_title,
            "meta_description": p.meta_description,
            "feature_image_alt": if p.feature_image_alt.is_empty() { Value::Null } else { Value::String(p.feature_image_alt.clone()) },
            "feature_image_caption": if caption.is_empty() { Value::Null } else { Value::String(caption) },
            "og_image": null, "og_title": null, "og_description": null,
            "twitter_image": null, "twitter_title": null, "twitter_description": null,
            "email_subject": null, "frontmatter": null, "email_only": false,
        }));
        for (order, t) in p.tag_ids.iter().enumerate() {
            link += 1;
            posts_tags.push(json!({ "id": format_id(link), "post_id": id, "tag_id": format_id(*t), "sort_order": order }));
        }
        for (order, a) in p.author_ids.iter().enumerate() {
            link += 1;
            posts_authors.push(json!({ "id": format_id(link), "post_id": id, "author_id": format_id(*a), "sort_order": order }));
        }
    }
    let tags: Vec<Value> = all
        .tags
        .iter()
        .map(|t| {
            json!({
                "id": format_id(t.id), "name": t.name, "slug": t.slug,
                "description": if t.description.is_empty() { Value::Null } else { Value::String(t.description.clone()) },
                "feature_image": null, "parent_id": null, "visibility": "public",
                "meta_title": null, "meta_description": null,
                "masthead": { "is_section": t.is_section, "position": t.position },
            })
        })
        .collect();
    let users: Vec<Value> = all
        .authors
        .iter()
        .map(|a| {
            json!({
                "id": format_id(a.id), "name": a.name, "slug": a.slug,
                "email": email_of.get(&a.id).cloned().unwrap_or_else(|| format!("{}@bylines.invalid", a.slug)),
                "profile_image": a.avatar, "cover_image": null,
                "bio": if a.bio.is_empty() { Value::Null } else { Value::String(a.bio.clone()) },
                "website": null,
                "location": if a.location.is_empty() { Value::Null } else { Value::String(a.location.clone()) },
                "status": "active", "visibility": "public",
            })
        })
        .collect();
    let members: Vec<Value> = all
        .members
        .iter()
        .map(|m| {
            json!({
                "id": format_id(m.id), "email": m.email,
                "name": if m.name.is_empty() { Value::Null } else { Value::String(m.name.clone()) },
                "note": if m.note.is_empty() { Value::Null } else { Value::String(m.note.clone()) },
                "status": m.status,
                "subscribed": all.member_newsletters.iter().any(|(mid, _)| *mid == m.id),
                "created_at": iso(m.created_ms),
            })
        })
        .collect();
    let labels: Vec<Value> = all
        .labels
        .iter()
        // No created_at: an import makes labels anew (and a site's labels
        // are matched by name), so the time would not survive a round trip.
        .map(|l| json!({ "id": format_id(l.id), "name": l.name, "slug": l.slug }))
        .collect();
    let pairs = |rows: &[(i64, i64)], other: &str| -> Vec<Value> {
        rows.iter()
            .enumerate()
            .map(|(i, (m, x))| json!({ "id": format_id(i as i64 + 1), "member_id": format_id(*m), other: format_id(*x) }))
            .collect()
    };
    let members_labels = pairs(&all.member_labels, "label_id");
    let members_newsletters = pairs(&all.member_newsletters, "newsletter_id");
    let newsletters: Vec<Value> = all
        .newsletters
        .iter()
        .map(|n| {
            json!({
                // No uuid: each site keeps its own for its default newsletter,
                // and an import gives new ones their own.
                "id": format_id(n.id), "name": n.name, "slug": n.slug,
                "description": if n.description.is_empty() { Value::Null } else { Value::String(n.description.clone()) },
                "sender_name": n.sender_name, "sender_email": null, "sender_reply_to": n.sender_reply_to,
                "status": n.status, "visibility": n.visibility,
                "subscribe_on_signup": n.subscribe_on_signup, "sort_order": n.sort_order,
            })
        })
        .collect();
    let paid = billing_tables(&all);
    Ok(json!({ "db": [{
        "meta": { "exported_on": masthead_store::now_ms(), "version": "5.0.0", "exported_by": "Masthead", "site_title": site.title },
        "data": {
            "posts": posts, "posts_meta": posts_meta, "tags": tags, "posts_tags": posts_tags,
            "users": users, "posts_authors": posts_authors, "members": members,
            "labels": labels, "members_labels": members_labels,
            "newsletters": newsletters, "members_newsletters": members_newsletters,
            "products": paid.products, "benefits": paid.benefits,
            "products_benefits": paid.products_benefits,
            "stripe_products": paid.stripe_products, "stripe_prices": paid.stripe_prices,
            "members_stripe_customers": paid.customers,
            "members_stripe_customers_subscriptions": paid.subscriptions,
            "members_products": paid.members_products,
            "settings": [
                { "id": format_id(1), "key": "title", "value": site.title },
                { "id": format_id(2), "key": "description", "value": site.description },
                { "id": format_id(3), "key": "accent_color", "value": site.accent },
                { "id": format_id(4), "key": "timezone", "value": site.timezone },
                { "id": format_id(5), "key": "locale", "value": site.locale },
            ],
        }
    }]}))
}

/// Ghost's tables of paid memberships, as an export writes them.
struct PaidTables {
    products: Vec<Value>,
    benefits: Vec<Value>,
    products_benefits: Vec<Value>,
    stripe_products: Vec<Value>,
    stripe_prices: Vec<Value>,
    customers: Vec<Value>,
    subscriptions: Vec<Value>,
    members_products: Vec<Value>,
}

fn billing_tables(all: &masthead_store::Everything) -> PaidTables {
    let b = &all.billing;
    let opt_iso = |ms: Option<i64>| ms.map_or(Value::Null, iso);
    // Ghost's `monthly_price_id` and `yearly_price_id` name the row of
    // `stripe_prices` (its `id`), not Stripe's price id; its importer drops a
    // tier whose rows are not in the file.
    let price_of = |tier: i64, cadence: &str| {
        b.prices
            .iter()
            .position(|(p, _)| p.tier_id == tier && p.cadence == cadence && p.active)
            .map_or(Value::Null, |i| Value::String(format_id(i as i64 + 1)))
    };
    // No created_at on tiers and benefits: an import matches tiers by slug
    // and makes them anew, so the time would not survive a round trip.
    let products = all
        .tiers
        .iter()
        .map(|t| {
            json!({
                "id": format_id(t.id), "name": t.name, "slug": t.slug, "active": t.active,
                "welcome_page_url": t.welcome_page_url, "visibility": t.visibility,
                "trial_days": t.trial_days,
                "description": if t.description.is_empty() { Value::Null } else { Value::String(t.description.clone()) },
                "type": t.kind, "currency": t.currency,
                "monthly_price": t.monthly_price, "yearly_price": t.yearly_price,
                "monthly_price_id": price_of(t.id, "month"), "yearly_price_id": price_of(t.id, "year"),
            })
        })
        .collect();
    let mut benefit_ids: Vec<String> = Vec::new();
    let mut products_benefits = Vec::new();
    for t in &all.tiers {
        for (order, name) in t.benefits.iter().enumerate() {
            let n = match benefit_ids.iter().position(|b| b == name) {
                Some(n) => n,
                None => {
                    benefit_ids.push(name.clone());
                    benefit_ids.len() - 1
                }
            };
            products_benefits.push(json!({
                "id": format_id(products_benefits.len() as i64 + 1), "product_id": format_id(t.id),
                "benefit_id": format_id(n as i64 + 1), "sort_order": order,
            }));
        }
    }
    let benefits = benefit_ids
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let slug =
                slugify(name).map_or_else(|| format!("benefit-{}", i + 1), Slug::into_string);
            json!({ "id": format_id(i as i64 + 1), "name": name, "slug": slug })
        })
        .collect();
    let stripe_products = b
        .products
        .iter()
        .enumerate()
        .map(|(i, (pid, tier, at))| {
            json!({ "id": format_id(i as i64 + 1), "product_id": format_id(*tier),
                "stripe_product_id": pid, "created_at": iso(*at), "updated_at": iso(*at) })
        })
        .collect();
    let stripe_prices = b
        .prices
        .iter()
        .enumerate()
        .map(|(i, (p, at))| {
            json!({ "id": format_id(i as i64 + 1), "stripe_price_id": p.price_id,
                "stripe_product_id": p.product_id, "active": p.active,
                "nickname": if p.cadence == "year" { "Yearly" } else { "Monthly" },
                "currency": p.currency, "amount": p.amount, "type": "recurring",
                "interval": p.cadence, "description": null,
                "created_at": iso(*at), "updated_at": iso(*at) })
        })
        .collect();
    let customers = b
        .customers
        .iter()
        .enumerate()
        .map(|(i, (cid, member, email, at))| {
            json!({ "id": format_id(i as i64 + 1), "member_id": format_id(*member),
                "customer_id": cid, "name": null, "email": email,
                "created_at": iso(*at), "updated_at": iso(*at) })
        })
        .collect();
    let subscriptions = b
        .subscriptions
        .iter()
        .enumerate()
        .map(|(i, (s, at))| {
            let mrr = if s.cadence == "year" { s.amount / 12 } else { s.amount };
            json!({ "id": format_id(i as i64 + 1), "customer_id": s.customer_id,
                "ghost_subscription_id": null, "subscription_id": s.subscription_id,
                "stripe_price_id": s.price_id, "status": s.status,
                "cancel_at_period_end": s.cancel_at_period_end, "cancellation_reason": null,
                "current_period_end": opt_iso(s.current_period_end_ms),
                "start_date": iso(*at), "default_payment_card_last4": null,
                "plan_id": s.price_id, "plan_nickname": if s.cadence == "year" { "Yearly" } else { "Monthly" },
                "plan_interval": s.cadence, "plan_amount": s.amount, "plan_currency": s.currency,
                "mrr": if matches!(s.status.as_str(), "active" | "trialing" | "past_due") && !s.cancel_at_period_end { mrr } else { 0 },
                "offer_id": null, "trial_start_at": null, "trial_end_at": opt_iso(s.trial_end_ms),
                "created_at": iso(*at), "updated_at": iso(*at),
                "masthead": { "current_period_start": opt_iso(s.current_period_start_ms) } })
        })
        .collect();
    let members_products = b
        .member_tiers
        .iter()
        .enumerate()
        .map(|(i, (member, tier, until))| {
            json!({ "id": format_id(i as i64 + 1), "member_id": format_id(*member),
                "product_id": format_id(*tier), "sort_order": 0, "expiry_at": opt_iso(*until) })
        })
        .collect();
    PaidTables {
        products,
        benefits,
        products_benefits,
        stripe_products,
        stripe_prices,
        customers,
        subscriptions,
        members_products,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_ghost_spelling() {
        assert_eq!(date_ms(&json!("1970-01-01T00:00:01.000Z")), Some(1_000));
        assert_eq!(date_ms(&json!("1970-01-01 00:00:02")), Some(2_000));
        assert_eq!(date_ms(&json!(3_000)), Some(3_000));
        assert_eq!(date_ms(&json!("yesterday")), None);
        assert_eq!(date_ms(&json!(null)), None);
        assert_eq!(iso(1_500), json!("1970-01-01T00:00:01.500Z"));
    }

    #[test]
    fn both_export_shapes_are_found_and_damage_is_named() {
        assert!(data_of(&json!({ "db": [{ "data": { "posts": [] } }] })).is_ok());
        assert!(data_of(&json!({ "data": { "posts": [] } })).is_ok());
        let e = data_of(&json!({ "posts": [] }))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("not a Ghost export"), "{e}");
        let e = data_of(&json!({ "data": { "posts": {} } }))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("data.posts should be a list"), "{e}");
    }
}
