// Masthead real-browser tests for the desk's rich-text story editor
// (editor/src, served as /admin/editor.js): writing with the keyboard and the
// `/` menu, a paste from Word, a dropped image with its alt text, the reader's
// page after publishing, an old Markdown story saved unchanged, and a
// connection cut mid-edit.
//
// Not run on its own: run.js requires this module and passes its harness.
'use strict';

const { makePng } = require('../api/png.js');

// What Word 365 puts on the clipboard for a heading, a styled paragraph, an
// empty paragraph and a two-item bulleted list (trimmed, but every kind of
// junk kept: namespaces, conditional comments, o:p, mso styles, classes, fonts).
function wordClipboard(u) {
  return `<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40">
<head><meta http-equiv=Content-Type content="text/html; charset=utf-8"><meta name=Generator content="Microsoft Word 15">
<style><!-- p.MsoNormal, li.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style></head>
<body lang=EN-GB link="#0563C1" vlink="#954F72" style='tab-interval:36.0pt;word-wrap:break-word'>
<!--StartFragment-->
<h2 style='mso-outline-level:2'><span style='font-family:"Calibri Light",sans-serif;color:#2F5496'>Council reaction ${u}<o:p></o:p></span></h2>
<p class=MsoNormal><span style='font-size:12.0pt;color:#1F3864'>The council leader said the <b><span style='font-family:"Calibri",sans-serif'>decision was overdue</span></b> and <i>welcome</i>.<o:p></o:p></span></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoListParagraphCxSpFirst style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'><![if !supportLists]><span style='font-family:Symbol;mso-fareast-font-family:Symbol'><span style='mso-list:Ignore'>·<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; </span></span></span><![endif]><span style='font-size:12.0pt'>Dredging starts in May<o:p></o:p></span></p>
<p class=MsoListParagraphCxSpLast style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'><![if !supportLists]><span style='font-family:Symbol;mso-fareast-font-family:Symbol'><span style='mso-list:Ignore'>·<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; </span></span></span><![endif]><span style='font-size:12.0pt'>Moorings reopen in June<o:p></o:p></span></p>
<!--EndFragment-->
</body></html>`;
}

// What Google Docs puts on the clipboard: everything in a <b> that is not
// bold, every run a span with a dozen inline styles, bold and italic as
// font-weight and font-style, a bare <br> between blocks, lists of <p>s.
function docsClipboard(u) {
  const run = 'font-size:11pt;font-family:Arial,sans-serif;color:#000000;background-color:transparent;font-variant:normal;text-decoration:none;vertical-align:baseline;white-space:pre;white-space:pre-wrap;';
  const p = 'line-height:1.38;margin-top:0pt;margin-bottom:0pt;';
  return `<meta charset="utf-8"><b style="font-weight:normal;" id="docs-internal-guid-5c1e2a3b-7fff-4a1b-9c2d-${u.slice(0, 8)}">`
    + `<h3 dir="ltr" style="line-height:1.38;margin-top:16pt;margin-bottom:4pt;"><span style="${run}font-size:14pt;color:#434343;font-weight:400;font-style:normal;">What happens next ${u}</span></h3>`
    + `<p dir="ltr" style="${p}"><span style="${run}font-weight:400;font-style:normal;">The harbour master will </span><span style="${run}font-weight:700;font-style:normal;">publish a timetable</span><span style="${run}font-weight:400;font-style:normal;"> </span><span style="${run}font-weight:400;font-style:italic;">this week</span><span style="${run}font-weight:400;font-style:normal;">.</span></p>`
    + '<br>'
    + '<ul style="margin-top:0;margin-bottom:0;padding-inline-start:48px;">'
    + `<li dir="ltr" style="list-style-type:disc;${run}" aria-level="1"><p dir="ltr" style="${p}" role="presentation"><span style="${run}font-weight:400;">Ferries first</span></p></li>`
    + `<li dir="ltr" style="list-style-type:disc;${run}" aria-level="1"><p dir="ltr" style="${p}" role="presentation"><span style="${run}font-weight:400;">Then the fishing fleet</span></p></li>`
    + '</ul></b>';
}

