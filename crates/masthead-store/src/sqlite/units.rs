//! The named units of work: multi-step writes, each one transaction, built
//! from the single-table writes beside them.

use std::collections::HashMap;

use masthead_domain::slug::unique_slug;
use masthead_domain::{PostKind, Slug};

use super::Writer;
use crate::error::StoreResult;
use crate::model::{ChangeTopic, NewLiveEntry};
use crate::units::*;

impl Writer<'_> {
    /// The first free post address made from `base`.
    fn unique_post_slug(&self, base: &Slug) -> String {
        unique_slug(base, |s| self.post_id_by_slug(s).ok().flatten().is_some()).into_string()
    }

    /// Tags by `(slug, name)`, created when missing, without repeats.
    fn tags_by_slug(&self, tags: &[(String, String)], ids: &mut Vec<i64>) -> StoreResult<()> {
        for (slug, name) in tags {
            let id = self.tag_by_slug_or_create(slug, name)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(())
    }

    pub fn create_post(&self, c: &CreatePost) -> StoreResult<i64> {
        let mut post = c.post.clone();
        self.tags_by_slug(&c.tags_by_slug, &mut post.tag_ids)?;
        post.slug = self.unique_post_slug(&c.base_slug);
        let id = self.insert_post(&post)?;
        if let Some(extras) = &c.extras {
            self.set_post_extras(id, extras)?;
        }
        if let Some(seo) = &c.seo {
            self.set_post_seo(id, seo)?;
        }
        Ok(id)
    }

    /// Returns the post's new version.
    pub fn save_post_unit(&self, s: &SavePost) -> StoreResult<i64> {
        let version = match &s.tags_by_slug {
            Some(tags) => {
                let mut edit = s.edit.clone();
                let mut ids = Vec::new();
                self.tags_by_slug(tags, &mut ids)?;
                edit.tag_ids = Some(ids);
                self.save_post(s.id, s.version, &edit, s.staff_id, s.now)?
            }
            None => self.save_post(s.id, s.version, &s.edit, s.staff_id, s.now)?,
        };
        if let Some(extras) = &s.extras {
            self.set_post_extras(s.id, extras)?;
        }
        Ok(version)
    }

    pub fn sign_in(&self, s: &SignIn) -> StoreResult<()> {
        // A sign-in that succeeded counts against nothing, and forgives this
        // address's earlier failures at the account.
        self.forget_attempt(&s.attempts)?;
        self.clear_throttle(&s.forgiven)?;
        self.insert_session(&s.token_hash, s.user_id, &s.csrf, s.now, s.expires)
    }

    /// Spends a set-up token and creates the owner; `None` when the token is
    /// spent or unknown, or an owner exists already.
    pub fn create_owner(
        &self,
        token_hash: &[u8],
        owner: &crate::model::NewStaffUser,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        if self.use_one_time_token(token_hash, "setup", now)?.is_none() || self.owner_exists()? {
            return Ok(None);
        }
        self.insert_staff_user(owner).map(Some)
    }

    /// Spends a reset token, sets the password and ends every session of
    /// its account; `false` when the token is spent or unknown.
    pub fn reset_password(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let Some(Some(user_id)) = self.use_one_time_token(token_hash, "reset", now)? else {
            return Ok(false);
        };
        self.set_password_hash(user_id, password_hash)?;
        self.delete_sessions_of(user_id)?;
        Ok(true)
    }

    pub fn invite_staff(&self, i: &Invite) -> StoreResult<i64> {
        let id = self.insert_staff_user(&i.user)?;
        self.insert_one_time_token(&i.token_hash, "reset", Some(id), i.now, i.expires)?;
        Ok(id)
    }

    /// Changes an entry of `post_id`; `false` when it is not one of its entries.
    pub fn change_live_entry(
        &self,
        post_id: i64,
        entry_id: i64,
        change: &LiveEntryChange,
    ) -> StoreResult<bool> {
        if !self.live_entry_belongs(entry_id, post_id)? {
            return Ok(false);
        }
        match change {
            LiveEntryChange::Delete => self.delete_live_entry(entry_id),
            LiveEntryChange::Update {
                title,
                body_source,
                body_html,
                pinned,
            } => self.update_live_entry(entry_id, title, body_source, body_html, *pinned),
        }
    }

    pub fn update_settings(&self, u: &SettingsUpdate) -> StoreResult<()> {
        for (key, value) in &u.values {
            self.set_setting(key, value)?;
        }
        if let Some(c) = &u.campaign {
            self.insert_campaign(c)?;
        }
        Ok(())
    }

    /// A byline with the first free slug made from `base`.
    pub fn create_author(&self, base: &Slug, author: &crate::model::NewAuthor) -> StoreResult<i64> {
        let authors = self.author_slugs()?;
        let slug = unique_slug(base, |s| authors.iter().any(|a| a == s));
        self.insert_author(&crate::model::NewAuthor {
            slug: slug.into_string(),
            ..author.clone()
        })
    }

    /// A tag; every page's navigation may list it, so the site changes.
    pub fn create_tag(&self, tag: &crate::model::NewTag) -> StoreResult<i64> {
        let id = self.insert_tag(tag)?;
        self.log_change(ChangeTopic::Site, None, None)?;
        Ok(id)
    }

    pub fn seed_site(&self, seed: SiteSeed) -> StoreResult<SeedCounts> {
        let mut counts = SeedCounts::default();
        for (key, value) in &seed.settings {
            self.set_setting(key, value)?;
        }
        let author_ids = seed
            .authors
            .iter()
            .map(|a| self.insert_author(a))
            .collect::<StoreResult<Vec<i64>>>()?;
        let tag_ids = seed
            .tags
            .iter()
            .map(|t| self.insert_tag(t))
            .collect::<StoreResult<Vec<i64>>>()?;
        let pick = |ids: &[i64], at: &[usize], what: &str, slug: &str| {
            at.iter()
                .map(|&i| {
                    ids.get(i).copied().ok_or_else(|| {
                        crate::StoreError::Invalid(format!("{slug}: unknown {what} {i}"))
                    })
                })
                .collect::<StoreResult<Vec<i64>>>()
        };
        for mut p in seed.posts {
            p.post.tag_ids = pick(&tag_ids, &p.tags, "tag", &p.post.slug)?;
            p.post.author_ids = pick(&author_ids, &p.authors, "author", &p.post.slug)?;
            let id = self.insert_post(&p.post)?;
            for (kind, at, note) in &p.notes {
                self.add_post_note(id, kind, *at, note)?;
            }
            for e in &p.entries {
                self.add_live_entry(&entry_of(id, e))?;
                counts.live_entries += 1;
            }
            counts.posts += 1;
        }
        if let Some(c) = &seed.campaign {
            self.insert_campaign(c)?;
        }
        for (email, at) in &seed.members {
            if self
                .insert_member(email, "free", &seed.member_source, *at)?
                .is_some()
            {
                counts.members += 1;
            }
        }
        self.log_change(ChangeTopic::Member, None, None)?;
        // One search-index segment after a bulk load: queries over many
        // small segments were ten times slower at 100,000 posts.
        self.optimize_search_index()?;
        for (key, value) in &seed.closing_settings {
            self.set_setting(key, value)?;
        }
        Ok(counts)
    }

    /// Writes an import: tags and bylines match by slug, posts by slug
    /// (present ones are skipped), members by address.
    pub fn import_site(&self, import: SiteImport) -> StoreResult<ImportOutcome> {
        let mut report = ImportOutcome::default();
        let mut tag_map: HashMap<String, i64> = HashMap::new();
        for t in &import.tags {
            let tid = match self.tag_id_by_slug(&t.tag.slug)? {
                Some(tid) => {
                    report.tags_present += 1;
                    tid
                }
                None => {
                    report.tags_added += 1;
                    self.insert_tag(&t.tag)?
                }
            };
            tag_map.insert(t.key.clone(), tid);
        }
        let mut author_map: HashMap<String, i64> = HashMap::new();
        for u in &import.authors {
            let aid = match self.author_id_by_slug(&u.author.slug)? {
                Some(a) => {
                    report.bylines_present += 1;
                    a
                }
                None => {
                    report.bylines_added += 1;
                    let a = self.insert_author(&u.author)?;
                    if let Some(img) = &u.avatar {
                        self.set_author_avatar(a, Some(img))?;
                    }
                    a
                }
            };
            author_map.insert(u.key.clone(), aid);
        }
        let total = import.posts.len();
        for (i, mut p) in import.posts.into_iter().enumerate() {
            if self.post_id_by_slug(&p.post.slug)?.is_some() {
                report.skipped.push((
                    p.what,
                    "already present (a post with this slug exists)".into(),
                ));
                continue;
            }
            p.post.tag_ids = p
                .tag_refs
                .iter()
                .filter_map(|t| tag_map.get(t).copied())
                .collect();
            p.post.tag_ids.dedup();
            p.post.author_ids = p
                .author_refs
                .iter()
                .filter_map(|a| author_map.get(a).copied())
                .collect();
            p.post.author_ids.dedup();
            if p.post.author_ids.is_empty() {
                report.skipped.push((
                    p.what.clone(),
                    "imported without a byline (its authors are not in the file)".into(),
                ));
            }
            let base = Slug::parse(&p.post.slug)?;
            p.post.slug = self.unique_post_slug(&base);
            let page = p.post.kind == PostKind::Page;
            let id = self.insert_post(&p.post)?;
            for e in &p.entries {
                self.add_live_entry(&entry_of(id, e))?;
            }
            for (kind, at, note) in &p.notes {
                self.add_post_note(id, kind, *at, note)?;
            }
            self.set_import_fields(id, &p.fields)?;
            if page {
                report.pages_added += 1;
            } else {
                report.posts_added += 1;
            }
            if (i + 1) % 1_000 == 0
                && let Some(progress) = import.progress
            {
                progress(i + 1, total);
            }
        }
        let (added, present) = self.import_newsletters(&import.newsletters, crate::now_ms())?;
        report.newsletters_added = added;
        report.newsletters_present = present;
        for m in &import.members {
            if let Some(id) = self.insert_member(&m.email, m.status, "import", m.created_ms)? {
                report.members_added += 1;
                if !m.name.is_empty() {
                    self.set_member_name(m.email.key(), &m.name)?;
                }
                self.import_member_extras(id, m, crate::now_ms())?;
            } else {
                report.members_present += 1;
            }
        }
        self.import_billing(&import.billing, &mut report, crate::now_ms())?;
        for (key, value) in &import.settings {
            self.set_setting(key, value)?;
            report.settings.push((*key).to_owned());
        }
        self.optimize_search_index()?;
        self.log_change(ChangeTopic::Site, None, None)?;
        Ok(report)
    }
}

fn entry_of(post_id: i64, e: &EntryDraft) -> NewLiveEntry {
    NewLiveEntry {
        post_id,
        title: e.title.clone(),
        body_source: e.body_source.clone(),
        body_html: e.body_html.clone(),
        pinned: e.pinned,
        created_ms: e.created_ms,
    }
}
