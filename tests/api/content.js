// Ghost's official Content API client (@tryghost/content-api) against a running
// Masthead. Run by crates/masthead/tests/site/api.rs with MASTHEAD_URL and
// MASTHEAD_KEY set; prints one line per check and exits non-zero on the first
// failure, with what was expected and what came back.
'use strict';

const GhostContentAPI = require('@tryghost/content-api');

const url = process.env.MASTHEAD_URL;
const key = process.env.MASTHEAD_KEY;
if (!url || !key) {
  console.error('MASTHEAD_URL and MASTHEAD_KEY must be set');
  process.exit(2);
}

const api = new GhostContentAPI({ url, key, version: 'v5.0' });
const { ok, eq, rejects, count, run } = require('./check.js');

async function main() {
  // Browse: Ghost's envelope and pagination.
  const first = await api.posts.browse();
  ok(Array.isArray(first), 'browse returns an array');
  eq(first.length, 15, 'default page size');
  const p = first.meta && first.meta.pagination;
  ok(p && p.page === 1 && p.limit === 15 && p.prev === null && p.next === 2, 'meta.pagination on page 1', p);
  ok(p.total > 30 && p.pages === Math.ceil(p.total / 15), 'total and pages agree', p);
  for (const post of first) {
    ok(/^[0-9a-f]{24}$/.test(post.id), 'post ids are 24 hex digits', post.id);
    ok(typeof post.title === 'string' && typeof post.slug === 'string' && typeof post.html === 'string', 'title, slug, html', post);
    ok(post.url === `${url}/${post.slug}/`, 'absolute post url', post.url);
    ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/.test(post.published_at), 'ISO dates with millis and offset', post.published_at);
    ok(typeof post.reading_time === 'number' && post.reading_time >= 1, 'reading_time', post.reading_time);
    ok(!('status' in post) && !('mobiledoc' in post), 'no admin-only fields');
  }
  const dates = first.map((x) => Date.parse(x.published_at));
  ok(dates.every((d, i) => i === 0 || dates[i - 1] >= d), 'newest first', first.map((x) => x.published_at));

  // Walk every page: each post once, nothing missing.
  const seen = new Set();
  let page = 1;
  let pages = 0;
  for (;;) {
    const batch = await api.posts.browse({ limit: 10, page, fields: 'id,slug' });
    for (const post of batch) {
      ok(!seen.has(post.id), 'no post twice across pages', post.id);
      seen.add(post.id);
      eq(Object.keys(post).sort().join(','), 'id,slug', 'fields=id,slug keeps only those');
    }
    pages++;
    if (!batch.meta.pagination.next) break;
    eq(batch.meta.pagination.next, page + 1, 'next page number');
    page = batch.meta.pagination.next;
  }
  eq(seen.size, p.total, 'all pages together hold every post');
  eq(pages, Math.ceil(p.total / 10), 'number of pages at limit 10');
  const all = await api.posts.browse({ limit: 'all', fields: 'id' });
  eq(all.length, p.total, 'limit=all returns everything');
  eq(all.meta.pagination.limit, 100, 'limit=all answers at most 100 (as Ghost 6.0 does)');

  // Read by slug and by id, with includes.
  const one = first[0];
  const bySlug = await api.posts.read({ slug: one.slug }, { include: 'tags,authors' });
  eq(bySlug.id, one.id, 'read by slug');
  ok(Array.isArray(bySlug.tags) && Array.isArray(bySlug.authors) && bySlug.authors.length > 0, 'include=tags,authors', bySlug);
  ok(bySlug.primary_author && bySlug.primary_author.slug === bySlug.authors[0].slug, 'primary_author is the first author');
  if (bySlug.tags.length) ok(bySlug.primary_tag.slug === bySlug.tags[0].slug, 'primary_tag is the first tag');
  ok(bySlug.authors[0].url === `${url}/author/${bySlug.authors[0].slug}/`, 'author url');
  const byId = await api.posts.read({ id: one.id });
  eq(byId.slug, one.slug, 'read by id');
  ok(!('tags' in byId), 'no tags without include');

  // Filters in NQL.
  const withTags = await api.posts.browse({ limit: 'all', include: 'tags' });
  const tagSlug = withTags.find((x) => x.tags.length).tags[0].slug;
  const tagged = await api.posts.browse({ filter: `tag:${tagSlug}`, include: 'tags', limit: 'all' });
  ok(tagged.length > 0 && tagged.every((x) => x.tags.some((t) => t.slug === tagSlug)), `filter tag:${tagSlug}`);
  eq(tagged.length, withTags.filter((x) => x.tags.some((t) => t.slug === tagSlug)).length, 'tag filter finds every tagged post');
  const untagged = await api.posts.browse({ filter: `tag:-${tagSlug}`, include: 'tags', limit: 'all' });
  eq(untagged.length + tagged.length, p.total, 'tag and -tag split the archive');
  const primary = await api.posts.browse({ filter: `primary_tag:${tagSlug}`, include: 'tags', limit: 'all' });
  ok(primary.every((x) => x.primary_tag && x.primary_tag.slug === tagSlug), 'primary_tag filter');
  const authorSlug = bySlug.authors[0].slug;
  const grouped = await api.posts.browse({ filter: `(tag:${tagSlug},author:${authorSlug})+featured:false`, include: 'tags,authors', limit: 'all' });
  ok(grouped.length > 0 && grouped.every((x) => !x.featured && (x.tags.some((t) => t.slug === tagSlug) || x.authors.some((a) => a.slug === authorSlug))), 'grouped OR with AND');
  const recent = await api.posts.browse({ filter: 'published_at:>now-2d', limit: 'all', fields: 'published_at' });
  const cutoff = Date.now() - 2 * 86400e3;
  ok(recent.length > 0 && recent.length < p.total && recent.every((x) => Date.parse(x.published_at) > cutoff), 'relative date filter');
  const word = one.title.split(/\s+/).find((w) => w.length > 4).replace(/[^A-Za-z]/g, '');
  const contains = await api.posts.browse({ filter: `title:~'${word.toLowerCase()}'`, limit: 'all', fields: 'title' });
  ok(contains.length > 0 && contains.every((x) => x.title.toLowerCase().includes(word.toLowerCase())), `title:~'${word}'`);
  const inSet = await api.posts.browse({ filter: `slug:[${one.slug},${first[1].slug}]`, limit: 'all', fields: 'slug' });
  eq(inSet.map((x) => x.slug).sort().join(','), [one.slug, first[1].slug].sort().join(','), 'slug:[a,b]');

  // Order and formats.
  const byTitle = await api.posts.browse({ order: 'title asc', limit: 5, fields: 'title' });
  const titles = byTitle.map((x) => x.title.toLowerCase());
  ok(titles.every((t, i) => i === 0 || titles[i - 1] <= t), 'order=title asc', titles);
  const plain = await api.posts.read({ slug: one.slug }, { formats: 'plaintext' });
  ok(typeof plain.plaintext === 'string' && plain.plaintext.length > 0 && !plain.plaintext.includes('<p>'), 'formats=plaintext');
  ok(!('html' in plain), 'formats=plaintext leaves html out');

  // Pages, tags, authors, tiers, settings.
  const pagesList = await api.pages.browse({ limit: 'all' });
  ok(Array.isArray(pagesList) && pagesList.every((x) => x.show_title_and_feature_image === true), 'pages');
  const tags = await api.tags.browse({ include: 'count.posts', limit: 'all' });
  const t = tags.find((x) => x.slug === tagSlug);
  ok(t && t.count && t.count.posts === tagged.length, 'tag count.posts matches the filter', t);
  const tagRead = await api.tags.read({ slug: tagSlug });
  eq(tagRead.id, t.id, 'tag read by slug');
  const authors = await api.authors.browse({ include: 'count.posts', limit: 'all' });
  ok(authors.length > 0 && authors.every((a) => a.count && typeof a.count.posts === 'number'), 'authors with counts');
  const authorRead = await api.authors.read({ slug: authorSlug });
  eq(authorRead.slug, authorSlug, 'author read by slug');
  const tiers = await api.tiers.browse();
  ok(tiers.length === 1 && tiers[0].type === 'free', 'tiers', tiers);
  const settings = await api.settings.browse();
  ok(typeof settings.title === 'string' && settings.title.length > 0 && Array.isArray(settings.navigation), 'settings', settings);

  // Errors come back as errors.
  const missing = await rejects(api.posts.read({ slug: 'no-such-story-here' }), 'unknown slug');
  ok(/not found/i.test(missing.message), 'unknown slug says not found', missing.message);
  const badFilter = await rejects(api.posts.browse({ filter: 'tag:(' }), 'malformed filter');
  ok(/filter|Query Error/i.test(`${badFilter.message} ${badFilter.context || ''}`), 'malformed filter says why', { message: badFilter.message, context: badFilter.context });
  const badField = await rejects(api.posts.browse({ filter: 'authors.password:x' }), 'private field');
  ok(/filter/i.test(badField.message), 'private fields cannot be filtered', badField.message);
  const wrongKey = new GhostContentAPI({ url, key: '0123456789abcdef0123456789', version: 'v5.0' });
  const unknown = await rejects(wrongKey.posts.browse(), 'unknown key');
  ok(/Unknown Content API Key/.test(unknown.message), 'unknown key says so', unknown.message);
  const badShape = (() => { try { return new GhostContentAPI({ url, key: 'short', version: 'v5.0' }); } catch (e) { return e; } })();
  ok(badShape instanceof Error, 'the client itself refuses a malformed key');

}

run(main);