// A body written by hand over the years: every construct the editor must keep
// exactly as it is (setext headings, `*` bullets, `_em_`, hard-wrapped lines,
// a table, a footnote, reference links, inline HTML, two trailing spaces).
const OLD_MARKDOWN = [
  'Flood defences\n==============',
  'The scheme was _first_ proposed in 2019, and its cost has\nrisen __twice__ since.  \nA second line after a hard break.',
  '* one\n* two\n\n* three, loose',
  '| Year | Cost |\n|------|-----:|\n| 2019 | £4m |\n| 2024 | £9m |',
  'See the [report][r] and a note.[^1]',
  '[r]: https://example.org/report "The report"\n[^1]: The council\'s own figures.',
  'Some <sub>inline</sub> HTML, and `code`.',
  '***',
  '> Quoted\n> over two lines',
  '1) first\n2) second',
].join('\n\n') + '\n';

module.exports = function registerEditorTests(h) {
  const { test, assert, assertEq, Failure, info, unique, server, get, runCli, openPage, goto, closeQuietly, decodeEntities } = h;
  const { DESKTOP } = h;

  const PASSWORD = `an editor test password ${unique()}`;
  let ctx = null;
  let account = null;

  async function signedIn() {
    if (ctx) return ctx;
    const u = unique();
    account = { email: `rich.editor.${u}@example.com`, name: `Rich Editor ${u}` };
    await runCli(['user', 'add', '--email', account.email, '--name', account.name, '--role', 'editor', '--password-stdin'], `${PASSWORD}\n`);
    ctx = await h.browser().newContext({ viewport: DESKTOP });
    const page = await openPage(ctx, 'editor-signin');
    try {
      await goto(page, '/admin/signin');
      await page.fill('#email', account.email);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(`${server.base}/admin/`), page.click('form[action="/admin/signin"] button[type=submit]')]);
    } finally {
      await closeQuietly(page);
    }
    return ctx;
  }
  async function cookie() {
    const c = (await (await signedIn()).cookies(server.base)).find((x) => x.name === 'masthead_session');
    assert(c, 'no session cookie');
    return `${c.name}=${c.value}`;
  }
  // The body as stored, read from the editor page's textarea as the server sent it.
  async function storedBody(id) {
    const r = await get(`/admin/posts/${id}/edit`, { headers: { cookie: await cookie() } });
    assertEq(r.status, 200, `status of /admin/posts/${id}/edit`);
    const m = r.text.match(/<textarea id="body"[^>]*>([\s\S]*?)<\/textarea>/);
    assert(m, 'the editor page has no body textarea');
    return decodeEntities(m[1]);
  }
  async function newDraft(page, title) {
    await goto(page, '/admin/posts/new');
    await page.selectOption('select#kind', 'article');
    await page.fill('input#title', title);
    await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Create draft' }).click()]);
    await page.waitForSelector('.pm-body', { timeout: 5000 })
      .catch(() => { throw new Failure('the rich-text editor did not appear on the editor page'); });
    return page.url().match(/\/admin\/posts\/(\d+)\/edit$/)[1];
  }
  async function markdown(page) { return page.inputValue('textarea#body'); }
  async function dialogFill(page, values, button) {
    const dialog = page.locator('dialog.pm-dialog[open]');
    await dialog.waitFor({ state: 'visible', timeout: 10000 })
      .catch(() => { throw new Failure('the editor\'s dialog did not open'); });
    for (const [name, value] of Object.entries(values)) await dialog.locator(`input[name=${name}]`).fill(value);
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
  }

  test('Editor: keyboard, / menu, Word paste and a dropped image publish as the same structure', async () => {
    const page = await openPage(await signedIn(), 'editor-write');
    const reader = await openPage(h.mainCtx(), 'editor-reader');
    try {
      const u = unique();
      const id = await newDraft(page, `Rich editor ${u}: the harbour reopens`);
      const slug = await page.inputValue('input#slug');
      const ed = page.locator('.pm-body');
      await ed.click();

      // A heading from the / menu, chosen with the keyboard.
      await page.keyboard.type('/head');
      await page.waitForSelector('#pm-slash:not([hidden]) [role=option][aria-selected=true]');
      assertEq((await page.textContent('#pm-slash [aria-selected=true]')).trim(), 'Heading', 'first / menu match for "head"');
      await page.keyboard.press('Enter');
      await page.keyboard.type(`Harbour reopens ${u}`);
      await page.keyboard.press('Enter');
      // Bold with Ctrl+B, a link with Ctrl+K over a selection.
      await page.keyboard.type('Boats return on ');
      await page.keyboard.press('Control+b');
      await page.keyboard.type(`bold news ${u}`);
      await page.keyboard.press('Control+b');
      await page.keyboard.type(' today. Read the report');
      for (let i = 0; i < 'the report'.length; i++) await page.keyboard.press('Shift+ArrowLeft');
      await page.keyboard.press('Control+k');
      await dialogFill(page, { href: 'https://example.org/harbour-report' }, 'Apply');
      // The dialog hands focus back to the editor when its close event runs,
      // a task after the click: keys pressed before then go elsewhere (and a
      // loaded CI machine once typed the "." over the still-selected words).
      await page.locator('.pm-body a[href="https://example.org/harbour-report"]').waitFor();
      await page.waitForFunction(() => !!(document.activeElement && document.activeElement.closest('.pm-body')));
      await page.keyboard.press('End');
      await page.keyboard.type('.');
      await page.keyboard.press('Enter');
      // A list by typing "- ".
      await page.keyboard.type('- first point');
      await page.keyboard.press('Enter');
      await page.keyboard.type('second point');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      // Undo and redo: the last word typed goes and comes back.
      await page.keyboard.type('Temporary');
      await page.keyboard.press('Control+z');
      assert(!(await markdown(page)).includes('Temporary'), 'Ctrl+Z did not undo the typing');
      await page.keyboard.press('Control+Shift+z');
      assert((await markdown(page)).includes('Temporary'), 'Ctrl+Shift+Z did not redo the typing');
      for (let i = 0; i < 'Temporary'.length; i++) await page.keyboard.press('Backspace');

      // Paste from Word.
      await page.evaluate((html) => {
        const dt = new DataTransfer();
        dt.setData('text/html', html);
        dt.setData('text/plain', 'Council reaction');
        document.querySelector('.pm-body').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, wordClipboard(u));

      // And from Google Docs, on a new line after the Word list.
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      await page.evaluate((html) => {
        const dt = new DataTransfer();
        dt.setData('text/html', html);
        dt.setData('text/plain', 'What happens next');
        document.querySelector('.pm-body').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, docsClipboard(u));

      // A fact box and a pull quote from the / menu; Enter on an empty line leaves each.
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      for (const [query, label, text] of [['fact', 'Fact box', 'Ferries run hourly.'], ['pull', 'Pull quote', 'We are open again.']]) {
        await page.keyboard.type(`/${query}`);
        await page.waitForSelector('#pm-slash:not([hidden]) [role=option][aria-selected=true]');
        assertEq((await page.textContent('#pm-slash [aria-selected=true]')).trim(), label, `first / menu match for "${query}"`);
        await page.keyboard.press('Enter');
        await page.keyboard.type(text);
        await page.keyboard.press('Enter');
        await page.keyboard.press('Enter');
      }

      // A pasted YouTube address becomes a player; another site's address would not.
      await page.evaluate(() => {
        const dt = new DataTransfer();
        dt.setData('text/plain', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ');
        document.querySelector('.pm-body').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      });
      await page.waitForSelector('.pm-body .pm-embed');

      // Drop an image file at the end of the story: uploaded, then described.
      const png = makePng(900, 600).toString('base64');
      const box = await ed.boundingBox();
      const [upload] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/media'),
        page.evaluate(({ b64, x, y }) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], 'harbour-boats.png', { type: 'image/png' }));
          document.querySelector('.pm-body').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, clientX: x, clientY: y, bubbles: true, cancelable: true }));
        }, { b64: png, x: box.x + 40, y: box.y + box.height - 20 }),
      ]);
      assert([200, 201].includes(upload.status()), `status of the dropped image's upload: ${upload.status()}`);
      const alt = `Fishing boats moored in the harbour ${u}`;
      await dialogFill(page, { alt, caption: 'Back in the water.', credit: 'Desk Photographer' }, 'Insert image');
      await page.waitForSelector('.pm-body figure img');

      const md = await markdown(page);
      info(`the editor wrote ${md.length} bytes of Markdown`);
      for (const part of [`## Harbour reopens ${u}`, `**bold news ${u}**`, '[the report](https://example.org/harbour-report)',
        '- first point\n- second point', `## Council reaction ${u}`, '**decision was overdue**', '*welcome*',
        '- Dredging starts in May\n- Moorings reopen in June', `### What happens next ${u}`,
        'The harbour master will **publish a timetable** *this week*.', '- Ferries first\n- Then the fishing fleet', `alt="${alt}"`, '<span class="credit">Desk Photographer</span>',
        '<aside class="callout">\n\nFerries run hourly.\n\n</aside>', '<blockquote class="pullquote">\n\nWe are open again.\n\n</blockquote>',
        '\n\n<https://www.youtube.com/watch?v=dQw4w9WgXcQ>\n\n']) {
        assert(md.includes(part), `the Markdown lacks ${JSON.stringify(part)}`, md.split('\n'));
      }
      for (const junk of ['Mso', 'mso-', 'o:p', 'span style', 'font-family', '·', '\u00a0', 'Temporary', 'docs-internal', '\\\n']) {
        assert(!md.includes(junk), `pasted junk survived: ${JSON.stringify(junk)}`, md.split('\n'));
      }
      assert(!/\n\n\n/.test(md), 'the Markdown has an empty paragraph (three newlines)', md.split('\n'));

      // The live preview beside the story, in the site's stylesheet, at both widths.
      await page.getByRole('button', { name: 'Show preview' }).click();
      const frame = page.frameLocator('#preview-frame');
      await frame.locator('.story__body h2', { hasText: `Harbour reopens ${u}` }).waitFor({ timeout: 10000 })
        .catch(() => { throw new Failure('the live preview does not show the story'); });
      // The preview follows the editor after a pause: the image, inserted
      // last, may reach it after the headings do.
      await frame.locator('.story__body figure picture source[type="image/webp"]').first()
        .waitFor({ state: 'attached', timeout: 10000 })
        .catch(() => { throw new Failure('the preview has no <picture>'); });
      assert(await frame.locator('.story__body figure picture source[type="image/webp"]').count() === 1, 'the preview has more than one <picture>');
      assertEq(await page.getAttribute('#preview-frame', 'style').then((v) => /width: 390px/.test(v || '')), true, 'the preview starts at phone width');
      await page.getByRole('button', { name: 'Desktop', exact: true }).click();
      assert(/width: 1280px/.test(await page.getAttribute('#preview-frame', 'style') || ''), 'the Desktop button did not widen the preview');
      await page.getByRole('button', { name: 'Hide preview' }).click();
      await page.getByRole('button', { name: 'Show settings' }).click();

      // Publish; the reader sees exactly that structure.
      const [saved] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/admin/posts/${id}`
          && !/action=autosave/.test(r.request().postData() || '')),
        page.getByRole('button', { name: 'Publish now', exact: true }).click(),
      ]);
      assertEq(saved.status(), 200, 'status of "Publish now"');
      await page.waitForLoadState('load');
      assertEq(await storedBody(id), md.replace(/\r\n/g, '\n'), 'stored body after publishing');
      await goto(reader, `/${slug}/`);
      const body = reader.locator('.story__body');
      const structure = await body.evaluate((el) => Array.from(el.children).map((c) => c.tagName.toLowerCase()));
      assertEq(JSON.stringify(structure), JSON.stringify(['h2', 'p', 'ul', 'h2', 'p', 'ul', 'h3', 'p', 'ul', 'aside', 'blockquote', 'div', 'figure']), 'top-level blocks of the story');
      assertEq((await body.locator('h2').first().textContent()).trim(), `Harbour reopens ${u}`, 'first heading');
      assertEq((await body.locator('p strong').first().textContent()).trim(), `bold news ${u}`, 'bold text');
      const link = body.locator('a[href="https://example.org/harbour-report"]');
      assertEq((await link.textContent()).trim(), 'the report', 'link text');
      assertEq(await body.locator('ul').first().locator('li').count(), 2, 'items in the typed list');
      assertEq(JSON.stringify(await body.locator('ul').nth(1).locator('li').allTextContents()),
        JSON.stringify(['Dredging starts in May', 'Moorings reopen in June']), 'items of the pasted Word list');
      assertEq(JSON.stringify(await body.locator('p em').allTextContents()), JSON.stringify(['welcome', 'this week']), 'pasted italics');
      assertEq(JSON.stringify(await body.locator('ul').nth(2).locator('li').allTextContents()),
        JSON.stringify(['Ferries first', 'Then the fishing fleet']), 'items of the pasted Google Docs list');
      const html = await body.innerHTML();
      for (const junk of ['<span style', 'class="Mso', 'mso-', '<o:p', '<p></p>']) {
        assert(!html.includes(junk), `the story page has ${junk}`);
      }
      assertEq((await body.locator('aside.callout p').textContent()).trim(), 'Ferries run hourly.', 'fact box');
      assertEq((await body.locator('blockquote.pullquote p').textContent()).trim(), 'We are open again.', 'pull quote');
      assertEq(await body.locator('div.embed a[data-embed-src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"]').count(), 1, 'the video player');
      const img = body.locator('figure picture img');
      assertEq(await img.getAttribute('alt'), alt, 'alt text of the body image');
      assertEq(await body.locator('figure picture source[type="image/webp"]').count(), 1, 'WebP source of the body image');
      assert(/\/media\/[0-9a-f]+\/320\.png 320w/.test(await img.getAttribute('srcset') || ''), 'the body image has no PNG srcset');
      const caption = (await body.locator('figure figcaption').textContent()).replace(/\s+/g, ' ').trim();
      assert(caption.includes('Back in the water.') && caption.includes('Desk Photographer'), `caption reads "${caption}"`);
      await img.scrollIntoViewIfNeeded();
      await reader.waitForFunction(() => {
        const i = document.querySelector('.story__body figure img');
        return i && i.complete && i.naturalWidth > 0;
      }, null, { timeout: 5000 }).catch(() => { throw new Failure('the body image did not load'); });
      assert(/\.webp$/.test(await img.evaluate((i) => i.currentSrc)), 'the browser did not pick a WebP width');
    } finally {
      await closeQuietly(page, reader);
    }
  });

  test('Editor: an old Markdown story opens in the rich editor and saves byte for byte', async () => {
    const page = await openPage(await signedIn(), 'editor-old-story');
    try {
      const u = unique();
      const id = await newDraft(page, `Old story ${u}`);
      // Written through the Markdown view, as any old story was.
      await page.click('#markdown-toggle');
      await page.fill('textarea#body', OLD_MARKDOWN);
      await Promise.all([page.waitForURL(`${server.base}/admin/posts/${id}`), page.getByRole('button', { name: 'Save', exact: true }).click()]);
      assertEq(await storedBody(id), OLD_MARKDOWN, 'body as first saved');
      // Opened again: the rich editor shows it, with the table and footnotes kept as Markdown.
      await goto(page, `/admin/posts/${id}/edit`);
      await page.waitForSelector('.pm-body');
      assertEq(await page.locator('.pm-body h1').count(), 1, 'setext heading shown as a heading');
      assert(await page.locator('.pm-body pre.pm-raw').count() >= 2, 'the table and the footnote are not kept as raw Markdown blocks');
      // Saved again without an edit: nothing changes.
      await Promise.all([page.waitForURL(`${server.base}/admin/posts/${id}`), page.getByRole('button', { name: 'Save', exact: true }).click()]);
      assertEq(await storedBody(id), OLD_MARKDOWN, 'body after opening and saving');
      // One edit changes that block only.
      await goto(page, `/admin/posts/${id}/edit`);
      await page.waitForSelector('.pm-body');
      await page.locator('.pm-body h1').click();
      await page.keyboard.press('End');
      await page.keyboard.type(' now');
      await Promise.all([page.waitForURL(`${server.base}/admin/posts/${id}`), page.getByRole('button', { name: 'Save', exact: true }).click()]);
      const edited = await storedBody(id);
      assertEq(edited, OLD_MARKDOWN.replace('Flood defences\n==============', '# Flood defences now'), 'body after editing the heading only');

      // A story from the demo site, as imported: open, save, unchanged.
      const list = await get('/admin/posts?kind=article&status=published', { headers: { cookie: await cookie() } });
      const demo = list.text.match(/<tr data-post-id="(\d+)"/);
      assert(demo, 'no published article listed');
      const before = await storedBody(demo[1]);
      await goto(page, `/admin/posts/${demo[1]}/edit`);
      await page.waitForSelector('.pm-body');
      await Promise.all([page.waitForURL(`${server.base}/admin/posts/${demo[1]}`), page.getByRole('button', { name: 'Save', exact: true }).click()]);
      if (await page.isVisible('[role=alert]')) throw new Failure(`saving post ${demo[1]} failed: "${(await page.textContent('[role=alert]')).trim()}"`);
      assertEq(await storedBody(demo[1]), before, `body of post ${demo[1]} after opening and saving`);
      info(`post ${demo[1]} (${before.length} bytes) saved unchanged`);
    } finally {
      await closeQuietly(page);
    }
  });

  test('Editor: typing while the connection is cut is saved when it comes back', async () => {
    const c = await signedIn();
    const page = await openPage(c, 'editor-offline');
    try {
      const u = unique();
      const id = await newDraft(page, `Offline ${u}`);
      const status = page.locator('#autosave-status');
      await page.locator('.pm-body').click();
      await page.keyboard.type(`Written online ${u}.`);
      await page.waitForFunction(() => document.getElementById('autosave-status').dataset.state === 'saved', null, { timeout: 10000 })
        .catch(async () => { throw new Failure(`no "Saved" state after typing: "${await status.textContent()}"`); });
      assert(/^Saved/.test((await status.textContent()).trim()), `status reads "${await status.textContent()}"`);

      await c.setOffline(true);
      await page.keyboard.type(` Written offline ${u}.`);
      await page.waitForFunction(() => document.getElementById('autosave-status').dataset.state === 'offline', null, { timeout: 10000 })
        .catch(async () => { throw new Failure(`the status did not say offline: "${await status.textContent()}"`); });
      const offlineText = (await status.textContent()).trim();
      assert(/^Offline — will save when back/.test(offlineText), `offline status reads "${offlineText}"`);
      const kept = await page.evaluate((k) => localStorage.getItem(k), `masthead:unsaved:/admin/posts/${id}`);
      assert(kept && kept.includes(`Written+offline+${u}`), 'the offline text is not kept in localStorage');

      await c.setOffline(false);
      await page.waitForFunction(() => document.getElementById('autosave-status').dataset.state === 'saved', null, { timeout: 20000 })
        .catch(async () => { throw new Failure(`not saved after the connection came back: "${await status.textContent()}"`); });
      const body = await storedBody(id);
      assert(body.includes(`Written offline ${u}.`) && body.includes(`Written online ${u}.`), 'the stored body lacks the text typed offline', [body]);
      assert(await page.evaluate((k) => localStorage.getItem(k) === null, `masthead:unsaved:/admin/posts/${id}`),
        'the saved work is still held in localStorage');

      // Work typed offline survives closing the tab too: it is restored on reopening.
      await c.setOffline(true);
      await page.keyboard.type(` Never sent ${u}.`);
      await page.waitForFunction(() => document.getElementById('autosave-status').dataset.state === 'offline', null, { timeout: 10000 });
      await page.close();
      await c.setOffline(false);
      const page2 = await openPage(c, 'editor-offline-reopen');
      try {
        await goto(page2, `/admin/posts/${id}/edit`);
        await page2.waitForSelector('.pm-body');
        await page2.waitForFunction(() => document.getElementById('autosave-status').dataset.state === 'saved', null, { timeout: 15000 })
          .catch(async () => { throw new Failure(`reopened page did not save the restored work: "${await page2.textContent('#autosave-status')}"`); });
        assert((await storedBody(id)).includes(`Never sent ${u}.`), 'work typed offline and never sent was lost');
      } finally {
        await closeQuietly(page2);
      }
    } finally {
      await closeQuietly(page);
    }
  });

  test('Editor: the bundle is lazy, cached by hash and under 250 KB compressed', async () => {
    const r = await get('/admin/posts/new', { headers: { cookie: await cookie() } });
    assert(!/<script src="\/admin\/editor\.js/.test(r.text), 'the new-post page (no body editor) loads the editor bundle');
    const list = await get('/admin/posts', { headers: { cookie: await cookie() } });
    assert(!/<script src="\/admin\/editor\.js/.test(list.text), 'the posts list loads the editor bundle');
    const id = (list.text.match(/<tr data-post-id="(\d+)"/) || [])[1];
    const page = await get(`/admin/posts/${id}/edit`, { headers: { cookie: await cookie() } });
    const src = (page.text.match(/<script src="(\/admin\/editor\.js\?v=[0-9a-f]{16})" defer>/) || [])[1];
    assert(src, 'the editor page does not link /admin/editor.js?v=<hash>');
    for (const enc of ['br', 'gzip']) {
      const res = await fetch(new URL(src, server.base), { headers: { 'accept-encoding': enc } });
      const bytes = (await res.arrayBuffer()).byteLength; // decoded by fetch
      assertEq(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', `cache-control of the bundle (${enc})`);
      assertEq(res.headers.get('content-encoding'), enc, 'content-encoding of the bundle');
      assert(bytes > 10000, `the bundle decoded to only ${bytes} bytes`);
    }
    const http = require('http');
    const wire = await new Promise((resolve, reject) => {
      http.get(new URL(src, server.base), { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        let n = 0; res.on('data', (d) => { n += d.length; }); res.on('end', () => resolve(n));
      }).on('error', reject);
    });
    assert(wire < 250 * 1024, `the bundle is ${wire} bytes gzipped`);
    info(`editor bundle on the wire: ${wire} bytes gzipped`);
  });
};
