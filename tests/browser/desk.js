// Masthead real-browser tests for the editorial desk (/admin).
//
// Not run on its own: run.js requires this module and passes its harness, so these
// tests share the suite's server (fresh data dir with the demo site), its Chromium,
// its console-error watch and its single summary line.
//
// A staff account (role editor) is created once with `masthead user add` against the
// running server's data dir. The desk is driven in its own browser context (the
// session cookie never reaches the reader context); readers use the suite's main
// context, whose pages run with the real Content-Security-Policy.
'use strict';

const fs = require('fs');
const path = require('path');
const { makePng } = require('../api/png.js');

module.exports = function registerDeskTests(h) {
  const { test, assert, assertEq, Failure, info, unique, server, get, runCli, openPage, goto, closeQuietly } = h;
  const { DESKTOP, MOBILE, LIVE } = h;

  // ------------------------------------------------------------ state --

  const PASSWORD = `a long enough password ${unique()}`;
  // Wrong-password pages for the checkers use an address with no account, so they do
  // not count towards the editor's own failed-sign-in limit.
  const NOBODY = `nobody.${unique()}@example.com`;
  let account = null;      // { email, name, authorSlug }
  let deskCtx = null;      // signed-in browser context (closed at the end)
  let published = null;    // { id, slug, title } of the article published in test 1
  let liveConsole = null;  // { id, path } of the Storm Eamon live console
  let publishHtml = null;  // raw HTML of the editor page answering "Publish now"

  async function ensureAccount() {
    if (account) return account;
    const u = unique();
    const a = { email: `desk.editor.${u}@example.com`, name: `Desk Editor ${u}`, authorSlug: `desk-editor-${u}` };
    await runCli(['user', 'add', '--email', a.email, '--name', a.name, '--role', 'editor', '--password-stdin'], `${PASSWORD}\n`);
    account = a;
    return account;
  }

  // The desk's own responses: the wrong-password page answers 401 on purpose.
  function expectSigninRefusal(page) { page.expected4xx.push({ status: 401, path: '/admin/signin' }); }

  async function signInWithBrowser(page) {
    const a = await ensureAccount();
    await goto(page, '/admin/signin');
    await page.fill('#email', a.email);
    await page.fill('#password', PASSWORD);
    await Promise.all([
      page.waitForURL(`${server.base}/admin/`),
      page.click('form[action="/admin/signin"] button[type=submit]'),
    ]);
    const h1 = (await page.textContent('main h1')).trim();
    assertEq(h1, `Welcome, ${a.name}`, 'dashboard heading after signing in');
  }

  // A signed-in desk context, made by test 1; later tests sign in themselves if it failed early.
  async function desk() {
    if (deskCtx && (await deskCtx.cookies(server.base)).some((c) => c.name === 'masthead_session')) return deskCtx;
    await closeQuietly(deskCtx);
    deskCtx = await h.browser().newContext({ viewport: DESKTOP });
    const page = await openPage(deskCtx, 'desk-signin');
    try { await signInWithBrowser(page); } finally { await closeQuietly(page); }
    return deskCtx;
  }
  async function sessionCookieHeader() {
    const cookies = await (await desk()).cookies(server.base);
    const c = cookies.find((x) => x.name === 'masthead_session');
    assert(c, 'the desk context has no masthead_session cookie');
    return `${c.name}=${c.value}`;
  }

  // Finds the Storm Eamon live console through the posts list, as an editor would.
  async function openLiveConsole(page) {
    await goto(page, '/admin/posts?kind=live');
    const row = page.locator('tr[data-post-id]', { has: page.locator(`a[href="${LIVE}"]`) });
    const rows = await row.count();
    assertEq(rows, 1, `rows in /admin/posts?kind=live linking to ${LIVE}`);
    const postId = await row.getAttribute('data-post-id');
    const link = row.getByRole('link', { name: 'live console', exact: true });
    assertEq(await link.count(), 1, 'live console links in the Storm Eamon row');
    await Promise.all([page.waitForURL(/\/admin\/live\/\d+$/), link.click()]);
    const consolePath = new URL(page.url()).pathname;
    assertEq(consolePath, `/admin/live/${postId}`, 'live console address');
    const heading = (await page.textContent('main h1')).trim();
    assert(/^Live console: .*Storm Eamon/i.test(heading), `live console heading is "${heading}"`);
    liveConsole = { id: postId, path: consolePath };
    return liveConsole;
  }

  // --------------------------------------------------------------- tests --

  test('Desk: sign in, write an article with an uploaded image, publish, find it on the home page', async () => {
    const a = await ensureAccount();
    await closeQuietly(deskCtx);
    deskCtx = await h.browser().newContext({ viewport: DESKTOP });
    const page = await openPage(deskCtx, 'desk-write');
    const reader = await openPage(h.mainCtx(), 'desk-reader');
    try {
      // A wrong password is refused with an alert and no session.
      await goto(page, '/admin/signin');
      expectSigninRefusal(page);
      await page.fill('#email', a.email);
      await page.fill('#password', `not ${PASSWORD}`);
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/signin'),
        page.click('form[action="/admin/signin"] button[type=submit]'),
      ]);
      assertEq(refused.status(), 401, 'status of a sign-in with a wrong password');
      await page.waitForLoadState('load');
      const alert = await page.waitForSelector('[role=alert]', { state: 'visible' });
      const alertText = (await alert.textContent()).trim();
      assert(alertText.length > 0, 'the role=alert error is empty');
      assertEq(new URL(page.url()).pathname, '/admin/signin', 'address after a wrong password');
      assert(!(await deskCtx.cookies(server.base)).some((c) => c.name === 'masthead_session' && c.value),
        'a wrong password set a session cookie');
      info(`wrong password: "${alertText}"`);

      // The right one signs in.
      await page.fill('#email', a.email);
      await page.fill('#password', PASSWORD);
      await Promise.all([
        page.waitForURL(`${server.base}/admin/`),
        page.click('form[action="/admin/signin"] button[type=submit]'),
      ]);
      assertEq((await page.textContent('main h1')).trim(), `Welcome, ${a.name}`, 'dashboard heading');
      assert(await page.isHidden('[role=alert]'), 'the dashboard still shows an alert');

      // New article.
      const u = unique();
      const title = `Desk test ${u}: harbour wall repairs approved`;
      const slug = `desk-test-${u}-harbour-wall-repairs-approved`;
      const dek = `Councillors back the repairs after a ${u} vote.`;
      const bold = `bold claim ${u}`;
      const quote = `We cannot wait another winter ${u}`;
      const body = `The harbour wall will be repaired, with a **${bold}** from the council.\n\n> ${quote}\n\nWork starts in spring.\n`;
      await goto(page, '/admin/posts/new');
      await page.selectOption('select#kind', 'article');
      await page.fill('input#title', title);
      await Promise.all([
        page.waitForURL(/\/admin\/posts\/\d+\/edit$/),
        page.getByRole('button', { name: 'Create draft' }).click(),
      ]);
      const id = page.url().match(/\/admin\/posts\/(\d+)\/edit$/)[1];
      assertEq(await page.inputValue('input#title'), title, 'headline in the editor');
      assertEq(await page.inputValue('input#slug'), slug, 'slug pre-filled from the headline');
      assert(/^Edit article/.test((await page.textContent('main h1')).trim()), 'editor heading does not say "Edit article"');

      // Write and publish.
      await page.locator('input#dek').pressSequentially(dek);
      // The rich editor hides the Markdown textarea; its "Markdown" view shows it.
      await page.click('#markdown-toggle');
      await page.fill('textarea#body', body);
      // The live preview renders the unsaved body through the site's pipeline.
      await page.waitForFunction(
        (b) => (document.getElementById('preview') || {}).innerHTML.includes(`<strong>${b}</strong>`),
        bold, { timeout: 5000 },
      ).catch(() => { throw new Failure('the live preview did not show the **bold** text within 5 s of typing'); });
      // Upload a feature image from the editor: it goes to the media library
      // and is chosen at once, with a thumbnail.
      const [uploadRes] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/media'),
        page.setInputFiles('#feature-upload', { name: `harbour-wall-${u}.png`, mimeType: 'image/png', buffer: makePng(1200, 800) }),
      ]);
      assertEq(uploadRes.status(), 201, 'status of the image upload');
      await page.waitForFunction(() => /^Uploaded /.test(document.getElementById('feature-upload-status').textContent), null, { timeout: 10000 })
        .catch(async () => { throw new Failure(`upload status reads "${await page.textContent('#feature-upload-status')}"`); });
      const mediaId = await page.inputValue('select#feature_media');
      assert(/^\d+$/.test(mediaId), `the feature image select holds "${mediaId}", not the new library item`);
      await page.waitForFunction(() => {
        const t = document.getElementById('feature-thumb');
        return t && !t.hidden && t.complete && t.naturalWidth > 0;
      }, null, { timeout: 5000 }).catch(() => { throw new Failure('the uploaded image\'s thumbnail did not load'); });
      const altText = `The harbour wall at low tide ${u}`;
      const caption = `Repairs start at the north end ${u}.`;
      await page.fill('#feature_alt', altText);
      await page.fill('#feature_caption', caption);
      await page.fill('#feature_photographer', 'Desk Test Photographer');
      const [saved] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/admin/posts/${id}`
          && r.request().postData() && !/action=autosave/.test(r.request().postData())),
        page.getByRole('button', { name: 'Publish now', exact: true }).click(),
      ]);
      assertEq(saved.status(), 200, 'status of "Publish now"');
      publishHtml = await saved.text();
      await page.waitForLoadState('load');
      const status = (await page.textContent('[role=status]')).trim();
      assert(/Published/.test(status), `status line reads "${status}"`);
      if (await page.isVisible('[role=alert]')) {
        throw new Failure(`the editor shows an error after "Publish now": "${(await page.textContent('[role=alert]')).trim()}"`);
      }
      const preview = page.locator('section[aria-labelledby=preview-h]');
      assertEq((await preview.locator('h2').textContent()).trim(), 'Preview (live)', 'preview heading (the script labels it live)');
      const previewHtml = await preview.innerHTML();
      assert(previewHtml.includes(`<strong>${bold}</strong>`), 'the preview has no <strong> for the **bold** text',
        [previewHtml.slice(0, 400)]);
      assert((await preview.locator('blockquote').textContent()).includes(quote), 'the preview has no blockquote with the quote');
      assertEq(await page.inputValue('input#dek'), dek, 'standfirst after publishing');
      assertEq(await page.inputValue('input#slug'), slug, 'slug after publishing');
      published = { id, slug, title };

      // A reader (no session) sees it first on the home page...
      await goto(reader, '/');
      const first = reader.locator('ol[data-feed] > li[data-post-id]').first();
      const firstTitle = (await first.locator('h2.card__title a').textContent()).trim();
      assertEq(firstTitle, title, 'headline of the first home-page card');
      assertEq(await first.getAttribute('data-post-id'), id, 'post id of the first home-page card');
      // The card's thumbnail is the uploaded image, in WebP at a small width.
      assertEq(await first.locator('picture source[type="image/webp"]').count(), 1, 'WebP sources on the first card');
      await first.locator('img.card__thumb').scrollIntoViewIfNeeded();
      await reader.waitForFunction((pid) => {
        const img = document.querySelector(`li[data-post-id="${pid}"] img.card__thumb`);
        return img && img.complete && img.naturalWidth > 0;
      }, id, { timeout: 5000 }).catch(() => { throw new Failure('the home card thumbnail did not load'); });
      const cardSrc = await first.locator('img.card__thumb').evaluate((img) => img.currentSrc);
      assert(/\/media\/[0-9a-f]{20}\/(320|640)\.webp$/.test(cardSrc), `the card loaded ${cardSrc}, not a small WebP width`);

      // ...and on the article page, reached from that card.
      await Promise.all([
        reader.waitForURL(`${server.base}/${slug}/`),
        first.locator('h2.card__title a').click(),
      ]);
      assertEq((await reader.textContent('h1')).trim(), title, 'article headline');
      assertEq((await reader.textContent('.story__dek')).trim(), dek, 'article standfirst');
      const hero = reader.locator('figure.hero img');
      assertEq(await hero.getAttribute('alt'), altText, 'hero image alt text');
      await reader.waitForFunction(() => {
        const img = document.querySelector('figure.hero img');
        return img && img.complete && img.naturalWidth > 0;
      }, null, { timeout: 5000 }).catch(() => { throw new Failure('the article\'s hero image did not load'); });
      const heroSrc = await hero.evaluate((img) => img.currentSrc);
      assert(/\/media\/[0-9a-f]{20}\/\d+\.webp$/.test(heroSrc), `the hero loaded ${heroSrc}, not a WebP width`);
      const figcaption = (await reader.textContent('figure.hero figcaption')).replace(/\s+/g, ' ').trim();
      assert(figcaption.includes(caption) && figcaption.includes('Desk Test Photographer'), `hero caption reads "${figcaption}"`);
      published.mediaId = mediaId;
      const storyBody = reader.locator('.story__body');
      assertEq((await storyBody.locator('strong').first().textContent()).trim(), bold, 'bold text in the article');
      assert((await storyBody.locator('blockquote').textContent()).includes(quote), 'the article has no blockquote with the quote');
      const byline = reader.locator('.byline a[href^="/author/"]');
      assertEq(await byline.count(), 1, 'byline links to /author/...');
      assertEq(await byline.getAttribute('href'), `/author/${a.authorSlug}/`, 'byline link');
      assertEq((await byline.textContent()).trim(), a.name, 'byline name');
    } finally {
      await closeQuietly(page, reader);
    }
  });

  test('Desk: live console reaches an open reader page', async () => {
    const reader = await openPage(h.mainCtx(), 'desk-live-reader');
    let page = null;
    try {
      await goto(reader, LIVE);
      const marker = unique();
      await reader.evaluate((m) => { window.__mastheadMarker = m; }, marker);
      try {
        await reader.waitForFunction(() => /Live/.test(document.querySelector('[data-live-status]')?.textContent || ''),
          null, { timeout: 10_000 });
      } catch (_) {
        const s = await reader.textContent('[data-live-status]').catch(() => '(missing)');
        throw new Failure(`EventSource never opened; [data-live-status] reads "${(s || '').trim()}"`);
      }
      const streamCount = () => reader.$$eval('ol[data-live-stream] > li[data-entry-id]', (lis) => lis.length);
      const before = await streamCount();

      page = await openPage(await desk(), 'desk-live-console');
      const { path: consolePath } = await openLiveConsole(page);

      const title = `Desk console update ${unique()}`;
      const bodyWord = `console ${unique()}`;
      // Record when the entry shows up in the reader page itself.
      await reader.evaluate((t) => {
        const check = () => {
          if (window.__deskSeen) return;
          const h3 = document.querySelector('ol[data-live-stream] > li[data-entry-id] h3.entry__title');
          if (h3 && h3.textContent.trim() === t) window.__deskSeen = Date.now();
        };
        new MutationObserver(check).observe(document.querySelector('ol[data-live-stream]'), { childList: true, subtree: true });
        check();
      }, title);

      const form = page.locator('form[action$="/entries"]').first();
      assertEq(await form.getAttribute('action'), `${consolePath}/entries`, 'action of the first console form');
      await form.locator('#new-title').fill(title);
      await form.locator('#new-body').fill(`Sent from the **${bodyWord}**.`);
      assert(!(await form.locator('input[name=pinned]').isChecked()), 'the pinned box starts checked');
      const clickedAt = Date.now();
      const [posted] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `${consolePath}/entries`),
        form.getByRole('button', { name: 'Publish entry' }).click(),
      ]);
      assert(posted.status() === 303 || posted.status() === 302 || posted.status() === 200,
        `status of the entry POST: ${posted.status()}`);

      // The reader sees it first in the stream within 2 s of the click, without navigating.
      try {
        await reader.waitForFunction((t) => {
          const h3 = document.querySelector('ol[data-live-stream] > li[data-entry-id] h3.entry__title');
          return h3 && h3.textContent.trim() === t;
        }, title, { timeout: Math.max(1, clickedAt + 2_000 - Date.now()) });
      } catch (_) {
        const top = await reader.textContent('ol[data-live-stream] > li[data-entry-id] h3.entry__title').catch(() => null);
        throw new Failure(`the console's entry is not first in the reader's stream 2 s after "Publish entry" (first is "${top && top.trim()}")`);
      }
      const seen = await reader.evaluate(() => window.__deskSeen);
      info(`console entry shown on the open reader page ${seen - clickedAt} ms after "Publish entry" was clicked`);
      assertEq(await streamCount(), before + 1, 'entries in the reader stream');
      const entryHtml = await reader.$eval('ol[data-live-stream] > li[data-entry-id]', (li) => li.innerHTML);
      assert(entryHtml.includes(`<strong>${bodyWord}</strong>`), 'the entry body was not rendered from Markdown');
      const inPinned = await reader.$$eval('ol[data-live-pinned] h3.entry__title',
        (hs, t) => hs.some((x) => x.textContent.trim() === t), title);
      assert(!inPinned, 'an unpinned entry appeared among the key developments');
      const nav = await reader.evaluate(() => ({
        marker: window.__mastheadMarker, navs: performance.getEntriesByType('navigation').length,
      }));
      assertEq(nav.marker, marker, 'reader window marker (page was reloaded)');
      assertEq(nav.navs, 1, 'reader navigation entries');

      // The console itself comes back listing the new entry first.
      await page.waitForURL(`${server.base}${consolePath}`);
      await page.waitForLoadState('load');
      const firstEntry = page.locator('form[data-entry-id]').first();
      assertEq(await firstEntry.locator('input[name=title]').inputValue(), title, 'first entry listed in the console');
      assertEq(await page.inputValue('#new-title'), '', 'new-entry headline after publishing');
    } finally {
      await closeQuietly(page, reader);
    }
  });

  // Creates a draft from the new-post form; its id and editor address.
  async function newDraft(page, kind, title) {
    await goto(page, '/admin/posts/new');
    await page.selectOption('select#kind', kind);
    await page.fill('input#title', title);
    await Promise.all([
      page.waitForURL(/\/admin\/posts\/\d+\/edit$/),
      page.getByRole('button', { name: 'Create draft' }).click(),
    ]);
    return page.url().match(/\/admin\/posts\/(\d+)\/edit$/)[1];
  }

  // Presses Tab (or Shift+Tab) until `test` holds for the focused element.
  async function tabTo(page, what, test, back = false) {
    for (let i = 0; i < 60; i++) {
      if (await page.evaluate(test)) return;
      await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    }
    throw new Failure(`Tab never reached ${what}`);
  }
  const activeOption = (page, box) => page.evaluate((id) => {
    const a = document.getElementById(id).getAttribute('aria-activedescendant');
    const o = a && document.getElementById(a);
    return o ? o.textContent.trim() : null;
  }, box);

  test('Desk: tags and a byline picked by keyboard alone (a new tag; reordered by drag and by keyboard) print in that order', async () => {
    const a = await ensureAccount();
    const page = await openPage(await desk(), 'desk-pickers');
    const reader = await openPage(h.mainCtx(), 'desk-pickers-reader');
    try {
      const u = unique();
      const title = `Picker test ${u}: tram depot plans`;
      const id = await newDraft(page, 'article', title);
      const slug = await page.inputValue('input#slug');
      // The slug fields are now hidden fields behind labelled comboboxes.
      const tagBox = page.getByRole('combobox', { name: /^Tags/ });
      const bylineBox = page.getByRole('combobox', { name: /^Bylines/ });
      assertEq(await tagBox.count(), 1, 'tag comboboxes labelled "Tags…"');
      assertEq(await bylineBox.count(), 1, 'byline comboboxes labelled "Bylines…"');
      assertEq(await page.getAttribute('input#tags', 'type'), 'hidden', 'type of the tags field once enhanced');
      // The editor's own byline is a chip with its name.
      await page.waitForFunction((n) => [...document.querySelectorAll('#authors-chips .chip__name')]
        .some((b) => b.textContent.includes(n)), a.name, { timeout: 5000 })
        .catch(() => { throw new Failure('the byline chip never showed the editor\'s name'); });

      // Keyboard from here on: Tab to the tag box.
      await page.focus('input#slug');
      await tabTo(page, 'the tag box', () => document.activeElement.id === 'tags-combo');
      // An existing tag: type, Down, Enter.
      await page.keyboard.type('hous');
      await page.waitForSelector('#tags-listbox .picker__option', { timeout: 5000 });
      assertEq(await tagBox.getAttribute('aria-expanded'), 'true', 'aria-expanded with matches shown');
      await page.keyboard.press('ArrowDown');
      assert(/^Housing/.test(await activeOption(page, 'tags-combo') || ''), `the first match is "${await activeOption(page, 'tags-combo')}"`);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.getElementById('tags').value === 'housing', null, { timeout: 3000 })
        .catch(async () => { throw new Failure(`tags field reads "${await page.inputValue('input#tags')}" after Enter`); });
      assertEq(await tagBox.getAttribute('aria-expanded'), 'false', 'aria-expanded after choosing');
      // Escape closes the list without choosing.
      await page.keyboard.type('zzqx');
      await page.waitForSelector('#tags-listbox [role=option]', { timeout: 5000 });
      await page.keyboard.press('Escape');
      assertEq(await tagBox.getAttribute('aria-expanded'), 'false', 'aria-expanded after Escape');
      await page.keyboard.press('Escape');
      assertEq(await tagBox.inputValue(), '', 'the box after a second Escape');
      // A new tag, added from the list (an editor may).
      const newName = `Tram depot ${u}`;
      await page.keyboard.type(newName);
      await page.waitForSelector('#tags-listbox .picker__create', { timeout: 5000 });
      await page.keyboard.press('ArrowUp');
      assert(/^Add new tag/.test(await activeOption(page, 'tags-combo') || ''), `ArrowUp chose "${await activeOption(page, 'tags-combo')}", not the last option (add new tag)`);
      const [created] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/pickers/tags'),
        page.keyboard.press('Enter'),
      ]);
      assertEq(created.status(), 201, 'status of adding the tag');
      const newSlug = (await created.json()).slug;
      await page.waitForFunction((s) => document.getElementById('tags').value === `housing, ${s}`, newSlug, { timeout: 3000 })
        .catch(async () => { throw new Failure(`tags field reads "${await page.inputValue('input#tags')}" after adding a tag`); });
      // Reorder by dragging: the new tag onto the first place.
      await page.locator('#tags-chips .chip').nth(1).dragTo(page.locator('#tags-chips .chip').nth(0));
      await page.waitForFunction((s) => document.getElementById('tags').value === `${s}, housing`, newSlug, { timeout: 3000 })
        .catch(async () => { throw new Failure(`tags field reads "${await page.inputValue('input#tags')}" after dragging`); });
      // And by keyboard: back onto the last chip (Housing); Alt+Left moves it
      // first, Alt+Right back, the focus staying with it.
      await tabTo(page, 'the last tag\'s chip', () => {
        const c = document.activeElement.closest('.chip');
        return !!c && document.activeElement.classList.contains('chip__name') && c === document.querySelector('#tags-chips .chip:last-child');
      }, true);
      await page.keyboard.press('Alt+ArrowLeft');
      await page.waitForFunction((s) => document.getElementById('tags').value === `housing, ${s}`, newSlug, { timeout: 3000 })
        .catch(async () => { throw new Failure(`tags field reads "${await page.inputValue('input#tags')}" after Alt+Left`); });
      await page.keyboard.press('Alt+ArrowRight');
      await page.waitForFunction((s) => document.getElementById('tags').value === `${s}, housing`, newSlug, { timeout: 3000 })
        .catch(async () => { throw new Failure(`tags field reads "${await page.inputValue('input#tags')}" after Alt+Right`); });
      const chipState = await page.evaluate(() => ({
        focused: document.activeElement.closest('.chip')?.dataset.slug,
        primary: [...document.querySelectorAll('#tags-chips .chip')].map((c) => !!c.querySelector('.chip__primary')),
        firstLabel: document.querySelector('#tags-chips .chip__name').getAttribute('aria-label'),
      }));
      assertEq(chipState.focused, 'housing', 'the moved chip keeps the focus');
      assertEq(JSON.stringify(chipState.primary), '[true,false]', 'chips marked primary');
      assert(/primary/.test(chipState.firstLabel), `the first chip's name says it is primary: "${chipState.firstLabel}"`);
      // A second byline, after the editor's own.
      await tabTo(page, 'the byline box', () => document.activeElement.id === 'authors-combo');
      await page.keyboard.type('Helen Ma');
      await page.waitForSelector('#authors-listbox .picker__option', { timeout: 5000 });
      await page.keyboard.press('ArrowDown');
      assert(/^Helen Marsh/.test(await activeOption(page, 'authors-combo') || ''), `the first byline match is "${await activeOption(page, 'authors-combo')}"`);
      await page.keyboard.press('Enter');
      await page.waitForFunction((s) => document.getElementById('authors').value === `${s}, helen-marsh`, a.authorSlug, { timeout: 3000 })
        .catch(async () => { throw new Failure(`authors field reads "${await page.inputValue('input#authors')}"`); });
      // Publish from the keyboard.
      await tabTo(page, 'Publish now', () => document.activeElement.matches('button[value=publish]'));
      const [saved] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/admin/posts/${id}`
          && r.request().postData() && !/action=autosave/.test(r.request().postData())),
        page.keyboard.press('Enter'),
      ]);
      assertEq(saved.status(), 200, 'status of "Publish now"');
      await page.waitForLoadState('load');
      assertEq(await page.inputValue('input#tags'), `${newSlug}, housing`, 'tags after publishing');

      // The reader's page: the primary tag labels the story; tags and bylines in order.
      await goto(reader, `/${slug}/`);
      const label = reader.locator('.story__label a');
      assertEq(await label.getAttribute('href'), `/tag/${newSlug}/`, 'the story label links the primary tag');
      const tags = await reader.$$eval('.story__tags li a', (as) => as.map((x) => x.textContent.trim()));
      assertEq(JSON.stringify(tags), JSON.stringify([newName, 'Housing']), 'tags on the story');
      const bylines = await reader.$$eval('.byline a[rel=author]', (as) => as.map((x) => x.textContent.trim()));
      assertEq(JSON.stringify(bylines), JSON.stringify([a.name, 'Helen Marsh']), 'bylines on the story');
    } finally {
      await closeQuietly(page, reader);
    }
  });

  test('Desk: a contributor gets the tag picker (no "add new") and keeps the plain bylines field', async () => {
    const email = `desk.contributor.${unique()}@example.com`;
    await runCli(['user', 'add', '--email', email, '--name', 'Desk Contributor', '--role', 'contributor', '--password-stdin'], `${PASSWORD}\n`);
    const ctx = await h.browser().newContext({ viewport: MOBILE });
    try {
      const page = await openPage(ctx, 'desk-contributor', MOBILE);
      await goto(page, '/admin/signin');
      await page.fill('#email', email);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(`${server.base}/admin/`), page.click('form[action="/admin/signin"] button[type=submit]')]);
      await newDraft(page, 'brief', `Contributed ${unique()}`);
      const tagBox = page.getByRole('combobox', { name: /^Tags/ });
      assertEq(await tagBox.count(), 1, 'tag comboboxes for a contributor');
      assertEq(await page.locator('#authors-combo').count(), 0, 'byline comboboxes for a contributor');
      assertEq(await page.getAttribute('input#authors', 'type'), null, 'the bylines field stays a plain text field');
      await tagBox.focus();
      await page.keyboard.type('hous');
      await page.waitForSelector('#tags-listbox .picker__option', { timeout: 5000 });
      assertEq(await page.locator('#tags-listbox .picker__create').count(), 0, '"add new tag" offered to a contributor');
      await page.keyboard.type('ingzz');
      await page.waitForSelector('#tags-listbox .picker__none', { timeout: 5000 });
      assertEq(await page.locator('#tags-listbox .picker__create').count(), 0, '"add new tag" offered to a contributor');
    } finally {
      await closeQuietly(ctx);
    }
  });

  test('Desk: the front page shows a draft, a scheduled post with its time, and takes a quick live entry', async () => {
    const page = await openPage(await desk(), 'desk-front');
    const reader = await openPage(h.mainCtx(), 'desk-front-reader');
    try {
      const u = unique();
      const draftTitle = `Front draft ${u}: ferry timetable`;
      const schedTitle = `Front scheduled ${u}: bridge reopens`;
      await newDraft(page, 'brief', draftTitle);
      const schedId = await newDraft(page, 'article', schedTitle);
      await page.fill('#publish_at', '2035-06-01T09:00');
      const [scheduled] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/admin/posts/${schedId}`
          && /action=schedule/.test(r.request().postData() || '')),
        page.getByRole('button', { name: 'Schedule', exact: true }).click(),
      ]);
      assertEq(scheduled.status(), 200, 'status of "Schedule"');
      await page.waitForLoadState('load');

      // The reader's live page is open, listening.
      await goto(reader, LIVE);
      await reader.waitForFunction(() => /Live/.test(document.querySelector('[data-live-status]')?.textContent || ''), null, { timeout: 10_000 })
        .catch(() => { throw new Failure('the live page never connected'); });

      await goto(page, '/admin/');
      // By keyboard: the first Tab shows the skip link, which leads into the content.
      await page.keyboard.press('Tab');
      const skip = await page.evaluate(() => {
        const a = document.activeElement;
        const r = a.getBoundingClientRect();
        return { text: a.textContent.trim(), href: a.getAttribute('href'), visible: r.top >= 0 && r.height > 0,
          outline: getComputedStyle(a).outlineStyle };
      });
      assertEq(skip.text, 'Skip to the content', 'the first thing Tab reaches');
      assert(skip.visible && skip.outline !== 'none', `the focused skip link is not visibly focused: ${JSON.stringify(skip)}`);
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      assert(await page.evaluate(() => !!document.activeElement.closest('main')),
        'Tab after the skip link does not land in the main content');
      const drafts = page.locator('#my-drafts');
      assertEq(await drafts.getByRole('link', { name: draftTitle, exact: true }).count(), 1, 'the draft in "My drafts"');
      const item = page.locator('#scheduled li', { has: page.getByRole('link', { name: schedTitle, exact: true }) });
      assertEq(await item.count(), 1, 'the scheduled post in "Scheduled"');
      const time = item.locator('time');
      assertEq((await time.textContent()).trim(), '1 Jun 2035, 09:00 BST', 'its time, in the site\'s zone');
      assertEq(await time.getAttribute('datetime'), '2035-06-01T08:00:00Z', 'its time for machines');
      assertEq(await page.locator('#my-drafts').getByRole('link', { name: schedTitle, exact: true }).count(), 0,
        'a scheduled post is not a draft');

      // A quick entry on the running roundup, typed and sent from the keyboard.
      const roundup = page.locator('#live article', { has: page.locator(`a[href="${LIVE}"]`) });
      assertEq(await roundup.count(), 1, 'the demo roundup on the front page');
      const entryTitle = `Quick entry ${u}`;
      await roundup.getByLabel('Text (Markdown)').fill(`From the **front ${u}**.`);
      await roundup.getByLabel('New entry headline').fill(entryTitle);
      await Promise.all([
        page.waitForURL(/\/admin\/\?added=\d+#live-\d+$/),
        roundup.getByLabel('New entry headline').press('Enter'),
      ]);
      const status = (await page.textContent('[role=status]')).trim();
      assert(/Entry published on/.test(status), `the front page says "${status}"`);
      await reader.waitForFunction((t) => {
        const h3 = document.querySelector('ol[data-live-stream] > li[data-entry-id] h3.entry__title');
        return h3 && h3.textContent.trim() === t;
      }, entryTitle, { timeout: 5000 }).catch(() => { throw new Failure('the quick entry did not reach the open live page within 5 s'); });
      const html = await reader.$eval('ol[data-live-stream] > li[data-entry-id]', (li) => li.innerHTML);
      assert(html.includes(`<strong>front ${u}</strong>`), 'the quick entry\'s Markdown was not rendered');
    } finally {
      await closeQuietly(page, reader);
    }
  });

  // An administrator's session, with one API key and one webhook so that the
  // Integrations page shows its tables.
  let adminSession = null;
  async function adminCookie() {
    if (adminSession) return adminSession;
    const email = `desk.admin.${unique()}@example.com`;
    await runCli(['user', 'add', '--email', email, '--name', 'Desk Admin', '--role', 'administrator', '--password-stdin'], `${PASSWORD}\n`);
    const r = await get('/admin/signin', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email, password: PASSWORD }).toString(),
    });
    assertEq(r.status, 303, 'administrator sign-in status');
    const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
    assert(cookie.startsWith('masthead_session='), 'administrator sign-in set no session cookie');
    await runCli(['key', 'create', 'content', '--name', 'Checker app']);
    const page = await get('/admin/integrations', { headers: { cookie } });
    const csrf = (page.text.match(/name="csrf" value="([^"]+)"/) || [])[1];
    assert(csrf, 'the Integrations page has no CSRF token');
    const added = await get('/admin/integrations/webhooks', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, event: 'member.added', target_url: 'https://hooks.example.org/masthead', name: 'Checker hook' }).toString(),
    });
    assertEq(added.status, 200, 'adding a webhook');
    adminSession = cookie;
    return adminSession;
  }

  let sendPath = null;      // the desk page of one newsletter send
  async function deskCsrf() {
    const html = (await get('/admin/', { headers: { cookie: await sessionCookieHeader() } })).text;
    const csrf = (html.match(/name="csrf" value="([^"]+)"/) || [])[1];
    assert(csrf, 'the desk\'s front page has no CSRF token');
    return csrf;
  }

  // Desk pages as served (raw HTML, with the session cookie) for the Nu checker.
  async function deskPages() {
    const cookie = await sessionCookieHeader();
    if (!liveConsole) {
      const page = await openPage(await desk(), 'desk-find-console');
      try { await openLiveConsole(page); } finally { await closeQuietly(page); }
    }
    let editorId = published && published.id;
    if (!editorId) {
      const list = await get('/admin/posts?kind=article', { headers: { cookie } });
      const m = list.text.match(/<tr data-post-id="(\d+)"/);
      assert(m, '/admin/posts?kind=article lists no posts');
      editorId = m[1];
    }
    // The administrator's pages (staff, integrations with a key and a webhook)
    // need an administrator: one is made here, signed in over plain HTTP.
    const admin = await adminCookie();
    const firstTag = (await get('/admin/bylines-and-tags', { headers: { cookie } })).text.match(/href="\/admin\/tags\/(\d+)"/);
    const firstByline = (await get('/admin/bylines-and-tags', { headers: { cookie } })).text.match(/href="\/admin\/authors\/(\d+)"/);
    assert(firstTag && firstByline, '/admin/bylines-and-tags links no tag or byline to edit');
    const asEditor = { headers: { cookie } };
    const asAdmin = { headers: { cookie: admin } };
    // [name, path, status, fetch options]: every page of the desk reachable by
    // GET (and the wrong-password page), as the editor or the administrator.
    const pages = [
      ['signin', '/admin/signin', 200, {}],
      ['reset-request', '/admin/reset', 200, {}],
      ['reset-new-password', `/admin/reset/${'0'.repeat(64)}`, 200, {}],
      ['setup', `/admin/setup/${'0'.repeat(64)}`, 200, {}],
      ['bylines-and-tags', '/admin/bylines-and-tags', 200, asEditor],
      ['tag-edit', `/admin/tags/${firstTag[1]}`, 200, asEditor],
      ['byline-edit', `/admin/authors/${firstByline[1]}`, 200, asEditor],
      ['staff', '/admin/staff', 200, asAdmin],
      ['integrations', '/admin/integrations', 200, asAdmin],
      ['settings', '/admin/settings', 200, asAdmin],
      ['signin-wrong-password', '/admin/signin', 401, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: NOBODY, password: `not ${PASSWORD}` }).toString(),
      }],
      ['dashboard', '/admin/', 200, asEditor],
      ['posts', '/admin/posts', 200, asEditor],
      ['posts-live', '/admin/posts?kind=live&status=published', 200, asEditor],
      ['new-post', '/admin/posts/new', 200, asEditor],
      ['editor', `/admin/posts/${editorId}/edit`, 200, asEditor],
      ['revisions', `/admin/posts/${editorId}/revisions`, 200, asEditor],
      ['post-send', `/admin/posts/${editorId}/send`, 200, asEditor],
      ['review-queue', '/admin/review', 200, asEditor],
      ['sends', '/admin/sends', 200, asEditor],
      ['live-console', liveConsole.path, 200, asEditor],
      ['media-library', '/admin/media', 200, asEditor],
      ['no-such-post', '/admin/posts/999999999/edit', 404, asEditor],
    ];
    // A send's own page: the story sent to the (demo's empty) paying segment,
    // so no member is mailed.
    if (!sendPath) {
      const sent = await get(`/admin/posts/${editorId}/send`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: (await deskCsrf()), newsletter: '1', segment: 'paid', action: 'send' }).toString(),
      });
      assertEq(sent.status, 303, 'status of sending the story to paying members');
      sendPath = sent.headers.get('location');
      assert(/^\/admin\/sends\/\d+$/.test(sendPath || ''), `a send redirects to ${sendPath}`);
    }
    pages.push(['send', sendPath, 200, asEditor]);
    if (published && published.mediaId) pages.push(['media-item', `/admin/media/${published.mediaId}`, 200, asEditor]);
    // Members and newsletters are the administrator's (the demo has members).
    const memberList = (await get('/admin/members', asAdmin)).text;
    const firstMember = memberList.match(/<tr data-member-id="(\d+)"/);
    assert(firstMember, '/admin/members lists no members');
    pages.push(
      ['members', '/admin/members', 200, asAdmin],
      ['members-filtered', '/admin/members?status=free&bouncing=no&q=example', 200, asAdmin],
      ['member', `/admin/members/${firstMember[1]}`, 200, asAdmin],
      ['newsletters', '/admin/newsletters', 200, asAdmin],
      ['newsletter', '/admin/newsletters/1', 200, asAdmin],
      ['tiers', '/admin/tiers', 200, asAdmin],
      ['tier-free', '/admin/tiers/1', 200, asAdmin],
      ['dashboard-admin', '/admin/?days=90', 200, asAdmin],
      ['revenue', '/admin/revenue', 200, asAdmin],
      ['revenue-year', '/admin/revenue?days=365', 200, asAdmin],
    );
    return { pages, cookie, editorId };
  }

  test('Desk: the paywall marker button puts Ghost\'s marker on a line of its own', async () => {
    const { editorId } = await deskPages();
    const page = await openPage(await desk(), 'desk-paywall');
    try {
      await goto(page, `/admin/posts/${editorId}/edit`);
      const options = await page.locator('select#visibility option').evaluateAll((os) => os.map((o) => o.value));
      assertEq(options.join(','), 'public,members,paid,tiers', 'the audiences offered');
      assert(await page.isVisible('#insert-paywall'), 'the script shows the marker button');
      // The rich editor hides the Markdown textarea; its "Markdown" view shows it.
      await page.click('#markdown-toggle');
      await page.fill('textarea#body', 'Free words.\nMore free words.\n\nPaid words.');
      // The cursor after the free part, as an author would put it.
      await page.evaluate(() => {
        const b = document.getElementById('body');
        const at = b.value.indexOf('\n\nPaid');
        b.setSelectionRange(at, at);
      });
      await page.click('#insert-paywall');
      assertEq(await page.inputValue('textarea#body'),
        'Free words.\nMore free words.\n\n<!--members-only-->\n\nPaid words.', 'the body after the button');
      const caret = await page.evaluate(() => document.getElementById('body').selectionStart);
      assertEq(caret, 'Free words.\nMore free words.\n\n<!--members-only-->\n\n'.length, 'the cursor after the marker');
      // Back in the rich view, the marker is the editor's own block.
      await page.click('#markdown-toggle');
      await page.locator('.pm-body .pm-paywall').waitFor({ timeout: 5000 });
      // The support box (donations) is the editor's own block too.
      await page.click('#markdown-toggle');
      await page.fill('textarea#body', 'Words.\n\n<!--support-->\n\nMore words.');
      await page.click('#markdown-toggle');
      await page.locator('.pm-body .pm-support').waitFor({ timeout: 5000 });
    } finally {
      await closeQuietly(page);
    }
  });

  test('Desk: raw HTML of the desk pages passes the Nu Html Checker', async () => {
    const dir = h.tempDir('masthead-vnu-desk-');
    const { pages } = await deskPages();
    const files = [];
    for (const [name, p, status, opts] of pages) {
      const r = await get(p, opts);
      assertEq(r.status, status, `status of ${opts.method || 'GET'} ${p} (${name})`);
      assert(/^<!doctype html>/i.test(r.text.trimStart()), `${name} (${p}) is not an HTML page`, [r.text.slice(0, 200)]);
      if (name === 'signin-wrong-password') assert(/role="alert"/.test(r.text), 'the 401 sign-in page has no role="alert"');
      const file = path.join(dir, `${name}.html`);
      fs.writeFileSync(file, r.text);
      files.push(file);
    }
    {
      // The members import's report (a refused row, so nothing is added).
      const admin = await adminCookie();
      const csrf = ((await get('/admin/members', { headers: { cookie: admin } })).text.match(/name="csrf" value="([^"]+)"/) || [])[1];
      assert(csrf, 'the members page has no CSRF token');
      const form = new FormData();
      form.append('csrf', csrf);
      form.append('file', new Blob(['email,name\nnot-an-address,Nobody\n'], { type: 'text/csv' }), 'members.csv');
      const r = await get('/admin/members/import', { method: 'POST', headers: { cookie: admin }, body: form });
      assert(r.status < 500 && /id="import-added"/.test(r.text), `the import report answered ${r.status}`, [r.text.slice(0, 300)]);
      const file = path.join(dir, 'members-import-report.html');
      fs.writeFileSync(file, r.text);
      files.push(file);
    }
    if (publishHtml) {
      // The editor as it answers "Publish now": status line and the rendered preview.
      const file = path.join(dir, 'editor-after-publish.html');
      fs.writeFileSync(file, publishHtml);
      files.push(file);
    }
    await h.vnuCheck(files);
    info(`vnu checked ${files.length} desk pages: ${files.map((f) => path.basename(f, '.html')).join(', ')}`);
  });

  // The desk's pages in a browser as its people see them: who is signed in for each.
  async function browserContexts() {
    const make = async (cookies) => {
      const ctx = await h.browser().newContext({ bypassCSP: true, viewport: DESKTOP });
      if (cookies) await ctx.addCookies(cookies);
      return ctx;
    };
    const [name, value] = (await adminCookie()).split('=');
    return {
      none: await make(null),
      editor: await make(await (await desk()).cookies(server.base)),
      admin: await make([{ name, value, url: server.base }]),
    };
  }
  function whoFor(opts) {
    const c = opts.headers && opts.headers.cookie;
    if (!c) return 'none';
    return c === adminSession ? 'admin' : 'editor';
  }

  // What sticks out sideways at the page's width (nothing inside a scroll box counts).
  function sideways(page) {
    return page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 1)
        .filter((el) => {
          for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== 'visible') return false;
          }
          return true;
        })
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right ${Math.round(el.getBoundingClientRect().right)})`);
      return { scroll: document.documentElement.scrollWidth, width, wide };
    });
  }

  test('Desk: every desk page at 390 and 1280 px: no sideways scrolling, no serious axe violations', async () => {
    const { pages } = await deskPages();
    const ctxs = await browserContexts();
    const found = [];
    const sidewaysFound = [];
    let audits = 0;
    const audit = async (page, label, viewport) => {
      const violations = await h.axeViolations(page);
      audits++;
      for (const v of violations) {
        const line = `${label} @${viewport.width}px ${v.impact} ${v.id} (${v.help}): ${v.nodes.length} node(s): ${v.nodes.slice(0, 5).map((n) => n.target).join(' | ')}`;
        if (v.impact === 'serious' || v.impact === 'critical') {
          found.push(line);
          for (const n of v.nodes.slice(0, 5)) found.push(`    ${n.target}: ${(n.summary || '').replace(/\s+/g, ' ')}`);
        } else {
          info(`axe ${line}`);
        }
      }
      if (viewport.width === MOBILE.width) {
        const w = await sideways(page);
        if (w.scroll > w.width) sidewaysFound.push(`${label}: scrollWidth ${w.scroll} > ${w.width}; widest: ${w.wide.join(', ')}`);
      }
    };
    const opened = {};
    try {
      for (const key of Object.keys(ctxs)) {
        opened[key] = await openPage(ctxs[key], `desk-audit-${key}`);
        opened[key].expected4xx.push({ status: 404, path: '/admin/posts/999999999/edit' },
          { status: 422, path: '/admin/members/import' });
      }
      expectSigninRefusal(opened.none);
      for (const viewport of [MOBILE, DESKTOP]) {
        for (const page of Object.values(opened)) await page.setViewportSize(viewport);
        for (const [name, p, status, opts] of pages) {
          if (opts.method === 'POST') continue;
          const page = opened[whoFor(opts)];
          await goto(page, p, status);
          await audit(page, `${name} (${p})`, viewport);
        }
        // Pages that answer a form: a wrong password, a members import.
        const none = opened.none;
        await goto(none, '/admin/signin');
        await none.fill('#email', NOBODY);
        await none.fill('#password', `not ${PASSWORD}`);
        await Promise.all([
          none.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/signin'),
          none.click('form[action="/admin/signin"] button[type=submit]'),
        ]);
        await none.waitForLoadState('load');
        await none.waitForSelector('[role=alert]');
        await audit(none, '/admin/signin (wrong password)', viewport);
        const admin = opened.admin;
        await goto(admin, '/admin/members');
        await admin.setInputFiles('#import input[type=file]', {
          name: 'members.csv', mimeType: 'text/csv',
          buffer: Buffer.from('email,name\nnot-an-address,Nobody\n'),
        });
        await Promise.all([
          admin.waitForURL(`${server.base}/admin/members/import`),
          admin.click('#import button[type=submit]'),
        ]);
        await admin.waitForSelector('#import-added');
        await audit(admin, '/admin/members/import (report)', viewport);
      }
    } finally {
      for (const ctx of Object.values(ctxs)) await closeQuietly(ctx);
    }
    info(`axe ran ${audits} desk audits`);
    assert(sidewaysFound.length === 0, 'desk pages scroll sideways at 390 px', sidewaysFound);
    assert(found.length === 0, `serious/critical axe violations in ${audits} desk audits`, found);
  }, 240_000);
};
