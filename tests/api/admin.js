// Ghost's official Admin API client (@tryghost/admin-api) against a running
// Masthead. Run by crates/masthead/tests/site/api.rs with MASTHEAD_URL and
// MASTHEAD_ADMIN_KEY (id:secret) set; exits non-zero on the first failure.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const GhostAdminAPI = require('@tryghost/admin-api');
const { makePng } = require('./png.js');

const url = process.env.MASTHEAD_URL;
const key = process.env.MASTHEAD_ADMIN_KEY;
if (!url || !key) {
  console.error('MASTHEAD_URL and MASTHEAD_ADMIN_KEY must be set');
  process.exit(2);
}
const api = new GhostAdminAPI({ url, key, version: 'v5.0' });
const { ok, eq, rejects, count, run } = require('./check.js');
async function fetchPage(p) {
  const r = await fetch(`${url}${p}`);
  return { status: r.status, type: r.headers.get('content-type'), text: r.status === 200 ? await r.text() : '' };
}

async function main() {
  const site = await api.site.read();
  ok(typeof site.title === 'string' && site.title.length > 0 && site.url === `${url}/`, 'site info', site);

  // Create a draft from HTML, with tags (one new) and the default byline.
  const stamp = Date.now().toString(36);
  const title = `Harbour crane returns ${stamp}`;
  const draft = await api.posts.add({
    title,
    html: `<p>The old crane is <strong>back</strong> on the quay ${stamp}.</p><script>alert(1)</script>`,
    custom_excerpt: 'Restored after two years.',
    tags: [{ name: `Cranes ${stamp}` }, 'Harbour'],
    status: 'draft',
  }, { source: 'html' });
  ok(/^[0-9a-f]{24}$/.test(draft.id), 'new post id', draft.id);
  eq(draft.status, 'draft', 'status');
  eq(draft.title, title, 'title');
  ok(draft.html.includes(`<strong>back</strong> on the quay ${stamp}`), 'html kept', draft.html);
  ok(!draft.html.includes('<script'), 'html sanitised', draft.html);
  eq(draft.custom_excerpt, 'Restored after two years.', 'custom_excerpt');
  eq(draft.tags.length, 2, 'two tags');
  eq(draft.tags[0].name, `Cranes ${stamp}`, 'new tag created, first');
  ok(draft.authors.length === 1, 'a default byline', draft.authors);
  eq((await fetchPage(`/${draft.slug}/`)).status, 404, 'a draft is not public');

  // Browse sees drafts; read by id and slug.
  const drafts = await api.posts.browse({ filter: 'status:draft', limit: 'all' });
  ok(drafts.some((p) => p.id === draft.id), 'browse status:draft finds it');
  eq((await api.posts.read({ id: draft.id })).slug, draft.slug, 'read by id');
  eq((await api.posts.read({ slug: draft.slug })).id, draft.id, 'read by slug');

  // Upload an image and use it as the feature image.
  const file = path.join(os.tmpdir(), `masthead-crane-${stamp}.png`);
  fs.writeFileSync(file, makePng(900, 600));
  const image = await api.images.upload({ file });
  ok(image.url.startsWith(`${url}/media/`) && image.url.endsWith('/900.png'), 'uploaded image url', image);
  const served = await fetch(image.url);
  eq(served.status, 200, 'the uploaded image is served');
  eq(served.headers.get('content-type'), 'image/png', 'its type');
  fs.unlinkSync(file);

  // Publish with an edit: the site shows it at once.
  const published = await api.posts.edit({
    id: draft.id,
    updated_at: draft.updated_at,
    status: 'published',
    feature_image: image.url,
    feature_image_alt: 'The restored crane on the quay',
    featured: true,
  });
  eq(published.status, 'published', 'published');
  eq(published.featured, true, 'featured');
  eq(published.feature_image, image.url, 'feature image set');
  ok(published.updated_at !== draft.updated_at, 'updated_at moves on');
  const page = await fetchPage(`/${published.slug}/`);
  eq(page.status, 200, 'the story is public');
  ok(page.text.includes(title) && page.text.includes('The restored crane on the quay'), 'story page shows title and image alt');
  const home = await fetchPage('/');
  ok(home.text.includes(title), 'the home page lists it');

  // Someone else's stale copy collides instead of overwriting.
  const collision = await rejects(api.posts.edit({ id: draft.id, updated_at: draft.updated_at, title: 'Stale' }), 'stale edit');
  ok(collision.type === 'UpdateCollisionError' || /Someone else is editing/.test(collision.message), 'collision error', { type: collision.type, message: collision.message });
  const missingVersion = await rejects(api.posts.edit({ id: draft.id, title: 'No version' }), 'edit without updated_at');
  ok(/updated_at/.test(`${missingVersion.message} ${missingVersion.context || ''}`), 'updated_at is required', missingVersion.message);
  eq((await api.posts.read({ id: draft.id })).title, title, 'the refused edits changed nothing');

  // HTML edits re-render the body.
  const edited = await api.posts.edit({ id: draft.id, updated_at: published.updated_at, html: `<h2>Update</h2><p>Crane lifts first load ${stamp}.</p>` }, { source: 'html' });
  ok(edited.html.includes(`Crane lifts first load ${stamp}`), 'html edit');
  ok((await fetchPage(`/${edited.slug}/`)).text.includes(`Crane lifts first load ${stamp}`), 'the site shows the edit');

  // Pages.
  const pg = await api.pages.add({ title: `Tip line ${stamp}`, html: '<p>Write to us.</p>', status: 'published' }, { source: 'html' });
  eq((await fetchPage(`/${pg.slug}/`)).status, 200, 'a published page is public');
  const pages = await api.pages.browse({ limit: 'all' });
  ok(pages.some((p) => p.id === pg.id) && pages.every((p) => p.type === 'page'), 'pages browse');

  // Tags.
  const tag = await api.tags.add({ name: `Ferries ${stamp}`, description: 'Boats that carry people.' });
  ok(/^[0-9a-f]{24}$/.test(tag.id) && tag.slug === `ferries-${stamp}`, 'tag add', tag);
  const tagEdited = await api.tags.edit({ id: tag.id, name: `Ferry news ${stamp}` });
  eq(tagEdited.name, `Ferry news ${stamp}`, 'tag edit');
  const tags = await api.tags.browse({ limit: 'all' });
  ok(tags.some((t) => t.id === tag.id), 'tag browse');
  await api.tags.delete({ id: tag.id });
  count();
  await rejects(api.tags.read({ id: tag.id }), 'deleted tag');

  // Members.
  const email = `reader.${stamp}@example.com`;
  const member = await api.members.add({ email, name: 'Quay Reader' });
  ok(/^[0-9a-f]{24}$/.test(member.id) && member.email === email && member.status === 'free', 'member add', member);
  const found = await api.members.browse({ filter: `email:'${email}'` });
  eq(found.length, 1, 'member browse by email');
  const renamed = await api.members.edit({ id: member.id, name: 'Quay Reader Jr' });
  eq(renamed.name, 'Quay Reader Jr', 'member edit');
  const dup = await rejects(api.members.add({ email: email.toUpperCase() }), 'duplicate member');
  ok(/already exists/i.test(`${dup.message} ${dup.context || ''}`), 'duplicate says so', dup.message);
  const badEmail = await rejects(api.members.add({ email: 'not an address' }), 'bad member email');
  ok(/email/i.test(badEmail.message), 'bad email says so', badEmail.message);

  // Labels (set by name, created when new), notes and newsletters.
  const newsletters = await api.newsletters.browse();
  ok(newsletters.length >= 1 && newsletters.every((n) => /^[0-9a-f]{24}$/.test(n.id)), 'newsletters browse', newsletters);
  const labelled = await api.members.edit({
    id: member.id,
    labels: [`Quay ${stamp}`, { name: 'Harbour' }],
    note: 'Met at the quay',
    newsletters: [{ id: newsletters[0].id }],
  });
  ok(labelled.labels.some((l) => l.slug === `quay-${stamp}`) && labelled.note === 'Met at the quay', 'member labels and note', labelled);
  eq(labelled.newsletters.map((n) => n.id).join(), newsletters[0].id, 'member newsletters');
  const byLabel = await api.members.browse({ filter: `label:quay-${stamp}` });
  eq(byLabel.length, 1, 'members by label');
  const letter = await api.newsletters.add({ name: `Tide tables ${stamp}`, subscribe_on_signup: false });
  ok(letter.slug === `tide-tables-${stamp}` && letter.status === 'active', 'newsletter add', letter);
  const archived = await api.newsletters.edit({ id: letter.id, status: 'archived' });
  eq(archived.status, 'archived', 'newsletter archive');
  await rejects(api.newsletters.add({ name: '' }), 'newsletter without a name');

  // Delete the post and the page: gone from the site.
  await api.posts.delete({ id: draft.id });
  await api.pages.delete({ id: pg.id });
  count();
  await rejects(api.posts.read({ id: draft.id }), 'deleted post');
  eq((await fetchPage(`/${published.slug}/`)).status, 404, 'a deleted story is gone');

  // A forged key is refused.
  const [id] = key.split(':');
  const forged = new GhostAdminAPI({ url, key: `${id}:${'0'.repeat(64)}`, version: 'v5.0' });
  const refused = await rejects(forged.posts.browse(), 'forged secret');
  ok(/Authorization failed|Invalid token/i.test(`${refused.message} ${refused.context || ''}`), 'forged key refused', refused.message);

}

run(main);
